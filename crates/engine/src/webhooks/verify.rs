//! Signature verification of webhook deliveries, before anything else reads the body.
//!
//! The checks run in a fixed order: the required headers (present once, ASCII, not over-long),
//! the timestamp (an integer within the tolerance, either way), then HMAC-SHA256 over the raw
//! body against every valid secret and every signature the delivery carries, compared with
//! `Mac::verify_slice` (constant time, lengths checked). Unknown signature versions are
//! ignored, so they can neither pass nor downgrade. A refusal says only whether the request
//! was malformed or did not verify; the precise reason goes to the log.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The longest header value read; longer ones are malformed.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The longest delivery id.
pub const MAX_DELIVERY_ID: usize = 255;

/// How deliveries to a trigger are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `X-SkillOS-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` over `<t>.<body>`.
    SkillosV1,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`
    /// over `<id>.<timestamp>.<body>`, `whsec_` secrets.
    StandardWebhooks,
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body; `X-GitHub-Delivery`.
    GithubSha256,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SkillosV1 => "skillos_v1",
            Self::StandardWebhooks => "standard_webhooks",
            Self::GithubSha256 => "github_sha256",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::SkillosV1, Self::StandardWebhooks, Self::GithubSha256]
            .into_iter()
            .find(|scheme| scheme.as_str() == value)
    }

    /// Whether the scheme signs a timestamp (GitHub's does not: only dedup stops replays).
    pub fn signs_time(self) -> bool {
        !matches!(self, Self::GithubSha256)
    }

    /// The header that carries the signature.
    pub fn signature_header(self) -> &'static str {
        match self {
            Self::SkillosV1 => "x-skillos-signature",
            Self::StandardWebhooks => "webhook-signature",
            Self::GithubSha256 => "x-hub-signature-256",
        }
    }

    /// The key HMAC uses for a stored secret: a Standard Webhooks secret is `whsec_` and the
    /// base64 of the key; the others are used as they are.
    pub fn key(self, secret: &str) -> Option<Vec<u8>> {
        match self {
            Self::StandardWebhooks => base64::engine::general_purpose::STANDARD
                .decode(secret.strip_prefix("whsec_")?)
                .ok()
                .filter(|key| key.len() >= 24),
            Self::SkillosV1 | Self::GithubSha256 => {
                (secret.len() >= 16).then(|| secret.as_bytes().to_vec())
            }
        }
    }

    /// A new random secret in the scheme's format.
    pub fn new_secret(self) -> String {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        match self {
            Self::StandardWebhooks => format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            Self::SkillosV1 | Self::GithubSha256 => {
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
        }
    }
}

/// A delivery's headers: lowercase names, every value as received.
#[derive(Clone, Debug, Default)]
pub struct Headers(Vec<(String, Vec<u8>)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, name: &str, value: &[u8]) {
        self.0.push((name.to_ascii_lowercase(), value.to_vec()));
    }

    /// The one value of `name`: `Ok(None)` when absent; malformed when repeated, not
    /// printable ASCII, or over-long.
    pub fn one(&self, name: &str) -> Result<Option<&str>, Refusal> {
        let mut values = self.0.iter().filter(|(n, _)| n == name);
        let Some((_, value)) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(Refusal::Malformed("a signature header is repeated"));
        }
        if value.len() > MAX_HEADER_BYTES || !value.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(Refusal::Malformed(
                "a signature header is over-long or not printable ASCII",
            ));
        }
        Ok(Some(std::str::from_utf8(value).expect("ASCII").trim()))
    }

    /// Every header, for forwarding.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
}

/// Why a delivery was refused. The variants are what the sender sees; the text is for the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a header missing, repeated or malformed, or a bad delivery id.
    Malformed(&'static str),
    /// 401: no signature that verifies (missing, stale, wrong, unknown version).
    Unverified(&'static str),
}

impl Refusal {
    pub fn detail(self) -> &'static str {
        match self {
            Self::Malformed(detail) | Self::Unverified(detail) => detail,
        }
    }
}

/// What a verified delivery told about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The sender's delivery id (`webhook-id`, `X-GitHub-Delivery`), when the scheme has one.
    pub delivery_id: Option<String>,
    /// The signed timestamp, when the scheme signs one.
    pub timestamp: Option<i64>,
    /// Accepted without a signature (the trigger and the server allow it).
    pub unsigned: bool,
}

/// What to verify a delivery against.
pub struct Check<'a> {
    pub scheme: Scheme,
    /// The HMAC keys of the trigger's valid secrets.
    pub keys: &'a [Vec<u8>],
    /// Seconds the signed time may differ from `now`, either way.
    pub tolerance: i64,
    pub now: i64,
    /// The trigger and the server both accept deliveries without a signature.
    pub allow_unsigned: bool,
}

/// Verifies a delivery's signature over its raw `body`.
pub fn verify(check: &Check<'_>, headers: &Headers, body: &[u8]) -> Result<Verified, Refusal> {
    let scheme = check.scheme;
    let signature = headers.one(scheme.signature_header())?;
    let delivery_id = match scheme {
        Scheme::StandardWebhooks => Some(
            headers
                .one("webhook-id")?
                .ok_or(Refusal::Malformed("webhook-id is missing"))?,
        ),
        Scheme::GithubSha256 => headers.one("x-github-delivery")?,
        Scheme::SkillosV1 => None,
    };
    if let Some(id) = delivery_id {
        check_delivery_id(id)?;
    }
    let Some(signature) = signature else {
        if scheme == Scheme::GithubSha256 && headers.one("x-hub-signature")?.is_some() {
            return Err(Refusal::Unverified(
                "only a sha1 signature, which is not accepted",
            ));
        }
        if check.allow_unsigned {
            return Ok(Verified {
                delivery_id: delivery_id.map(str::to_owned),
                timestamp: None,
                unsigned: true,
            });
        }
        return Err(Refusal::Unverified("no signature"));
    };
    if scheme == Scheme::GithubSha256 && delivery_id.is_none() {
        return Err(Refusal::Malformed("X-GitHub-Delivery is missing"));
    }
    let (timestamp, signatures, signed): (Option<i64>, Vec<Vec<u8>>, Vec<u8>) = match scheme {
        Scheme::SkillosV1 => {
            let (t, signatures) = skillos_v1_parts(signature)?;
            let mut signed = t.to_string().into_bytes();
            signed.push(b'.');
            signed.extend_from_slice(body);
            (Some(t), signatures, signed)
        }
        Scheme::StandardWebhooks => {
            let raw = headers
                .one("webhook-timestamp")?
                .ok_or(Refusal::Malformed("webhook-timestamp is missing"))?;
            let t = parse_timestamp(raw)?;
            let signatures = signature
                .split(' ')
                .filter_map(|item| item.strip_prefix("v1,"))
                .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                .collect();
            let id = delivery_id.expect("checked above");
            let mut signed = format!("{id}.{t}.").into_bytes();
            signed.extend_from_slice(body);
            (Some(t), signatures, signed)
        }
        Scheme::GithubSha256 => {
            let signatures = signature
                .strip_prefix("sha256=")
                .and_then(hex)
                .into_iter()
                .collect();
            (None, signatures, body.to_vec())
        }
    };
    if let Some(t) = timestamp
        && t.abs_diff(check.now) > check.tolerance.unsigned_abs()
    {
        return Err(Refusal::Unverified(
            "the signed timestamp is outside the tolerance",
        ));
    }
    if signatures.is_empty() {
        return Err(Refusal::Unverified("no signature of a supported version"));
    }
    let mut matched = false;
    for key in check.keys {
        let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(&signed);
        for signature in &signatures {
            // `verify_slice` compares in constant time and refuses another length; keep
            // looking through every pair so the time spent does not depend on which matched.
            matched |= mac.clone().verify_slice(signature).is_ok();
        }
    }
    if !matched {
        return Err(Refusal::Unverified(
            "no signature verifies against a valid secret",
        ));
    }
    Ok(Verified {
        delivery_id: delivery_id.map(str::to_owned),
        timestamp,
        unsigned: false,
    })
}

/// A delivery id: 1-255 printable ASCII characters without `.` (the Standard Webhooks
/// separator of the signed content).
pub fn check_delivery_id(id: &str) -> Result<(), Refusal> {
    let valid = !id.is_empty()
        && id.len() <= MAX_DELIVERY_ID
        && id.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'.');
    if valid {
        Ok(())
    } else {
        Err(Refusal::Malformed(
            "the delivery id must be 1-255 printable ASCII characters without '.'",
        ))
    }
}

/// `t` (exactly once) and the `v1` signatures of `t=<unix>,v1=<hex>,...`; other keys are
/// ignored, undecodable `v1` values too.
fn skillos_v1_parts(header: &str) -> Result<(i64, Vec<Vec<u8>>), Refusal> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" if t.is_some() => return Err(Refusal::Malformed("t is given twice")),
            "t" => t = Some(parse_timestamp(value.trim())?),
            "v1" => signatures.extend(hex(value.trim())),
            _ => {}
        }
    }
    let t = t.ok_or(Refusal::Malformed("t is missing"))?;
    Ok((t, signatures))
}

/// Unix seconds: 1-12 decimal digits (no sign, no fraction).
fn parse_timestamp(value: &str) -> Result<i64, Refusal> {
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::Unverified("the timestamp is not unix seconds"));
    }
    value
        .parse()
        .map_err(|_| Refusal::Unverified("the timestamp is not unix seconds"))
}

/// Hex of either case; `None` for anything else.
fn hex(value: &str) -> Option<Vec<u8>> {
    if value.is_empty() || !value.len().is_multiple_of(2) {
        return None;
    }
    (0..value.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(value.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The signature header a sender puts on a delivery, for tests and the CLI.
pub fn sign(scheme: Scheme, secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = scheme.key(secret).expect("a valid secret");
    let mut mac = HmacSha256::new_from_slice(&key).expect("any key length");
    match scheme {
        Scheme::SkillosV1 => mac.update(format!("{timestamp}.").as_bytes()),
        Scheme::StandardWebhooks => mac.update(format!("{id}.{timestamp}.").as_bytes()),
        Scheme::GithubSha256 => {}
    }
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    match scheme {
        Scheme::SkillosV1 => format!("t={timestamp},v1={hex}"),
        Scheme::StandardWebhooks => format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ),
        Scheme::GithubSha256 => format!("sha256={hex}"),
    }
}

#[cfg(test)]
mod tests;

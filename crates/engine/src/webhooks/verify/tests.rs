//! The vectors of the reliability plan's test 18: published positives pass; every negative is
//! refused, as malformed (400) or unverified (401), and nothing panics.

use super::*;

const NOW: i64 = 1_614_265_330;
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
/// Standard Webhooks' `test_sign` vector.
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const GITHUB_SECRET: &str = "It's a Secret to Everybody";
/// GitHub's published vector for the body `Hello, World!`.
const GITHUB_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
const V1_SECRET: &str = "skillos-test-secret-0123456789";

fn check(scheme: Scheme, secrets: &[&str]) -> (Scheme, Vec<Vec<u8>>) {
    let keys = secrets.iter().map(|s| scheme.key(s).unwrap()).collect();
    (scheme, keys)
}

fn run(
    scheme: Scheme,
    secrets: &[&str],
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<Verified, Refusal> {
    let (scheme, keys) = check(scheme, secrets);
    let mut map = Headers::new();
    for (name, value) in headers {
        map.push(name, value);
    }
    verify(
        &Check {
            scheme,
            keys: &keys,
            tolerance: 300,
            now: NOW,
            allow_unsigned: false,
        },
        &map,
        body,
    )
}

fn standard(signature: &str, id: &str, timestamp: &str, body: &[u8]) -> Result<Verified, Refusal> {
    run(
        Scheme::StandardWebhooks,
        &[WHSEC],
        &[
            ("webhook-id", id.as_bytes()),
            ("webhook-timestamp", timestamp.as_bytes()),
            ("webhook-signature", signature.as_bytes()),
        ],
        body,
    )
}

fn skillos(header: &str, body: &[u8]) -> Result<Verified, Refusal> {
    run(
        Scheme::SkillosV1,
        &[V1_SECRET],
        &[("X-SkillOS-Signature", header.as_bytes())],
        body,
    )
}

fn github(signature: &str, body: &[u8]) -> Result<Verified, Refusal> {
    run(
        Scheme::GithubSha256,
        &[GITHUB_SECRET],
        &[
            ("X-Hub-Signature-256", signature.as_bytes()),
            ("X-GitHub-Delivery", b"72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ],
        body,
    )
}

fn unverified<T: std::fmt::Debug>(result: Result<T, Refusal>) {
    assert!(matches!(result, Err(Refusal::Unverified(_))), "{result:?}");
}

fn malformed<T: std::fmt::Debug>(result: Result<T, Refusal>) {
    assert!(matches!(result, Err(Refusal::Malformed(_))), "{result:?}");
}

#[test]
fn published_vectors_pass() {
    let ts = NOW.to_string();
    let verified = standard(SW_SIGNATURE, MSG_ID, &ts, SW_BODY).unwrap();
    assert_eq!(verified.delivery_id.as_deref(), Some(MSG_ID));
    assert_eq!(
        sign(Scheme::StandardWebhooks, WHSEC, MSG_ID, NOW, SW_BODY),
        SW_SIGNATURE
    );
    let verified = github(GITHUB_SIGNATURE, b"Hello, World!").unwrap();
    assert_eq!(
        verified.delivery_id.as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    assert_eq!(
        sign(Scheme::GithubSha256, GITHUB_SECRET, "", 0, b"Hello, World!"),
        GITHUB_SIGNATURE
    );
    let header = sign(Scheme::SkillosV1, V1_SECRET, "", NOW, b"{}");
    assert_eq!(skillos(&header, b"{}").unwrap().timestamp, Some(NOW));
    // Uppercase hex is the same signature.
    let upper = header.replace(
        &header[header.find("v1=").unwrap() + 3..],
        &header[header.find("v1=").unwrap() + 3..].to_uppercase(),
    );
    skillos(&upper, b"{}").unwrap();
}

#[test]
fn several_signatures_pass_when_one_verifies() {
    let ts = NOW.to_string();
    let wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    standard(
        &format!("{wrong} v1a,abc {SW_SIGNATURE}"),
        MSG_ID,
        &ts,
        SW_BODY,
    )
    .unwrap();
    let good = sign(Scheme::SkillosV1, V1_SECRET, "", NOW, b"{}");
    let v1 = good.split_once(",v1=").unwrap().1;
    skillos(
        &format!("t={NOW},v1={},v0=abc,v1={v1}", "00".repeat(32)),
        b"{}",
    )
    .unwrap();
    // Every secret is tried: a rotation's old and new secrets both verify.
    let (scheme, keys) = check(Scheme::SkillosV1, &["another-secret-0123456789", V1_SECRET]);
    let mut headers = Headers::new();
    headers.push("x-skillos-signature", good.as_bytes());
    let check = Check {
        scheme,
        keys: &keys,
        tolerance: 300,
        now: NOW,
        allow_unsigned: false,
    };
    verify(&check, &headers, b"{}").unwrap();
}

#[test]
fn standard_webhooks_negative_vectors_are_refused() {
    let ts = NOW.to_string();
    let valid = SW_SIGNATURE.strip_prefix("v1,").unwrap();
    // Missing headers.
    malformed(run(
        Scheme::StandardWebhooks,
        &[WHSEC],
        &[
            ("webhook-timestamp", ts.as_bytes()),
            ("webhook-signature", SW_SIGNATURE.as_bytes()),
        ],
        SW_BODY,
    ));
    malformed(run(
        Scheme::StandardWebhooks,
        &[WHSEC],
        &[
            ("webhook-id", MSG_ID.as_bytes()),
            ("webhook-signature", SW_SIGNATURE.as_bytes()),
        ],
        SW_BODY,
    ));
    unverified(run(
        Scheme::StandardWebhooks,
        &[WHSEC],
        &[
            ("webhook-id", MSG_ID.as_bytes()),
            ("webhook-timestamp", ts.as_bytes()),
        ],
        SW_BODY,
    ));
    // A header sent twice.
    malformed(run(
        Scheme::StandardWebhooks,
        &[WHSEC],
        &[
            ("webhook-id", MSG_ID.as_bytes()),
            ("webhook-timestamp", ts.as_bytes()),
            ("webhook-signature", SW_SIGNATURE.as_bytes()),
            ("Webhook-Signature", SW_SIGNATURE.as_bytes()),
        ],
        SW_BODY,
    ));
    // Empty list, empty signature (svix #1190), truncated, one char more, one char changed.
    unverified(standard("", MSG_ID, &ts, SW_BODY));
    unverified(standard("v1,", MSG_ID, &ts, SW_BODY));
    unverified(standard(
        &format!("v1,{}", &valid[..20]),
        MSG_ID,
        &ts,
        SW_BODY,
    ));
    unverified(standard(&format!("v1,{valid}A"), MSG_ID, &ts, SW_BODY));
    let mut changed = valid.to_owned();
    changed.replace_range(0..1, if valid.starts_with('A') { "B" } else { "A" });
    unverified(standard(&format!("v1,{changed}"), MSG_ID, &ts, SW_BODY));
    // Other versions only.
    unverified(standard(&format!("v1a,{valid}"), MSG_ID, &ts, SW_BODY));
    unverified(standard(&format!("v0,{valid}"), MSG_ID, &ts, SW_BODY));
    // A different or re-serialised body.
    unverified(standard(
        SW_SIGNATURE,
        MSG_ID,
        &ts,
        br#"{"test":2432232314}"#,
    ));
    // The right signature, the wrong secret.
    unverified(run(
        Scheme::StandardWebhooks,
        &["whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="],
        &[
            ("webhook-id", MSG_ID.as_bytes()),
            ("webhook-timestamp", ts.as_bytes()),
            ("webhook-signature", SW_SIGNATURE.as_bytes()),
        ],
        SW_BODY,
    ));
    // Timestamps: non-integer, negative, 20 digits, now ± 301 s.
    for bad in [
        "abc",
        "-1614265330",
        "1614265330.5",
        "16142653301614265330",
        "",
    ] {
        let result = standard(SW_SIGNATURE, MSG_ID, bad, SW_BODY);
        assert!(result.is_err(), "{bad}");
    }
    for skew in [301, -301] {
        let t = (NOW + skew).to_string();
        let signature = sign(Scheme::StandardWebhooks, WHSEC, MSG_ID, NOW + skew, SW_BODY);
        unverified(standard(&signature, MSG_ID, &t, SW_BODY));
    }
    let t = (NOW + 299).to_string();
    let signature = sign(Scheme::StandardWebhooks, WHSEC, MSG_ID, NOW + 299, SW_BODY);
    standard(&signature, MSG_ID, &t, SW_BODY).unwrap();
    // A `.` in the id, a 64 KiB header, invalid UTF-8.
    let dotted = sign(Scheme::StandardWebhooks, WHSEC, "msg.1", NOW, SW_BODY);
    malformed(standard(&dotted, "msg.1", &ts, SW_BODY));
    malformed(standard(&"v1,A".repeat(16 * 1024), MSG_ID, &ts, SW_BODY));
    malformed(run(
        Scheme::StandardWebhooks,
        &[WHSEC],
        &[
            ("webhook-id", b"msg_\xff\xfe"),
            ("webhook-timestamp", ts.as_bytes()),
            ("webhook-signature", SW_SIGNATURE.as_bytes()),
        ],
        SW_BODY,
    ));
}

#[test]
fn skillos_v1_negative_vectors_are_refused() {
    let good = sign(Scheme::SkillosV1, V1_SECRET, "", NOW, b"{}");
    let v1 = good.split_once(",v1=").unwrap().1.to_owned();
    malformed(skillos(&format!("v1={v1}"), b"{}")); // t missing
    malformed(skillos(&format!("t={NOW},t={NOW},v1={v1}"), b"{}")); // t twice
    unverified(skillos(&format!("t={NOW}"), b"{}"));
    unverified(skillos(&format!("t={NOW},v1="), b"{}"));
    unverified(skillos(&format!("t={NOW},v1={}", &v1[..32]), b"{}"));
    unverified(skillos(&format!("t={NOW},v1={v1}0"), b"{}"));
    unverified(skillos(&format!("t={NOW},v1={v1}00"), b"{}"));
    unverified(skillos(&format!("t={NOW},v0={v1}"), b"{}"));
    unverified(skillos(&good, b"{ }"));
    unverified(skillos(&format!("t={},v1={v1}", NOW + 1), b"{}"));
    for t in ["x", "-5", "12345678901234567890"] {
        assert!(skillos(&format!("t={t},v1={v1}"), b"{}").is_err(), "{t}");
    }
    for skew in [301, -301] {
        unverified(skillos(
            &sign(Scheme::SkillosV1, V1_SECRET, "", NOW + skew, b"{}"),
            b"{}",
        ));
    }
    unverified(run(Scheme::SkillosV1, &[V1_SECRET], &[], b"{}"));
}

#[test]
fn github_negative_vectors_are_refused() {
    let body = b"Hello, World!";
    unverified(github("sha256=", body));
    unverified(github(&GITHUB_SIGNATURE[..40], body));
    unverified(github(&format!("{GITHUB_SIGNATURE}00"), body));
    unverified(github(&GITHUB_SIGNATURE.replace("757107", "757108"), body));
    unverified(github(GITHUB_SIGNATURE, b"Hello, World"));
    unverified(github(&GITHUB_SIGNATURE.replace("sha256=", "sha1="), body));
    // sha1 only.
    unverified(run(
        Scheme::GithubSha256,
        &[GITHUB_SECRET],
        &[
            ("X-Hub-Signature", b"sha1=01020304"),
            ("X-GitHub-Delivery", b"d1"),
        ],
        body,
    ));
    // No delivery id: nothing would stop a replay.
    malformed(run(
        Scheme::GithubSha256,
        &[GITHUB_SECRET],
        &[("X-Hub-Signature-256", GITHUB_SIGNATURE.as_bytes())],
        body,
    ));
    unverified(run(
        Scheme::GithubSha256,
        &["a different secret here"],
        &[
            ("X-Hub-Signature-256", GITHUB_SIGNATURE.as_bytes()),
            ("X-GitHub-Delivery", b"d1"),
        ],
        body,
    ));
}

#[test]
fn unsigned_deliveries_pass_only_when_allowed_and_a_present_signature_is_still_checked() {
    let (scheme, keys) = check(Scheme::SkillosV1, &[V1_SECRET]);
    let empty = Headers::new();
    let mut allow = Check {
        scheme,
        keys: &keys,
        tolerance: 300,
        now: NOW,
        allow_unsigned: true,
    };
    assert!(verify(&allow, &empty, b"{}").unwrap().unsigned);
    let mut forged = Headers::new();
    forged.push(
        "x-skillos-signature",
        format!("t={NOW},v1={}", "ab".repeat(32)).as_bytes(),
    );
    unverified(verify(&allow, &forged, b"{}"));
    allow.allow_unsigned = false;
    unverified(verify(&allow, &empty, b"{}"));
}

#[test]
fn secrets_are_checked_for_their_scheme() {
    assert!(Scheme::StandardWebhooks.key("whsec_short").is_none());
    assert!(
        Scheme::StandardWebhooks
            .key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .is_none()
    );
    assert!(Scheme::SkillosV1.key("too-short").is_none());
    for scheme in [
        Scheme::SkillosV1,
        Scheme::StandardWebhooks,
        Scheme::GithubSha256,
    ] {
        let secret = scheme.new_secret();
        assert!(scheme.key(&secret).is_some(), "{secret}");
        assert_ne!(secret, scheme.new_secret());
    }
}

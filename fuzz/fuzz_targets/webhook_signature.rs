//! Webhook signature headers come from anyone on the network: verification must never panic,
//! must refuse what it cannot check, and must accept exactly what the trigger's secret signed.
//! Input: header lines `name: value`, a blank line, then the body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skillos_engine::webhooks::verify::{self, Check, Headers, Scheme};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW: i64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &b""[..]),
    };
    let mut headers = Headers::new();
    for line in head.split(|b| *b == b'\n') {
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]).trim().to_ascii_lowercase();
            headers.push(&name, line[colon + 1..].trim_ascii());
        }
    }
    for scheme in [Scheme::SkillosV1, Scheme::StandardWebhooks, Scheme::GithubSha256] {
        let key = scheme.key(SECRET).unwrap_or_else(|| SECRET.as_bytes().to_vec());
        let keys = [key];
        for allow_unsigned in [false, true] {
            let check = Check { scheme, keys: &keys, tolerance: 300, now: NOW, allow_unsigned };
            let _ = verify::verify(&check, &headers, body);
        }
        // What the secret signed verifies.
        let id = "msg_fuzz";
        let mut signed = Headers::new();
        let signature = verify::sign(scheme, SECRET, id, NOW, body);
        signed.push(scheme.signature_header(), signature.as_bytes());
        match scheme {
            Scheme::StandardWebhooks => {
                signed.push("webhook-id", id.as_bytes());
                signed.push("webhook-timestamp", NOW.to_string().as_bytes());
            }
            Scheme::GithubSha256 => signed.push("x-github-delivery", id.as_bytes()),
            Scheme::SkillosV1 => {}
        }
        let check = Check { scheme, keys: &keys, tolerance: 300, now: NOW, allow_unsigned: false };
        assert!(verify::verify(&check, &signed, body).is_ok(), "{scheme:?} refused its own signature");
    }
});

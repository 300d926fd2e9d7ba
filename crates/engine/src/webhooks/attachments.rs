//! Attachments: base64 files inside a webhook's JSON envelope, stored under the data dir by
//! content hash with names the server makes, and handed to the skill as references.
//!
//! Every attachment is checked before any is written: its encoded length against the size
//! limit (before decoding anything), strict base64 (one alphabet, canonical padding, no
//! whitespace), the declared content type against an allowlist and against the bytes
//! themselves. The sender's filename is kept as sanitised metadata only; it never becomes a
//! path. Archives are stored opaque: nothing is ever unpacked.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Value as Json, json};
use sha2::Digest as _;
use skillos_store::TenantId;

/// Most attachments in one delivery.
pub const MAX_COUNT: usize = 32;
const MAX_FILENAME_CHARS: usize = 255;

/// The content types accepted, exactly (no parameters).
pub const ALLOWED_TYPES: [&str; 10] = [
    "application/json",
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "text/html",
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error("attachment {index} is larger than {limit} bytes")]
    TooLarge { index: usize, limit: usize },
    #[error("cannot store an attachment: {0}")]
    Io(#[from] std::io::Error),
}

/// One decoded, checked attachment, not stored yet.
struct Checked {
    filename: String,
    content_type: String,
    bytes: Vec<u8>,
    sha256: String,
}

/// Where attachments live: `<data dir>/attachments/<tenant>/<2 hex>/<sha256>`.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
    max_size: usize,
}

impl Storage {
    pub fn new(data_dir: &Path, max_size: usize) -> Self {
        Self {
            root: data_dir.join("attachments"),
            max_size,
        }
    }

    /// Checks every item of `attachments` (absent or null means none), then stores them;
    /// returns their references, in order.
    pub fn ingest(
        &self,
        tenant: &TenantId,
        attachments: Option<&Json>,
    ) -> Result<Vec<Json>, Error> {
        let items = match attachments {
            None | Some(Json::Null) => return Ok(Vec::new()),
            Some(Json::Array(items)) => items,
            Some(_) => return Err(Error::Invalid("attachments must be a list".into())),
        };
        if items.len() > MAX_COUNT {
            return Err(Error::Invalid(format!(
                "at most {MAX_COUNT} attachments per delivery"
            )));
        }
        let checked = items
            .iter()
            .enumerate()
            .map(|(index, item)| self.check(index, item))
            .collect::<Result<Vec<_>, _>>()?;
        checked
            .into_iter()
            .map(|attachment| self.store(tenant, attachment))
            .collect()
    }

    fn check(&self, index: usize, item: &Json) -> Result<Checked, Error> {
        let invalid = |what: &str| Error::Invalid(format!("attachment {index}: {what}"));
        let item = item.as_object().ok_or_else(|| invalid("not an object"))?;
        let text = |keys: [&str; 2]| {
            keys.iter()
                .find_map(|key| item.get(*key).and_then(Json::as_str))
                .map(str::trim)
        };
        let filename = sanitize_filename(text(["filename", "name"]).unwrap_or_default());
        let content_type = text(["content_type", "type"])
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !ALLOWED_TYPES.contains(&content_type.as_str()) {
            return Err(invalid(&format!(
                "content type {content_type:?} is not one of {}",
                ALLOWED_TYPES.join(", ")
            )));
        }
        let data = item
            .get("data")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid("data must be a base64 string"))?;
        // The decoded size is known from the encoded length: refuse before decoding.
        if data.len() / 4 * 3 > self.max_size + 2 {
            return Err(Error::TooLarge {
                index,
                limit: self.max_size,
            });
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| invalid("data is not strict base64 (standard alphabet, canonical padding, no whitespace)"))?;
        if bytes.is_empty() {
            return Err(invalid("data is empty"));
        }
        if bytes.len() > self.max_size {
            return Err(Error::TooLarge {
                index,
                limit: self.max_size,
            });
        }
        if !content_matches(&content_type, &bytes) {
            return Err(invalid(&format!(
                "the content is not {content_type} (declared type and bytes differ)"
            )));
        }
        let sha256 = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Checked {
            filename,
            content_type,
            bytes,
            sha256,
        })
    }

    /// Writes an attachment once (the same content is one file), atomically.
    fn store(&self, tenant: &TenantId, attachment: Checked) -> Result<Json, Error> {
        let relative = PathBuf::from(tenant.as_str())
            .join(&attachment.sha256[..2])
            .join(&attachment.sha256);
        let path = self.root.join(&relative);
        if !path.exists() {
            let dir = path.parent().expect("has a parent");
            std::fs::create_dir_all(dir)?;
            let temporary = dir.join(format!(
                ".{}.{}",
                attachment.sha256,
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::write(&temporary, &attachment.bytes)?;
            std::fs::rename(&temporary, &path)?;
        }
        Ok(json!({
            "id": attachment.sha256,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size_bytes": attachment.bytes.len(),
            "sha256": attachment.sha256,
            "reference": format!("attachments/{}", relative.to_string_lossy()),
        }))
    }
}

/// The sender's filename as metadata: its last path component (either separator), without
/// control, format or bidirectional-override characters, at most 255 characters;
/// `attachment` when nothing is left. It never names a file.
pub fn sanitize_filename(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(*c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}' | '\u{feff}')
        })
        .take(MAX_FILENAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').trim();
    if cleaned.is_empty() {
        "attachment".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Whether the bytes are what the content type says (magic numbers; text is UTF-8 without
/// NUL; JSON parses).
fn content_matches(content_type: &str, bytes: &[u8]) -> bool {
    let text = || std::str::from_utf8(bytes).is_ok_and(|text| !text.contains('\0'));
    match content_type {
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        "image/gif" => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        "image/webp" => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "application/pdf" => bytes.starts_with(b"%PDF-"),
        "application/json" => serde_json::from_slice::<Json>(bytes).is_ok(),
        "text/plain" | "text/csv" | "text/markdown" | "text/html" => text(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn storage(dir: &Path) -> Storage {
        Storage::new(dir, 1024)
    }

    fn item(name: &str, content_type: &str, data: &str) -> Json {
        json!({"filename": name, "content_type": content_type, "data": data})
    }

    #[test]
    fn attachments_are_stored_by_content_hash_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let tenant = TenantId::new("acme");
        let png = b"\x89PNG\r\n\x1a\nrest-of-image";
        let refs = storage(dir.path())
            .ingest(
                &tenant,
                Some(&json!([
                    item("../../etc/passwd.png", "image/png", &b64(png)),
                    item("notes.txt", "TEXT/PLAIN", &b64(b"hello"))
                ])),
            )
            .unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0]["filename"], "passwd.png");
        assert_eq!(refs[1]["content_type"], "text/plain");
        let sha = refs[0]["sha256"].as_str().unwrap();
        let path = dir
            .path()
            .join("attachments/acme")
            .join(&sha[..2])
            .join(sha);
        assert_eq!(std::fs::read(path).unwrap(), png);
        assert_eq!(
            refs[0]["reference"],
            format!("attachments/acme/{}/{sha}", &sha[..2])
        );
    }

    #[test]
    fn traversal_names_never_become_paths() {
        for name in [
            "../x",
            "..\\x",
            "%2e%2e%2fx",
            "/etc/passwd",
            "C:\\Windows\\x",
            "\\\\server\\share\\x",
            "a\0b",
            "\u{ff0e}\u{ff0e}/x",
            "evil\u{202e}gnp.exe",
            "CON",
            "..",
            "",
            &"a".repeat(5000),
        ] {
            let clean = sanitize_filename(name);
            assert!(
                !clean.contains('/') && !clean.contains('\\') && !clean.contains('\0'),
                "{name:?} -> {clean:?}"
            );
            assert!(
                !clean.contains('\u{202e}')
                    && clean.chars().count() <= 255
                    && clean != ".."
                    && !clean.is_empty()
            );
        }
        // Whatever the name, the file lands under the root, named by its hash.
        let dir = tempfile::tempdir().unwrap();
        let refs = storage(dir.path())
            .ingest(
                &TenantId::new("t"),
                Some(&json!([item(
                    "../../../../tmp/x",
                    "text/plain",
                    &b64(b"x")
                )])),
            )
            .unwrap();
        let reference = refs[0]["reference"].as_str().unwrap();
        assert!(reference.starts_with("attachments/t/") && !reference.contains(".."));
    }

    #[test]
    fn bad_attachments_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = storage(dir.path());
        let tenant = TenantId::new("acme");
        let good = item("ok.txt", "text/plain", &b64(b"fine"));
        for bad in [
            item("a", "text/plain", "aGVsbG8=\n"),            // whitespace
            item("a", "text/plain", "aGVsbG8"),               // no padding
            item("a", "text/plain", "aGVsbG8==="),            // bad padding
            item("a", "text/plain", "aGVs*G8="),              // outside the alphabet
            item("a", "text/plain", "aGVs_G8-"),              // the URL-safe alphabet
            item("a", "text/plain", "a"),                     // one character
            item("a", "text/plain", ""),                      // empty
            item("a", "image/png", &b64(b"\x7fELF\x02\x01")), // an ELF declared as PNG
            item("a", "image/png", &b64(b"<html><script>alert(1)</script>")),
            item("a", "image/png", &b64(b"PK\x03\x04zip")),
            item("a", "image/svg+xml", &b64(b"<svg/>")),
            item("a", "text/plain; charset=utf-8", &b64(b"x")),
            item("a", "application/zip", &b64(b"PK\x03\x04")),
            item("a", "application/json", &b64(b"{not json")),
            json!("not an object"),
        ] {
            let result = store.ingest(&tenant, Some(&json!([good.clone(), bad.clone()])));
            assert!(
                matches!(result, Err(Error::Invalid(_))),
                "{bad}: {result:?}"
            );
        }
        assert!(store.ingest(&tenant, Some(&json!({"a": 1}))).is_err());
        let too_big = item("a", "text/plain", &b64(&[b'x'; 2048]));
        assert!(matches!(
            store.ingest(&tenant, Some(&json!([too_big]))),
            Err(Error::TooLarge { .. })
        ));
        // A huge declared size is refused from its length, before decoding.
        let huge = item("a", "text/plain", &"A".repeat(4 * 1024 * 1024));
        assert!(matches!(
            store.ingest(&tenant, Some(&json!([huge]))),
            Err(Error::TooLarge { .. })
        ));
        assert!(
            !dir.path().join("attachments").exists(),
            "nothing was written"
        );
        assert!(store.ingest(&tenant, None).unwrap().is_empty());
        assert!(store.ingest(&tenant, Some(&Json::Null)).unwrap().is_empty());
    }
}

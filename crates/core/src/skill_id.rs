//! Skill ids: `domain/name`, with the predecessor's dotted public form accepted on input.
//!
//! Both segments are restricted to ASCII letters, digits, `_` and `-` (starting with a letter or
//! digit) so that `domain/name` and `domain.name` always convert into each other without loss,
//! which the predecessor's free-form ids could not guarantee.

use std::fmt;

const MAX_SEGMENT_LEN: usize = 64;

/// A validated skill id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SkillId {
    domain: String,
    name: String,
}

/// Why a string is not a skill id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid skill id {input:?}: {reason}")]
pub struct InvalidSkillId {
    input: String,
    reason: &'static str,
}

impl SkillId {
    /// Parses `domain/name` or the public form `domain.name`.
    pub fn parse(input: &str) -> Result<Self, InvalidSkillId> {
        let invalid = |reason| InvalidSkillId {
            input: echo(input),
            reason,
        };
        let separator = if input.contains('/') { '/' } else { '.' };
        let mut parts = input.split(separator);
        let (Some(domain), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid(
                "expected exactly one `/` (domain/name) or one `.` (domain.name)",
            ));
        };
        check_segment(domain).map_err(invalid)?;
        check_segment(name).map_err(invalid)?;
        Ok(Self {
            domain: domain.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The part before the `/`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The part after the `/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The predecessor's dotted public form, `domain.name`.
    pub fn public(&self) -> String {
        format!("{}.{}", self.domain, self.name)
    }
}

/// The input as an error may repeat it: at most 80 characters, so a huge id cannot blow up an
/// error message (or the gRPC header that carries it).
fn echo(input: &str) -> String {
    const MAX_ECHO: usize = 80;
    match input.char_indices().nth(MAX_ECHO) {
        Some((cut, _)) => format!("{}...", &input[..cut]),
        None => input.to_owned(),
    }
}

fn check_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("domain and name must not be empty");
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err("domain and name are at most 64 characters each");
    }
    if !segment.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("domain and name must start with a letter or digit");
    }
    if !segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("domain and name may contain only ASCII letters, digits, `_` and `-`");
    }
    Ok(())
}

impl fmt::Display for SkillId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.name)
    }
}

impl std::str::FromStr for SkillId {
    type Err = InvalidSkillId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_internal_and_public_forms() {
        let internal = SkillId::parse("finance/convert_currency").unwrap();
        let public = SkillId::parse("finance.convert_currency").unwrap();
        assert_eq!(internal, public);
        assert_eq!(internal.to_string(), "finance/convert_currency");
        assert_eq!(internal.public(), "finance.convert_currency");
        assert_eq!(internal.domain(), "finance");
        assert_eq!(internal.name(), "convert_currency");
    }

    #[test]
    fn rejects_ids_that_cannot_round_trip() {
        for bad in [
            "",
            "finance",
            "/x",
            "x/",
            "a/b/c",
            "ops/v1.0",
            "my.dom/skill",
            "a.b.c",
            "hello world/x",
            "local/hello world",
            "_x/y",
            "x/-y",
            "ümlaut/x",
        ] {
            assert!(SkillId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn every_valid_id_round_trips_through_its_public_form() {
        for id in ["a/b", "finance/convert_currency", "x-1/y_2", "A9/b-c_d"] {
            let parsed = SkillId::parse(id).unwrap();
            assert_eq!(SkillId::parse(&parsed.public()).unwrap(), parsed);
            assert_eq!(parsed.to_string(), id);
        }
    }

    #[test]
    fn errors_echo_at_most_a_bounded_prefix_of_the_input() {
        let huge = "x".repeat(1_000_000);
        let message = SkillId::parse(&huge).unwrap_err().to_string();
        assert!(message.len() < 300, "{} bytes", message.len());
    }

    #[test]
    fn rejects_overlong_segments() {
        let long = "a".repeat(65);
        assert!(SkillId::parse(&format!("{long}/x")).is_err());
        assert!(SkillId::parse(&format!("{}/x", "a".repeat(64))).is_ok());
    }
}

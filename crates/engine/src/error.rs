//! What a refusal or a failure says to a caller, without a transport: a stable [`Reason`]
//! (which fixes its [`Kind`]), a bounded message, metadata, field violations and a retry
//! delay. Each domain error turns itself into an [`Error`] in its own module; the adapters
//! (gRPC, HTTP) hold the one table from [`Kind`] to their codes.
//!
//! Internal errors are logged with their detail and reach callers only as a generic message.

use std::time::Duration;

/// The longest message an error carries, in bytes; longer ones (user input quoted in them) are
/// cut at a character boundary and end with `…`.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// The longest metadata value or field violation text, in bytes.
pub const MAX_DETAIL_BYTES: usize = 256;

/// The kinds of failure a caller can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    FailedPrecondition,
    ResourceExhausted,
    DeadlineExceeded,
    Unimplemented,
    Unavailable,
    /// The operation was cancelled (CancelExecution ended a run its caller was waiting for).
    Cancelled,
    /// A concurrent request got in the way; retry later.
    Aborted,
    /// The name is taken.
    AlreadyExists,
    Internal,
}

impl Kind {
    pub const ALL: [Self; 13] = [
        Self::InvalidArgument,
        Self::Unauthenticated,
        Self::PermissionDenied,
        Self::NotFound,
        Self::FailedPrecondition,
        Self::ResourceExhausted,
        Self::DeadlineExceeded,
        Self::Unimplemented,
        Self::Unavailable,
        Self::Cancelled,
        Self::Aborted,
        Self::AlreadyExists,
        Self::Internal,
    ];

    /// A stable name, as stored with an idempotent request's response.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::NotFound => "NOT_FOUND",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Self::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::Cancelled => "CANCELLED",
            Self::Aborted => "ABORTED",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::Internal => "INTERNAL",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// A stable, UPPER_SNAKE_CASE reason and the kind it always has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reason {
    pub name: &'static str,
    pub kind: Kind,
}

impl Reason {
    const fn new(name: &'static str, kind: Kind) -> Self {
        Self { name, kind }
    }

    /// The reason of this name, if it is one of [`reason::ALL`].
    pub fn from_name(name: &str) -> Option<Self> {
        reason::ALL
            .iter()
            .copied()
            .find(|reason| reason.name == name)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every reason the server answers with; `docs/api.md`'s error table lists the same.
pub mod reason {
    use super::{Kind::*, Reason};

    macro_rules! reasons {
        ($($name:ident: $kind:ident),* $(,)?) => {
            $(pub const $name: Reason = Reason::new(stringify!($name), $kind);)*
            /// Every reason, in the order of the table in `docs/api.md`.
            pub const ALL: &[Reason] = &[$($name),*];
        };
    }

    reasons! {
        INVALID_SKILL_ID: InvalidArgument,
        SKILL_NOT_FOUND: NotFound,
        DEPRECATION_REASON_REQUIRED: InvalidArgument,
        INVALID_REPLACEMENT: InvalidArgument,
        INVALID_PAGE_TOKEN: InvalidArgument,
        INVALID_PAGE_SIZE: InvalidArgument,
        NO_SKILLS_ROOT: FailedPrecondition,
        INVALID_PAYLOAD: InvalidArgument,
        INVALID_SKILL_SCHEMA: FailedPrecondition,
        NO_RUNNER: Unavailable,
        RUNNER_LOST: Unavailable,
        RESULT_TOO_LARGE: ResourceExhausted,
        EXECUTION_TIMED_OUT: DeadlineExceeded,
        INVALID_IDEMPOTENCY_KEY: InvalidArgument,
        IDEMPOTENCY_KEY_REUSED: InvalidArgument,
        IDEMPOTENCY_KEY_IN_USE: Aborted,
        EXECUTION_FINISHED: FailedPrecondition,
        EXECUTION_CANCELLED: Cancelled,
        EXECUTION_NOT_FOUND: NotFound,
        APPROVAL_MISMATCH: FailedPrecondition,
        RUNNER_TOKEN_INVALID: Unauthenticated,
        NO_SKILL_ALLOWED: PermissionDenied,
        REGISTER_REQUIRED: InvalidArgument,
        UNSUPPORTED_PROTOCOL_VERSION: FailedPrecondition,
        ALREADY_REGISTERED: InvalidArgument,
        HEARTBEAT_TIMEOUT: DeadlineExceeded,
        INVALID_REQUEST: InvalidArgument,
        MALFORMED_REQUEST: InvalidArgument,
        PAYLOAD_TOO_DEEP: InvalidArgument,
        MESSAGE_TOO_LARGE: ResourceExhausted,
        HEADERS_TOO_LARGE: ResourceExhausted,
        UNSTORABLE_TEXT: InvalidArgument,
        UNAUTHENTICATED: Unauthenticated,
        AUTHENTICATION_UNAVAILABLE: Unavailable,
        STORE_UNAVAILABLE: Unavailable,
        POLICY_DENIED: PermissionDenied,
        RATE_LIMITED: ResourceExhausted,
        RATE_LIMITER_UNAVAILABLE: Unavailable,
        BUDGET_EXCEEDED: ResourceExhausted,
        INVALID_BUDGET_SCOPE: InvalidArgument,
        INVALID_BUDGET_LIMIT: InvalidArgument,
        APPROVAL_NOT_FOUND: NotFound,
        SELF_APPROVAL: PermissionDenied,
        NOT_AN_APPROVER: PermissionDenied,
        APPROVAL_NOT_PENDING: FailedPrecondition,
        APPROVAL_EXPIRED: FailedPrecondition,
        PAYLOAD_MISMATCH: FailedPrecondition,
        APPROVER_ALREADY_DECIDED: FailedPrecondition,
        CIRCUIT_OPEN: Unavailable,
        JOB_NOT_FOUND: NotFound,
        JOB_FINISHED: FailedPrecondition,
        JOB_NOT_DEAD: FailedPrecondition,
        TRIGGER_NOT_FOUND: NotFound,
        TRIGGER_DISABLED: FailedPrecondition,
        TRIGGER_EXISTS: AlreadyExists,
        TRIGGER_READ_ONLY: FailedPrecondition,
        INVALID_TRIGGER_ID: InvalidArgument,
        INVALID_SECRET: InvalidArgument,
        SIGNATURE_INVALID: Unauthenticated,
        INVALID_HEADERS: InvalidArgument,
        INVALID_BODY: InvalidArgument,
        INVALID_ATTACHMENT: InvalidArgument,
        BODY_TOO_LARGE: ResourceExhausted,
        ATTACHMENT_TOO_LARGE: ResourceExhausted,
        SCHEDULE_NOT_FOUND: NotFound,
        SCHEDULE_COMPLETED: FailedPrecondition,
        INVALID_CRON: InvalidArgument,
        UNKNOWN_TIME_ZONE: InvalidArgument,
        INVALID_SCHEDULE: InvalidArgument,
        SHUTTING_DOWN: Unavailable,
        INVALID_PIPELINE: InvalidArgument,
        COMPOSITION_INACTIVE: FailedPrecondition,
        NOT_A_COMPOSITION: FailedPrecondition,
        FLOW_NOT_FOUND: NotFound,
        FLOW_RUN_NOT_FOUND: NotFound,
        FLOW_RUN_FINISHED: FailedPrecondition,
        FLOW_RUN_NOT_RETRYABLE: FailedPrecondition,
        FLOW_EXPRESSION_FAILED: FailedPrecondition,
        FLOW_LOOP_EXHAUSTED: FailedPrecondition,
        FLOW_SIGNAL_TIMEOUT: DeadlineExceeded,
        FLOW_BUDGET_EXCEEDED: ResourceExhausted,
        FLOW_APPROVAL_REQUIRED: FailedPrecondition,
        INVALID_SIGNAL: InvalidArgument,
        FLOW_SIGNALS_FULL: ResourceExhausted,
        EXECUTION_INTERRUPTED: Unavailable,
        NOT_FOUND: NotFound,
        INTERNAL: Internal,
    }
}

/// One field of a request and what is wrong with it (`google.rpc.BadRequest.FieldViolation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `payload.amount` or `page_token`.
    pub field: String,
    pub description: String,
}

/// An error as callers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub reason: Reason,
    /// At most [`MAX_MESSAGE_BYTES`].
    pub message: String,
    /// `ErrorInfo.metadata`, e.g. the `execution_id` a failed run created.
    pub metadata: Vec<(&'static str, String)>,
    /// The request fields at fault (`google.rpc.BadRequest`).
    pub violations: Vec<FieldViolation>,
    /// When to try again: `google.rpc.RetryInfo` in gRPC, `Retry-After` in HTTP.
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: bounded(message.into(), MAX_MESSAGE_BYTES),
            metadata: Vec::new(),
            violations: Vec::new(),
            retry_after: None,
        }
    }

    /// An error about one request field: its message is the field's description too.
    pub fn field(reason: Reason, field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = Self::new(reason, message);
        let description = error.message.clone();
        error.violation(field, description)
    }

    pub fn kind(&self) -> Kind {
        self.reason.kind
    }

    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.metadata
            .push((key, bounded(value.into(), MAX_DETAIL_BYTES)));
        self
    }

    /// Names a request field at fault.
    pub fn violation(mut self, field: impl Into<String>, description: impl Into<String>) -> Self {
        self.violations.push(FieldViolation {
            field: bounded(field.into(), MAX_DETAIL_BYTES),
            description: bounded(description.into(), MAX_MESSAGE_BYTES),
        });
        self
    }

    /// The value of a metadata key.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value.as_str())
    }

    /// A store failure as the caller sees it: input the database cannot hold is the caller's
    /// (UNSTORABLE_TEXT); a database that cannot be reached or cannot write now is
    /// STORE_UNAVAILABLE (retry later); anything else is internal.
    pub fn store(error: &skillos_store::Error) -> Self {
        match error {
            skillos_store::Error::Unstorable => {
                Self::new(reason::UNSTORABLE_TEXT, error.to_string())
            }
            unavailable if unavailable.is_unavailable() => {
                tracing::warn!(error = %unavailable, "the store is unavailable");
                Self::new(
                    reason::STORE_UNAVAILABLE,
                    "the database cannot be reached or cannot write now; retry later",
                )
            }
            other => Self::internal(other),
        }
    }

    /// Logs the detail and hides it from the caller.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            reason::INTERNAL,
            "internal error; the server log has the details",
        )
    }

    /// The error as stored with an idempotency key.
    pub fn to_stored(&self) -> Stored {
        Stored {
            kind: self.kind().name().to_owned(),
            reason: self.reason.name.to_owned(),
            message: self.message.clone(),
            metadata: self
                .metadata
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone()))
                .collect(),
        }
    }

    /// A stored error, replayed: its metadata says `replayed: true`. `None` when it names no
    /// known reason (the caller then answers as if the request still ran).
    pub fn replayed(stored: &Stored) -> Option<Self> {
        let reason = Reason::from_name(&stored.reason)?;
        let mut error = Self::new(reason, stored.message.clone());
        for (key, value) in &stored.metadata {
            if let Some(key) = STORED_METADATA_KEYS.iter().find(|known| **known == key) {
                error = error.with(key, value.clone());
            }
        }
        Some(error.with("replayed", "true"))
    }
}

/// Metadata keys a stored error keeps when it is replayed.
const STORED_METADATA_KEYS: &[&str] = &["execution_id", "skill_id"];

/// An error as the store keeps it with an idempotent request's response. `kind` is kept for
/// readers of the record; the reason decides what a replay answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    #[serde(default)]
    pub kind: String,
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// `text` cut to at most `max` bytes at a character boundary, marked with `…` when cut.
pub fn bounded(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    const MARK: &str = "…";
    let mut end = max.saturating_sub(MARK.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text;
    cut.truncate(end);
    cut.push_str(MARK);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_details_are_bounded_at_a_character_boundary() {
        let long = "é".repeat(40_000);
        let error = Error::field(reason::INVALID_PAYLOAD, long.clone(), long.clone())
            .with("skill_id", long.clone());
        assert!(error.message.len() <= MAX_MESSAGE_BYTES);
        assert!(error.message.ends_with('…'));
        assert!(error.metadata("skill_id").unwrap().len() <= MAX_DETAIL_BYTES);
        assert!(error.violations[0].field.len() <= MAX_DETAIL_BYTES);
        assert!(error.violations[0].description.len() <= MAX_MESSAGE_BYTES);
        assert_eq!(bounded("short".into(), 10), "short");
    }

    #[test]
    fn reasons_are_unique_and_upper_snake_case() {
        let mut names: Vec<&str> = reason::ALL.iter().map(|r| r.name).collect();
        assert!(names.iter().all(|name| {
            name.bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), reason::ALL.len());
    }

    #[test]
    fn a_stored_error_replays_with_its_reason_and_kind() {
        let error = Error::new(reason::RUNNER_LOST, "gone").with("execution_id", "e1");
        let stored: Stored =
            serde_json::from_value(serde_json::to_value(error.to_stored()).unwrap()).unwrap();
        assert_eq!(stored.kind, "UNAVAILABLE");
        let replayed = Error::replayed(&stored).unwrap();
        assert_eq!(replayed.reason, reason::RUNNER_LOST);
        assert_eq!(replayed.kind(), Kind::Unavailable);
        assert_eq!(replayed.metadata("execution_id"), Some("e1"));
        assert_eq!(replayed.metadata("replayed"), Some("true"));
        // A record written before kinds had names of their own still replays by its reason.
        let legacy = serde_json::json!({"kind": "The operation was cancelled",
            "reason": "EXECUTION_CANCELLED", "message": "m", "metadata": {}});
        let legacy: Stored = serde_json::from_value(legacy).unwrap();
        assert_eq!(Error::replayed(&legacy).unwrap().kind(), Kind::Cancelled);
        let unknown = Stored {
            reason: "NO_SUCH".into(),
            ..Stored::default()
        };
        assert!(Error::replayed(&unknown).is_none());
    }
}

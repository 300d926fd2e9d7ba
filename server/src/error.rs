//! The one table from domain errors to gRPC status codes and HTTP statuses.
//!
//! Every refusal carries a stable machine-readable reason in a `google.rpc.ErrorInfo` detail
//! (domain [`ERROR_DOMAIN`]); internal errors are logged with their detail and reach clients
//! only as a generic message.

use std::collections::HashMap;

use tonic_types::{ErrorDetails, StatusExt};

use crate::{orchestrator, skills};

/// `google.rpc.ErrorInfo.domain` of every SkillOS error.
pub const ERROR_DOMAIN: &str = "skillos.dev";

/// Reasons a stored (idempotent) error may carry: those a run can end with after it created an
/// execution.
const KNOWN_REASONS: &[&str] = &[
    "NO_RUNNER",
    "RUNNER_LOST",
    "RESULT_TOO_LARGE",
    "EXECUTION_TIMED_OUT",
    "EXECUTION_CANCELLED",
];
const METADATA_KEYS: &[&str] = &["execution_id"];

/// The kinds of failure a client can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    const ALL: [Self; 13] = [
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

    /// A stable name, to store an error (an idempotent request's response).
    pub fn name(self) -> &'static str {
        self.grpc().description()
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub fn grpc(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::PermissionDenied => tonic::Code::PermissionDenied,
            Self::NotFound => tonic::Code::NotFound,
            Self::FailedPrecondition => tonic::Code::FailedPrecondition,
            Self::ResourceExhausted => tonic::Code::ResourceExhausted,
            Self::DeadlineExceeded => tonic::Code::DeadlineExceeded,
            Self::Unimplemented => tonic::Code::Unimplemented,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Cancelled => tonic::Code::Cancelled,
            Self::Aborted => tonic::Code::Aborted,
            Self::AlreadyExists => tonic::Code::AlreadyExists,
            Self::Internal => tonic::Code::Internal,
        }
    }

    pub fn http(self) -> http::StatusCode {
        match self {
            Self::InvalidArgument => http::StatusCode::BAD_REQUEST,
            Self::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => http::StatusCode::FORBIDDEN,
            Self::NotFound => http::StatusCode::NOT_FOUND,
            Self::FailedPrecondition => http::StatusCode::CONFLICT,
            Self::ResourceExhausted => http::StatusCode::TOO_MANY_REQUESTS,
            Self::DeadlineExceeded => http::StatusCode::GATEWAY_TIMEOUT,
            Self::Unimplemented => http::StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            Self::Cancelled | Self::Aborted | Self::AlreadyExists => http::StatusCode::CONFLICT,
            Self::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: Kind,
    /// Stable, UPPER_SNAKE_CASE.
    pub reason: &'static str,
    pub message: String,
    /// `ErrorInfo.metadata`, e.g. the `execution_id` a failed run created.
    pub metadata: Vec<(&'static str, String)>,
    /// When to try again: `google.rpc.RetryInfo` in gRPC, `Retry-After` in HTTP.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(kind: Kind, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            reason,
            message: message.into(),
            metadata: Vec::new(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.metadata.push((key, value.into()));
        self
    }

    /// Logs the detail and hides it from the client.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            Kind::Internal,
            "INTERNAL",
            "internal error; the server log has the details",
        )
    }

    pub fn unimplemented(rpc: &str) -> Self {
        Self::new(
            Kind::Unimplemented,
            "NOT_IMPLEMENTED",
            format!("{rpc} is not implemented by this version of SkillOS yet"),
        )
    }

    /// The error as stored with an idempotency key.
    pub fn to_json(&self) -> serde_json::Value {
        let metadata: serde_json::Map<String, serde_json::Value> = self
            .metadata
            .iter()
            .map(|(key, value)| (key.to_string(), serde_json::Value::String(value.clone())))
            .collect();
        serde_json::json!({"kind": self.kind.name(), "reason": self.reason,
                           "message": self.message, "metadata": metadata})
    }

    /// A stored error, replayed: its metadata says `replayed: true`. `None` when it does not
    /// parse (the caller then answers INTERNAL).
    pub fn replayed_from_json(value: &serde_json::Value) -> Option<Self> {
        let kind = Kind::from_name(value.get("kind")?.as_str()?)?;
        // Reasons are `&'static str`: keep the stored one only when it is a known reason.
        let reason = value.get("reason")?.as_str()?;
        let reason: &'static str = KNOWN_REASONS.iter().find(|known| **known == reason)?;
        let mut error = Self::new(kind, reason, value.get("message")?.as_str()?);
        if let Some(metadata) = value.get("metadata").and_then(|m| m.as_object()) {
            for (key, value) in metadata {
                if let (Some(key), Some(value)) = (
                    METADATA_KEYS.iter().find(|known| **known == key.as_str()),
                    value.as_str(),
                ) {
                    error = error.with(key, value);
                }
            }
        }
        Some(error.with("replayed", "true"))
    }

    pub fn into_status(self) -> tonic::Status {
        let metadata: HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone()))
            .collect();
        let mut details = ErrorDetails::with_error_info(self.reason, ERROR_DOMAIN, metadata);
        if let Some(after) = self.retry_after {
            details.set_retry_info(Some(after));
        }
        tonic::Status::with_error_details(self.kind.grpc(), self.message, details)
    }
}

/// `{"error": {"reason", "message"}, "detail": message}` with the table's HTTP status; `detail`
/// is the predecessor's field, kept for its clients.
impl axum::response::IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let body = serde_json::json!({
            "error": {"reason": self.reason, "message": self.message},
            "detail": self.message,
        });
        // Sizes are 413 in HTTP; in gRPC they share RESOURCE_EXHAUSTED with rate limits.
        let status = match self.reason {
            "BODY_TOO_LARGE" | "ATTACHMENT_TOO_LARGE" => http::StatusCode::PAYLOAD_TOO_LARGE,
            _ => self.kind.http(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(after) = self.retry_after {
            // Whole seconds, rounded up: a client that waits that long is admitted.
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(seconds.max(1)),
            );
        }
        response
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> Self {
        error.into_status()
    }
}

impl From<skills::Error> for ApiError {
    fn from(error: skills::Error) -> Self {
        use skills::Error as E;
        let (kind, reason) = match &error {
            E::InvalidId(_) => (Kind::InvalidArgument, "INVALID_SKILL_ID"),
            E::NotFound(_) => (Kind::NotFound, "SKILL_NOT_FOUND"),
            E::ReasonRequired => (Kind::InvalidArgument, "DEPRECATION_REASON_REQUIRED"),
            E::InvalidReplacement(_) => (Kind::InvalidArgument, "INVALID_REPLACEMENT"),
            E::InvalidPageToken => (Kind::InvalidArgument, "INVALID_PAGE_TOKEN"),
            E::InvalidPageSize(_) => (Kind::InvalidArgument, "INVALID_PAGE_SIZE"),
            E::NoRoot => (Kind::FailedPrecondition, "NO_SKILLS_ROOT"),
            E::Denied(decision) => {
                let mut denied =
                    Self::new(Kind::PermissionDenied, "POLICY_DENIED", error.to_string())
                        .with("policy_id", decision.policy_id.clone());
                if !decision.missing.is_empty() {
                    denied = denied.with("missing_permissions", decision.missing.join(","));
                }
                return denied;
            }
            E::Store(store) => return Self::internal(store),
            E::Internal(detail) => return Self::internal(detail),
        };
        Self::new(kind, reason, error.to_string())
    }
}

impl From<orchestrator::Error> for ApiError {
    fn from(error: orchestrator::Error) -> Self {
        use crate::dispatch::Error as D;
        use orchestrator::Error as E;
        let message = error.to_string();
        match error {
            E::Skills(skills) => Self::from(skills),
            E::InvalidPayload(_) => Self::new(Kind::InvalidArgument, "INVALID_PAYLOAD", message),
            E::InvalidSchema(_) => {
                Self::new(Kind::FailedPrecondition, "INVALID_SKILL_SCHEMA", message)
            }
            E::NoRunner(_) => Self::new(Kind::Unavailable, "NO_RUNNER", message),
            E::ExecutionNotFound(_) => Self::new(Kind::NotFound, "EXECUTION_NOT_FOUND", message),
            E::InvalidPageToken => Self::new(Kind::InvalidArgument, "INVALID_PAGE_TOKEN", message),
            E::InvalidPageSize => Self::new(Kind::InvalidArgument, "INVALID_PAGE_SIZE", message),
            E::Routing(routing) => Self::from(routing),
            E::Denied { skill_id, decision } => {
                let mut error = Self::new(Kind::PermissionDenied, "POLICY_DENIED", message)
                    .with("skill_id", skill_id)
                    .with("policy_id", decision.policy_id);
                if !decision.missing.is_empty() {
                    error = error.with("missing_permissions", decision.missing.join(","));
                }
                error
            }
            E::RateLimited(refusal) => Self::from(refusal),
            E::Breaker(crate::breaker::Error::Open {
                skill_id,
                retry_after,
            }) => Self::new(Kind::Unavailable, "CIRCUIT_OPEN", message)
                .with("skill_id", skill_id)
                .retry_after(retry_after),
            E::Breaker(crate::breaker::Error::Store(store)) => Self::internal(&store),
            E::Budget(crate::budget::Error::Exceeded {
                scope,
                scope_key,
                period,
                limit,
                remaining,
                ..
            }) => Self::new(Kind::ResourceExhausted, "BUDGET_EXCEEDED", message)
                .with("scope", scope.as_str())
                .with("scope_key", scope_key)
                .with("period", period.as_str())
                .with("limit", limit.to_string())
                .with("remaining", remaining.to_string()),
            E::Budget(crate::budget::Error::Store(store)) => Self::internal(&store),
            E::Approval(approval) => Self::from(approval),
            E::Finished(_) => Self::new(Kind::FailedPrecondition, "EXECUTION_FINISHED", message),
            E::IdempotencyKeyReused => {
                Self::new(Kind::InvalidArgument, "IDEMPOTENCY_KEY_REUSED", message)
            }
            E::IdempotencyKeyInUse => Self::new(Kind::Aborted, "IDEMPOTENCY_KEY_IN_USE", message),
            E::Api(error) => error,
            E::ApprovalMismatch(_) => {
                Self::new(Kind::FailedPrecondition, "APPROVAL_MISMATCH", message)
            }
            E::Store(store) => Self::internal(&store),
            E::Dispatch {
                execution_id,
                source,
            } => {
                let (kind, reason) = match source {
                    D::NoRunner(_) => (Kind::Unavailable, "NO_RUNNER"),
                    D::RunnerLost { .. } => (Kind::Unavailable, "RUNNER_LOST"),
                    D::ResultTooLarge { .. } => (Kind::ResourceExhausted, "RESULT_TOO_LARGE"),
                    D::DeadlineExceeded => (Kind::DeadlineExceeded, "EXECUTION_TIMED_OUT"),
                    D::Cancelled => (Kind::Cancelled, "EXECUTION_CANCELLED"),
                };
                Self::new(kind, reason, message).with("execution_id", execution_id)
            }
        }
    }
}

impl From<crate::approvals::Error> for ApiError {
    fn from(error: crate::approvals::Error) -> Self {
        use crate::approvals::Error as E;
        let message = error.to_string();
        let (kind, reason) = match &error {
            E::NotFound(_) => (Kind::NotFound, "APPROVAL_NOT_FOUND"),
            E::SelfApproval => (Kind::PermissionDenied, "SELF_APPROVAL"),
            E::NotAnApprover(_) => (Kind::PermissionDenied, "NOT_AN_APPROVER"),
            E::NotPending { .. } => (Kind::FailedPrecondition, "APPROVAL_NOT_PENDING"),
            E::Expired(_) => (Kind::FailedPrecondition, "APPROVAL_EXPIRED"),
            E::PayloadMismatch => (Kind::FailedPrecondition, "PAYLOAD_MISMATCH"),
            E::AlreadyDecided(_) => (Kind::FailedPrecondition, "APPROVER_ALREADY_DECIDED"),
            E::Invalid(_) => (Kind::InvalidArgument, "INVALID_REQUEST"),
            E::InvalidPageToken => (Kind::InvalidArgument, "INVALID_PAGE_TOKEN"),
            E::InvalidPageSize => (Kind::InvalidArgument, "INVALID_PAGE_SIZE"),
            E::Store(store) => return Self::internal(store),
        };
        Self::new(kind, reason, message)
    }
}

impl From<crate::webhooks::Error> for ApiError {
    fn from(error: crate::webhooks::Error) -> Self {
        use crate::webhooks::attachments::Error as A;
        use crate::webhooks::{Error as E, Refusal};
        let message = error.to_string();
        let (kind, reason) = match error {
            E::Run(run) => return Self::from(run),
            E::Jobs(jobs) => return Self::from(jobs),
            E::Store(store) => return Self::internal(&store),
            E::Attachment(A::Io(io)) => return Self::internal(&io),
            E::NotFound(_) => (Kind::NotFound, "TRIGGER_NOT_FOUND"),
            E::Disabled(_) => (Kind::FailedPrecondition, "TRIGGER_DISABLED"),
            E::Refused(Refusal::Malformed(_)) => (Kind::InvalidArgument, "INVALID_HEADERS"),
            E::Refused(Refusal::Unverified(_)) => (Kind::Unauthenticated, "SIGNATURE_INVALID"),
            E::TooLarge(_) => (Kind::ResourceExhausted, "BODY_TOO_LARGE"),
            E::InvalidBody(_) => (Kind::InvalidArgument, "INVALID_BODY"),
            E::Attachment(A::Invalid(_)) => (Kind::InvalidArgument, "INVALID_ATTACHMENT"),
            E::Attachment(A::TooLarge { .. }) => (Kind::ResourceExhausted, "ATTACHMENT_TOO_LARGE"),
            E::InvalidTrigger(_) => (Kind::InvalidArgument, "INVALID_REQUEST"),
            E::InvalidTriggerId(_) => (Kind::InvalidArgument, "INVALID_TRIGGER_ID"),
            E::InvalidSecret(_) => (Kind::InvalidArgument, "INVALID_SECRET"),
            E::Exists(_) => (Kind::AlreadyExists, "TRIGGER_EXISTS"),
            E::ReadOnly(_) => (Kind::FailedPrecondition, "TRIGGER_READ_ONLY"),
            E::Denied => (Kind::PermissionDenied, "POLICY_DENIED"),
            E::InvalidPageToken => (Kind::InvalidArgument, "INVALID_PAGE_TOKEN"),
            E::InvalidPageSize => (Kind::InvalidArgument, "INVALID_PAGE_SIZE"),
        };
        Self::new(kind, reason, message)
    }
}

impl From<crate::webhooks::Error> for tonic::Status {
    fn from(error: crate::webhooks::Error) -> Self {
        ApiError::from(error).into_status()
    }
}

impl From<crate::schedules::Error> for ApiError {
    fn from(error: crate::schedules::Error) -> Self {
        use crate::schedules::Error as E;
        let message = error.to_string();
        let (kind, reason) = match error {
            E::Run(run) => return Self::from(run),
            E::Jobs(jobs) => return Self::from(jobs),
            E::Store(store) => return Self::internal(&store),
            E::NotFound(_) => (Kind::NotFound, "SCHEDULE_NOT_FOUND"),
            E::Completed(_) => (Kind::FailedPrecondition, "SCHEDULE_COMPLETED"),
            E::InvalidCron(_) => (Kind::InvalidArgument, "INVALID_CRON"),
            E::UnknownTimeZone(_) => (Kind::InvalidArgument, "UNKNOWN_TIME_ZONE"),
            E::Invalid(_) => (Kind::InvalidArgument, "INVALID_SCHEDULE"),
            E::Denied(_) => (Kind::PermissionDenied, "POLICY_DENIED"),
            E::InvalidPageToken => (Kind::InvalidArgument, "INVALID_PAGE_TOKEN"),
            E::InvalidPageSize => (Kind::InvalidArgument, "INVALID_PAGE_SIZE"),
        };
        Self::new(kind, reason, message)
    }
}

impl From<crate::schedules::Error> for tonic::Status {
    fn from(error: crate::schedules::Error) -> Self {
        ApiError::from(error).into_status()
    }
}

impl From<crate::jobs::Error> for ApiError {
    fn from(error: crate::jobs::Error) -> Self {
        use crate::jobs::Error as E;
        let message = error.to_string();
        let (kind, reason) = match error {
            E::Run(run) => return Self::from(run),
            E::Store(store) => return Self::internal(&store),
            E::NotFound(_) => (Kind::NotFound, "JOB_NOT_FOUND"),
            E::Finished { .. } => (Kind::FailedPrecondition, "JOB_FINISHED"),
            E::NotDead(_) => (Kind::FailedPrecondition, "JOB_NOT_DEAD"),
            E::Invalid(_) => (Kind::InvalidArgument, "INVALID_REQUEST"),
            E::Denied(_) => (Kind::PermissionDenied, "POLICY_DENIED"),
            E::InvalidPageToken => (Kind::InvalidArgument, "INVALID_PAGE_TOKEN"),
            E::InvalidPageSize => (Kind::InvalidArgument, "INVALID_PAGE_SIZE"),
        };
        Self::new(kind, reason, message)
    }
}

impl From<crate::jobs::Error> for tonic::Status {
    fn from(error: crate::jobs::Error) -> Self {
        ApiError::from(error).into_status()
    }
}

impl From<crate::approvals::Error> for tonic::Status {
    fn from(error: crate::approvals::Error) -> Self {
        ApiError::from(error).into_status()
    }
}

impl From<crate::rate_limit::Refusal> for ApiError {
    fn from(refusal: crate::rate_limit::Refusal) -> Self {
        use crate::rate_limit::Refusal;
        let message = refusal.to_string();
        match refusal {
            Refusal::Limited { scope, retry_after } => {
                Self::new(Kind::ResourceExhausted, "RATE_LIMITED", message)
                    .with("scope", scope.as_str())
                    .retry_after(retry_after)
            }
            Refusal::Unavailable => {
                Self::new(Kind::Unavailable, "RATE_LIMITER_UNAVAILABLE", message)
            }
        }
    }
}

impl From<crate::routing::Error> for ApiError {
    fn from(error: crate::routing::Error) -> Self {
        use crate::routing::Error as E;
        let message = error.to_string();
        match error {
            E::InvalidRequest(_) => Self::new(Kind::InvalidArgument, "INVALID_REQUEST", message),
            E::SkillNotFound(_) => Self::new(Kind::NotFound, "SKILL_NOT_FOUND", message),
            E::Store(store) => Self::internal(&store),
        }
    }
}

impl From<orchestrator::Error> for tonic::Status {
    fn from(error: orchestrator::Error) -> Self {
        ApiError::from(error).into_status()
    }
}

impl From<skills::Error> for tonic::Status {
    fn from(error: skills::Error) -> Self {
        ApiError::from(error).into_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_the_reason_as_error_info() {
        let status =
            ApiError::new(Kind::NotFound, "SKILL_NOT_FOUND", "skill a/b not found").into_status();
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "skill a/b not found");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "SKILL_NOT_FOUND");
        assert_eq!(info.domain, ERROR_DOMAIN);
    }

    #[test]
    fn store_errors_do_not_leak_their_detail() {
        let store = skillos_store::Error::Corrupt("row secret-value".to_owned());
        let error = ApiError::from(skills::Error::Store(store));
        assert_eq!(error.kind, Kind::Internal);
        assert!(!error.message.contains("secret-value"));
    }
}

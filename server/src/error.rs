//! The one table from domain errors to gRPC status codes and HTTP statuses.
//!
//! Every refusal carries a stable machine-readable reason in a `google.rpc.ErrorInfo` detail
//! (domain [`ERROR_DOMAIN`]); internal errors are logged with their detail and reach clients
//! only as a generic message.

use std::collections::HashMap;

use tonic_types::{ErrorDetails, StatusExt};

use crate::skills;

/// `google.rpc.ErrorInfo.domain` of every SkillOS error.
pub const ERROR_DOMAIN: &str = "skillos.dev";

/// The kinds of failure a client can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    Unimplemented,
    Unavailable,
    Internal,
}

impl Kind {
    pub fn grpc(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::NotFound => tonic::Code::NotFound,
            Self::FailedPrecondition => tonic::Code::FailedPrecondition,
            Self::Unimplemented => tonic::Code::Unimplemented,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Internal => tonic::Code::Internal,
        }
    }

    pub fn http(self) -> http::StatusCode {
        match self {
            Self::InvalidArgument => http::StatusCode::BAD_REQUEST,
            Self::NotFound => http::StatusCode::NOT_FOUND,
            Self::FailedPrecondition => http::StatusCode::CONFLICT,
            Self::Unimplemented => http::StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
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
}

impl ApiError {
    pub fn new(kind: Kind, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            reason,
            message: message.into(),
        }
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

    pub fn into_status(self) -> tonic::Status {
        let details = ErrorDetails::with_error_info(
            self.reason,
            ERROR_DOMAIN,
            HashMap::<String, String>::new(),
        );
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
        (self.kind.http(), axum::Json(body)).into_response()
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
            E::Store(store) => return Self::internal(store),
            E::Internal(detail) => return Self::internal(detail),
        };
        Self::new(kind, reason, error.to_string())
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

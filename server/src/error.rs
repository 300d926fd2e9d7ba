//! The one table from an error's [`Kind`] to a gRPC code and an HTTP status, and the wire forms
//! of an engine [`Error`]: a `tonic::Status` with `google.rpc.ErrorInfo` (domain
//! [`ERROR_DOMAIN`]), `BadRequest` field violations and `RetryInfo`; an HTTP response with a
//! JSON body and `Retry-After`.

use std::collections::HashMap;

use skillos_engine::error::{Error, Kind, reason};
use tonic_types::{ErrorDetails, StatusExt};

/// `google.rpc.ErrorInfo.domain` of every SkillOS error (the codec's refusals carry it too).
pub use skillos_proto::codec::ERROR_DOMAIN;

/// The table: each kind's gRPC code and HTTP status.
pub fn codes(kind: Kind) -> (tonic::Code, http::StatusCode) {
    use http::StatusCode as H;
    use tonic::Code as G;
    match kind {
        Kind::InvalidArgument => (G::InvalidArgument, H::BAD_REQUEST),
        Kind::Unauthenticated => (G::Unauthenticated, H::UNAUTHORIZED),
        Kind::PermissionDenied => (G::PermissionDenied, H::FORBIDDEN),
        Kind::NotFound => (G::NotFound, H::NOT_FOUND),
        Kind::FailedPrecondition => (G::FailedPrecondition, H::CONFLICT),
        Kind::ResourceExhausted => (G::ResourceExhausted, H::TOO_MANY_REQUESTS),
        Kind::DeadlineExceeded => (G::DeadlineExceeded, H::GATEWAY_TIMEOUT),
        Kind::Unimplemented => (G::Unimplemented, H::NOT_IMPLEMENTED),
        Kind::Unavailable => (G::Unavailable, H::SERVICE_UNAVAILABLE),
        Kind::Cancelled => (G::Cancelled, H::CONFLICT),
        Kind::Aborted => (G::Aborted, H::CONFLICT),
        Kind::AlreadyExists => (G::AlreadyExists, H::CONFLICT),
        Kind::Internal => (G::Internal, H::INTERNAL_SERVER_ERROR),
    }
}

/// The HTTP status of an error: the table's, except that sizes are 413 in HTTP (in gRPC they
/// share RESOURCE_EXHAUSTED with rate limits).
pub fn http_status(error: &Error) -> http::StatusCode {
    const TOO_LARGE: [skillos_engine::error::Reason; 3] = [
        reason::BODY_TOO_LARGE,
        reason::ATTACHMENT_TOO_LARGE,
        reason::MESSAGE_TOO_LARGE,
    ];
    if TOO_LARGE.contains(&error.reason) {
        return http::StatusCode::PAYLOAD_TOO_LARGE;
    }
    if error.reason == reason::HEADERS_TOO_LARGE {
        return http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    codes(error.kind()).1
}

/// An engine error (or any domain error that becomes one) as a gRPC status.
pub fn status(error: impl Into<Error>) -> tonic::Status {
    let error = error.into();
    let metadata: HashMap<String, String> = error
        .metadata
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect();
    let mut details = ErrorDetails::with_error_info(error.reason.name, ERROR_DOMAIN, metadata);
    for violation in &error.violations {
        details.add_bad_request_violation(violation.field.clone(), violation.description.clone());
    }
    if let Some(after) = error.retry_after {
        details.set_retry_info(Some(after));
    }
    tonic::Status::with_error_details(codes(error.kind()).0, error.message, details)
}

/// `error.into_status()` for an engine error.
pub trait IntoStatus {
    fn into_status(self) -> tonic::Status;
}

impl IntoStatus for Error {
    fn into_status(self) -> tonic::Status {
        status(self)
    }
}

/// An error about one request field, as a gRPC status (INVALID_ARGUMENT with `BadRequest`).
pub fn invalid_field(
    reason: skillos_engine::error::Reason,
    field: &str,
    message: impl Into<String>,
) -> tonic::Status {
    status(Error::field(reason, field, message))
}

/// An engine error as an HTTP response: `{"error": {"reason", "message", "field_violations"?},
/// "detail": message}` with the table's status; `detail` is the predecessor's field, kept for
/// its clients.
#[derive(Debug)]
pub struct HttpError(pub Error);

impl<E: Into<Error>> From<E> for HttpError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl axum::response::IntoResponse for HttpError {
    fn into_response(self) -> axum::response::Response {
        let error = self.0;
        let mut body = serde_json::json!({
            "error": {"reason": error.reason.name, "message": error.message},
            "detail": error.message,
        });
        if !error.violations.is_empty() {
            body["error"]["field_violations"] = error
                .violations
                .iter()
                .map(|v| serde_json::json!({"field": v.field, "description": v.description}))
                .collect();
        }
        let mut response = (http_status(&error), axum::Json(body)).into_response();
        if let Some(after) = error.retry_after {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_the_reason_as_error_info_and_fields_as_bad_request() {
        let status = status(
            Error::new(reason::SKILL_NOT_FOUND, "skill a/b not found").violation("skill_id", "x"),
        );
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "skill a/b not found");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "SKILL_NOT_FOUND");
        assert_eq!(info.domain, ERROR_DOMAIN);
        let bad = status.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations[0].field, "skill_id");
    }

    #[test]
    fn the_codecs_reasons_are_reasons_of_the_engine() {
        for (name, kind) in [
            (
                skillos_proto::codec::MALFORMED_REQUEST,
                Kind::InvalidArgument,
            ),
            (
                skillos_proto::codec::PAYLOAD_TOO_DEEP,
                Kind::InvalidArgument,
            ),
        ] {
            let reason = skillos_engine::error::Reason::from_name(name).unwrap();
            assert_eq!(reason.kind, kind, "{name}");
        }
    }

    #[test]
    fn store_errors_do_not_leak_their_detail() {
        let store = skillos_store::Error::Corrupt("row secret-value".to_owned());
        let error = Error::from(skillos_engine::skills::Error::Store(store));
        assert_eq!(error.kind(), Kind::Internal);
        assert!(!error.message.contains("secret-value"));
    }

    /// The error table of docs/api.md lists every reason with the code and status it has.
    #[test]
    fn the_documented_error_table_is_the_one_the_server_answers_with() {
        let doc = include_str!("../../docs/api.md");
        let section = doc
            .split("\n## Errors\n")
            .nth(1)
            .expect("an Errors section");
        let section = section.split("\n## ").next().unwrap_or_default();
        let mut documented = HashMap::new();
        for line in section.lines().filter(|line| line.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            assert!(cells.len() >= 5, "a row of four cells: {line}");
            let name = cells[1].trim_matches('`');
            documented.insert(name.to_owned(), (cells[2].to_owned(), cells[3].to_owned()));
        }
        for reason in reason::ALL {
            let Some((code, http)) = documented.get(reason.name) else {
                panic!("docs/api.md's error table lacks {}", reason.name);
            };
            let (grpc, _) = codes(reason.kind);
            let status = http_status(&Error::new(*reason, ""));
            assert_eq!(
                code,
                &format!("{grpc:?}")
                    .chars()
                    .flat_map(|c| {
                        if c.is_uppercase() {
                            vec!['_', c]
                        } else {
                            vec![c.to_ascii_uppercase()]
                        }
                    })
                    .collect::<String>()
                    .trim_start_matches('_')
                    .to_owned(),
                "gRPC code of {}",
                reason.name
            );
            assert_eq!(
                http,
                &status.as_u16().to_string(),
                "HTTP status of {}",
                reason.name
            );
        }
        assert_eq!(
            documented.len(),
            reason::ALL.len(),
            "the table lists reasons the server does not have"
        );
    }
}

//! The edge's limit on request headers. HTTP/2 decodes header blocks up to
//! [`DECODE_LIMIT`], so that a large one (a 1 MB `authorization`, say) fails only its own call
//! instead of the connection and every stream on it; this middleware then refuses any request
//! whose headers pass [`MAX_HEADER_BYTES`]: a gRPC call with RESOURCE_EXHAUSTED
//! (`HEADERS_TOO_LARGE`), which every gRPC client understands (HTTP 431 is UNKNOWN to them),
//! and a plain HTTP request with 431.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use skillos_engine::error::{Error, reason};

/// The most header bytes (names and values) a request may carry.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The header list HTTP/2 accepts before it refuses at the protocol level.
pub const DECODE_LIMIT: u32 = 2 * 1024 * 1024;

pub async fn limit(request: Request, next: Next) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size <= MAX_HEADER_BYTES {
        return next.run(request).await;
    }
    let refused = Error::new(
        reason::HEADERS_TOO_LARGE,
        format!("the request headers are {size} bytes; at most {MAX_HEADER_BYTES} are accepted"),
    );
    let grpc = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        crate::error::status(refused)
            .into_http::<tonic::body::Body>()
            .map(axum::body::Body::new)
    } else {
        crate::error::HttpError(refused).into_response()
    }
}

//! `POST /webhooks/{trigger_id}`: webhook deliveries over plain HTTP. The body limit is
//! checked before anything is read (`Content-Length`, then while reading); the rest is
//! [`skillos_engine::webhooks::Service::deliver`]; a `Content-Encoding` other than identity is refused
//! (bodies are never decompressed). Answers: 202 with the job id, 200 with the first
//! job's id for a duplicate, 400/401/404/413/429 whose body says nothing a forger could use.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::HttpError;
use skillos_engine::webhooks::{self, Headers, Incoming};

pub async fn deliver(
    State(webhooks): State<webhooks::Service>,
    Path(trigger_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = webhooks.max_body_bytes();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return HttpError::from(webhooks::Error::TooLarge(limit)).into_response();
    }
    // Bodies are never decompressed: no decompression bomb can reach the server, and the
    // signature covers the bytes as sent.
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|value| !value.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        let refused = webhooks::Error::InvalidBody("compressed bodies are not accepted".into());
        return HttpError::from(refused).into_response();
    }
    let Ok(body) = axum::body::to_bytes(body, limit).await else {
        return HttpError::from(webhooks::Error::TooLarge(limit)).into_response();
    };
    let mut received = Headers::new();
    for (name, value) in &headers {
        received.push(name.as_str(), value.as_bytes());
    }
    let delivery_id = match received.one("idempotency-key") {
        Ok(key) => key.map(str::to_owned),
        Err(refusal) => return HttpError::from(webhooks::Error::Refused(refusal)).into_response(),
    };
    let incoming = Incoming {
        trigger_id: &trigger_id,
        headers: received,
        body: &body,
        delivery_id,
    };
    match webhooks.deliver(incoming).await {
        Ok(accepted) => {
            let status = if accepted.duplicate {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            let body = json!({
                "job_id": accepted.job.job.id,
                "delivery_id": accepted.delivery_id,
                "duplicate": accepted.duplicate,
            });
            (status, axum::Json(body)).into_response()
        }
        Err(error) => HttpError::from(error).into_response(),
    }
}

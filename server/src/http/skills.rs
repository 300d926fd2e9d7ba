//! The skill registry over plain HTTP/JSON, compatible with the predecessor's routes
//! (`POST /validate`, `POST /skills/{id}/deprecate|undeprecate`) and extended with reads
//! (`GET /skills`, `GET /skills/{id}`). Ids may be `domain/name` or `domain.name` in the path.
//! The logic lives in [`skillos_engine::skills`]; errors come from the one table in [`crate::error`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Authenticator;
use crate::error::HttpError;
use skillos_engine::error::{Error, reason};
use skillos_engine::skills::{ListQuery, Service, SkillDocument};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListParams {
    tag: Option<String>,
    domain: Option<String>,
    include_deprecated: bool,
    page_size: i64,
    page_token: Option<String>,
    /// `basic` (default) or `full`.
    view: Option<String>,
}

/// The skills service and the authenticator every route passes first.
#[derive(Clone, Debug)]
pub struct SkillsState {
    pub service: Service,
    pub auth: Authenticator,
    pub limiter: std::sync::Arc<skillos_engine::rate_limit::Service>,
}

impl SkillsState {
    /// Authenticates the caller and counts the call against its rate limits.
    async fn admit(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<crate::auth::Principal, Error> {
        let principal = self.auth.http(headers).await?;
        self.limiter.check(&principal, true, None).await?;
        Ok(principal)
    }
}

/// `GET /skills`
pub async fn list(
    State(state): State<SkillsState>,
    headers: axum::http::HeaderMap,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let principal = match state.admit(&headers).await {
        Ok(principal) => principal,
        Err(error) => return HttpError(error).into_response(),
    };
    let service = state.service;
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return HttpError(invalid_request(&rejection.body_text())).into_response();
        }
    };
    let full = match params.view.as_deref() {
        None | Some("basic") => false,
        Some("full") => true,
        Some(other) => {
            let message = format!("view {other:?} must be basic or full");
            return HttpError(invalid_request(&message).violation("view", message)).into_response();
        }
    };
    let query = ListQuery {
        tag: params.tag,
        domain: params.domain,
        include_deprecated: params.include_deprecated,
        page_size: params.page_size,
        page_token: params.page_token,
    };
    match service.list(&principal, query).await {
        Ok(page) => Json(json!({
            "skills": page.skills.iter().map(|view| SkillDocument::new(view, full)).collect::<Vec<_>>(),
            "next_page_token": page.next_page_token,
            "total_size": page.total_size,
        }))
        .into_response(),
        Err(error) => HttpError::from(error).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DeprecateBody {
    reason: Option<String>,
    replacement_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ValidateBody {
    check_entrypoints: bool,
}

impl Default for ValidateBody {
    fn default() -> Self {
        Self {
            check_entrypoints: true,
        }
    }
}

/// `GET /skills/{id}`, `POST /skills/{id}/deprecate`, `POST /skills/{id}/undeprecate`, where the
/// id may itself contain a `/`, so the path is split here rather than by the router.
pub async fn skill(
    State(state): State<SkillsState>,
    headers: axum::http::HeaderMap,
    method: Method,
    Path(rest): Path<String>,
    body: Bytes,
) -> Response {
    let principal = match state.admit(&headers).await {
        Ok(principal) => principal,
        Err(error) => return HttpError(error).into_response(),
    };
    let service = state.service;
    let result = match (method, rest.rsplit_once('/')) {
        (Method::GET, _) => service.get(&principal, &rest).await.map(|view| json!(SkillDocument::new(&view, true))),
        (Method::POST, Some((id, "deprecate"))) => {
            let body: DeprecateBody = match parse_body(&body) {
                Ok(body) => body,
                Err(error) => return HttpError(error).into_response(),
            };
            let reason = body.reason.unwrap_or_default();
            let replacement = body.replacement_id.unwrap_or_default();
            service.deprecate(&principal, id, &reason, &replacement).await.map(|view| {
                json!({"status": "deprecated", "skill_id": view.skill.id().to_string(), "deprecated": true,
                       "skill": SkillDocument::new(&view, true)})
            })
        }
        (Method::POST, Some((id, "undeprecate"))) => service.undeprecate(&principal, id).await.map(|view| {
            json!({"status": "undeprecated", "skill_id": view.skill.id().to_string(), "deprecated": false,
                   "skill": SkillDocument::new(&view, true)})
        }),
        _ => return HttpError(Error::new(reason::NOT_FOUND, "no such route")).into_response(),
    };
    match result {
        Ok(body) => Json(body).into_response(),
        Err(error) => HttpError::from(error).into_response(),
    }
}

/// `POST /validate`: the skills root as it is on disk now.
pub async fn validate(
    State(state): State<SkillsState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let principal = match state.admit(&headers).await {
        Ok(principal) => principal,
        Err(error) => return HttpError(error).into_response(),
    };
    let service = state.service;
    if let Err(error) = service.require(
        &principal,
        skillos_engine::policy::permission::SKILLS_MANAGE,
    ) {
        return HttpError::from(error).into_response();
    }
    let body: ValidateBody = match parse_body(&body) {
        Ok(body) => body,
        Err(error) => return HttpError(error).into_response(),
    };
    match service.validate(body.check_entrypoints).await {
        Ok(catalog) => {
            let issues: Vec<_> = catalog
                .issues()
                .iter()
                .map(|issue| {
                    json!({
                        "path": issue.path,
                        "category": issue.category.as_str(),
                        "severity": issue.severity.as_str(),
                        "message": issue.message,
                        "skill_id": issue.skill_id,
                    })
                })
                .collect();
            Json(json!({
                "status": if catalog.is_valid() { "ok" } else { "invalid" },
                "valid": catalog.is_valid(),
                "skill_count": catalog.len(),
                "issues": issues,
            }))
            .into_response()
        }
        Err(error) => HttpError::from(error).into_response(),
    }
}

/// An empty body is the default request; anything else must be a JSON object of known fields.
fn parse_body<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|error| invalid_request(&format!("invalid JSON body: {error}")))
}

fn invalid_request(message: &str) -> Error {
    Error::new(reason::INVALID_REQUEST, message)
}

//! gRPC adapter of `skillos.v1.WebhookService`; the logic lives in [`skillos_engine::webhooks`].
//! DeliverWebhook needs no caller credentials: like the HTTP route, the signature is the
//! authentication. The trigger RPCs authenticate the caller.

use std::time::Duration;

use skillos_proto::v1::{self, webhook_service_server::WebhookService};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth;
use crate::error::{invalid_field, status};
use skillos_engine::error::reason;
use skillos_engine::webhooks::{
    self, Headers, Incoming, Mapping, NewTrigger, Origin, Scheme, TriggerView,
};

#[derive(Clone, Debug)]
pub struct Adapter {
    webhooks: webhooks::Service,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(webhooks: webhooks::Service, auth: auth::Authenticator) -> Self {
        Self { webhooks, auth }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Status {
    invalid_field(reason::INVALID_REQUEST, field, message)
}

fn scheme(value: i32) -> Result<Option<Scheme>, Status> {
    match v1::SignatureScheme::try_from(value) {
        Ok(v1::SignatureScheme::Unspecified) => Ok(None),
        Ok(v1::SignatureScheme::SkillosV1) => Ok(Some(Scheme::SkillosV1)),
        Ok(v1::SignatureScheme::StandardWebhooks) => Ok(Some(Scheme::StandardWebhooks)),
        Ok(v1::SignatureScheme::GithubSha256) => Ok(Some(Scheme::GithubSha256)),
        Err(_) => Err(invalid(
            "signature_scheme",
            "signature_scheme: unknown scheme",
        )),
    }
}

fn scheme_message(name: &str) -> v1::SignatureScheme {
    match Scheme::parse(name) {
        Some(Scheme::SkillosV1) => v1::SignatureScheme::SkillosV1,
        Some(Scheme::StandardWebhooks) => v1::SignatureScheme::StandardWebhooks,
        Some(Scheme::GithubSha256) => v1::SignatureScheme::GithubSha256,
        None => v1::SignatureScheme::Unspecified,
    }
}

fn mapping(value: i32) -> Result<Option<Mapping>, Status> {
    match v1::PayloadMapping::try_from(value) {
        Ok(v1::PayloadMapping::Unspecified) => Ok(None),
        Ok(v1::PayloadMapping::Envelope) => Ok(Some(Mapping::Envelope)),
        Ok(v1::PayloadMapping::Body) => Ok(Some(Mapping::Body)),
        Ok(v1::PayloadMapping::Request) => Ok(Some(Mapping::Request)),
        Err(_) => Err(invalid(
            "payload_mapping",
            "payload_mapping: unknown mapping",
        )),
    }
}

fn mapping_message(name: &str) -> v1::PayloadMapping {
    match Mapping::parse(name) {
        Some(Mapping::Envelope) => v1::PayloadMapping::Envelope,
        Some(Mapping::Body) => v1::PayloadMapping::Body,
        Some(Mapping::Request) => v1::PayloadMapping::Request,
        None => v1::PayloadMapping::Unspecified,
    }
}

fn duration(value: Option<prost_types::Duration>, field: &str) -> Result<Option<Duration>, Status> {
    value
        .map(|value| {
            Duration::try_from(value)
                .map_err(|_| invalid(field, format!("{field} must not be negative")))
        })
        .transpose()
}

fn trigger(view: &TriggerView) -> v1::Trigger {
    let trigger = &view.trigger;
    v1::Trigger {
        id: trigger.id.clone(),
        skill_id: trigger.skill_id.clone(),
        description: trigger.description.clone(),
        signature_scheme: scheme_message(&trigger.scheme) as i32,
        allow_unsigned: trigger.allow_unsigned,
        timestamp_tolerance: u64::try_from(trigger.tolerance_seconds)
            .ok()
            .and_then(|s| prost_types::Duration::try_from(Duration::from_secs(s)).ok()),
        payload_mapping: mapping_message(&trigger.payload_mapping) as i32,
        forwarded_headers: trigger.forwarded_headers.clone(),
        enabled: trigger.enabled,
        secrets: view
            .secrets
            .iter()
            .map(|secret| v1::TriggerSecret {
                id: secret.id.clone(),
                create_time: Some(convert::timestamp(secret.created_at)),
                expire_time: secret.expires_at.map(convert::timestamp),
            })
            .collect(),
        origin: match view.origin {
            Origin::SkillsRoot => v1::TriggerOrigin::SkillsRoot,
            Origin::Api => v1::TriggerOrigin::Api,
        } as i32,
        principal_subject: trigger.principal.clone(),
        create_time: Some(convert::timestamp(trigger.created_at)),
        update_time: Some(convert::timestamp(trigger.updated_at)),
    }
}

#[tonic::async_trait]
impl WebhookService for Adapter {
    async fn deliver_webhook(
        &self,
        request: Request<v1::DeliverWebhookRequest>,
    ) -> Result<Response<v1::DeliverWebhookResponse>, Status> {
        let request = request.into_inner();
        let mut headers = Headers::new();
        for (name, value) in &request.headers {
            headers.push(name, value.as_bytes());
        }
        let incoming = Incoming {
            trigger_id: &request.trigger_id,
            headers,
            body: &request.body,
            delivery_id: Some(request.idempotency_key).filter(|key| !key.is_empty()),
        };
        let accepted = self.webhooks.deliver(incoming).await.map_err(status)?;
        Ok(Response::new(v1::DeliverWebhookResponse {
            job_id: accepted.job.job.id,
            duplicate: accepted.duplicate,
            delivery_id: accepted.delivery_id,
        }))
    }

    async fn create_trigger(
        &self,
        request: Request<v1::CreateTriggerRequest>,
    ) -> Result<Response<v1::CreateTriggerResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let spec = request.trigger.unwrap_or_default();
        let new = NewTrigger {
            id: spec.id,
            skill_id: spec.skill_id,
            description: spec.description,
            scheme: scheme(spec.signature_scheme)?,
            allow_unsigned: spec.allow_unsigned,
            tolerance: duration(spec.timestamp_tolerance, "timestamp_tolerance")?,
            mapping: mapping(spec.payload_mapping)?,
            forwarded_headers: spec.forwarded_headers,
            enabled: spec.enabled,
            secret: Some(request.secret).filter(|s| !s.is_empty()),
        };
        let (view, secret_id, secret) = self
            .webhooks
            .create(&principal, new)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::CreateTriggerResponse {
            trigger: Some(trigger(&view)),
            secret,
            secret_id,
        }))
    }

    async fn list_triggers(
        &self,
        request: Request<v1::ListTriggersRequest>,
    ) -> Result<Response<v1::ListTriggersResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let skill_id = match request.skill_id.trim() {
            "" => None,
            id => Some(
                skillos_core::SkillId::parse(id)
                    .map_err(|error| {
                        invalid_field(reason::INVALID_SKILL_ID, "skill_id", error.to_string())
                    })?
                    .to_string(),
            ),
        };
        let (views, next) = self
            .webhooks
            .list(
                &principal,
                skill_id.as_deref(),
                request.page_size,
                &request.page_token,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ListTriggersResponse {
            triggers: views.iter().map(trigger).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_trigger(
        &self,
        request: Request<v1::GetTriggerRequest>,
    ) -> Result<Response<v1::GetTriggerResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let view = self
            .webhooks
            .get(&principal, &request.get_ref().trigger_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetTriggerResponse {
            trigger: Some(trigger(&view)),
        }))
    }

    async fn delete_trigger(
        &self,
        request: Request<v1::DeleteTriggerRequest>,
    ) -> Result<Response<v1::DeleteTriggerResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        self.webhooks
            .delete(&principal, &request.get_ref().trigger_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::DeleteTriggerResponse {}))
    }

    async fn rotate_secret(
        &self,
        request: Request<v1::RotateSecretRequest>,
    ) -> Result<Response<v1::RotateSecretResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let grace = duration(request.grace_period, "grace_period")?;
        let (view, secret_id, secret) = self
            .webhooks
            .rotate(
                &principal,
                &request.trigger_id,
                grace,
                Some(request.secret).filter(|s| !s.is_empty()),
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RotateSecretResponse {
            trigger: Some(trigger(&view)),
            secret,
            secret_id,
        }))
    }
}

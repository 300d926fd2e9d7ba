//! Webhooks: triggers (from the skills root's `triggers/webhooks.json` and from
//! `WebhookService`), and deliveries that become jobs.
//!
//! A delivery passes, in this order: the trigger (unknown: 404), the body limit (checked by
//! the HTTP route before reading), the signature ([`verify`]: headers, timestamp, HMAC against
//! every valid secret), the rate limits of the trigger's principal, a known delivery id (its job
//! is the answer), then the body is parsed
//! and mapped to the skill's payload (attachments stored), the payload checked against the
//! skill's policy and schema, and finally the job is stored together with the delivery's
//! record in one transaction. A refused delivery leaves nothing behind, so a corrected retry
//! is evaluated afresh; a repeated delivery id creates nothing and answers the first job.

pub mod attachments;
mod root;
pub mod verify;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json, json};
use sha2::Digest as _;
use skillos_store::{AuditEvent, Delivery, Store, Trigger, TriggerSecret};

use crate::auth::Principal;
use crate::error::reason;
use crate::jobs::{self, EnqueueRequest, JobView};
use crate::orchestrator;
use crate::policy::{self, permission};
use crate::rate_limit;
pub use verify::{Headers, Refusal, Scheme};

/// Webhook deliveries (`POST /webhooks/{trigger_id}`, WebhookService.DeliverWebhook).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Accept unsigned deliveries to triggers that allow them; off, no trigger accepts one.
    pub allow_unsigned: bool,
    /// The largest request body read; a larger one is refused (413) before it is read.
    pub max_body_bytes: usize,
    /// How long an accepted delivery id is remembered, so a repeat creates nothing. At least
    /// twice the largest timestamp tolerance plus a minute; GitHub deliveries, which sign no
    /// time, are remembered at least 72 hours.
    pub dedup_ttl_seconds: u64,
    /// The largest attachment, decoded.
    pub attachment_max_size_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            allow_unsigned: false,
            max_body_bytes: 16 * 1024 * 1024,
            dedup_ttl_seconds: 24 * 3600,
            attachment_max_size_bytes: 10 * 1024 * 1024,
        }
    }
}

/// The default and the largest timestamp tolerance.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
pub const MAX_TOLERANCE_SECONDS: u64 = 3600;
/// How long GitHub delivery ids (no signed time) are remembered at least.
const UNTIMED_DEDUP: Duration = Duration::from_secs(72 * 3600);
/// Longest grace of a rotated secret.
const MAX_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);
const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
const MAX_FORWARDED_HEADERS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("trigger {0} not found")]
    NotFound(String),
    #[error("trigger {0} is disabled")]
    Disabled(String),
    /// The message a sender sees says nothing more; the reason is logged.
    #[error("{}", match .0 { Refusal::Malformed(_) => "malformed webhook headers", Refusal::Unverified(_) => "the webhook signature does not verify" })]
    Refused(Refusal),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    InvalidBody(String),
    #[error(transparent)]
    Attachment(#[from] attachments::Error),
    #[error("{0}")]
    InvalidTrigger(String),
    #[error("{0}")]
    InvalidTriggerId(String),
    #[error("{0}")]
    InvalidSecret(String),
    #[error("trigger {0} exists")]
    Exists(String),
    #[error("trigger {0} is declared in the skills root; change it there")]
    ReadOnly(String),
    #[error("managing webhook triggers needs {}", permission::WEBHOOKS_MANAGE)]
    Denied,
    #[error("invalid page_token; pass the next_page_token of the previous response")]
    InvalidPageToken,
    #[error("page_size must be between 0 and {}", crate::page::MAX_SIZE)]
    InvalidPageSize,
    #[error(transparent)]
    Run(#[from] orchestrator::Error),
    #[error(transparent)]
    Jobs(#[from] jobs::Error),
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// How a request body becomes the skill's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The predecessor's envelope: `payload` (or the body without `attachments` and
    /// `idempotency_key`), attachments stored and passed as references.
    Envelope,
    /// The body as it is.
    Body,
    /// `{"body", "headers" (the forwarded ones), "delivery_id"}`.
    Request,
}

impl Mapping {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Envelope => "envelope",
            Self::Body => "body",
            Self::Request => "request",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Envelope, Self::Body, Self::Request]
            .into_iter()
            .find(|mapping| mapping.as_str() == value)
    }
}

/// Where a trigger is declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    SkillsRoot,
    Api,
}

/// A trigger with what the API shows of its secrets.
#[derive(Clone, Debug)]
pub struct TriggerView {
    pub trigger: Trigger,
    pub origin: Origin,
    /// Ids and times only; values are never shown again.
    pub secrets: Vec<TriggerSecret>,
}

/// A new trigger, as a caller describes it.
#[derive(Clone, Debug, Default)]
pub struct NewTrigger {
    pub id: String,
    pub skill_id: String,
    pub description: String,
    pub scheme: Option<Scheme>,
    pub allow_unsigned: bool,
    pub tolerance: Option<Duration>,
    pub mapping: Option<Mapping>,
    pub forwarded_headers: Vec<String>,
    pub enabled: bool,
    /// The first secret; one is made when unset.
    pub secret: Option<String>,
}

/// One delivery, as received.
#[derive(Clone, Debug)]
pub struct Incoming<'a> {
    pub trigger_id: &'a str,
    pub headers: Headers,
    pub body: &'a [u8],
    /// A delivery id from outside the signature (`Idempotency-Key`, or the gRPC field): the
    /// signature does not cover it, so it counts only for an unsigned delivery.
    pub delivery_id: Option<String>,
}

/// An accepted delivery.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub job: JobView,
    pub delivery_id: String,
    /// Seen before: nothing was created; `job` is the first delivery's.
    pub duplicate: bool,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    jobs: jobs::Service,
    orchestrator: orchestrator::Service,
    limiter: Arc<rate_limit::Service>,
    policies: Arc<policy::Service>,
    root: root::RootTriggers,
    attachments: attachments::Storage,
    config: Options,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("webhooks::Service").finish_non_exhaustive()
    }
}

/// A trigger resolved for a delivery: its settings and the keys of its valid secrets.
struct Resolved {
    trigger: Trigger,
    scheme: Scheme,
    mapping: Mapping,
    keys: Vec<Vec<u8>>,
}

impl Service {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn Store>,
        jobs: jobs::Service,
        orchestrator: orchestrator::Service,
        limiter: Arc<rate_limit::Service>,
        policies: Arc<policy::Service>,
        skills_root: Option<&Path>,
        data_dir: &Path,
        config: Options,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                jobs,
                orchestrator,
                limiter,
                policies,
                root: root::RootTriggers::new(skills_root),
                attachments: attachments::Storage::new(data_dir, config.attachment_max_size_bytes),
                config,
            }),
        }
    }

    pub fn max_body_bytes(&self) -> usize {
        self.inner.config.max_body_bytes
    }

    /// Delivers a webhook: verifies it, and enqueues its job unless it was delivered before.
    pub async fn deliver(&self, incoming: Incoming<'_>) -> Result<Accepted, Error> {
        let resolved = self.resolve(incoming.trigger_id).await?;
        let trigger = &resolved.trigger;
        if !trigger.enabled {
            return Err(Error::Disabled(trigger.id.clone()));
        }
        if incoming.body.len() > self.inner.config.max_body_bytes {
            return Err(Error::TooLarge(self.inner.config.max_body_bytes));
        }
        let check = verify::Check {
            scheme: resolved.scheme,
            keys: &resolved.keys,
            tolerance: trigger.tolerance_seconds,
            now: chrono::Utc::now().timestamp(),
            allow_unsigned: trigger.allow_unsigned && self.inner.config.allow_unsigned,
        };
        let verified = verify::verify(&check, &incoming.headers, incoming.body).map_err(|refusal| {
            tracing::info!(trigger_id = %trigger.id, reason = refusal.detail(), "webhook refused");
            Error::Refused(refusal)
        })?;
        let principal = Principal::stored(
            &trigger.principal,
            &trigger.tenant_id,
            crate::auth::RunContext::from_json(&trigger.run_context),
        );
        self.inner
            .limiter
            .check(&principal, true, None)
            .await
            .map_err(orchestrator::Error::from)?;

        // A delivery id seen before answers with its job, before the body is even parsed (the
        // transaction below still decides when two copies race).
        let header_id = dedup_id(resolved.scheme, &verified, &incoming);
        // What the sender calls the delivery (GitHub's X-GitHub-Delivery), for the skill and the
        // answer; the dedup key may differ from it.
        let sender_id = verified.delivery_id.clone();
        if let Some(id) = &header_id {
            verify::check_delivery_id(id).map_err(Error::Refused)?;
            if let Some(job_id) = self
                .inner
                .store
                .delivery_job(&trigger.id, id, skillos_store::now())
                .await?
            {
                let job = self.inner.jobs.get(&principal, &job_id).await?;
                return Ok(Accepted {
                    job,
                    delivery_id: sender_id.unwrap_or_else(|| id.clone()),
                    duplicate: true,
                });
            }
        }

        // Authentic and new: only now is the body read as JSON.
        let body: Json = serde_json::from_slice(incoming.body)
            .map_err(|_| Error::InvalidBody("the body is not JSON".into()))?;
        let Json::Object(body) = body else {
            return Err(Error::InvalidBody("the body must be a JSON object".into()));
        };
        let delivery_id = match header_id {
            Some(id) => id,
            None => match body.get("idempotency_key") {
                Some(Json::String(key)) => key.clone(),
                Some(Json::Number(key)) => key.to_string(),
                // No id anywhere: the signed content is the id, so the same signed request
                // sent again is a duplicate.
                _ => content_id(Some(verified.timestamp.unwrap_or_default()), incoming.body),
            },
        };
        verify::check_delivery_id(&delivery_id).map_err(Error::Refused)?;
        let shown_id = sender_id.unwrap_or_else(|| delivery_id.clone());
        let payload = self.payload(&resolved, body, &incoming.headers, &shown_id)?;
        let untimed = !resolved.scheme.signs_time() || verified.unsigned;
        let ttl = Duration::from_secs(self.inner.config.dedup_ttl_seconds)
            .max(Duration::from_secs(
                2 * trigger.tolerance_seconds.unsigned_abs() + 60,
            ))
            .max(if untimed {
                UNTIMED_DEDUP
            } else {
                Duration::ZERO
            });
        let delivery = Delivery {
            tenant_id: trigger.tenant_id.clone(),
            trigger_id: trigger.id.clone(),
            delivery_id: delivery_id.clone(),
            expires_at: skillos_store::now()
                + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(3)),
        };
        let request = EnqueueRequest {
            source: skillos_store::JobSource::Webhook,
            source_id: trigger.id.clone(),
            delivery_id: Some(delivery_id.clone()),
            ..EnqueueRequest::new(trigger.skill_id.clone(), payload)
        };
        let (job, duplicate) = self
            .inner
            .jobs
            .enqueue_delivery(&principal, request, &delivery)
            .await?;
        tracing::info!(trigger_id = %trigger.id, job_id = %job.job.id, delivery_id = shown_id,
                       dedup_key = delivery_id, duplicate, "webhook accepted");
        Ok(Accepted {
            job,
            delivery_id: shown_id,
            duplicate,
        })
    }

    /// The skill's payload for a verified body.
    fn payload(
        &self,
        resolved: &Resolved,
        mut body: Map<String, Json>,
        headers: &Headers,
        delivery_id: &str,
    ) -> Result<Json, Error> {
        Ok(match resolved.mapping {
            Mapping::Body => Json::Object(body),
            Mapping::Request => {
                let forwarded: Map<String, Json> = headers
                    .iter()
                    .filter(|(name, _)| {
                        resolved.trigger.forwarded_headers.iter().any(|h| h == name)
                    })
                    .filter_map(|(name, value)| {
                        std::str::from_utf8(value)
                            .ok()
                            .map(|value| (name.to_owned(), Json::String(value.to_owned())))
                    })
                    .collect();
                json!({"body": body, "headers": forwarded, "delivery_id": delivery_id})
            }
            Mapping::Envelope => {
                let attachments = body.remove("attachments");
                body.remove("idempotency_key");
                let inner = match body.remove("payload") {
                    Some(Json::Object(payload)) => Json::Object(payload),
                    Some(_) => {
                        return Err(Error::InvalidBody("payload must be a JSON object".into()));
                    }
                    None => Json::Object(body),
                };
                let references = self
                    .inner
                    .attachments
                    .ingest(&resolved.trigger.tenant_id, attachments.as_ref())?;
                if references.is_empty() {
                    inner
                } else {
                    json!({"payload": inner, "attachments": references})
                }
            }
        })
    }

    /// The trigger of a delivery with its valid keys: from the store, else the skills root.
    async fn resolve(&self, id: &str) -> Result<Resolved, Error> {
        if let Some(trigger) = self.inner.store.trigger(None, id).await? {
            let scheme = Scheme::parse(&trigger.scheme).unwrap_or(Scheme::SkillosV1);
            let mapping = Mapping::parse(&trigger.payload_mapping).unwrap_or(Mapping::Envelope);
            let keys = self
                .inner
                .store
                .trigger_secrets(id, skillos_store::now())
                .await?
                .iter()
                .filter_map(|secret| scheme.key(&secret.secret))
                .collect();
            return Ok(Resolved {
                trigger,
                scheme,
                mapping,
                keys,
            });
        }
        let declared = self
            .inner
            .root
            .get(id)
            .ok_or_else(|| Error::NotFound(id.to_owned()))?;
        let keys = declared.keys();
        Ok(Resolved {
            trigger: declared.trigger,
            scheme: declared.scheme,
            mapping: declared.mapping,
            keys,
        })
    }

    fn authorize(&self, principal: &Principal) -> Result<(), Error> {
        if self
            .inner
            .policies
            .check_permission(principal, permission::WEBHOOKS_MANAGE)
            .allowed
        {
            Ok(())
        } else {
            Err(Error::Denied)
        }
    }

    /// Creates a trigger kept in the store; returns it with its first secret's id and value.
    pub async fn create(
        &self,
        principal: &Principal,
        new: NewTrigger,
    ) -> Result<(TriggerView, String, String), Error> {
        self.authorize(principal)?;
        let id = if new.id.trim().is_empty() {
            format!("wh-{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
        } else {
            check_trigger_id(new.id.trim())?;
            new.id.trim().to_owned()
        };
        let view = self
            .inner
            .orchestrator
            .skill_for(principal, &new.skill_id)
            .await?;
        let scheme = new.scheme.unwrap_or(Scheme::SkillosV1);
        let tolerance = new
            .tolerance
            .unwrap_or(Duration::from_secs(DEFAULT_TOLERANCE_SECONDS));
        if tolerance.is_zero() || tolerance.as_secs() > MAX_TOLERANCE_SECONDS {
            return Err(Error::InvalidTrigger(format!(
                "timestamp_tolerance must be between 1 s and {MAX_TOLERANCE_SECONDS} s"
            )));
        }
        let forwarded_headers = forwarded_headers(&new.forwarded_headers)?;
        let secret = match new.secret {
            Some(secret) if !secret.is_empty() => {
                check_secret(scheme, &secret)?;
                secret
            }
            _ => scheme.new_secret(),
        };
        if self.inner.root.get(&id).is_some() {
            return Err(Error::Exists(id));
        }
        let now = skillos_store::now();
        let trigger = Trigger {
            id: id.clone(),
            tenant_id: principal.tenant.clone(),
            skill_id: view.skill.manifest.id.to_string(),
            description: new.description,
            scheme: scheme.as_str().to_owned(),
            allow_unsigned: new.allow_unsigned,
            tolerance_seconds: i64::try_from(tolerance.as_secs()).unwrap_or(300),
            payload_mapping: new.mapping.unwrap_or(Mapping::Envelope).as_str().to_owned(),
            forwarded_headers,
            enabled: new.enabled,
            principal: principal.subject.clone(),
            run_context: principal.run_context().to_json(),
            created_at: now,
            updated_at: now,
        };
        let stored = TriggerSecret {
            id: uuid::Uuid::now_v7().to_string(),
            trigger_id: id.clone(),
            secret: secret.clone(),
            created_at: now,
            expires_at: None,
        };
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "trigger.created",
            &id,
            json!({"skill_id": trigger.skill_id, "scheme": trigger.scheme, "secret_id": stored.id}),
        );
        if !self
            .inner
            .store
            .insert_trigger(&trigger, &stored, &audit)
            .await?
        {
            return Err(Error::Exists(id));
        }
        let secret_id = stored.id.clone();
        let view = TriggerView {
            trigger,
            origin: Origin::Api,
            secrets: vec![redacted(stored)],
        };
        Ok((view, secret_id, secret))
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<TriggerView, Error> {
        if let Some(trigger) = self
            .inner
            .store
            .trigger(Some(&principal.tenant), id)
            .await?
        {
            return self.view(trigger).await;
        }
        match self.inner.root.get(id) {
            Some(declared) if declared.trigger.tenant_id == principal.tenant => Ok(TriggerView {
                trigger: declared.trigger,
                origin: Origin::SkillsRoot,
                secrets: Vec::new(),
            }),
            _ => Err(Error::NotFound(id.to_owned())),
        }
    }

    async fn view(&self, trigger: Trigger) -> Result<TriggerView, Error> {
        let secrets = self
            .inner
            .store
            .trigger_secrets(&trigger.id, skillos_store::now())
            .await?
            .into_iter()
            .map(redacted)
            .collect();
        Ok(TriggerView {
            trigger,
            origin: Origin::Api,
            secrets,
        })
    }

    /// The tenant's triggers, from the skills root and the store, by id; the page token is the
    /// last id of the previous page.
    pub async fn list(
        &self,
        principal: &Principal,
        skill_id: Option<&str>,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<TriggerView>, Option<String>), Error> {
        let limit = crate::page::size(page_size).ok_or(Error::InvalidPageSize)?;
        if !page_token.is_empty() && check_trigger_id(page_token).is_err() {
            return Err(Error::InvalidPageToken);
        }
        let after = Some(page_token).filter(|token| !token.is_empty());
        let mut views = Vec::new();
        // Enough of both sources to fill the page after filtering.
        let mut cursor = after.map(str::to_owned);
        loop {
            let page = self
                .inner
                .store
                .list_triggers(&principal.tenant, cursor.as_deref(), crate::page::MAX_SIZE)
                .await?;
            let last = page.last().map(|t| t.id.clone());
            for trigger in page {
                if skill_id.is_none_or(|s| s == trigger.skill_id) {
                    views.push(self.view(trigger).await?);
                }
            }
            if views.len() > limit as usize || last.is_none() {
                break;
            }
            cursor = last;
        }
        for declared in self.inner.root.all() {
            if declared.trigger.tenant_id == principal.tenant
                && after.is_none_or(|after| declared.trigger.id.as_str() > after)
                && skill_id.is_none_or(|s| s == declared.trigger.skill_id)
            {
                views.push(TriggerView {
                    trigger: declared.trigger,
                    origin: Origin::SkillsRoot,
                    secrets: Vec::new(),
                });
            }
        }
        views.sort_by(|a, b| a.trigger.id.cmp(&b.trigger.id));
        let next = (views.len() > limit as usize).then(|| {
            views.truncate(limit as usize);
            views
                .last()
                .map(|v| v.trigger.id.clone())
                .unwrap_or_default()
        });
        Ok((views, next))
    }

    pub async fn delete(&self, principal: &Principal, id: &str) -> Result<(), Error> {
        self.authorize(principal)?;
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "trigger.deleted",
            id,
            json!({}),
        );
        if self
            .inner
            .store
            .delete_trigger(&principal.tenant, id, &audit)
            .await?
        {
            return Ok(());
        }
        match self.inner.root.get(id) {
            Some(declared) if declared.trigger.tenant_id == principal.tenant => {
                Err(Error::ReadOnly(id.to_owned()))
            }
            _ => Err(Error::NotFound(id.to_owned())),
        }
    }

    /// Adds a secret; the ones valid until now stay valid for `grace`. Returns the trigger,
    /// the new secret's id and its value.
    pub async fn rotate(
        &self,
        principal: &Principal,
        id: &str,
        grace: Option<Duration>,
        secret: Option<String>,
    ) -> Result<(TriggerView, String, String), Error> {
        self.authorize(principal)?;
        let grace = grace.unwrap_or(DEFAULT_GRACE);
        if grace > MAX_GRACE {
            return Err(Error::InvalidTrigger(
                "grace_period must be between 0 and 30 days".into(),
            ));
        }
        let Some(trigger) = self
            .inner
            .store
            .trigger(Some(&principal.tenant), id)
            .await?
        else {
            return match self.inner.root.get(id) {
                Some(declared) if declared.trigger.tenant_id == principal.tenant => {
                    Err(Error::ReadOnly(id.to_owned()))
                }
                _ => Err(Error::NotFound(id.to_owned())),
            };
        };
        let scheme = Scheme::parse(&trigger.scheme).unwrap_or(Scheme::SkillosV1);
        let secret = match secret {
            Some(secret) if !secret.is_empty() => {
                check_secret(scheme, &secret)?;
                secret
            }
            _ => scheme.new_secret(),
        };
        let now = skillos_store::now();
        let stored = TriggerSecret {
            id: uuid::Uuid::now_v7().to_string(),
            trigger_id: id.to_owned(),
            secret: secret.clone(),
            created_at: now,
            expires_at: None,
        };
        let grace_until = now + chrono::Duration::from_std(grace).unwrap_or_default();
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "trigger.secret_rotated",
            id,
            json!({"secret_id": stored.id, "grace_seconds": grace.as_secs()}),
        );
        if !self
            .inner
            .store
            .rotate_secret(&principal.tenant, &stored, grace_until, &audit)
            .await?
        {
            return Err(Error::NotFound(id.to_owned()));
        }
        let secret_id = stored.id.clone();
        let view = self.get(principal, id).await?;
        Ok((view, secret_id, secret))
    }

    /// Forgets delivery ids and secrets whose time is up.
    pub async fn sweep(&self) -> Result<u64, Error> {
        Ok(self
            .inner
            .store
            .delete_expired_webhook_rows(skillos_store::now())
            .await?)
    }
}

fn redacted(secret: TriggerSecret) -> TriggerSecret {
    TriggerSecret {
        secret: String::new(),
        ..secret
    }
}

/// 1-64 characters of `a-z 0-9 _ -`, starting with a letter or digit.
pub fn check_trigger_id(id: &str) -> Result<(), Error> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidTriggerId(format!(
            "trigger id {id:?} must be 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit"
        )))
    }
}

fn check_secret(scheme: Scheme, secret: &str) -> Result<(), Error> {
    if scheme.key(secret).is_some() {
        return Ok(());
    }
    Err(Error::InvalidSecret(match scheme {
        Scheme::StandardWebhooks => {
            "a Standard Service secret is whsec_ and the base64 of at least 24 bytes".to_owned()
        }
        _ => "a secret has at least 16 characters".to_owned(),
    }))
}

/// Lowercase header names to copy into REQUEST payloads; signature headers never are.
fn forwarded_headers(names: &[String]) -> Result<Vec<String>, Error> {
    if names.len() > MAX_FORWARDED_HEADERS {
        return Err(Error::InvalidTrigger(format!(
            "at most {MAX_FORWARDED_HEADERS} forwarded headers"
        )));
    }
    let mut headers = Vec::new();
    for name in names {
        let name = name.trim().to_ascii_lowercase();
        let token = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !token {
            return Err(Error::InvalidTrigger(format!(
                "forwarded header {name:?} is not a header name"
            )));
        }
        let secret = matches!(
            name.as_str(),
            "authorization"
                | "cookie"
                | "x-skillos-signature"
                | "webhook-signature"
                | "x-hub-signature"
                | "x-hub-signature-256"
        );
        if !secret && !headers.contains(&name) {
            headers.push(name);
        }
    }
    Ok(headers)
}

/// The id a delivery is deduplicated by, when it comes before the body: only what the
/// signature covers may tell two deliveries apart, or a captured delivery sent again with a
/// new unsigned header would be new. Standard Webhooks signs its `webhook-id`; SkillOS v1
/// signs only the time and the body (the envelope's `idempotency_key`, or the content itself,
/// is the id); GitHub signs neither an id nor a time, so its body is the id. An unsigned
/// delivery (allowed by the trigger and the server) proves nothing: any id it gives is used.
fn dedup_id(
    scheme: verify::Scheme,
    verified: &verify::Verified,
    incoming: &Incoming<'_>,
) -> Option<String> {
    if verified.unsigned {
        return verified
            .delivery_id
            .clone()
            .or_else(|| incoming.delivery_id.clone());
    }
    match scheme {
        verify::Scheme::StandardWebhooks => verified.delivery_id.clone(),
        verify::Scheme::SkillosV1 => None,
        verify::Scheme::GithubSha256 => Some(content_id(None, incoming.body)),
    }
}

/// `sha256-<hex>` of the signed time (when there is one) and the body.
fn content_id(timestamp: Option<i64>, body: &[u8]) -> String {
    let mut hash = sha2::Sha256::new();
    if let Some(timestamp) = timestamp {
        hash.update(timestamp.to_string());
        hash.update(b".");
    }
    hash.update(body);
    let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256-{digest}")
}

impl From<crate::webhooks::Error> for crate::error::Error {
    fn from(error: crate::webhooks::Error) -> Self {
        use crate::webhooks::attachments::Error as A;
        use crate::webhooks::{Error as E, Refusal};
        let message = error.to_string();
        let reason = match error {
            E::Run(run) => return Self::from(run),
            E::Jobs(jobs) => return Self::from(jobs),
            E::Store(store) => return Self::store(&store),
            E::Attachment(A::Io(io)) => return Self::internal(&io),
            E::NotFound(_) => reason::TRIGGER_NOT_FOUND,
            E::Disabled(_) => reason::TRIGGER_DISABLED,
            E::Refused(Refusal::Malformed(_)) => reason::INVALID_HEADERS,
            E::Refused(Refusal::Unverified(_)) => reason::SIGNATURE_INVALID,
            E::TooLarge(_) => reason::BODY_TOO_LARGE,
            E::InvalidBody(_) => reason::INVALID_BODY,
            E::Attachment(A::Invalid(_)) => reason::INVALID_ATTACHMENT,
            E::Attachment(A::TooLarge { .. }) => reason::ATTACHMENT_TOO_LARGE,
            E::InvalidTrigger(_) => reason::INVALID_REQUEST,
            E::InvalidTriggerId(_) => {
                return Self::field(reason::INVALID_TRIGGER_ID, "trigger_id", message);
            }
            E::InvalidSecret(_) => return Self::field(reason::INVALID_SECRET, "secret", message),
            E::Exists(_) => reason::TRIGGER_EXISTS,
            E::ReadOnly(_) => reason::TRIGGER_READ_ONLY,
            E::Denied => reason::POLICY_DENIED,
            E::InvalidPageToken => {
                return Self::field(reason::INVALID_PAGE_TOKEN, "page_token", message);
            }
            E::InvalidPageSize => {
                return Self::field(reason::INVALID_PAGE_SIZE, "page_size", message);
            }
        };
        Self::new(reason, message)
    }
}

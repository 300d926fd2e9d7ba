//! Approvals: runs that approval policies hold for people to decide.
//!
//! A held run is stored as a PENDING_APPROVAL execution with an approval that binds the tenant,
//! the execution, the skill at its version and the SHA-256 of the canonical payload. Approvers
//! (the `approvals:decide` permission, and the approver group when the policy names one) decide
//! it; the requester never can. N-of-M counts distinct people; one rejection rejects; expiry
//! means deny. Every decision lands in one store transaction, so an approve racing the expiry
//! ends in exactly one state, and every decision, accepted or refused, is audited. Once
//! approved, the execution is PENDING and the orchestrator's resumer runs it exactly once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value as Json, json};
use skillos_core::registry::Skill;
use skillos_store::{
    Approval, ApprovalDecision, ApprovalFilter, ApprovalState, AuditEvent, Decided, Execution,
    ExecutionStatus, Store,
};
use tokio::sync::{Notify, broadcast};

use crate::auth::Principal;
use crate::error::reason;
use crate::policy::{self, Requirement, permission};

const MAX_COMMENT_CHARS: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("approval {0} not found")]
    NotFound(String),
    #[error("you requested this run; someone else must decide it")]
    SelfApproval,
    #[error("{0}")]
    NotAnApprover(String),
    #[error("approval {id} is {}, not pending", state.as_str())]
    NotPending { id: String, state: ApprovalState },
    #[error("approval {0} expired; the run will not execute")]
    Expired(String),
    #[error("the payload differs from the one you reviewed (payload_sha256 mismatch)")]
    PayloadMismatch,
    #[error("you already decided approval {0}")]
    AlreadyDecided(String),
    #[error("{0}")]
    Invalid(String),
    #[error("invalid page_token; pass the next_page_token of the previous response")]
    InvalidPageToken,
    #[error("page_size must be between 0 and {}", crate::page::MAX_SIZE)]
    InvalidPageSize,
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// What happened to an approval, for watchers.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    Created,
    Decided,
    Expired,
    Cancelled,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventKind,
    pub approval: Approval,
}

/// Everything a held run needs to run later.
#[derive(Clone, Debug)]
pub struct HeldRun<'a> {
    pub principal: &'a Principal,
    pub skill: &'a Skill,
    pub payload: &'a Json,
    pub timeout: Duration,
    pub traceparent: Option<String>,
    /// The job the run is an attempt of.
    pub job_id: Option<String>,
    /// The flow step the run is (`<run id>:<path>`).
    pub step_key: Option<String>,
    /// The most the step may cost when it runs.
    pub allowance: Option<f64>,
}

/// An approval step of a flow run, to hold.
#[derive(Clone, Debug)]
pub struct HeldGate<'a> {
    /// The run's principal.
    pub principal: &'a Principal,
    /// `<flow id>#<step path>`: what approvers see it as.
    pub skill_id: String,
    /// The flow's version.
    pub skill_version: String,
    /// The step's input: what is approved.
    pub payload: &'a Json,
    /// `<run id>:<path>`.
    pub step_key: String,
    pub traceparent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Service {
    store: Arc<dyn Store>,
    policies: Arc<policy::Service>,
    events: broadcast::Sender<Event>,
    /// Woken when an approval is granted, so the resumer does not wait for its next tick.
    approved: Arc<Notify>,
}

/// Lowercase hex SHA-256 of the canonical JSON of `payload` (object keys sorted, no
/// whitespace), the value an approval binds.
pub fn payload_sha256(payload: &Json) -> String {
    fn canonical(value: &Json, out: &mut String) {
        match value {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Json::String((*key).clone()).to_string());
                    out.push(':');
                    canonical(&map[*key], out);
                }
                out.push('}');
            }
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(payload, &mut text);
    crate::auth::sha256(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Service {
    pub fn new(store: Arc<dyn Store>, policies: Arc<policy::Service>) -> Self {
        let (events, _) = broadcast::channel(1024);
        Self {
            store,
            policies,
            events,
            approved: Arc::new(Notify::new()),
        }
    }

    pub fn approved_signal(&self) -> Arc<Notify> {
        self.approved.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn emit(&self, kind: EventKind, approval: &Approval) {
        // No watcher is fine.
        let _ = self.events.send(Event {
            kind,
            approval: approval.clone(),
        });
    }

    /// The approval a run needs under the tenant's approval policies, if any.
    pub fn requirement(
        &self,
        principal: &Principal,
        skill: &Skill,
        payload: &Json,
    ) -> Option<Requirement> {
        let manifest = &skill.manifest;
        self.policies.approval_requirement(
            &principal.tenant,
            &manifest.id.to_string(),
            manifest.risk_tier.map(|tier| tier.as_str()),
            payload,
        )
    }

    /// Stores a held run: its execution (PENDING_APPROVAL) and its approval.
    /// `Ok(Err(record))`: the idempotency key is held by another request.
    pub async fn hold(
        &self,
        run: HeldRun<'_>,
        requirement: Requirement,
        claim: Option<&skillos_store::IdempotencyClaim>,
    ) -> Result<Result<Execution, skillos_store::IdempotencyRecord>, Error> {
        let manifest = &run.skill.manifest;
        let execution = crate::run::record::new_execution(
            run.principal,
            run.skill,
            run.payload.clone(),
            run.job_id.clone(),
        );
        let context = crate::auth::RunContext {
            timeout_ms: Some(u64::try_from(run.timeout.as_millis()).unwrap_or(u64::MAX)),
            traceparent: run.traceparent.clone(),
            step_key: run.step_key.clone(),
            allowance: run.allowance,
            ..run.principal.run_context()
        };
        let risk_tier = manifest.risk_tier.map(|tier| tier.as_str().to_owned());
        self.store_held(
            run.principal,
            execution,
            risk_tier,
            requirement,
            context,
            claim,
        )
        .await
    }

    /// Stores an approval step of a flow run: an execution of nothing (`skill_id` names the
    /// flow and the step) that is done once approved, and its approval.
    pub async fn hold_gate(
        &self,
        gate: HeldGate<'_>,
        requirement: Requirement,
        claim: &skillos_store::IdempotencyClaim,
    ) -> Result<Result<Execution, skillos_store::IdempotencyRecord>, Error> {
        let now = skillos_store::now();
        let execution = Execution {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: gate.principal.tenant.clone(),
            skill_id: gate.skill_id,
            skill_version: gate.skill_version,
            status: ExecutionStatus::PendingApproval,
            principal: gate.principal.subject.clone(),
            payload: gate.payload.clone(),
            output: None,
            error: None,
            runner_id: None,
            attempts: 0,
            cost: 0.0,
            created_at: now,
            started_at: None,
            finished_at: None,
            approval_id: None,
            job_id: None,
        };
        let context = crate::auth::RunContext {
            traceparent: gate.traceparent,
            step_key: Some(gate.step_key),
            ..gate.principal.run_context()
        };
        self.store_held(
            gate.principal,
            execution,
            None,
            requirement,
            context,
            Some(claim),
        )
        .await
    }

    async fn store_held(
        &self,
        principal: &Principal,
        execution: Execution,
        risk_tier: Option<String>,
        requirement: Requirement,
        context: crate::auth::RunContext,
        claim: Option<&skillos_store::IdempotencyClaim>,
    ) -> Result<Result<Execution, skillos_store::IdempotencyRecord>, Error> {
        let now = skillos_store::now();
        let approval_id = uuid::Uuid::now_v7().to_string();
        let execution = Execution {
            status: ExecutionStatus::PendingApproval,
            started_at: None,
            approval_id: Some(approval_id.clone()),
            ..execution
        };
        let expires_in =
            chrono::Duration::from_std(requirement.expires_in).unwrap_or(chrono::Duration::days(1));
        let approval = Approval {
            id: approval_id.clone(),
            tenant_id: principal.tenant.clone(),
            execution_id: execution.id.clone(),
            skill_id: execution.skill_id.clone(),
            skill_version: execution.skill_version.clone(),
            payload_sha256: payload_sha256(&execution.payload),
            risk_tier,
            requester: principal.subject.clone(),
            required: i32::try_from(requirement.required_approvals).unwrap_or(1),
            state: ApprovalState::Pending,
            policy_id: requirement.policy_id.clone(),
            reason: requirement.reason.clone(),
            approver_group: requirement.approver_group.clone(),
            run_context: context.to_json(),
            expire_at: now + expires_in,
            created_at: now,
            resolved_at: None,
            decisions: Vec::new(),
        };
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "approval.requested",
            &approval_id,
            json!({"execution_id": approval.execution_id, "skill_id": approval.skill_id,
                   "skill_version": approval.skill_version, "payload_sha256": approval.payload_sha256,
                   "policy_id": approval.policy_id, "reason": approval.reason}),
        );
        let claim = claim.map(|claim| skillos_store::IdempotencyClaim {
            response: Some(json!({"execution_id": execution.id})),
            ..claim.clone()
        });
        if let Some(held) = self
            .store
            .insert_approval(&execution, &approval, &audit, claim.as_ref())
            .await?
        {
            return Ok(Err(held));
        }
        tracing::info!(approval_id, skill_id = %approval.skill_id, policy_id = %approval.policy_id, "run held for approval");
        self.emit(EventKind::Created, &approval);
        Ok(Ok(execution))
    }

    /// Whether the principal may see every approval of its tenant (else only its own).
    fn sees_all(&self, principal: &Principal) -> bool {
        self.policies
            .check_permission(principal, permission::APPROVALS_DECIDE)
            .allowed
            || self
                .policies
                .check_permission(principal, permission::APPROVALS_READ)
                .allowed
    }

    /// May the principal decide this approval now? (Pending state aside.)
    pub fn can_decide(&self, principal: &Principal, approval: &Approval) -> Result<(), Error> {
        if approval.requester == principal.subject {
            return Err(Error::SelfApproval);
        }
        let decision = self
            .policies
            .check_permission(principal, permission::APPROVALS_DECIDE);
        if !decision.allowed {
            return Err(Error::NotAnApprover(format!(
                "deciding approvals needs the {} permission",
                permission::APPROVALS_DECIDE
            )));
        }
        if let Some(group) = &approval.approver_group
            && !in_group(principal, group)
        {
            return Err(Error::NotAnApprover(format!(
                "only members of the approver group {group} may decide this approval"
            )));
        }
        Ok(())
    }

    pub fn visible(&self, principal: &Principal, approval: &Approval) -> bool {
        approval.tenant_id == principal.tenant
            && (approval.requester == principal.subject || self.sees_all(principal))
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> Result<Approval, Error> {
        self.store
            .approval(&principal.tenant, id)
            .await?
            .filter(|approval| self.visible(principal, approval))
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Newest first; the page token is `<created_at micros>:<id>` of the last approval.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: ApprovalFilter,
        actionable_only: bool,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Approval>, Option<String>), Error> {
        let page_size = crate::page::size(page_size).ok_or(Error::InvalidPageSize)?;
        if !page_token.is_empty() {
            let cursor = crate::page::time_cursor(page_token, ':');
            filter.before = Some(cursor.ok_or(Error::InvalidPageToken)?);
        }
        if !self.sees_all(principal) {
            filter.requester = Some(principal.subject.clone());
        }
        if actionable_only {
            filter.states = vec![ApprovalState::Pending];
        }
        let mut approvals = Vec::new();
        let mut next = None;
        // Actionable filtering happens here, so read on until the page is full.
        loop {
            let batch = self
                .store
                .list_approvals(&principal.tenant, &filter, page_size + 1)
                .await?;
            let exhausted = batch.len() <= page_size as usize;
            for approval in batch {
                filter.before = Some((approval.created_at, approval.id.clone()));
                let keep = !actionable_only
                    || (self.can_decide(principal, &approval).is_ok()
                        && !approval
                            .decisions
                            .iter()
                            .any(|d| d.approver == principal.subject));
                if keep {
                    if approvals.len() == page_size as usize {
                        next = approvals.last().map(token);
                        break;
                    }
                    approvals.push(approval);
                }
            }
            if next.is_some() || exhausted {
                break;
            }
        }
        Ok((approvals, next))
    }

    /// Records the principal's approval (or rejection, with `approve == false`).
    pub async fn decide(
        &self,
        principal: &Principal,
        id: &str,
        approve: bool,
        comment: &str,
        reviewed_sha256: Option<&str>,
    ) -> Result<Approval, Error> {
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(Error::Invalid(format!(
                "the comment or reason is limited to {MAX_COMMENT_CHARS} characters"
            )));
        }
        if !approve && comment.trim().is_empty() {
            return Err(Error::Invalid("a rejection needs a reason".to_owned()));
        }
        if let Some(sha) = reviewed_sha256
            && !(sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        {
            return Err(Error::Invalid(
                "payload_sha256 must be 64 lowercase hex characters".to_owned(),
            ));
        }
        // Within the tenant, a caller who may not see the approval learns only that it may not
        // decide it; other tenants' approvals do not exist for it.
        let approval = self
            .store
            .approval(&principal.tenant, id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_owned()))?;
        let refused = |error: Error| {
            let store = self.store.clone();
            let audit = AuditEvent::now(
                &principal.tenant,
                &principal.subject,
                "approval.decision_refused",
                id,
                json!({"approve": approve, "reason": error.to_string()}),
            );
            async move {
                if let Err(store_error) = store.append_audit(&audit).await {
                    tracing::warn!(%store_error, "cannot audit a refused approval decision");
                }
                Err(error)
            }
        };
        if let Err(error) = self.can_decide(principal, &approval) {
            return refused(error).await;
        }
        if let Some(sha) = reviewed_sha256
            && sha != approval.payload_sha256
        {
            return refused(Error::PayloadMismatch).await;
        }
        let decision = ApprovalDecision {
            approver: principal.subject.clone(),
            approve,
            comment: comment.trim().to_owned(),
            decided_at: skillos_store::now(),
        };
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            if approve {
                "approval.approved"
            } else {
                "approval.rejected"
            },
            id,
            json!({"execution_id": approval.execution_id, "payload_sha256": approval.payload_sha256,
                   "comment": decision.comment}),
        );
        match self
            .store
            .decide_approval(&principal.tenant, id, &decision, &audit)
            .await?
        {
            Decided::Recorded(approval) => {
                if approval.state == ApprovalState::Approved {
                    tracing::info!(approval_id = id, execution_id = %approval.execution_id, "approved; the run is queued");
                    self.approved.notify_waiters();
                    self.approved.notify_one();
                }
                self.emit(EventKind::Decided, &approval);
                Ok(approval)
            }
            Decided::NotFound => Err(Error::NotFound(id.to_owned())),
            Decided::NotPending(state) => {
                refused(Error::NotPending {
                    id: id.to_owned(),
                    state,
                })
                .await
            }
            Decided::Expired(approval) => {
                self.emit(EventKind::Expired, &approval);
                refused(Error::Expired(id.to_owned())).await
            }
            Decided::AlreadyDecided => refused(Error::AlreadyDecided(id.to_owned())).await,
        }
    }

    /// Cancels a pending approval with its execution (CancelExecution of a held run); `None`
    /// when it was no longer pending.
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<Option<Approval>, Error> {
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            "approval.cancelled",
            id,
            json!({"reason": reason}),
        );
        let cancelled = self
            .store
            .cancel_approval(&principal.tenant, id, reason, &audit)
            .await?;
        if let Some(approval) = &cancelled {
            self.emit(EventKind::Cancelled, approval);
        }
        Ok(cancelled)
    }

    /// The payload an approval binds (its execution's).
    pub async fn payload(&self, approval: &Approval) -> Result<Option<Json>, Error> {
        Ok(self
            .store
            .get_execution(&approval.tenant_id, &approval.execution_id)
            .await?
            .map(|execution| execution.payload))
    }

    /// Expires approvals whose time is up; returns how many.
    pub async fn expire_due(&self) -> Result<usize, Error> {
        let now = skillos_store::now();
        let mut expired = 0;
        for (tenant, id) in self.store.expired_approvals(now, 500).await? {
            if let Some(approval) = self.store.expire_approval(&tenant, &id, now).await? {
                expired += 1;
                self.emit(EventKind::Expired, &approval);
            }
        }
        Ok(expired)
    }
}

fn token(approval: &Approval) -> String {
    crate::page::time_token(approval.created_at, ':', &approval.id)
}

/// A principal is in a group when one of its roles is the group, or its `groups` attribute
/// (comma- or space-separated) lists it. An approval step's approvers are several groups,
/// comma-separated: a member of any of them is in.
fn in_group(principal: &Principal, groups: &str) -> bool {
    groups.split(',').map(str::trim).any(|group| {
        principal.roles.iter().any(|role| role == group)
            || principal.attributes.get("groups").is_some_and(|groups| {
                groups
                    .split([',', ' '])
                    .any(|member| member.trim() == group)
            })
    })
}

impl From<crate::approvals::Error> for crate::error::Error {
    fn from(error: crate::approvals::Error) -> Self {
        use crate::approvals::Error as E;
        let message = error.to_string();
        let reason = match &error {
            E::NotFound(_) => reason::APPROVAL_NOT_FOUND,
            E::SelfApproval => reason::SELF_APPROVAL,
            E::NotAnApprover(_) => reason::NOT_AN_APPROVER,
            E::NotPending { .. } => reason::APPROVAL_NOT_PENDING,
            E::Expired(_) => reason::APPROVAL_EXPIRED,
            E::PayloadMismatch => reason::PAYLOAD_MISMATCH,
            E::AlreadyDecided(_) => reason::APPROVER_ALREADY_DECIDED,
            E::Invalid(_) => reason::INVALID_REQUEST,
            E::InvalidPageToken => {
                return Self::field(reason::INVALID_PAGE_TOKEN, "page_token", message);
            }
            E::InvalidPageSize => {
                return Self::field(reason::INVALID_PAGE_SIZE, "page_size", message);
            }
            E::Store(store) => return Self::store(store),
        };
        Self::new(reason, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_hash_ignores_key_order_and_whitespace() {
        let a: Json = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": "é"}}"#).unwrap();
        let b: Json = serde_json::from_str(r#"{"a":{"x":"é","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(payload_sha256(&a), payload_sha256(&b));
        let c: Json = serde_json::from_str(r#"{"a":{"x":"é","y":[2,1]},"b":1}"#).unwrap();
        assert_ne!(payload_sha256(&a), payload_sha256(&c));
        assert_eq!(payload_sha256(&a).len(), 64);
    }
}

//! gRPC adapter of `skillos.v1.ApprovalService`; the logic lives in [`skillos_engine::approvals`].

use skillos_proto::v1::{self, approval_service_server::ApprovalService};
use skillos_store::{ApprovalFilter, ApprovalState};
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth::{self, Principal};
use crate::error::{IntoStatus, invalid_field, status};
use skillos_engine::approvals::{self, EventKind};
use skillos_engine::error::{Error, reason};

#[derive(Clone, Debug)]
pub struct Adapter {
    approvals: approvals::Service,
    auth: auth::Authenticator,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Adapter {
    pub fn new(
        approvals: approvals::Service,
        auth: auth::Authenticator,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        Self {
            approvals,
            auth,
            shutdown,
        }
    }

    async fn message(&self, approval: &skillos_store::Approval) -> Result<v1::Approval, Status> {
        let payload = self.approvals.payload(approval).await.map_err(status)?;
        Ok(convert::approval(approval, payload.as_ref()))
    }
}

fn skill_filter(skill_id: &str) -> Result<Option<String>, Status> {
    match skill_id.trim() {
        "" => Ok(None),
        id => skillos_core::SkillId::parse(id)
            .map(|id| Some(id.to_string()))
            .map_err(|error| {
                invalid_field(reason::INVALID_SKILL_ID, "skill_id", error.to_string())
            }),
    }
}

fn store_state(state: i32) -> Result<ApprovalState, Status> {
    let state = v1::ApprovalState::try_from(state).unwrap_or(v1::ApprovalState::Unspecified);
    ApprovalState::ALL
        .into_iter()
        .find(|candidate| convert::approval_state(*candidate) == state)
        .ok_or_else(|| {
            invalid_field(
                reason::INVALID_REQUEST,
                "states",
                "states must be PENDING, APPROVED, REJECTED, EXPIRED or CANCELLED",
            )
        })
}

/// Whether a watcher gets an event: actionable watchers get what they can decide, plus the
/// events that end approvals.
fn wanted(
    approvals: &approvals::Service,
    principal: &Principal,
    approval: &skillos_store::Approval,
    kind: &EventKind,
    skill: Option<&str>,
    actionable_only: bool,
) -> bool {
    if !approvals.visible(principal, approval) || skill.is_some_and(|s| s != approval.skill_id) {
        return false;
    }
    if !actionable_only {
        return true;
    }
    let ends = approval.state != ApprovalState::Pending;
    ends || (*kind == EventKind::Created && approvals.can_decide(principal, approval).is_ok())
}

#[tonic::async_trait]
impl ApprovalService for Adapter {
    type WatchApprovalsStream = super::BoxStream<v1::WatchApprovalsResponse>;

    async fn list_approvals(
        &self,
        request: Request<v1::ListApprovalsRequest>,
    ) -> Result<Response<v1::ListApprovalsResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let filter = ApprovalFilter {
            states: request
                .states
                .iter()
                .map(|state| store_state(*state))
                .collect::<Result<_, _>>()?,
            skill_id: skill_filter(&request.skill_id)?,
            ..Default::default()
        };
        let (approvals, next) = self
            .approvals
            .list(
                &principal,
                filter,
                request.actionable_only,
                request.page_size,
                &request.page_token,
            )
            .await
            .map_err(status)?;
        let mut messages = Vec::with_capacity(approvals.len());
        for approval in &approvals {
            messages.push(self.message(approval).await?);
        }
        Ok(Response::new(v1::ListApprovalsResponse {
            approvals: messages,
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_approval(
        &self,
        request: Request<v1::GetApprovalRequest>,
    ) -> Result<Response<v1::GetApprovalResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let approval = self
            .approvals
            .get(&principal, &request.get_ref().approval_id)
            .await
            .map_err(status)?;
        Ok(Response::new(v1::GetApprovalResponse {
            approval: Some(self.message(&approval).await?),
        }))
    }

    async fn approve(
        &self,
        request: Request<v1::ApproveRequest>,
    ) -> Result<Response<v1::ApproveResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let reviewed = Some(request.payload_sha256.as_str()).filter(|sha| !sha.is_empty());
        let approval = self
            .approvals
            .decide(
                &principal,
                &request.approval_id,
                true,
                &request.comment,
                reviewed,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::ApproveResponse {
            approval: Some(self.message(&approval).await?),
        }))
    }

    async fn reject(
        &self,
        request: Request<v1::RejectRequest>,
    ) -> Result<Response<v1::RejectResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let approval = self
            .approvals
            .decide(
                &principal,
                &request.approval_id,
                false,
                &request.reason,
                None,
            )
            .await
            .map_err(status)?;
        Ok(Response::new(v1::RejectResponse {
            approval: Some(self.message(&approval).await?),
        }))
    }

    async fn watch_approvals(
        &self,
        request: Request<v1::WatchApprovalsRequest>,
    ) -> Result<Response<Self::WatchApprovalsStream>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let skill = skill_filter(&request.skill_id)?;
        // Subscribe before the snapshot, so nothing falls between the two.
        let mut events = self.approvals.subscribe();
        let (out, stream) = tokio::sync::mpsc::channel(64);
        let adapter = self.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let event = |kind: v1::ApprovalEventKind, approval: v1::Approval| {
                Ok(v1::WatchApprovalsResponse {
                    kind: kind as i32,
                    approval: Some(approval),
                    event_time: Some(convert::timestamp(skillos_store::now())),
                })
            };
            if request.include_pending {
                let filter = ApprovalFilter {
                    states: vec![ApprovalState::Pending],
                    skill_id: skill.clone(),
                    ..Default::default()
                };
                let mut token = String::new();
                loop {
                    let page = adapter
                        .approvals
                        .list(
                            &principal,
                            filter.clone(),
                            request.actionable_only,
                            1000,
                            &token,
                        )
                        .await;
                    let Ok((page, next)) = page else { return };
                    for approval in &page {
                        let Ok(message) = adapter.message(approval).await else {
                            return;
                        };
                        if out
                            .send(event(v1::ApprovalEventKind::Snapshot, message))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    match next {
                        Some(next) => token = next,
                        None => break,
                    }
                }
            }
            loop {
                tokio::select! {
                    _ = shutdown.changed() => {
                        let status = Error::new(reason::SHUTTING_DOWN, "the server is shutting down; reconnect").into_status();
                        let _ = out.send(Err(status)).await;
                        return;
                    }
                    () = out.closed() => return,
                    received = events.recv() => {
                        let happened = match received {
                            Ok(happened) => happened,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                                tracing::warn!(missed, "an approval watcher fell behind; events were dropped");
                                continue;
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        };
                        if !wanted(&adapter.approvals, &principal, &happened.approval, &happened.kind, skill.as_deref(), request.actionable_only) {
                            continue;
                        }
                        let kind = match happened.kind {
                            EventKind::Created => v1::ApprovalEventKind::Created,
                            EventKind::Decided => v1::ApprovalEventKind::Decided,
                            EventKind::Expired => v1::ApprovalEventKind::Expired,
                            EventKind::Cancelled => v1::ApprovalEventKind::Cancelled,
                        };
                        let Ok(message) = adapter.message(&happened.approval).await else { continue };
                        if out.send(event(kind, message)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(stream),
        )))
    }
}

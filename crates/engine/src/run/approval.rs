//! Stage 6, approval: when an approval policy asks for one, the run is stored as
//! PENDING_APPROVAL, bound to skill@version and the payload's SHA-256, and the pipeline ends
//! here; the orchestrator's resumer runs it once approved (it enters at the budget stage).

use std::time::Duration;

use super::{Answer, Outcome, Request, Sink};
use crate::approvals::HeldRun;
use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use crate::skills::SkillView;

impl Service {
    /// `Some` answer when the run is held (or its key already answered); `None` to go on.
    pub(crate) async fn hold_for_approval(
        &self,
        principal: &Principal,
        view: &SkillView,
        request: &Request,
        timeout: Duration,
        sink: &Sink,
    ) -> Result<Option<Answer>, Error> {
        let approvals = &self.governance.approvals;
        let Some(requirement) = approvals.requirement(principal, &view.skill, &request.payload)
        else {
            return Ok(None);
        };
        let held = HeldRun {
            principal,
            skill: &view.skill,
            payload: &request.payload,
            timeout,
            traceparent: request.traceparent.clone(),
            job_id: request.job_id.clone(),
            step_key: request.step_key.clone(),
            allowance: request.allowance,
        };
        let claim = request
            .idempotency
            .as_ref()
            .map(|key| self.claim(principal, key));
        let execution = match approvals.hold(held, requirement, claim.as_ref()).await? {
            Ok(execution) => execution,
            Err(taken) => {
                let key = request.idempotency.as_ref().expect("a claim has a key");
                let execution = self.replay_record(principal, key, taken).await?;
                return Ok(Some(Answer::replayed(execution, sink).await));
            }
        };
        sink.accepted(&execution.id).await;
        Ok(Some(Answer {
            outcome: Outcome::PendingApproval(execution),
            routed: None,
            replayed: false,
            segments: Vec::new(),
        }))
    }
}

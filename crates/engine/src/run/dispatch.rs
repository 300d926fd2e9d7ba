//! Stage 10, dispatch: the invocation goes to a runner of the tenant that hosts the skill,
//! with the execution id, deadline, principal, model tier and trace context; the dispatcher
//! retries a retryable skill on another runner when its runner is lost.

use std::time::Duration;

use skillos_core::registry::Skill;
use skillos_store::Execution;

use crate::auth::Principal;
use crate::budget::Plan;
use crate::dispatch::{self, Invocation};
use crate::orchestrator::Service;

/// Attempts of a retryable skill whose runner was lost.
const MAX_ATTEMPTS: u32 = 3;

/// Everything a dispatch needs besides the execution.
pub(crate) struct Dispatch<'a> {
    pub principal: &'a Principal,
    pub skill: &'a Skill,
    pub execution: &'a Execution,
    pub plan: &'a Plan,
    pub timeout: Duration,
    pub traceparent: Option<String>,
    pub events: Option<tokio::sync::mpsc::Sender<dispatch::Event>>,
    pub step_key: Option<String>,
}

impl Service {
    pub(crate) async fn dispatch(
        &self,
        run: Dispatch<'_>,
    ) -> Result<dispatch::Dispatched, dispatch::Error> {
        let Dispatch {
            principal,
            skill,
            execution,
            plan,
            timeout,
            traceparent,
            events,
            step_key,
        } = run;
        let invocation = Invocation {
            execution_id: execution.id.clone(),
            skill_id: execution.skill_id.clone(),
            skill_version: execution.skill_version.clone(),
            payload: execution.payload.clone(),
            tenant: principal.tenant.clone(),
            principal: principal.subject.clone(),
            roles: principal.roles.clone(),
            attributes: principal.attributes.clone(),
            model_tier: plan.tier.clone(),
            deadline: tokio::time::Instant::now() + timeout,
            retryable: skill.manifest.retryable,
            max_attempts: MAX_ATTEMPTS,
            events,
            traceparent: traceparent
                .filter(|traceparent| is_traceparent(traceparent))
                .unwrap_or_else(new_traceparent),
            job_id: execution.job_id.clone(),
            step_key,
        };
        self.dispatcher.dispatch(invocation).await
    }
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, the W3C trace context version 00.
fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts.as_slice(), [version, trace, parent, flags]
        if *version == "00" && hex(trace, 32) && hex(parent, 16) && hex(flags, 2)
            && trace.bytes().any(|b| b != b'0') && parent.bytes().any(|b| b != b'0'))
}

fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let parent = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{parent}-01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_context_is_checked_and_made_when_missing() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "00-0000-00f067aa0ba902b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(!is_traceparent(bad), "{bad:?}");
        }
        assert!(is_traceparent(&new_traceparent()));
    }
}

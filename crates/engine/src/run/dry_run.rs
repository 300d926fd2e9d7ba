//! A dry run: every stage a real run would pass, evaluated without changing anything. Nothing
//! is stored, reserved, counted against the skill's rate limit or dispatched. What the request
//! itself gets wrong (an unknown skill, a payload against the schema) fails as it would for a
//! run; what would refuse a valid request (a policy, a budget, an open circuit, no runner) is
//! listed in the plan's refusals, so one call shows every obstacle at once (for a composition
//! or a flow, also each of its steps the caller may not run).

use std::time::Duration;

use super::Request;
use crate::approvals::payload_sha256;
use crate::auth::Principal;
use crate::orchestrator::{Error, Service};

/// Most refusals of a composition's or flow's steps a plan lists.
const MAX_STEP_REFUSALS: usize = 32;

/// What a real run would do.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub skill_id: String,
    pub skill_version: String,
    /// What an approval would bind.
    pub payload_sha256: String,
    /// The permission policy that decides (`no_policies` when none exists).
    pub policy_id: String,
    /// When an approval policy would hold the run: which, and who must approve.
    pub approval: Option<PlannedApproval>,
    /// What the run would reserve, and the model tier it would be told to use.
    pub estimated_cost: f64,
    pub model_tier: Option<String>,
    /// The runner the dispatcher would pick now (least in flight).
    pub runner: Option<PlannedRunner>,
    pub timeout: Duration,
    /// What would refuse the run, in the order the stages would meet them.
    pub refusals: Vec<crate::error::Error>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedApproval {
    pub policy_id: String,
    pub required_approvals: u32,
    pub approver_group: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedRunner {
    pub id: String,
    pub name: String,
}

impl Service {
    pub(crate) async fn plan(
        &self,
        principal: &Principal,
        skill_id: &str,
        request: &Request,
    ) -> Result<Plan, Error> {
        let view = self.skills.get(principal, skill_id).await?;
        self.check_payload(&view, &request.payload)?;
        let manifest = &view.skill.manifest;
        let skill_id = manifest.id.to_string();
        let mut refusals = Vec::new();
        let decision = self.decide(principal, &view);
        let policy_id = decision.policy_id.clone();
        if !decision.allowed {
            refusals.push(crate::error::Error::from(Error::Denied {
                skill_id: skill_id.clone(),
                decision,
            }));
        }
        let approval = self
            .governance
            .approvals
            .requirement(principal, &view.skill, &request.payload)
            .map(|requirement| PlannedApproval {
                policy_id: requirement.policy_id,
                required_approvals: requirement.required_approvals,
                approver_group: requirement.approver_group,
            });
        let budgets = &self.governance.budgets;
        let (estimated_cost, model_tier) = match budgets.quote(principal, &view.skill, None).await {
            Ok(quote) => {
                if let Err(exceeded) = quote.check() {
                    refusals.push(Error::from(exceeded).into());
                }
                (quote.estimate, quote.tier)
            }
            Err(error @ crate::budget::Error::Exceeded { estimate, .. }) => {
                refusals.push(Error::from(error).into());
                (estimate, None)
            }
            Err(error) => return Err(error.into()),
        };
        if let Err(open) = self
            .governance
            .breakers
            .peek(&principal.tenant, &skill_id)
            .await
        {
            refusals.push(Error::from(open).into());
        }
        // A composition's or flow's steps: each the caller may not run would refuse it.
        let steps = match (&view.skill.composition, &view.skill.flow) {
            (Some(composition), _) => Some(&composition.definition),
            (None, Some(flow)) => Some(&flow.definition),
            (None, None) => None,
        };
        if let Some(definition) = steps {
            let denied = self
                .step_refusals(principal, definition, MAX_STEP_REFUSALS)
                .await;
            refusals.extend(denied.into_iter().map(crate::error::Error::from));
        }
        let runner = self.planned_runner(principal, &skill_id);
        if runner.is_none() && approval.is_none() && !view.skill.run_by_server() {
            refusals.push(Error::NoRunner(skill_id.clone()).into());
        }
        Ok(Plan {
            skill_version: manifest.version.to_string(),
            payload_sha256: payload_sha256(&request.payload),
            policy_id,
            approval,
            estimated_cost,
            model_tier,
            runner,
            timeout: self.timeout_of(request, &view),
            refusals,
            skill_id,
        })
    }

    /// The runner of the caller's tenant that would take the run now: not draining, with room,
    /// least in flight (the dispatcher's choice).
    fn planned_runner(&self, principal: &Principal, skill_id: &str) -> Option<PlannedRunner> {
        self.dispatcher
            .runners()
            .into_iter()
            .filter(|runner| {
                runner.tenant == principal.tenant
                    && !runner.draining
                    && runner.skills.iter().any(|id| id == skill_id)
            })
            .min_by_key(|runner| {
                let full = runner.max_concurrency > 0 && runner.in_flight >= runner.max_concurrency;
                (full, runner.in_flight)
            })
            .map(|runner| PlannedRunner {
                id: runner.id,
                name: runner.name,
            })
    }
}

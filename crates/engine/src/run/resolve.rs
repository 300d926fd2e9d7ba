//! Stage 3, resolve: the skill a run names, or the one routing selects for its query. A query
//! routing is not confident about ends the run here (NOT_ROUTED): nothing is stored.

use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use crate::routing::{RouteRequest, Routed};

/// What a run asks to run.
#[derive(Clone, Debug)]
pub enum Target {
    SkillId(String),
    /// A natural-language request, with its routing mode and filter.
    Query(RouteRequest),
}

/// What a run's target came to.
pub(crate) enum Resolved {
    /// Run this skill; the routing decision when a query chose it.
    Skill(String, Option<Routed>),
    /// A query routing did not select a skill for.
    NotRouted(Routed),
}

impl Service {
    pub(crate) async fn resolve(
        &self,
        principal: &Principal,
        target: Target,
    ) -> Result<Resolved, Error> {
        match target {
            Target::SkillId(skill_id) => Ok(Resolved::Skill(skill_id, None)),
            Target::Query(request) => {
                let routed = self.routed(principal, &request).await?;
                match &routed.decision.skill_id {
                    Some(skill_id)
                        if routed.decision.status == skillos_routing::Status::Selected =>
                    {
                        Ok(Resolved::Skill(skill_id.clone(), Some(routed)))
                    }
                    _ => Ok(Resolved::NotRouted(routed)),
                }
            }
        }
    }
}

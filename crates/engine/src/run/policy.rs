//! Stage 4, policy: the skill exists for the caller's tenant and a permission policy lets the
//! caller run it.

use crate::auth::Principal;
use crate::orchestrator::{Error, Service};
use crate::policy::Decision;
use crate::skills;

impl Service {
    /// A skill of the caller's tenant that a policy lets the caller run.
    pub async fn skill_for(
        &self,
        principal: &Principal,
        skill_id: &str,
    ) -> Result<skills::SkillView, Error> {
        let view = self.skills.get(principal, skill_id).await?;
        let decision = self.decide(principal, &view);
        if !decision.allowed {
            let skill_id = view.skill.manifest.id.to_string();
            tracing::info!(tenant = %principal.tenant, subject = %principal.subject, skill_id,
                           policy_id = %decision.policy_id, "run denied by policy");
            return Err(Error::Denied { skill_id, decision });
        }
        Ok(view)
    }

    /// The permission policies' decision on the caller running this skill.
    pub(crate) fn decide(&self, principal: &Principal, view: &skills::SkillView) -> Decision {
        let manifest = &view.skill.manifest;
        self.governance
            .policies
            .check_skill(principal, &manifest.id.to_string(), &manifest.tags)
    }
}

//! Stage 1, admit: the caller's rate limits (tenant, then principal), counted once per call
//! that does work, before anything else; and, once the skill is known, the skill's limit.

use crate::auth::Principal;
use crate::orchestrator::{Error, Service};

impl Service {
    /// The rate limits of the caller (tenant and principal): Run, RunStream, Route, EnqueueJob
    /// and the schedule calls count here first.
    pub async fn admit_caller(&self, principal: &Principal) -> Result<(), Error> {
        Ok(self.governance.limiter.check(principal, true, None).await?)
    }

    /// The rate limit of one skill, for the caller's tenant.
    pub(crate) async fn admit_skill_rate(
        &self,
        principal: &Principal,
        skill_id: &str,
    ) -> Result<(), Error> {
        Ok(self
            .governance
            .limiter
            .check(principal, false, Some(skill_id))
            .await?)
    }
}

//! Stage 8, breaker: the skill's circuit (per tenant) admits the run, or a probe when half
//! open; an open circuit refuses at once and the reservation is given back then, not later
//! (the same execution may be claimed again and reserve under the same id).

use crate::auth::Principal;
use crate::breaker::Admission;
use crate::budget::Plan;
use crate::orchestrator::{Error, Service};

impl Service {
    pub(crate) async fn admit_breaker(
        &self,
        principal: &Principal,
        skill_id: &str,
        plan: &Plan,
        abandoned: &mut super::settle::Abandoned,
    ) -> Result<Admission, Error> {
        match self
            .governance
            .breakers
            .admit(&principal.tenant, skill_id)
            .await
        {
            Ok(admission) => Ok(admission),
            Err(refused) => {
                abandoned.budgets = None;
                if let Err(error) = self
                    .governance
                    .budgets
                    .release(&principal.tenant, plan)
                    .await
                {
                    tracing::warn!(%error, "cannot release a budget reservation");
                }
                Err(refused.into())
            }
        }
    }
}

//! Stage 7, budget: the run's estimated cost is reserved on every limited budget at once, and
//! its model tier chosen; from here on every way out gives the reservation back unless the
//! run settles it (see `settle::Abandoned`).

use skillos_core::registry::Skill;
use std::time::Duration;

use crate::auth::Principal;
use crate::budget::Plan;
use crate::orchestrator::{Error, Service};

impl Service {
    pub(crate) async fn reserve_budget(
        &self,
        principal: &Principal,
        skill: &Skill,
        execution_id: &str,
        timeout: Duration,
        allowance: Option<f64>,
    ) -> Result<Plan, Error> {
        Ok(self
            .governance
            .budgets
            .reserve(principal, skill, execution_id, timeout, allowance)
            .await?)
    }
}

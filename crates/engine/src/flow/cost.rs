//! A flow run's `max_cost`: what its skill steps cost together, counted as they run.
//!
//! Before a skill step runs, the estimate it will reserve is held against what the run has
//! left: the costs of its ended steps and the estimates of those running or waiting for an
//! approval. A step whose estimate does not fit fails with FLOW_BUDGET_EXCEEDED (not retried);
//! one that fits runs with its estimate as its allowance, so it cannot pick a dearer model
//! tier. When the step ends, its hold becomes its cost as the runner reported it. A driver
//! that resumes a run counts again from the step rows: an ended step by its execution's cost,
//! an unfinished one by the most its skill may reserve.

use std::collections::HashMap;
use std::sync::Mutex;

use skillos_core::registry::Skill;
use skillos_store::{ExecutionError, FlowStep, Store};

use super::drive::server_error;
use crate::auth::Principal;
use crate::budget;
use crate::error::reason;

/// The costs and holds of one run's skill steps, by path.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    max_cost: Option<f64>,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    costs: HashMap<String, f64>,
    holds: HashMap<String, f64>,
}

impl Entries {
    fn total(&self) -> f64 {
        self.costs.values().chain(self.holds.values()).sum()
    }
}

impl Ledger {
    /// A ledger for a run whose flow sets `max_cost`; without one, every step fits.
    pub fn new(max_cost: Option<f64>) -> Self {
        Self {
            max_cost,
            entries: Mutex::default(),
        }
    }

    /// Counts what the run's stored skill steps cost or may still cost.
    pub async fn load(
        &self,
        store: &dyn Store,
        principal: &Principal,
        rows: &[FlowStep],
        skill_of: impl Fn(&str) -> Option<std::sync::Arc<Skill>>,
    ) -> Result<(), skillos_store::Error> {
        if self.max_cost.is_none() {
            return Ok(());
        }
        let mut entries = Entries::default();
        for row in rows.iter().filter(|row| row.kind == "skill") {
            let Some(id) = &row.execution_id else {
                continue;
            };
            match store.get_execution(&principal.tenant, id).await? {
                Some(execution) if execution.status.is_terminal() => {
                    entries.costs.insert(row.path.clone(), execution.cost);
                }
                Some(_) => {
                    let most =
                        skill_of(&row.skill_id).map_or(0.0, |skill| budget::most_estimate(&skill));
                    entries.holds.insert(row.path.clone(), most);
                }
                None => {}
            }
        }
        *self.entries.lock().expect("ledger lock") = entries;
        Ok(())
    }

    /// Holds the estimate of the step at `path` against what the run has left; the step's
    /// allowance, or FLOW_BUDGET_EXCEEDED. A step already held (waiting for its approval)
    /// keeps its hold.
    pub fn hold(&self, path: &str, skill: &Skill) -> Result<Option<f64>, ExecutionError> {
        let Some(max_cost) = self.max_cost else {
            return Ok(None);
        };
        let mut entries = self.entries.lock().expect("ledger lock");
        entries.costs.remove(path);
        entries.holds.remove(path);
        let left = (max_cost - entries.total()).max(0.0);
        match budget::estimate_within(skill, left) {
            Some(estimate) => {
                entries.holds.insert(path.to_owned(), estimate);
                Ok(Some(estimate))
            }
            None => Err(server_error(
                reason::FLOW_BUDGET_EXCEEDED.name,
                &format!(
                    "the run's max_cost of {max_cost} leaves {} for step {path}, estimated at {}",
                    budget::units(left),
                    budget::most_estimate(skill)
                ),
                false,
            )),
        }
    }

    /// The step at `path` ended: its hold becomes `cost`.
    pub fn ended(&self, path: &str, cost: f64) {
        if self.max_cost.is_none() {
            return;
        }
        let mut entries = self.entries.lock().expect("ledger lock");
        entries.holds.remove(path);
        entries.costs.insert(path.to_owned(), cost);
    }

    /// The step at `path` did not run (it waits to be tried again): its hold goes.
    pub fn release(&self, path: &str) {
        if self.max_cost.is_none() {
            return;
        }
        self.entries.lock().expect("ledger lock").holds.remove(path);
    }

    /// What the run's steps cost so far, and what those running may still cost.
    #[cfg(test)]
    fn counted(&self) -> f64 {
        self.entries.lock().expect("ledger lock").total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn skill(costs: &str) -> Skill {
        let text = format!(
            "id: a/priced\nname: Priced\ndescription: costs something\nversion: 1.0.0\nentrypoint: a:run\n{costs}"
        );
        let manifest = skillos_core::manifest::parse(&text)
            .manifest
            .expect("a manifest");
        Skill {
            manifest,
            source_path: String::new(),
            composition: None,
            flow: None,
        }
    }

    #[test]
    fn steps_fit_until_the_run_has_spent_its_max_cost() {
        let ledger = Ledger::new(Some(1.0));
        let dear = skill("cost_estimate: 0.4\n");
        assert_eq!(ledger.hold("one", &dear).unwrap(), Some(0.4));
        assert_eq!(ledger.hold("two", &dear).unwrap(), Some(0.4));
        // Two held: 0.2 left, less than a third's estimate.
        let error = ledger.hold("three", &dear).unwrap_err();
        assert_eq!(error.code, "FLOW_BUDGET_EXCEEDED");
        assert!(!error.is_retryable());
        // The first cost less than its estimate: the third fits now.
        ledger.ended("one", 0.1);
        assert_eq!(ledger.hold("three", &dear).unwrap(), Some(0.4));
        assert!((ledger.counted() - 0.9).abs() < 1e-9);
        // A step that did not run gives its hold back; one tried again is held once.
        ledger.release("two");
        assert_eq!(ledger.hold("three", &dear).unwrap(), Some(0.4));
        assert!((ledger.counted() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn a_step_too_dear_for_its_preferred_tier_takes_the_cheapest() {
        let ledger = Ledger::new(Some(0.5));
        let tiered = skill(
            "model_tiers:\n- {name: large, cost_estimate: 0.8}\n- {name: small, cost_estimate: 0.2}\n",
        );
        assert_eq!(ledger.hold("one", &tiered).unwrap(), Some(0.2));
        assert_eq!(ledger.hold("two", &tiered).unwrap(), Some(0.2));
        assert!(ledger.hold("three", &tiered).is_err());
        let unlimited = Ledger::new(None);
        assert_eq!(unlimited.hold("one", &tiered).unwrap(), None);
    }
}

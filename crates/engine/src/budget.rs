//! Budgets: spending limits per tenant, principal and skill, per request, UTC day, UTC month
//! and in total.
//!
//! Before a run is dispatched its estimated cost is reserved on every budget window that has a
//! limit, in one store transaction that refuses (and changes nothing) when any would go over.
//! The reservation is settled with the cost the runner reports when the run succeeds (a runner
//! that reports none is charged the estimate), and released when it fails, is cancelled or
//! times out. A reservation whose run never reported (its replica died) expires a minute after
//! the run's deadline. A refused or denied call is never charged.
//!
//! Limits come from the configuration (defaults per scope and period) or from SetBudget, which
//! overrides them per tenant. A window's counter is made when a limit first applies to it,
//! starting from the usage already settled in the window, so a limit set mid-month counts the
//! month's earlier spending.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use skillos_core::registry::Skill;
use skillos_store::{
    AuditEvent, BudgetKey, BudgetLimit, Counter, CounterKey, Reservation, ReserveCheck, Settlement,
    Store, TenantId, UsageDelta,
};

use crate::auth::Principal;

/// Default budget limits (BudgetService.SetBudget overrides them per tenant).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Limits that apply to every tenant, principal or skill without one of its own.
    pub defaults: Vec<DefaultLimit>,
    /// A run picks a skill's cheapest model tier when, after it, less than this fraction of a
    /// limit would remain.
    pub low_remaining_fraction: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            defaults: Vec::new(),
            low_remaining_fraction: 0.1,
        }
    }
}

/// One default limit: `scope` tenant, principal or skill; `period` request, day, month or
/// total.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultLimit {
    pub scope: String,
    pub period: String,
    pub limit: f64,
}

/// An amount without the noise of binary fractions (0.25 - 0.2 shows as 0.05).
pub fn units(amount: f64) -> f64 {
    (amount * 1e9).round() / 1e9
}

/// How long after a run's deadline its reservation is released if nothing settled it.
const RESERVATION_GRACE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Tenant,
    Principal,
    Skill,
}

impl Scope {
    pub const ALL: [Self; 3] = [Self::Tenant, Self::Principal, Self::Skill];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Principal => "principal",
            Self::Skill => "skill",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Request,
    Day,
    Month,
    Total,
}

impl Period {
    pub const ALL: [Self; 4] = [Self::Request, Self::Day, Self::Month, Self::Total];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Day => "day",
            Self::Month => "month",
            Self::Total => "total",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|period| period.as_str() == text)
    }

    /// The window `at` falls in; `None` for per-request limits, which have no counter.
    pub fn window(self, at: DateTime<Utc>) -> Option<String> {
        match self {
            Self::Request => None,
            Self::Day => Some(at.format("%Y-%m-%d").to_string()),
            Self::Month => Some(at.format("%Y-%m").to_string()),
            Self::Total => Some("total".to_owned()),
        }
    }

    /// The counter of budget `budget` for the window `at` falls in; `None` for per-request
    /// limits.
    pub fn counter(self, budget: BudgetKey, at: DateTime<Utc>) -> Option<CounterKey> {
        let window = self.window(at)?;
        let (from_day, to_day) = match self.bounds(at) {
            Some((start, end)) => (
                start.format("%Y-%m-%d").to_string(),
                end.format("%Y-%m-%d").to_string(),
            ),
            None => ("0000-00-00".to_owned(), "9999-99-99".to_owned()),
        };
        Some(CounterKey {
            budget,
            window,
            from_day,
            to_day,
        })
    }

    /// Start and end (exclusive) of the window `at` falls in, for DAY and MONTH.
    pub fn bounds(self, at: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let day = at.date_naive();
        let (start, end) = match self {
            Self::Day => (day, day.succ_opt()?),
            Self::Month => {
                let start = day.with_day(1)?;
                let end = if start.month() == 12 {
                    start.with_year(start.year() + 1)?.with_month(1)?
                } else {
                    start.with_month(start.month() + 1)?
                };
                (start, end)
            }
            Self::Request | Self::Total => return None,
        };
        Some((
            start.and_hms_opt(0, 0, 0)?.and_utc(),
            end.and_hms_opt(0, 0, 0)?.and_utc(),
        ))
    }
}

/// Where a limit comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Config,
    Api,
}

/// The limit of one budget, if any, with its origin and when it was set through the API.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    pub amount: f64,
    pub source: Source,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A budget as GetBudget shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetView {
    pub scope: Scope,
    pub scope_key: String,
    pub period: Period,
    pub limit: Option<Limit>,
    pub spent: f64,
    pub reserved: f64,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl BudgetView {
    pub fn remaining(&self) -> Option<f64> {
        let limit = self.limit.as_ref()?;
        Some(units((limit.amount - self.spent - self.reserved).max(0.0)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "budget exceeded: the {} {} limit{} is {limit}, and {remaining} remains for a run estimated at {estimate}",
        scope.as_str(), period.as_str(),
        if scope_key.is_empty() { String::new() } else { format!(" of {scope_key}") }
    )]
    Exceeded {
        scope: Scope,
        scope_key: String,
        period: Period,
        limit: f64,
        remaining: f64,
        estimate: f64,
    },
    /// A flow step past what its run's `max_cost` leaves.
    #[error(
        "the flow run's max_cost leaves {allowance} for a run estimated at {estimate}",
        allowance = units(*allowance)
    )]
    OverAllowance { allowance: f64, estimate: f64 },
    #[error(transparent)]
    Store(#[from] skillos_store::Error),
}

/// The estimate a run of `skill` reserves when it may cost at most `allowance` (a flow step's
/// share of its run's `max_cost`): its preferred model tier's, else its cheapest's when the
/// preferred one costs more; `None` when even that costs more.
pub fn estimate_within(skill: &Skill, allowance: f64) -> Option<f64> {
    let manifest = &skill.manifest;
    let preferred = manifest
        .model_tiers
        .first()
        .map(|tier| tier.cost_estimate)
        .or(manifest.cost_estimate)
        .unwrap_or(0.0);
    let cheapest = manifest
        .model_tiers
        .iter()
        .map(|tier| tier.cost_estimate)
        .min_by(f64::total_cmp)
        .unwrap_or(preferred);
    [preferred, cheapest]
        .into_iter()
        .find(|estimate| *estimate <= allowance + 1e-9)
}

/// The most a run of `skill` may reserve, whichever tier it picks.
pub fn most_estimate(skill: &Skill) -> f64 {
    let manifest = &skill.manifest;
    manifest
        .model_tiers
        .iter()
        .map(|tier| tier.cost_estimate)
        .chain(manifest.cost_estimate)
        .fold(0.0, f64::max)
}

/// What was reserved for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub reservation_id: String,
    /// The estimate reserved (of the chosen tier).
    pub estimate: f64,
    /// The model tier passed to the runner.
    pub tier: Option<String>,
    /// False when no windowed limit applied: nothing to settle but usage.
    pub reserved: bool,
}

/// One windowed limit a run would reserve on.
#[derive(Clone, Debug)]
pub struct Window {
    pub counter: CounterKey,
    pub limit: f64,
    pub scope: Scope,
    pub key: String,
    pub period: Period,
}

impl Window {
    fn exceeded(&self, counter: &Counter, estimate: f64) -> Error {
        Error::Exceeded {
            scope: self.scope,
            scope_key: self.key.clone(),
            period: self.period,
            limit: self.limit,
            remaining: units((self.limit - counter.spent - counter.reserved).max(0.0)),
            estimate,
        }
    }
}

/// What a run would reserve, read without reserving.
#[derive(Clone, Debug)]
pub struct Quote {
    /// The estimate of the chosen tier.
    pub estimate: f64,
    pub tier: Option<String>,
    pub windows: Vec<Window>,
    /// The counters of `windows`, in order, as read.
    pub counters: Vec<Counter>,
}

impl Quote {
    /// BUDGET_EXCEEDED when a window, as read, has less left than the estimate (what a
    /// reservation would meet unless other runs settle first).
    pub fn check(&self) -> Result<(), Error> {
        for (window, counter) in self.windows.iter().zip(&self.counters) {
            if window.limit - counter.spent - counter.reserved + 1e-9 < self.estimate {
                return Err(window.exceeded(counter, self.estimate));
            }
        }
        Ok(())
    }
}

/// How long a replica trusts its copy of a tenant's API limits (a limit set on another replica
/// applies here within this time; on this replica at once).
const LIMITS_TTL: Duration = Duration::from_secs(1);

type LimitsCache = HashMap<TenantId, (Instant, Arc<Vec<BudgetLimit>>)>;

#[derive(Clone, Debug)]
pub struct Service {
    store: Arc<dyn Store>,
    config: Options,
    limits: Arc<Mutex<LimitsCache>>,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, config: Options) -> Self {
        Self {
            store,
            config,
            limits: Arc::default(),
        }
    }

    /// The tenant's API limits, read at most once per [`LIMITS_TTL`].
    async fn api_limits(&self, tenant: &TenantId) -> Result<Arc<Vec<BudgetLimit>>, Error> {
        if let Some((at, limits)) = self
            .limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            && at.elapsed() < LIMITS_TTL
        {
            return Ok(limits.clone());
        }
        let limits = Arc::new(self.store.budget_limits(tenant).await?);
        let mut cache = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(tenant.clone(), (Instant::now(), limits.clone()));
        Ok(limits)
    }

    fn key(scope: Scope, scope_key: &str, period: Period) -> BudgetKey {
        BudgetKey {
            scope: scope.as_str().to_owned(),
            scope_key: scope_key.to_owned(),
            period: period.as_str().to_owned(),
        }
    }

    fn config_limit(&self, scope: Scope, period: Period) -> Option<f64> {
        self.config
            .defaults
            .iter()
            .find(|default| default.scope == scope.as_str() && default.period == period.as_str())
            .map(|default| default.limit)
    }

    /// The limit of one budget: set through the API, else the configuration's default.
    fn limit(
        &self,
        api: &[BudgetLimit],
        scope: Scope,
        scope_key: &str,
        period: Period,
    ) -> Option<Limit> {
        let key = Self::key(scope, scope_key, period);
        match api.iter().find(|limit| limit.key == key) {
            Some(set) => Some(Limit {
                amount: set.amount,
                source: Source::Api,
                updated_at: Some(set.updated_at),
            }),
            None => self.config_limit(scope, period).map(|amount| Limit {
                amount,
                source: Source::Config,
                updated_at: None,
            }),
        }
    }

    /// Every (scope, key, period) with a limit that applies to a run, and the limit.
    async fn applicable(
        &self,
        principal: &Principal,
        skill_id: &str,
    ) -> Result<Vec<(Scope, String, Period, f64)>, Error> {
        let api = self.api_limits(&principal.tenant).await?;
        let mut out = Vec::new();
        for scope in Scope::ALL {
            let scope_key = match scope {
                Scope::Tenant => "",
                Scope::Principal => principal.subject.as_str(),
                Scope::Skill => skill_id,
            };
            for period in Period::ALL {
                if let Some(limit) = self.limit(&api, scope, scope_key, period) {
                    out.push((scope, scope_key.to_owned(), period, limit.amount));
                }
            }
        }
        Ok(out)
    }

    /// What a run of `skill` would reserve now: the model tier, its estimate, and the windowed
    /// limits that apply with their counters. A per-request limit the estimate passes refuses
    /// here; windows are checked when reserving (atomically) or by [`Quote::check`].
    /// `allowance`: the most the run may cost (a flow step's share of its run's `max_cost`).
    pub async fn quote(
        &self,
        principal: &Principal,
        skill: &Skill,
        allowance: Option<f64>,
    ) -> Result<Quote, Error> {
        let manifest = &skill.manifest;
        let skill_id = manifest.id.to_string();
        let now = skillos_store::now();
        let tiers = &manifest.model_tiers;
        let preferred = tiers.first();
        let cheapest = tiers
            .iter()
            .min_by(|a, b| a.cost_estimate.total_cmp(&b.cost_estimate));
        let base = preferred
            .map(|tier| tier.cost_estimate)
            .or(manifest.cost_estimate)
            .unwrap_or(0.0);
        let limited = self.applicable(principal, &skill_id).await?;
        let windows: Vec<Window> = limited
            .iter()
            .filter_map(|(scope, key, period, limit)| {
                Some(Window {
                    counter: period.counter(Self::key(*scope, key, *period), now)?,
                    limit: *limit,
                    scope: *scope,
                    key: key.clone(),
                    period: *period,
                })
            })
            .collect();

        // A budget running low (or too low for the preferred tier) picks the cheapest tier.
        let mut tier = preferred;
        let counters = if windows.is_empty() {
            Vec::new()
        } else {
            let keys: Vec<CounterKey> = windows.iter().map(|w| w.counter.clone()).collect();
            self.store.budget_counters(&principal.tenant, &keys).await?
        };
        if let (Some(preferred), Some(cheapest)) = (preferred, cheapest)
            && preferred.name != cheapest.name
        {
            let low = windows.iter().zip(&counters).any(|(window, counter)| {
                let remaining = window.limit - counter.spent - counter.reserved;
                remaining - preferred.cost_estimate
                    < window.limit * self.config.low_remaining_fraction
            });
            let per_request_too_low = limited.iter().any(|(_, _, period, limit)| {
                *period == Period::Request && preferred.cost_estimate > *limit
            }) || allowance
                .is_some_and(|allowance| preferred.cost_estimate > allowance);
            if low || per_request_too_low {
                tier = Some(cheapest);
            }
        }
        let estimate = tier.map(|tier| tier.cost_estimate).unwrap_or(base);
        if let Some(allowance) = allowance
            && estimate > allowance + 1e-9
        {
            return Err(Error::OverAllowance {
                allowance,
                estimate,
            });
        }

        for (scope, key, period, limit) in &limited {
            if *period == Period::Request && estimate > *limit + 1e-9 {
                return Err(Error::Exceeded {
                    scope: *scope,
                    scope_key: key.clone(),
                    period: *period,
                    limit: *limit,
                    remaining: *limit,
                    estimate,
                });
            }
        }
        Ok(Quote {
            estimate,
            tier: tier.map(|tier| tier.name.clone()),
            windows,
            counters,
        })
    }

    /// Reserves the run's estimated cost on every limited budget, choosing the model tier.
    pub async fn reserve(
        &self,
        principal: &Principal,
        skill: &Skill,
        execution_id: &str,
        deadline: Duration,
        allowance: Option<f64>,
    ) -> Result<Plan, Error> {
        let Quote {
            estimate,
            tier,
            windows,
            ..
        } = self.quote(principal, skill, allowance).await?;
        let now = skillos_store::now();
        let plan = Plan {
            reservation_id: execution_id.to_owned(),
            estimate,
            tier,
            reserved: !windows.is_empty(),
        };
        if windows.is_empty() {
            return Ok(plan);
        }
        let expires_at = now
            + chrono::Duration::from_std(deadline + RESERVATION_GRACE)
                .unwrap_or(chrono::Duration::days(1));
        let reservation = Reservation {
            id: execution_id.to_owned(),
            tenant_id: principal.tenant.clone(),
            amount: estimate,
            counters: windows.iter().map(|w| w.counter.clone()).collect(),
            expires_at,
            created_at: now,
        };
        let checks: Vec<ReserveCheck> = windows
            .iter()
            .map(|window| ReserveCheck {
                counter: window.counter.clone(),
                limit: window.limit,
            })
            .collect();
        match self.store.reserve_budget(&reservation, &checks).await? {
            None => Ok(plan),
            Some(index) => {
                let window = &windows[index];
                let now_counter = self
                    .store
                    .budget_counters(&principal.tenant, std::slice::from_ref(&window.counter))
                    .await?
                    .pop()
                    .unwrap_or_default();
                Err(window.exceeded(&now_counter, estimate))
            }
        }
    }

    /// What finishing a run settles: a succeeded run is charged the cost its runner reported
    /// (the estimate when it reported none) and its usage recorded; any other end releases the
    /// reservation. Written with the execution's final state in one transaction.
    pub fn settlement(
        &self,
        principal: &Principal,
        skill_id: &str,
        plan: &Plan,
        succeeded: Option<&crate::dispatch::Usage>,
    ) -> Settlement {
        let reservation_id = plan.reserved.then(|| plan.reservation_id.clone());
        let Some(usage) = succeeded else {
            return Settlement {
                reservation_id,
                spent: None,
                usage: None,
                job: None,
            };
        };
        let cost = if usage.cost > 0.0 {
            usage.cost
        } else {
            plan.estimate
        };
        // Usage counts runs that settled a cost or reported tokens.
        let counted = cost > 0.0 || usage.input_tokens > 0 || usage.output_tokens > 0;
        Settlement {
            reservation_id,
            spent: Some(cost),
            usage: counted.then(|| UsageDelta {
                day: skillos_store::now().format("%Y-%m-%d").to_string(),
                skill_id: skill_id.to_owned(),
                principal: principal.subject.clone(),
                cost,
                input_tokens: i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                output_tokens: i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
            }),
            job: None,
        }
    }

    /// Gives a reservation back (failure, cancellation, timeout, refusal after reserving).
    pub async fn release(&self, tenant: &TenantId, plan: &Plan) -> Result<(), Error> {
        if plan.reserved {
            self.store
                .settle_budget(tenant, &plan.reservation_id, None, None)
                .await?;
        }
        Ok(())
    }

    /// Releases reservations whose runs never reported; returns how many.
    pub async fn expire(&self) -> Result<usize, Error> {
        let expired = self
            .store
            .expired_reservations(skillos_store::now(), 500)
            .await?;
        let mut released = 0;
        for (tenant, id) in expired {
            if self.store.settle_budget(&tenant, &id, None, None).await? {
                released += 1;
            }
        }
        if released > 0 {
            tracing::warn!(
                released,
                "released budget reservations of runs that never reported"
            );
        }
        Ok(released)
    }

    /// Settled usage rows of a tenant.
    pub async fn usage(
        &self,
        tenant: &TenantId,
        filter: &skillos_store::UsageFilter,
    ) -> Result<Vec<skillos_store::UsageRow>, Error> {
        Ok(self.store.list_usage(tenant, filter).await?)
    }

    /// One budget with its current window.
    pub async fn view(
        &self,
        principal: &Principal,
        scope: Scope,
        scope_key: &str,
        period: Period,
    ) -> Result<BudgetView, Error> {
        let api = self.api_limits(&principal.tenant).await?;
        let limit = self.limit(&api, scope, scope_key, period);
        let now = skillos_store::now();
        let (spent, reserved) = match period.counter(Self::key(scope, scope_key, period), now) {
            Some(counter) => {
                let counter = self
                    .store
                    .budget_counters(&principal.tenant, &[counter])
                    .await?
                    .pop()
                    .unwrap_or_default();
                (units(counter.spent), units(counter.reserved))
            }
            None => (0.0, 0.0),
        };
        Ok(BudgetView {
            scope,
            scope_key: scope_key.to_owned(),
            period,
            limit,
            spent,
            reserved,
            window: period.bounds(now),
        })
    }

    /// Sets or removes (`None`) the API limit of one budget.
    pub async fn set(
        &self,
        principal: &Principal,
        scope: Scope,
        scope_key: &str,
        period: Period,
        amount: Option<f64>,
    ) -> Result<(), Error> {
        let key = Self::key(scope, scope_key, period);
        let audit = AuditEvent::now(
            &principal.tenant,
            &principal.subject,
            if amount.is_some() {
                "budget.limit_set"
            } else {
                "budget.limit_removed"
            },
            &format!("{}:{}:{}", key.scope, key.scope_key, key.period),
            serde_json::json!({"limit": amount}),
        );
        self.store
            .put_budget_limit(&principal.tenant, &key, amount, &principal.subject, &audit)
            .await?;
        self.limits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&principal.tenant);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn windows_and_bounds_are_utc_calendar_periods() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(Period::Day.window(at).unwrap(), "2026-12-31");
        assert_eq!(Period::Month.window(at).unwrap(), "2026-12");
        assert_eq!(Period::Total.window(at).unwrap(), "total");
        assert_eq!(Period::Request.window(at), None);
        let (start, end) = Period::Month.bounds(at).unwrap();
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap());
        let (start, end) = Period::Day.bounds(at).unwrap();
        assert_eq!(end - start, chrono::Duration::days(1));
    }
}

//! gRPC adapter of `skillos.v1.BudgetService`; the logic lives in [`skillos_engine::budget`].

use std::collections::BTreeMap;
use std::sync::Arc;

use skillos_proto::v1::{self, budget_service_server::BudgetService};
use skillos_store::UsageFilter;
use tonic::{Request, Response, Status};

use super::convert;
use crate::auth::{self, Principal};
use crate::error::{IntoStatus, invalid_field};
use skillos_engine::budget::{self, BudgetView, Period, Scope, Source};
use skillos_engine::error::{Error, Reason, reason};
use skillos_engine::policy::{self, permission};

#[derive(Clone, Debug)]
pub struct Adapter {
    budgets: budget::Service,
    policies: Arc<policy::Service>,
    auth: auth::Authenticator,
}

impl Adapter {
    pub fn new(
        budgets: budget::Service,
        policies: Arc<policy::Service>,
        auth: auth::Authenticator,
    ) -> Self {
        Self {
            budgets,
            policies,
            auth,
        }
    }

    fn require(&self, principal: &Principal, permission: &str) -> Result<(), Status> {
        let decision = self.policies.check_permission(principal, permission);
        if decision.allowed {
            return Ok(());
        }
        Err(Error::new(reason::POLICY_DENIED, decision.reason)
            .with("policy_id", decision.policy_id)
            .with("missing_permissions", permission)
            .into_status())
    }
}

fn invalid(field: &str, reason: Reason, message: impl Into<String>) -> Status {
    invalid_field(reason, field, message)
}

fn internal(error: skillos_engine::budget::Error) -> Status {
    Error::internal(&error).into_status()
}

/// The scope, canonical key and period of a request.
fn budget_of(scope: i32, scope_key: &str, period: i32) -> Result<(Scope, String, Period), Status> {
    let scope = match v1::BudgetScope::try_from(scope) {
        Ok(v1::BudgetScope::Tenant) => Scope::Tenant,
        Ok(v1::BudgetScope::Principal) => Scope::Principal,
        Ok(v1::BudgetScope::Skill) => Scope::Skill,
        _ => {
            return Err(invalid(
                "scope",
                reason::INVALID_BUDGET_SCOPE,
                "scope must be TENANT, PRINCIPAL or SKILL",
            ));
        }
    };
    let period = match v1::BudgetPeriod::try_from(period) {
        Ok(v1::BudgetPeriod::PerRequest) => Period::Request,
        Ok(v1::BudgetPeriod::Day) => Period::Day,
        Ok(v1::BudgetPeriod::Month) => Period::Month,
        Ok(v1::BudgetPeriod::Total) => Period::Total,
        _ => {
            return Err(invalid(
                "period",
                reason::INVALID_BUDGET_SCOPE,
                "period must be PER_REQUEST, DAY, MONTH or TOTAL",
            ));
        }
    };
    let key = scope_key.trim();
    let key = match scope {
        Scope::Tenant if key.is_empty() => String::new(),
        Scope::Tenant => {
            return Err(invalid(
                "scope_key",
                reason::INVALID_BUDGET_SCOPE,
                "scope_key must be empty for TENANT",
            ));
        }
        _ if key.is_empty() => {
            return Err(invalid(
                "scope_key",
                reason::INVALID_BUDGET_SCOPE,
                "scope_key (a principal's subject or a skill id) is required",
            ));
        }
        Scope::Skill => skillos_core::SkillId::parse(key)
            .map_err(|error| invalid("skill_id", reason::INVALID_SKILL_ID, error.to_string()))?
            .to_string(),
        Scope::Principal => key.to_owned(),
    };
    Ok((scope, key, period))
}

fn budget_message(view: &BudgetView) -> v1::Budget {
    let scope = match view.scope {
        Scope::Tenant => v1::BudgetScope::Tenant,
        Scope::Principal => v1::BudgetScope::Principal,
        Scope::Skill => v1::BudgetScope::Skill,
    };
    let period = match view.period {
        Period::Request => v1::BudgetPeriod::PerRequest,
        Period::Day => v1::BudgetPeriod::Day,
        Period::Month => v1::BudgetPeriod::Month,
        Period::Total => v1::BudgetPeriod::Total,
    };
    let source = match view.limit.as_ref().map(|limit| limit.source) {
        None => v1::BudgetLimitSource::Unspecified,
        Some(Source::Config) => v1::BudgetLimitSource::Config,
        Some(Source::Api) => v1::BudgetLimitSource::Api,
    };
    let remaining = if view.period == Period::Request {
        view.limit.as_ref().map(|limit| limit.amount)
    } else {
        view.remaining()
    };
    v1::Budget {
        scope: scope as i32,
        scope_key: view.scope_key.clone(),
        period: period as i32,
        limit: view.limit.as_ref().map(|limit| limit.amount),
        limit_source: source as i32,
        spent: view.spent,
        reserved: view.reserved,
        remaining,
        period_start_time: view.window.map(|(start, _)| convert::timestamp(start)),
        period_end_time: view.window.map(|(_, end)| convert::timestamp(end)),
        update_time: view
            .limit
            .as_ref()
            .and_then(|limit| limit.updated_at)
            .map(convert::timestamp),
    }
}

#[tonic::async_trait]
impl BudgetService for Adapter {
    async fn get_budget(
        &self,
        request: Request<v1::GetBudgetRequest>,
    ) -> Result<Response<v1::GetBudgetResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let (scope, key, period) = budget_of(request.scope, &request.scope_key, request.period)?;
        let own = scope == Scope::Tenant || (scope == Scope::Principal && key == principal.subject);
        if !own {
            self.require(&principal, permission::BUDGETS_READ)?;
        }
        let view = self
            .budgets
            .view(&principal, scope, &key, period)
            .await
            .map_err(internal)?;
        Ok(Response::new(v1::GetBudgetResponse {
            budget: Some(budget_message(&view)),
        }))
    }

    async fn set_budget(
        &self,
        request: Request<v1::SetBudgetRequest>,
    ) -> Result<Response<v1::SetBudgetResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        self.require(&principal, permission::BUDGETS_WRITE)?;
        let request = request.into_inner();
        let (scope, key, period) = budget_of(request.scope, &request.scope_key, request.period)?;
        if let Some(limit) = request.limit
            && !(limit.is_finite() && limit >= 0.0)
        {
            return Err(invalid(
                "limit",
                reason::INVALID_BUDGET_LIMIT,
                "limit must be a finite number >= 0 (unset removes it)",
            ));
        }
        self.budgets
            .set(&principal, scope, &key, period, request.limit)
            .await
            .map_err(internal)?;
        let view = self
            .budgets
            .view(&principal, scope, &key, period)
            .await
            .map_err(internal)?;
        Ok(Response::new(v1::SetBudgetResponse {
            budget: Some(budget_message(&view)),
        }))
    }

    async fn list_usage(
        &self,
        request: Request<v1::ListUsageRequest>,
    ) -> Result<Response<v1::ListUsageResponse>, Status> {
        let principal = self.auth.grpc(&request).await?;
        let request = request.into_inner();
        let subject = request.principal_subject.trim().to_owned();
        if subject != principal.subject {
            self.require(&principal, permission::BUDGETS_READ)?;
        }
        let page_size = skillos_engine::page::size(request.page_size).ok_or_else(|| {
            invalid(
                "page_size",
                reason::INVALID_PAGE_SIZE,
                "page_size must be between 0 and 1000",
            )
        })? as usize;
        let offset = match request.page_token.as_str() {
            "" => 0,
            token => token.parse::<usize>().map_err(|_| {
                invalid(
                    "page_token",
                    reason::INVALID_PAGE_TOKEN,
                    "pass the next_page_token of the previous response",
                )
            })?,
        };
        let skill_id = match request.skill_id.trim() {
            "" => None,
            id => Some(
                skillos_core::SkillId::parse(id)
                    .map_err(|error| {
                        invalid("skill_id", reason::INVALID_SKILL_ID, error.to_string())
                    })?
                    .to_string(),
            ),
        };
        let day = |time: Option<prost_types::Timestamp>| -> Option<String> {
            let time = time?;
            let time = super::convert::time(&prost_types::Timestamp { nanos: 0, ..time })?;
            Some(time.format("%Y-%m-%d").to_string())
        };
        let (from_day, to_day) = (day(request.start_time), day(request.end_time));
        if let (Some(from), Some(to)) = (&from_day, &to_day)
            && from >= to
        {
            return Err(invalid(
                "start_time",
                reason::INVALID_REQUEST,
                "start_time must be before end_time",
            ));
        }
        let filter = UsageFilter {
            from_day,
            to_day,
            skill_id,
            principal: Some(subject).filter(|s| !s.is_empty()),
        };
        let rows = self
            .budgets
            .usage(&principal.tenant, &filter)
            .await
            .map_err(internal)?;
        let monthly = request.granularity() == v1::UsageGranularity::Month;
        // (period start, skill, principal) -> sums; newest period first.
        let mut records: BTreeMap<(std::cmp::Reverse<String>, String, String), v1::UsageRecord> =
            BTreeMap::new();
        let mut totals = v1::UsageTotals::default();
        for row in rows {
            let period = if monthly {
                format!("{}-01", &row.day[..7])
            } else {
                row.day.clone()
            };
            totals.execution_count += row.executions;
            totals.cost += row.cost;
            totals.input_tokens += row.input_tokens;
            totals.output_tokens += row.output_tokens;
            let start = chrono::NaiveDate::parse_from_str(&period, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .map(|time| convert::timestamp(time.and_utc()));
            let record = records
                .entry((
                    std::cmp::Reverse(period),
                    row.skill_id.clone(),
                    row.principal.clone(),
                ))
                .or_insert_with(|| v1::UsageRecord {
                    period_start_time: start,
                    skill_id: row.skill_id.clone(),
                    principal_subject: row.principal.clone(),
                    ..Default::default()
                });
            record.execution_count += row.executions;
            record.cost += row.cost;
            record.input_tokens += row.input_tokens;
            record.output_tokens += row.output_tokens;
        }
        let total = records.len();
        let page: Vec<v1::UsageRecord> =
            records.into_values().skip(offset).take(page_size).collect();
        let next = offset + page.len();
        Ok(Response::new(v1::ListUsageResponse {
            records: page,
            next_page_token: if next < total {
                next.to_string()
            } else {
                String::new()
            },
            totals: Some(totals),
        }))
    }
}

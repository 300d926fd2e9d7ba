//! `skillos budgets get|set|usage`: budgets and usage of the caller's tenant, through the server.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use skillos_proto::v1::{self, budget_service_client::BudgetServiceClient};

use super::ServerArg;
use super::client::{connect, status_failure};
use super::output::{Failure, print_json, table};

#[derive(Debug, Args)]
pub struct BudgetsArgs {
    #[command(flatten)]
    server: ServerArg,
    #[command(subcommand)]
    command: BudgetsCommand,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScopeArg {
    Tenant,
    Principal,
    Skill,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PeriodArg {
    Request,
    Day,
    Month,
    Total,
}

#[derive(Debug, Args)]
struct Which {
    /// Who the budget limits.
    #[arg(long, value_enum)]
    scope: ScopeArg,
    /// The principal's subject or the skill id (not for tenant).
    #[arg(long, default_value = "")]
    key: String,
    /// The period the limit applies to.
    #[arg(long, value_enum)]
    period: PeriodArg,
}

#[derive(Debug, Subcommand)]
enum BudgetsCommand {
    /// Show a budget: its limit, what is spent and reserved, and what remains.
    Get(Which),
    /// Set a limit (or remove it with --clear, so the configuration's default applies).
    Set {
        #[command(flatten)]
        which: Which,
        /// The limit in budget units.
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        limit: Option<f64>,
        #[arg(long)]
        clear: bool,
    },
    /// Settled usage per day (or month), skill and principal.
    Usage {
        /// Aggregate per month instead of per day.
        #[arg(long)]
        monthly: bool,
        /// Only this skill.
        #[arg(long)]
        skill: Option<String>,
        /// Only this principal.
        #[arg(long)]
        principal: Option<String>,
    },
}

fn scope(arg: ScopeArg) -> i32 {
    match arg {
        ScopeArg::Tenant => v1::BudgetScope::Tenant as i32,
        ScopeArg::Principal => v1::BudgetScope::Principal as i32,
        ScopeArg::Skill => v1::BudgetScope::Skill as i32,
    }
}

fn period(arg: PeriodArg) -> i32 {
    match arg {
        PeriodArg::Request => v1::BudgetPeriod::PerRequest as i32,
        PeriodArg::Day => v1::BudgetPeriod::Day as i32,
        PeriodArg::Month => v1::BudgetPeriod::Month as i32,
        PeriodArg::Total => v1::BudgetPeriod::Total as i32,
    }
}

fn print_budget(budget: &v1::Budget, json: bool) {
    let limit = budget
        .limit
        .map(|l| l.to_string())
        .unwrap_or_else(|| "none".to_owned());
    let remaining = budget
        .remaining
        .map(|r| r.to_string())
        .unwrap_or_else(|| "-".to_owned());
    if json {
        print_json(&json!({
            "scope": budget.scope().as_str_name(),
            "scope_key": budget.scope_key,
            "period": budget.period().as_str_name(),
            "limit": budget.limit,
            "limit_source": budget.limit_source().as_str_name(),
            "spent": budget.spent,
            "reserved": budget.reserved,
            "remaining": budget.remaining,
        }));
    } else {
        outln!(
            "{}",
            table(
                ["limit", "spent", "reserved", "remaining"],
                [[
                    limit,
                    budget.spent.to_string(),
                    budget.reserved.to_string(),
                    remaining
                ]]
            )
        );
    }
}

pub async fn budgets(args: BudgetsArgs, json: bool) -> Result<(), Failure> {
    let mut client = BudgetServiceClient::new(connect(&args.server).await?);
    match args.command {
        BudgetsCommand::Get(which) => {
            let budget = client
                .get_budget(v1::GetBudgetRequest {
                    scope: scope(which.scope),
                    scope_key: which.key,
                    period: period(which.period),
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .budget
                .unwrap_or_default();
            print_budget(&budget, json);
        }
        BudgetsCommand::Set {
            which,
            limit,
            clear,
        } => {
            let budget = client
                .set_budget(v1::SetBudgetRequest {
                    scope: scope(which.scope),
                    scope_key: which.key,
                    period: period(which.period),
                    limit: if clear { None } else { limit },
                })
                .await
                .map_err(status_failure)?
                .into_inner()
                .budget
                .unwrap_or_default();
            print_budget(&budget, json);
        }
        BudgetsCommand::Usage {
            monthly,
            skill,
            principal,
        } => {
            let mut records = Vec::new();
            let mut page_token = String::new();
            let totals = loop {
                let page = client
                    .list_usage(v1::ListUsageRequest {
                        granularity: if monthly {
                            v1::UsageGranularity::Month as i32
                        } else {
                            v1::UsageGranularity::Day as i32
                        },
                        skill_id: skill.clone().unwrap_or_default(),
                        principal_subject: principal.clone().unwrap_or_default(),
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
                    .map_err(status_failure)?
                    .into_inner();
                records.extend(page.records);
                if page.next_page_token.is_empty() {
                    break page.totals.unwrap_or_default();
                }
                page_token = page.next_page_token;
            };
            let period = |record: &v1::UsageRecord| {
                record
                    .period_start_time
                    .as_ref()
                    .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
                    .map(|t| {
                        t.format(if monthly { "%Y-%m" } else { "%Y-%m-%d" })
                            .to_string()
                    })
                    .unwrap_or_default()
            };
            if json {
                let records: Vec<_> = records
                    .iter()
                    .map(|r| json!({"period": period(r), "skill_id": r.skill_id, "principal": r.principal_subject,
                                    "executions": r.execution_count, "cost": r.cost,
                                    "input_tokens": r.input_tokens, "output_tokens": r.output_tokens}))
                    .collect();
                print_json(
                    &json!({"records": records, "totals": {"executions": totals.execution_count,
                    "cost": totals.cost, "input_tokens": totals.input_tokens, "output_tokens": totals.output_tokens}}),
                );
            } else {
                let rows = records.iter().map(|r| {
                    [
                        period(r),
                        r.skill_id.clone(),
                        r.principal_subject.clone(),
                        r.execution_count.to_string(),
                        r.cost.to_string(),
                    ]
                });
                outln!(
                    "{}",
                    table(["period", "skill", "principal", "runs", "cost"], rows)
                );
                outln!(
                    "total: {} runs, cost {}",
                    totals.execution_count,
                    totals.cost
                );
            }
        }
    }
    Ok(())
}

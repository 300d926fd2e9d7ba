//! SkillOS server and command-line client.

pub mod approvals;
pub mod auth;
pub mod breaker;
pub mod budget;
pub mod cli;
pub mod config;
pub mod dispatch;
pub mod error;
mod grpc;
mod http;
pub mod jobs;
mod local_runner;
mod metrics;
pub mod orchestrator;
mod page;
pub mod policy;
pub mod rate_limit;
pub mod routing;
pub mod schedules;
pub mod server;
pub mod skills;
pub mod telemetry;
pub mod webhooks;

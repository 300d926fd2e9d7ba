//! The SkillOS engine: the domain of the request path and the services built on it, with no
//! transport in it. A request, whatever door it came in by (gRPC, gRPC-web, HTTP, a webhook, a
//! job, a schedule), becomes a call on one of these services as a verified
//! [`auth::Principal`]; the server's adapters turn the answers and each [`error::Error`] into
//! their wire form.

pub mod approvals;
pub mod auth;
pub mod breaker;
pub mod budget;
pub mod dispatch;
pub mod error;
pub mod flow;
pub mod jobs;
pub mod orchestrator;
pub mod page;
pub mod policy;
pub mod rate_limit;
pub mod retention;
pub mod routing;
pub mod run;
pub mod schedules;
pub mod skills;
pub mod webhooks;

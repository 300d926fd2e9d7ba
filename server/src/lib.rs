//! SkillOS server and command-line client: the adapters (gRPC, HTTP) over the engine, the
//! configuration, the wiring that starts it all, and the CLI.

pub mod auth;
pub mod cli;
pub mod config;
mod embedders;
pub mod error;
mod grpc;
mod http;
mod local_runner;
mod metrics;
pub mod server;
pub mod telemetry;

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

/// Every binary that runs the server (the `skillos` command, the benchmarks, the tests)
/// allocates with mimalloc: the request path allocates per call from many threads, where
/// glibc's allocator spent a fifth of the CPU (docs/adr/0008-mimalloc.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

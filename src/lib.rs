//! cargo-hbuild: Cargo builds as a graph of hermetic, content-addressed
//! actions. See `docs/architecture.md` for how data flows.
//!
//! The library is the binary's engine; its public surface is what the
//! binary and the integration tests use: the CLI entry point, the cache
//! (driven directly by the remote-cache tests) and the core types.

pub(crate) mod analysis;
pub mod cache;
pub mod cli;
pub mod core;
pub(crate) mod exec;
pub(crate) mod explain;
pub(crate) mod fingerprint;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod server;
pub(crate) mod settings;
pub(crate) mod workspace;

pub use exec::job::PANIC_IN_VAR;
pub use fingerprint::KEY_SCHEMA_VERSION;

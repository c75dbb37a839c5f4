//! cargo-hbuild: Cargo builds as a graph of hermetic, content-addressed
//! actions. See `docs/architecture.md` for how data flows.

pub mod analysis;
pub mod cache;
pub mod cli;
pub mod core;
pub mod exec;
pub mod explain;
pub mod fingerprint;
pub mod plan;
pub mod report;
pub mod server;
pub mod settings;
pub mod workspace;

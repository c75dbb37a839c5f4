//! cargo-hbuild: Cargo builds as a graph of hermetic, content-addressed
//! actions. See `docs/architecture.md` for how data flows.

pub mod cache;
pub mod core;
pub mod workspace;

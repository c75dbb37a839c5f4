//! The integration test suite: one binary, one module per area.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod build;
mod cache;
mod explain;
mod explain_units;
mod layering;
mod messages;
mod mutation;
mod parity;
mod remote;
mod secrets;
mod server;
mod snapshots;

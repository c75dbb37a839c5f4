//! The integration test suite: one binary, one module per area.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod build;
mod cache;
mod config_arg;
mod doc_cmd;
mod explain;
mod explain_units;
mod flags;
mod layering;
mod lint;
mod messages;
mod mutation;
mod noop_record;
mod parity;
mod remote;
mod run_cmd;
mod secrets;
mod server;
mod snapshots;
mod test_cmd;
mod test_parity_harness;
mod timings;

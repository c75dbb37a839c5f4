//! Layer 1: what Cargo knows about the workspace, as an immutable model.
//!
//! * [`toolchain`]: rustc identity, sysroot and `--print cfg` per platform.
//! * [`config`]: `.cargo/config.toml` files, `--config` and `CARGO_*` overrides.
//! * [`config_arg`]: the `--config KEY=VALUE|PATH` arguments, checked.
//! * [`profiles`]: `[profile.*]` tables resolved per unit, as Cargo does.
//! * [`load`]: `cargo metadata` into a guppy `PackageGraph`.
//! * [`features`]: per-side feature resolution (resolver 1 and 2) with guppy;
//!   [`cli_features`] and [`dep_features`]: what `--features` asks of which package.
//! * [`rust_version`]: the `rust-version` check of the units to build.
//! * [`target_dir`]: the target dir, from flags, environment and config files.

pub mod cli_features;
pub mod config;
pub mod config_arg;
pub mod dep_features;
mod edit_distance;
pub mod errors;
pub mod features;
pub mod load;
pub mod model;
mod profile_env;
pub mod profiles;
pub mod rust_version;
mod seeds;
pub mod target_dir;
pub mod toolchain;

pub use errors::WorkspaceError;

//! `-Z` flags and the flags of `cargo build` that hbuild does not
//! implement. Cargo's own rules come first (`-Z` and unstable flags need a
//! nightly Cargo or `RUSTC_BOOTSTRAP=1`, with Cargo's messages and exit
//! code); what Cargo would accept but hbuild cannot honour is refused with
//! an error naming the flag, never ignored.

use std::collections::BTreeMap;
use std::process::Command;

use super::{Invocation, SettingsError};
use crate::settings::args::BuildArgs;
use crate::workspace::toolchain::find_cargo;

/// The `-Z` flags hbuild honours: `unstable-options` only enables flags,
/// each of which hbuild decides on by itself.
const SUPPORTED_Z: &[&str] = &["unstable-options"];

/// An unstable flag of `cargo build` with its tracking issue.
struct UnstableFlag {
    flag: &'static str,
    issue: u32,
}

/// Checks the `-Z` and unsupported flags of a build.
pub(super) fn check(args: &BuildArgs, inv: &Invocation) -> Result<(), SettingsError> {
    let unstable: Vec<UnstableFlag> = [
        args.artifact_dir.is_some().then_some(UnstableFlag {
            flag: "--artifact-dir",
            issue: 6790,
        }),
        args.unit_graph.then_some(UnstableFlag {
            flag: "--unit-graph",
            issue: 8002,
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !args.unstable_flags.is_empty() || !unstable.is_empty() {
        let channel = cargo_channel(&inv.env);
        if !allows_nightly_features(&channel) {
            if !args.unstable_flags.is_empty() {
                return Err(SettingsError::ZNeedsNightly { channel });
            }
            let f = &unstable[0];
            return Err(SettingsError::UnstableFlag {
                flag: f.flag,
                issue: f.issue,
                channel,
            });
        }
    }
    for z in &args.unstable_flags {
        let name = z.split_once('=').map_or(z.as_str(), |(n, _)| n);
        if !SUPPORTED_Z.contains(&name) {
            return Err(SettingsError::UnsupportedZ(name.to_string()));
        }
    }
    if let Some(f) = unstable.first() {
        if !args.unstable_flags.iter().any(|z| z == "unstable-options") {
            return Err(SettingsError::UnstableNeedsOption {
                flag: f.flag,
                issue: f.issue,
            });
        }
        return Err(SettingsError::Unsupported(f.flag));
    }
    if args.future_incompat_report {
        return Err(SettingsError::Unsupported("--future-incompat-report"));
    }
    Ok(())
}

/// Cargo's release channel as Cargo decides it: `dev` with
/// `RUSTC_BOOTSTRAP=1`, else the pre-release part of `cargo -V`'s version
/// (`nightly`, `beta`, `dev`), else `stable`.
fn cargo_channel(env: &BTreeMap<String, String>) -> String {
    if env.get("RUSTC_BOOTSTRAP").is_some_and(|v| v == "1") {
        return "dev".into();
    }
    let out = Command::new(find_cargo(env))
        .arg("-V")
        .env_clear()
        .envs(env)
        .output();
    let version = out
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    channel_of(&version)
}

/// The channel of a `cargo -V` line such as `cargo 1.96.0-nightly (…)`.
fn channel_of(version: &str) -> String {
    let number = version.split_whitespace().nth(1).unwrap_or("");
    match number.split_once('-') {
        Some((_, pre)) => pre.split('.').next().unwrap_or(pre).to_string(),
        None => "stable".into(),
    }
}

fn allows_nightly_features(channel: &str) -> bool {
    matches!(channel, "nightly" | "dev")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_channel_is_cargos_pre_release() {
        assert_eq!(channel_of("cargo 1.95.0 (f2d3ce0bd 2026-03-21)"), "stable");
        assert_eq!(
            channel_of("cargo 1.96.0-nightly (abc 2026-04-01)"),
            "nightly"
        );
        assert_eq!(channel_of("cargo 1.96.0-beta.3 (abc 2026-04-01)"), "beta");
        let bootstrap: BTreeMap<String, String> =
            [("RUSTC_BOOTSTRAP".to_string(), "1".to_string())].into();
        assert_eq!(cargo_channel(&bootstrap), "dev");
        assert!(allows_nightly_features("dev") && !allows_nightly_features("beta"));
    }
}

//! The remote-execution settings: the engine's URL from
//! `--remote-executor` or [`ENV_EXECUTOR`], with the remote-cache options
//! (instance name, credentials, headers, timeouts) applied to it as to the
//! cache, and the platform properties sent with every action.

use super::config::{RemoteConfig, RemoteFlags};
use crate::cache::CacheError;

/// Environment variable naming the remote-execution engine.
pub const ENV_EXECUTOR: &str = "HBUILD_REMOTE_EXECUTOR";
/// Environment variable with platform properties, `KEY=VALUE,KEY=VALUE`.
pub const ENV_PLATFORM: &str = "HBUILD_REMOTE_PLATFORM";

/// The remote-execution settings of a build.
#[derive(Clone, Debug)]
pub struct ExecConfig {
    /// The engine (`grpc://` or `grpcs://`), with the remote-cache options
    /// applied.
    pub remote: RemoteConfig,
    /// `--remote-platform KEY=VALUE` properties, sorted by name.
    pub platform: Vec<(String, String)>,
    /// `--remote-only`: no local fallback.
    pub only: bool,
    /// `--remote-build-scripts`: build-script runs go to the engine too.
    pub build_scripts: bool,
    /// `--no-cache`: the engine neither answers from its action cache nor
    /// stores the results.
    pub skip_cache: bool,
}

/// The remote-execution flags as given.
#[derive(Clone, Debug, Default)]
pub struct ExecFlags {
    /// `--remote-executor URL`.
    pub url: Option<String>,
    /// `--remote-platform KEY=VALUE` (repeatable).
    pub platform: Vec<String>,
    /// `--remote-only`.
    pub only: bool,
    /// `--remote-build-scripts`.
    pub build_scripts: bool,
    /// `--no-cache`.
    pub no_cache: bool,
}

impl ExecConfig {
    /// The engine's URL as configured: the flag over [`ENV_EXECUTOR`].
    pub fn url_of(flags: &ExecFlags, env: &impl Fn(&str) -> Option<String>) -> Option<String> {
        flags
            .url
            .clone()
            .or_else(|| env(ENV_EXECUTOR))
            .filter(|u| !u.trim().is_empty())
    }

    /// The settings from the flags and an environment lookup; `Ok(None)`
    /// without an engine. `cache` holds the remote-cache flags, whose
    /// options apply to the engine too.
    pub fn from_lookup(
        flags: &ExecFlags,
        cache: &RemoteFlags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, CacheError> {
        let Some(url) = Self::url_of(flags, &env) else {
            if flags.only {
                return Err(CacheError::Config(
                    "--remote-only needs a remote executor (--remote-executor or HBUILD_REMOTE_EXECUTOR)".into(),
                ));
            }
            return Ok(None);
        };
        let engine = RemoteFlags {
            url: Some(url),
            ..cache.clone()
        };
        let remote = RemoteConfig::from_lookup(&engine, &env)?.expect("a URL is set");
        if !remote.is_grpc() {
            return Err(CacheError::Config(format!(
                "remote executor {}: only grpc:// and grpcs:// engines execute actions",
                remote.redacted_url()
            )));
        }
        let mut items = flags.platform.clone();
        if items.is_empty() {
            if let Some(v) = env(ENV_PLATFORM) {
                items.extend(v.split(',').map(str::to_string));
            }
        }
        Ok(Some(ExecConfig {
            remote,
            platform: parse_platform(&items)?,
            only: flags.only,
            build_scripts: flags.build_scripts,
            skip_cache: flags.no_cache,
        }))
    }
}

/// Parses `KEY=VALUE` platform properties (blank items ignored), sorted
/// by name as REAPI wants them.
pub fn parse_platform(items: &[String]) -> Result<Vec<(String, String)>, CacheError> {
    let mut out = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.push((k.trim().to_string(), v.trim().to_string()))
            }
            _ => {
                return Err(CacheError::Config(format!(
                    "--remote-platform `{item}` must look like KEY=VALUE"
                )))
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_engine_takes_the_cache_options_and_sorted_properties() {
        let flags = ExecFlags {
            url: Some("grpc://127.0.0.1:8980/main".into()),
            platform: vec!["OSFamily=linux".into(), "container-image=docker://x".into()],
            only: true,
            build_scripts: true,
            no_cache: false,
        };
        let cache = RemoteFlags {
            timeout: Some("7s".into()),
            ..Default::default()
        };
        let cfg = ExecConfig::from_lookup(&flags, &cache, env_of(&[]))
            .unwrap()
            .unwrap();
        assert_eq!(cfg.remote.instance_name, "main");
        assert_eq!(cfg.remote.timeout, std::time::Duration::from_secs(7));
        assert_eq!(
            cfg.platform,
            [
                ("OSFamily".to_string(), "linux".to_string()),
                ("container-image".to_string(), "docker://x".to_string())
            ]
        );
        assert!(cfg.only && cfg.build_scripts);
    }

    #[test]
    fn the_variables_apply_when_no_flag_is_given() {
        let env = env_of(&[
            (ENV_EXECUTOR, "grpc://127.0.0.1:1"),
            (ENV_PLATFORM, "ISA=x86-64, OSFamily=linux"),
        ]);
        let cfg = ExecConfig::from_lookup(&ExecFlags::default(), &RemoteFlags::default(), env)
            .unwrap()
            .unwrap();
        assert_eq!(cfg.platform.len(), 2);
        assert!(!cfg.only);
        let none =
            ExecConfig::from_lookup(&ExecFlags::default(), &RemoteFlags::default(), env_of(&[]));
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn bad_values_are_named() {
        let http = ExecFlags {
            url: Some("http://127.0.0.1:1/".into()),
            ..Default::default()
        };
        let err = ExecConfig::from_lookup(&http, &RemoteFlags::default(), env_of(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("only grpc:// and grpcs:// engines"),
            "{err}"
        );
        let err = parse_platform(&["noequals".into()]).unwrap_err();
        assert!(
            err.to_string()
                .contains("`noequals` must look like KEY=VALUE"),
            "{err}"
        );
        let only = ExecFlags {
            only: true,
            ..Default::default()
        };
        let err = ExecConfig::from_lookup(&only, &RemoteFlags::default(), env_of(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("--remote-only needs a remote executor"),
            "{err}"
        );
    }
}

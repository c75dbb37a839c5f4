//! The toolchain: rustc identity and per-platform `--print cfg` facts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::WorkspaceError;

/// The rustc this build uses and the facts hbuild needs from it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Toolchain {
    /// Path of rustc as invoked (may be a rustup proxy).
    pub rustc: PathBuf,
    /// Output of `rustc -vV`: the toolchain identity that enters every key.
    pub version_verbose: String,
    /// Host triple.
    pub host: String,
    /// `release:` line, e.g. `1.95.0`.
    pub release: String,
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// The real cargo binary (for the `CARGO` variable).
    pub cargo: PathBuf,
    /// A `RUSTC_WRAPPER` to put in front of every rustc call, if any.
    pub wrapper: Option<PathBuf>,
}

/// The `clippy-driver` that `cargo hbuild clippy` checks workspace members
/// with, run as Cargo runs a `RUSTC_WORKSPACE_WRAPPER`:
/// `clippy-driver <rustc> <rustc args>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClippyDriver {
    /// The binary.
    pub path: PathBuf,
    /// `clippy-driver --version` and `clippy-driver -vV`: its identity,
    /// which enters the key of every action it runs.
    pub identity: String,
}

/// `rustc --print cfg` for one platform, with the flags that influence it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetInfo {
    /// The triple.
    pub triple: String,
    /// Raw cfg lines (`unix`, `target_os="linux"`), in rustc's order.
    pub cfg: Vec<String>,
}

impl TargetInfo {
    /// Values of a key-value cfg (`target_os` → `["linux"]`).
    pub fn values(&self, key: &str) -> Vec<&str> {
        self.cfg
            .iter()
            .filter_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k == key).then(|| v.trim_matches('"'))
            })
            .collect()
    }

    /// Whether a bare cfg name (`unix`, `debug_assertions`) is set.
    pub fn has_name(&self, name: &str) -> bool {
        self.cfg.iter().any(|l| l == name)
    }

    /// Target OS (`linux`, `macos`, `windows`).
    pub fn os(&self) -> &str {
        self.values("target_os").first().copied().unwrap_or("")
    }

    /// Whether a cfg() expression from a manifest matches this platform.
    /// A bare triple string matches when it equals the triple.
    pub fn matches(&self, spec: &str) -> Result<bool, WorkspaceError> {
        let spec = spec.trim();
        let Some(inner) = spec.strip_prefix("cfg(").and_then(|s| s.strip_suffix(')')) else {
            return Ok(spec == self.triple);
        };
        let expr = cfg_expr::Expression::parse(inner).map_err(|e| {
            WorkspaceError::Invalid(format!("invalid cfg expression `{spec}`: {e}"))
        })?;
        Ok(expr.eval(|pred| match pred {
            cfg_expr::Predicate::Flag(name) => self.has_name(name),
            cfg_expr::Predicate::KeyValue { key, val } => self.values(key).contains(val),
            other => self.eval_builtin(other),
        }))
    }

    fn eval_builtin(&self, pred: &cfg_expr::Predicate<'_>) -> bool {
        use cfg_expr::Predicate as P;
        use cfg_expr::TargetPredicate as T;
        let kv = |k: &str, v: &str| self.values(k).contains(&v);
        match pred {
            P::Target(t) => match t {
                T::Arch(a) => kv("target_arch", a.as_str()),
                T::Endian(e) => kv("target_endian", &format!("{e:?}").to_lowercase()),
                T::Env(e) => kv("target_env", e.as_str()),
                // `unix`/`windows` parse as families; rustc also sets them as names.
                T::Family(f) => kv("target_family", f.as_str()) || self.has_name(f.as_str()),
                T::HasAtomic(h) => kv("target_has_atomic", &h.to_string()),
                T::Os(o) => kv("target_os", o.as_str()),
                T::Abi(a) => kv("target_abi", a.as_str()),
                T::Panic(p) => kv("panic", p.as_str()),
                T::PointerWidth(w) => kv("target_pointer_width", &w.to_string()),
                T::Vendor(v) => kv("target_vendor", v.as_str()),
            },
            P::Test => false,
            P::DebugAssertions => self.has_name("debug_assertions"),
            P::ProcMacro => false,
            P::Feature(f) => kv("feature", f),
            P::TargetFeature(f) => kv("target_feature", f),
            P::Flag(f) => self.has_name(f),
            P::KeyValue { key, val } => kv(key, val),
        }
    }
}

fn run(cmd: &mut Command) -> Result<String, WorkspaceError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| WorkspaceError::Toolchain {
            command: shown.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(WorkspaceError::Toolchain {
            command: shown,
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Toolchain {
    /// Probes the rustc named by `RUSTC` (or `rustc`).
    pub fn probe(
        rustc: PathBuf,
        cargo: PathBuf,
        wrapper: Option<PathBuf>,
    ) -> Result<Self, WorkspaceError> {
        // Two processes of their own (through rustup's proxy, tens of ms
        // each): at once.
        let (version_verbose, sysroot) = std::thread::scope(|s| {
            let sysroot = s.spawn(|| run(Command::new(&rustc).args(["--print", "sysroot"])));
            let vv = run(Command::new(&rustc).arg("-vV"));
            let sysroot = sysroot
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (vv, sysroot)
        });
        let version_verbose = version_verbose?;
        let field = |name: &str| {
            version_verbose
                .lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        let host = field("host:");
        let release = field("release:");
        let sysroot = PathBuf::from(sysroot?.trim());
        Ok(Toolchain {
            rustc,
            version_verbose,
            host,
            release,
            sysroot,
            cargo,
            wrapper,
        })
    }

    /// When `rustc` is rustup's proxy, runs the toolchain's own rustc
    /// instead, as Cargo does: the proxy costs a process and a toolchain
    /// resolution on every compilation. The toolchain is the one the proxy
    /// resolved for this workspace (its sysroot), so nothing else changes.
    pub fn bypass_rustup_proxy(&mut self, path_var: Option<&str>) {
        let Some(found) = find_in_path(&self.rustc, path_var) else {
            return;
        };
        let is_proxy = std::fs::canonicalize(&found).is_ok_and(|real| {
            real.file_stem()
                .is_some_and(|n| n == "rustup" || n == "rustup-init")
        });
        let real = self.sysroot.join("bin").join("rustc");
        if is_proxy && real.is_file() {
            self.rustc = real;
        }
    }

    /// The toolchain's `clippy-driver`, probed: beside its rustc (the
    /// sysroot's `bin`, where rustup installs the `clippy` component), else
    /// beside cargo, where `cargo clippy` finds it.
    pub fn clippy_driver(&self, path_var: Option<&str>) -> Result<ClippyDriver, WorkspaceError> {
        let cargo = find_in_path(&self.cargo, path_var).unwrap_or_else(|| self.cargo.clone());
        let mut candidates = vec![self.sysroot.join("bin").join("clippy-driver")];
        if let Some(dir) = cargo.parent().filter(|d| !d.as_os_str().is_empty()) {
            candidates.push(dir.join("clippy-driver"));
        }
        let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
            return Err(WorkspaceError::ClippyMissing {
                looked_in: candidates
                    .iter()
                    .map(|p| format!("`{}`", p.display()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let version = run(Command::new(&path).arg("--version"))?;
        let vv = run(Command::new(&path).arg("-vV"))?;
        Ok(ClippyDriver {
            path,
            identity: format!("{}\n{}", version.trim_end(), vv.trim_end()),
        })
    }

    /// `rustc --print cfg` for `triple` (None = host) with the given flags,
    /// which may add `--cfg` values, as Cargo's probe does.
    pub fn target_info(
        &self,
        triple: Option<&str>,
        rustflags: &[String],
    ) -> Result<TargetInfo, WorkspaceError> {
        let mut cmd = Command::new(&self.rustc);
        cmd.args(["-", "--crate-name", "___", "--print=cfg"]);
        if let Some(t) = triple {
            cmd.args(["--target", t]);
        }
        cmd.args(rustflags);
        let out = run(&mut cmd)?;
        Ok(TargetInfo {
            triple: triple.unwrap_or(&self.host).to_string(),
            cfg: out
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect(),
        })
    }
}

/// Locates the real `cargo` binary: `$CARGO` of the invocation's
/// environment (set by cargo for subcommands), else `cargo` from PATH.
pub fn find_cargo(env: &std::collections::BTreeMap<String, String>) -> PathBuf {
    env.get("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

/// Where a bare program name resolves on `PATH` (None for a path).
fn find_in_path(program: &Path, path_var: Option<&str>) -> Option<PathBuf> {
    if program.components().count() != 1 {
        return None;
    }
    std::env::split_paths(path_var?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> TargetInfo {
        TargetInfo {
            triple: "x86_64-unknown-linux-gnu".into(),
            cfg: [
                "debug_assertions",
                "panic=\"unwind\"",
                "target_arch=\"x86_64\"",
                "target_family=\"unix\"",
                "target_os=\"linux\"",
                "target_pointer_width=\"64\"",
                "unix",
                "target_env=\"gnu\"",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }

    #[test]
    fn cfg_matching() {
        let t = linux();
        assert!(t.matches("cfg(unix)").unwrap());
        assert!(!t.matches("cfg(windows)").unwrap());
        assert!(t
            .matches("cfg(all(target_os = \"linux\", target_pointer_width = \"64\"))")
            .unwrap());
        assert!(t.matches("cfg(not(target_os = \"macos\"))").unwrap());
        assert!(t.matches("x86_64-unknown-linux-gnu").unwrap());
        assert!(!t.matches("x86_64-pc-windows-msvc").unwrap());
        assert!(t.matches("cfg(oops").is_err() || !t.matches("cfg(oops").unwrap());
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::*;

    fn toolchain(sysroot: &Path) -> Toolchain {
        Toolchain {
            rustc: PathBuf::from("rustc"),
            version_verbose: String::new(),
            host: String::new(),
            release: String::new(),
            sysroot: sysroot.to_path_buf(),
            cargo: PathBuf::from("cargo"),
            wrapper: None,
        }
    }

    #[test]
    fn rustup_proxies_are_bypassed_and_nothing_else_is() {
        let d = tempfile::tempdir().unwrap();
        let (proxies, plain, sysroot) = (
            d.path().join("proxies"),
            d.path().join("plain"),
            d.path().join("sysroot"),
        );
        for dir in [&proxies, &plain, &sysroot.join("bin")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(proxies.join("rustup"), "").unwrap();
        std::os::unix::fs::symlink("rustup", proxies.join("rustc")).unwrap();
        std::fs::write(plain.join("rustc"), "").unwrap();
        std::fs::write(sysroot.join("bin/rustc"), "").unwrap();

        let mut t = toolchain(&sysroot);
        t.bypass_rustup_proxy(proxies.to_str());
        assert_eq!(t.rustc, sysroot.join("bin/rustc"));

        // A rustc of its own on PATH (a wrapper script, a distro rustc) stays.
        let mut t = toolchain(&sysroot);
        t.bypass_rustup_proxy(plain.to_str());
        assert_eq!(t.rustc, Path::new("rustc"));
        let mut t = toolchain(&sysroot);
        t.rustc = proxies.join("rustc");
        t.bypass_rustup_proxy(proxies.to_str());
        assert_eq!(t.rustc, proxies.join("rustc"), "an explicit path is kept");
    }
}

//! Why an action was executed: a typed diff of key components.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::secret;
use crate::fingerprint::{KeyComponents, NormalizedText};

/// One reason. Serialised with a `kind` tag for `--message-format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    /// No earlier build of this unit is recorded.
    FirstBuild,
    /// Inputs equal to a recorded build, but the result was not in the cache.
    NotInCache {
        /// A remote cache was asked too and missed.
        remote_missed: bool,
        /// A corrupt local entry was dropped.
        corrupt: Option<String>,
    },
    /// The toolchain (`rustc -vV` or linker) changed.
    ToolchainChanged,
    /// The package version or source changed (e.g. a Cargo.lock bump).
    PackageChanged {
        /// Before.
        old: String,
        /// After.
        new: String,
    },
    /// A source file changed.
    FileChanged {
        /// Workspace-relative path.
        path: String,
        /// How.
        change: FileChange,
    },
    /// A `rerun-if-changed` file of a build script changed.
    RerunIfChanged {
        /// Workspace-relative path.
        path: String,
        /// How.
        change: FileChange,
    },
    /// An environment variable the action reads changed.
    EnvChanged {
        /// Name.
        name: String,
        /// Old value (None if unset or secret).
        old: Option<String>,
        /// New value (None if unset or secret).
        new: Option<String>,
        /// Values withheld: the variable is secret ([`crate::core::secret`]).
        secret: bool,
    },
    /// Features turned on or off.
    FeaturesChanged {
        /// Turned on.
        added: Vec<String>,
        /// Turned off.
        removed: Vec<String>,
    },
    /// A profile setting changed.
    ProfileChanged {
        /// Setting name.
        setting: String,
        /// Old value.
        old: String,
        /// New value.
        new: String,
    },
    /// Compiler flags changed.
    FlagsChanged {
        /// Where the flags come from.
        origin: FlagOrigin,
        /// Flags added.
        added: Vec<String>,
        /// Flags removed.
        removed: Vec<String>,
    },
    /// A dependency's output changed.
    DependencyChanged {
        /// The dependency (as named in this unit).
        dependency: String,
        /// The action it corresponds to, when it was rebuilt in this build.
        rebuilt: Option<String>,
        /// The root cause, when known: the unit that changed first, and
        /// why.
        root_cause: Option<RootCause>,
    },
    /// The build script binary changed.
    BuildScriptChanged,
}

/// Where a compiler flag comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagOrigin {
    /// `RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS` or `build.rustflags`.
    Rustflags,
    /// The package's `[lints]` table.
    Lints,
    /// The package's build script (`cargo::rustc-cfg`, `rustc-link-lib`...).
    BuildScript,
    /// `cargo hbuild clippy`: the arguments after `--`, and whether
    /// `clippy-driver` lints the unit at all.
    Clippy,
    /// hbuild's own choice of flags (Cargo's), e.g. after a toolchain change.
    Other,
}

/// The flags of an invocation whose origin is known, recorded beside its
/// key components so that a change is reported by origin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedFlags {
    /// From `RUSTFLAGS` and the like.
    pub rustflags: Vec<String>,
    /// From `[lints]`.
    pub lints: Vec<String>,
    /// Added from build-script directives.
    pub script: Vec<String>,
}

/// How an input file changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileChange {
    /// New since the recorded build.
    Added,
    /// Gone since the recorded build.
    Removed,
    /// Different content.
    Modified,
}

impl FileChange {
    /// The word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            FileChange::Added => "added",
            FileChange::Removed => "removed",
            FileChange::Modified => "modified",
        }
    }
}

/// The unit a chain of rebuilds started from, and its own reasons (empty
/// when they are not known, e.g. it was rebuilt only because it was not in
/// the cache).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootCause {
    /// The unit's name.
    pub unit: String,
    /// Its own reasons (never a dependency change).
    pub reasons: Vec<Reason>,
}

fn rel(path: &str) -> String {
    path.strip_prefix("${WORKSPACE}/")
        .unwrap_or(path)
        .to_string()
}

/// Replaces unit hashes in a flag so that flags that only differ by the
/// hash of a dependency compare equal (those changes are reported as
/// dependency changes instead).
fn unhash(flag: &str) -> String {
    let mut out = String::with_capacity(flag.len());
    let b = flag.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if i + 16 <= b.len()
            && b[i..i + 16]
                .iter()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            && (i + 16 == b.len() || !b[i + 16].is_ascii_hexdigit())
            && (i == 0 || !b[i - 1].is_ascii_hexdigit())
        {
            out.push_str("<hash>");
            i += 16;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Flags as the user thinks of them: a flag and its value together
/// (`--cfg foo`), `--extern` by crate name only, hashes removed.
fn flag_items<S: AsRef<str>>(argv: &[S]) -> Vec<String> {
    const WITH_VALUE: [&str; 9] = [
        "--cfg",
        "--check-cfg",
        "-C",
        "-L",
        "-l",
        "--extern",
        "--cap-lints",
        "--crate-type",
        "--target",
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_ref();
        if WITH_VALUE.contains(&a) && i + 1 < argv.len() {
            let v = argv[i + 1].as_ref();
            let v = if a == "--extern" {
                v.split('=').next().unwrap_or(v).to_string()
            } else {
                unhash(v)
            };
            out.push(format!("{a} {v}"));
            i += 2;
        } else {
            out.push(unhash(a));
            i += 1;
        }
    }
    out
}

/// Everything of an action that a comparison needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// Key components.
    pub components: KeyComponents,
    /// Features.
    pub features: Vec<String>,
    /// Profile as a flat map.
    pub profile: BTreeMap<String, String>,
    /// Whether this is a build-script run.
    pub is_run: bool,
    /// The flags of known origin.
    #[serde(default)]
    pub flags: TypedFlags,
}

/// The reasons `new` differs from `old`, without dependency attribution
/// (done by the caller, who knows what rebuilt).
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Reason> {
    let (o, n) = (&old.components, &new.components);
    let mut out = Vec::new();
    if o.toolchain != n.toolchain {
        out.push(Reason::ToolchainChanged);
    }
    if o.package != n.package {
        out.push(Reason::PackageChanged {
            old: o.package.clone(),
            new: n.package.clone(),
        });
    }
    diff_files(old, new, &mut out);
    diff_features(old, new, &mut out);
    diff_profile(old, new, &mut out);
    diff_env(o, n, &mut out);
    let profile_changed = out
        .iter()
        .any(|r| matches!(r, Reason::ProfileChanged { .. }));
    if !profile_changed {
        out.extend(diff_flags(old, new));
    }
    if o.program != n.program && n.program.starts_with("build-script:") {
        out.push(Reason::BuildScriptChanged);
    }
    out
}

/// Input files added, removed or modified (for a build-script run: its
/// `rerun-if-changed` files).
fn diff_files(old: &Snapshot, new: &Snapshot, out: &mut Vec<Reason>) {
    // A linted unit's `clippy.toml` is an input like its sources.
    let files = |c: &KeyComponents| -> BTreeMap<String, Option<crate::core::Digest>> {
        c.inputs
            .iter()
            .chain(c.lint_config.iter().flatten())
            .map(|i| (i.path.as_str().to_string(), i.digest))
            .collect()
    };
    let (om, nm) = (files(&old.components), files(&new.components));
    for (p, d) in &nm {
        let change = match om.get(p) {
            None => Some(FileChange::Added),
            Some(od) if od != d => Some(if d.is_none() {
                FileChange::Removed
            } else {
                FileChange::Modified
            }),
            _ => None,
        };
        if let Some(change) = change {
            let path = rel(p);
            out.push(if new.is_run {
                Reason::RerunIfChanged { path, change }
            } else {
                Reason::FileChanged { path, change }
            });
        }
    }
    for p in om.keys() {
        if !nm.contains_key(p) && !new.is_run {
            out.push(Reason::FileChanged {
                path: rel(p),
                change: FileChange::Removed,
            });
        }
    }
}

fn diff_features(old: &Snapshot, new: &Snapshot, out: &mut Vec<Reason>) {
    let of: BTreeSet<&String> = old.features.iter().collect();
    let nf: BTreeSet<&String> = new.features.iter().collect();
    if of != nf {
        out.push(Reason::FeaturesChanged {
            added: nf.difference(&of).map(|s| s.to_string()).collect(),
            removed: of.difference(&nf).map(|s| s.to_string()).collect(),
        });
    }
}

fn diff_profile(old: &Snapshot, new: &Snapshot, out: &mut Vec<Reason>) {
    for (k, nv) in &new.profile {
        let ov = old.profile.get(k).cloned().unwrap_or_default();
        if &ov != nv && k != "name" {
            out.push(Reason::ProfileChanged {
                setting: k.clone(),
                old: ov,
                new: nv.clone(),
            });
        }
    }
}

/// Environment set by hbuild and tracked variables.
fn diff_env(o: &KeyComponents, n: &KeyComponents, out: &mut Vec<Reason>) {
    let mut env_names: BTreeSet<&String> = o.env.keys().chain(n.env.keys()).collect();
    env_names.extend(o.tracked_env.keys().chain(n.tracked_env.keys()));
    let value = |c: &KeyComponents, name: &String| {
        c.env
            .get(name)
            .cloned()
            .or_else(|| c.tracked_env.get(name).cloned().flatten())
    };
    for name in env_names {
        if name.starts_with("CARGO_FEATURE_")
            || name == "CARGO_CFG_FEATURE"
            || name == "OUT_DIR"
            || name == CLIPPY_ARGS
        {
            continue;
        }
        let (ov, nv) = (value(o, name), value(n, name));
        // Values that differ only by unit hashes (a dependency's OUT_DIR)
        // are consequences reported as dependency changes; package metadata
        // variables follow a package change.
        let same_but_hashes = ov.as_deref().map(unhash) == nv.as_deref().map(unhash);
        let follows_package = o.package != n.package
            && (name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_MANIFEST_"));
        if ov != nv && !same_but_hashes && !follows_package {
            let hidden = secret::is_secret_var(name);
            let shown =
                |v: Option<NormalizedText>| v.filter(|_| !hidden).map(|v| v.replace('\x1f', " "));
            out.push(Reason::EnvChanged {
                name: name.clone(),
                old: shown(ov),
                new: shown(nv),
                secret: hidden,
            });
        }
    }
}

/// Flags added or removed, by origin, leaving out those that features,
/// the profile and dependencies already explain.
fn diff_flags(old: &Snapshot, new: &Snapshot) -> Vec<Reason> {
    let (of, nf) = (&old.flags, &new.flags);
    let mut out: Vec<Reason> = [
        (FlagOrigin::Rustflags, &of.rustflags, &nf.rustflags),
        (FlagOrigin::Lints, &of.lints, &nf.lints),
        (FlagOrigin::BuildScript, &of.script, &nf.script),
        (
            FlagOrigin::Clippy,
            &clippy_flags(&old.components),
            &clippy_flags(&new.components),
        ),
    ]
    .into_iter()
    .filter_map(|(origin, o, n)| flag_change(origin, count(flag_items(o)), count(flag_items(n))))
    .collect();
    // The rest of the argv is hbuild's (Cargo's) own.
    let others = |s: &Snapshot| {
        let mut all = count(flag_items(&s.components.argv));
        let typed = [&s.flags.rustflags, &s.flags.lints, &s.flags.script];
        for f in typed.into_iter().flat_map(|t| flag_items(t)) {
            if let Some(c) = all.get_mut(&f) {
                *c -= 1;
            }
        }
        all.retain(|f, c| *c > 0 && !f.starts_with("--extern "));
        all
    };
    out.extend(flag_change(FlagOrigin::Other, others(old), others(new)));
    out
}

/// The variable through which `clippy-driver` gets its arguments.
const CLIPPY_ARGS: &str = "CLIPPY_ARGS";

/// What Clippy does to a unit, as flags: `clippy-driver` when it lints
/// the unit, then the arguments after `--` (from `CLIPPY_ARGS`).
fn clippy_flags(c: &KeyComponents) -> Vec<String> {
    if !c.program.starts_with("clippy-driver") {
        return Vec::new();
    }
    let args = c.env.get(CLIPPY_ARGS).map_or("", |v| v.as_str());
    std::iter::once("clippy-driver")
        .chain(args.split("__CLIPPY_HACKERY__").filter(|a| !a.is_empty()))
        .map(str::to_string)
        .collect()
}

fn count(items: Vec<String>) -> BTreeMap<String, i32> {
    let mut m: BTreeMap<String, i32> = BTreeMap::new();
    for f in items {
        *m.entry(f).or_default() += 1;
    }
    m
}

fn flag_change(
    origin: FlagOrigin,
    old: BTreeMap<String, i32>,
    new: BTreeMap<String, i32>,
) -> Option<Reason> {
    let explained = |f: &str| {
        f.starts_with("--cfg feature=")
            || f.starts_with("--check-cfg cfg(feature")
            || f.starts_with("-C metadata=")
            || f.starts_with("-C extra-filename=")
            || f.starts_with("feature=")
            || f.starts_with("metadata=")
            || f.starts_with("extra-filename=")
            || f.contains("<hash>")
            || f.starts_with("cfg(feature")
    };
    let more = |a: &BTreeMap<String, i32>, b: &BTreeMap<String, i32>| -> Vec<String> {
        a.iter()
            .filter(|(f, c)| **c > b.get(*f).copied().unwrap_or(0) && !explained(f))
            .map(|(f, _)| f.clone())
            .collect()
    };
    let (added, removed) = (more(&new, &old), more(&old, &new));
    (!added.is_empty() || !removed.is_empty()).then_some(Reason::FlagsChanged {
        origin,
        added,
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::key::InputDigest;

    fn snap() -> Snapshot {
        Snapshot {
            components: KeyComponents {
                argv: vec![
                    "--crate-name".into(),
                    "a".into(),
                    "-C".into(),
                    "metadata=0123456789abcdef".into(),
                ],
                inputs: vec![InputDigest {
                    path: "${WORKSPACE}/src/lib.rs".into(),
                    digest: Some(crate::core::Digest::of_bytes(b"1")),
                }],
                ..Default::default()
            },
            features: vec!["a".into()],
            profile: BTreeMap::from([("opt_level".into(), "0".into())]),
            is_run: false,
            flags: TypedFlags::default(),
        }
    }

    #[test]
    fn reports_file_feature_profile_and_flag_changes() {
        let old = snap();
        let mut new = snap();
        new.components.inputs[0].digest = Some(crate::core::Digest::of_bytes(b"2"));
        new.features.push("b".into());
        new.components.argv[3] = "metadata=fedcba9876543210".into();
        new.components.argv.push("--cfg".into());
        new.components.argv.push("foo".into());
        let r = diff(&old, &new);
        assert!(
            r.contains(&Reason::FileChanged {
                path: "src/lib.rs".into(),
                change: FileChange::Modified
            }),
            "{r:?}"
        );
        assert!(r.contains(&Reason::FeaturesChanged {
            added: vec!["b".into()],
            removed: vec![]
        }));
        assert!(r.iter().any(|x| matches!(x, Reason::FlagsChanged { added, .. } if added.contains(&"--cfg foo".to_string()))));
        let mut p = snap();
        p.profile.insert("opt_level".into(), "3".into());
        assert_eq!(
            diff(&old, &p),
            vec![Reason::ProfileChanged {
                setting: "opt_level".into(),
                old: "0".into(),
                new: "3".into()
            }]
        );
    }

    #[test]
    fn secrets_are_not_printed() {
        let old = snap();
        let mut new = snap();
        new.components
            .tracked_env
            .insert("API_TOKEN".into(), Some("s3cr3t".into()));
        let r = diff(&old, &new);
        assert_eq!(
            r,
            vec![Reason::EnvChanged {
                name: "API_TOKEN".into(),
                old: None,
                new: None,
                secret: true
            }]
        );
    }

    /// The JSON form of every reason, as `hbuild-explain` messages carry
    /// it: a schema consumers parse, so any change must be deliberate.
    #[test]
    fn json_schema_of_reasons() {
        let file = Reason::FileChanged {
            path: "src/lib.rs".into(),
            change: FileChange::Modified,
        };
        let all = vec![
            Reason::FirstBuild,
            Reason::NotInCache {
                remote_missed: true,
                corrupt: Some("digest mismatch".into()),
            },
            Reason::ToolchainChanged,
            Reason::PackageChanged {
                old: "itoa@1.0.17".into(),
                new: "itoa@1.0.18".into(),
            },
            file.clone(),
            Reason::RerunIfChanged {
                path: "build/c/add.c".into(),
                change: FileChange::Added,
            },
            Reason::EnvChanged {
                name: "API_TOKEN".into(),
                old: None,
                new: None,
                secret: true,
            },
            Reason::FeaturesChanged {
                added: vec!["extra".into()],
                removed: vec![],
            },
            Reason::ProfileChanged {
                setting: "opt_level".into(),
                old: "0".into(),
                new: "2".into(),
            },
            Reason::FlagsChanged {
                origin: FlagOrigin::Rustflags,
                added: vec!["--cfg foo".into()],
                removed: vec![],
            },
            Reason::DependencyChanged {
                dependency: "util".into(),
                rebuilt: Some("util".into()),
                root_cause: Some(RootCause {
                    unit: "util".into(),
                    reasons: vec![file],
                }),
            },
            Reason::BuildScriptChanged,
        ];
        insta::assert_json_snapshot!(all);
    }

    /// A changed Clippy argument is a flag change of its own, not a
    /// changed variable; a changed `clippy.toml` is a changed file.
    #[test]
    fn clippy_arguments_and_configuration_are_reported_as_such() {
        let linted = |args: &str, conf: &[u8]| {
            let mut s = snap();
            s.components.program = "clippy-driver\nclippy 0.1.95".into();
            s.components.env.insert(CLIPPY_ARGS.into(), args.into());
            s.components.lint_config = Some(vec![InputDigest {
                path: "${WORKSPACE}/clippy.toml".into(),
                digest: Some(crate::core::Digest::of_bytes(conf)),
            }]);
            s
        };
        let old = linted(
            "-W__CLIPPY_HACKERY__clippy::pedantic__CLIPPY_HACKERY__",
            b"a",
        );
        let new = linted("-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__", b"b");
        assert_eq!(
            diff(&old, &new),
            vec![
                Reason::FileChanged {
                    path: "clippy.toml".into(),
                    change: FileChange::Modified
                },
                Reason::FlagsChanged {
                    origin: FlagOrigin::Clippy,
                    added: vec!["-D".into(), "warnings".into()],
                    removed: vec!["-W".into(), "clippy::pedantic".into()],
                }
            ]
        );
        // A unit checked by rustc, then linted.
        let r = diff(&snap(), &linted("", b"a"));
        assert!(
            r.contains(&Reason::FlagsChanged {
                origin: FlagOrigin::Clippy,
                added: vec!["clippy-driver".into()],
                removed: vec![],
            }),
            "{r:?}"
        );
    }

    /// Each flag is reported under its origin, once: a flag of known origin
    /// is not also a change of hbuild's own flags.
    #[test]
    fn flags_are_reported_by_origin() {
        let old = snap();
        let mut new = snap();
        for (origin, flags) in [
            ("rustflags", ["--cfg", "from_env"]),
            ("lints", ["-W", "unused"]),
            ("script", ["--cfg", "has_feature_x"]),
        ] {
            new.components.argv.extend(flags.map(NormalizedText::from));
            let list = match origin {
                "rustflags" => &mut new.flags.rustflags,
                "lints" => &mut new.flags.lints,
                _ => &mut new.flags.script,
            };
            list.extend(flags.map(String::from));
        }
        new.components.argv.push("--extern".into());
        new.components.argv.push("dep=/x/libdep.rlib".into());
        new.components.argv.push("-Zown".into());
        let flags: Vec<_> = diff(&old, &new)
            .into_iter()
            .filter(|r| matches!(r, Reason::FlagsChanged { .. }))
            .collect();
        let change = |origin, added: &[&str]| Reason::FlagsChanged {
            origin,
            added: added.iter().map(|s| s.to_string()).collect(),
            removed: vec![],
        };
        assert_eq!(
            flags,
            vec![
                change(FlagOrigin::Rustflags, &["--cfg from_env"]),
                change(FlagOrigin::Lints, &["-W", "unused"]),
                change(FlagOrigin::BuildScript, &["--cfg has_feature_x"]),
                change(FlagOrigin::Other, &["-Zown"]),
            ]
        );
    }
}

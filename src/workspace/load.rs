//! Loading the workspace: `cargo metadata` into the owned
//! [`WorkspaceModel`](super::model::WorkspaceModel) plus a guppy
//! `PackageGraph` for feature resolution. Manifest facts that metadata
//! omits (`[lints]`, `harness`, `resolver`) are read from the manifests.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use guppy::graph::PackageGraph;

use super::model::CrateType;
use super::model::{DeclaredDep, Package, Source, Target, TargetKind, WorkspaceModel};
use super::WorkspaceError;
use crate::core::PackageId;

/// Options passed through to `cargo metadata`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LoadOptions {
    /// `--manifest-path` (absolute), or None for the cwd's manifest.
    pub manifest_path: Option<PathBuf>,
    /// `--locked`.
    pub locked: bool,
    /// `--offline`.
    pub offline: bool,
    /// `--frozen`.
    pub frozen: bool,
    /// `--features` for the resolve, on top of `--all-features`: features
    /// of non-member dependencies asked on the command line, which may
    /// need more packages than the members' features do.
    #[serde(default)]
    pub features: Vec<String>,
    /// `--config` arguments, in order (also read by the config layer).
    #[serde(default)]
    pub config: Vec<super::config_arg::ConfigArg>,
}

/// The result of loading: the model, the guppy graph and the raw JSON.
pub struct Loaded {
    /// Owned model.
    pub model: WorkspaceModel,
    /// guppy graph for feature resolution.
    pub graph: PackageGraph,
}

/// Runs `cargo metadata` and builds the model.
pub fn load(cargo: &Path, cwd: &Path, opts: &LoadOptions) -> Result<Loaded, WorkspaceError> {
    let mut cmd = Command::new(cargo);
    // `--all-features` makes the resolve list every optional dependency
    // edge; which ones are active is decided per request by guppy.
    cmd.current_dir(cwd).args([
        "metadata",
        "--format-version",
        "1",
        "--color",
        "never",
        "--all-features",
    ]);
    let manifest_shown = opts
        .manifest_path
        .clone()
        .unwrap_or_else(|| cwd.join("Cargo.toml"));
    if let Some(m) = &opts.manifest_path {
        cmd.arg("--manifest-path").arg(m);
    }
    if opts.locked {
        cmd.arg("--locked");
    }
    if opts.offline {
        cmd.arg("--offline");
    }
    if opts.frozen {
        cmd.arg("--frozen");
    }
    if !opts.features.is_empty() {
        cmd.arg("--features").arg(opts.features.join(","));
    }
    for c in &opts.config {
        cmd.arg("--config").arg(c.as_arg());
    }
    let out = cmd.output().map_err(|e| WorkspaceError::Toolchain {
        command: format!("{} metadata", cargo.display()),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(WorkspaceError::Metadata {
            manifest: manifest_shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
        });
    }
    let json = String::from_utf8(out.stdout).map_err(|_| WorkspaceError::Metadata {
        manifest: manifest_shown.clone(),
        stderr: "`cargo metadata` printed invalid UTF-8".into(),
    })?;
    from_json(json)
}

/// Builds the model from `cargo metadata` JSON.
pub fn from_json(json: String) -> Result<Loaded, WorkspaceError> {
    let meta: cargo_metadata::Metadata = serde_json::from_str(&json)
        .map_err(|e| WorkspaceError::Graph(format!("bad `cargo metadata` output: {e}")))?;
    let graph = PackageGraph::from_json(&json).map_err(|e| WorkspaceError::Graph(e.to_string()))?;
    let root = meta.workspace_root.clone().into_std_path_buf();
    let root_manifest = root.join("Cargo.toml");
    let root_doc = read_toml(&root_manifest)?;
    let members: std::collections::HashSet<&cargo_metadata::PackageId> =
        meta.workspace_members.iter().collect();
    let rust_versions = rust_versions_as_written(&json)?;
    let resolved: HashMap<&str, BTreeSet<String>> = meta
        .resolve
        .iter()
        .flat_map(|r| &r.nodes)
        .map(|n| {
            let features = n.features.iter().map(|f| f.to_string()).collect();
            (n.id.repr.as_str(), features)
        })
        .collect();

    let mut packages = Vec::with_capacity(meta.packages.len());
    for p in &meta.packages {
        let is_member = members.contains(&p.id);
        let source = match &p.source {
            None => Source::Path,
            Some(s) if s.repr.starts_with("git+") => Source::Git {
                url: s.repr.clone(),
            },
            Some(s) => Source::Registry {
                url: s.repr.clone(),
            },
        };
        // Manifests of path packages carry `[lints]`, harness flags and
        // workspace inheritance; registry manifests are already normalised.
        let doc = read_toml(p.manifest_path.as_std_path())?;
        let harness = harness_flags(&doc);
        let mut targets: Vec<Target> = p
            .targets
            .iter()
            .map(|t| {
                let kinds: Vec<String> = t.kind.iter().map(|k| k.to_string()).collect();
                let kind = target_kind(&kinds);
                let key = (kind, t.name.clone());
                Target {
                    name: t.name.clone(),
                    kind,
                    crate_types: t
                        .crate_types
                        .iter()
                        .map(|c| CrateType::from(c.to_string()))
                        .collect(),
                    src_path: t.src_path.clone().into_std_path_buf(),
                    edition: t.edition.to_string(),
                    required_features: t.required_features.clone(),
                    test: t.test,
                    harness: harness.get(&key).copied().unwrap_or(true),
                    metadata_kind: kinds,
                    doctest: t.doctest,
                    doc: t.doc,
                }
            })
            .collect();
        targets.sort_by_key(|t| (t.kind != TargetKind::Lib) as u8);
        let lint_flags = lint_flags(&doc, &root_doc).map_err(|m| WorkspaceError::Parse {
            path: p.manifest_path.clone().into_std_path_buf(),
            message: m,
        })?;
        let test_inputs = test_inputs(&p.metadata).map_err(|m| WorkspaceError::Parse {
            path: p.manifest_path.clone().into_std_path_buf(),
            message: m,
        })?;
        packages.push(Package {
            id: PackageId(p.id.repr.clone()),
            name: p.name.to_string(),
            version: p.version.to_string(),
            manifest_path: p.manifest_path.clone().into_std_path_buf(),
            source,
            is_member,
            edition: p.edition.to_string(),
            links: p.links.clone(),
            targets,
            declared_features: p.features.keys().cloned().collect(),
            feature_table: p
                .features
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            resolved_features: resolved
                .get(p.id.repr.as_str())
                .cloned()
                .unwrap_or_default(),
            dependencies: p
                .dependencies
                .iter()
                .map(|d| DeclaredDep {
                    name: d.rename.clone().unwrap_or_else(|| d.name.clone()),
                    package: d.name.clone(),
                    optional: d.optional,
                    features: d.features.clone(),
                    req: d.req.to_string(),
                })
                .collect(),
            authors: p.authors.clone(),
            description: p.description.clone().unwrap_or_default(),
            homepage: p.homepage.clone().unwrap_or_default(),
            repository: p.repository.clone().unwrap_or_default(),
            license: p.license.clone().unwrap_or_default(),
            license_file: p
                .license_file
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default(),
            rust_version: rust_versions.get(&p.id.repr).cloned().unwrap_or_default(),
            readme: p.readme.as_ref().map(|l| l.to_string()).unwrap_or_default(),
            lint_flags,
            default_run: p.default_run.clone(),
            test_inputs,
        });
    }
    let by_id: HashMap<String, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.0.clone(), i))
        .collect();
    let idx = |id: &cargo_metadata::PackageId| by_id.get(&id.repr).copied();
    let members: Vec<usize> = meta.workspace_members.iter().filter_map(idx).collect();
    let default_members: Vec<usize> = if meta.workspace_default_members.is_available() {
        meta.workspace_default_members
            .iter()
            .filter_map(idx)
            .collect()
    } else {
        members.clone()
    };
    let resolver = resolver_version(&root_doc, &packages, &root_manifest);
    let model = WorkspaceModel {
        root,
        root_manifest,
        target_dir: meta.target_directory.clone().into_std_path_buf(),
        packages,
        members,
        default_members,
        resolver,
        by_id,
    };
    Ok(Loaded { model, graph })
}

/// `rust-version` of each package as written (`1.80`): Cargo prints it so in
/// messages and `CARGO_PKG_RUST_VERSION`, while `cargo_metadata` pads it to
/// three parts.
fn rust_versions_as_written(json: &str) -> Result<HashMap<String, String>, WorkspaceError> {
    #[derive(serde::Deserialize)]
    struct Meta {
        packages: Vec<Pkg>,
    }
    #[derive(serde::Deserialize)]
    struct Pkg {
        id: String,
        rust_version: Option<String>,
    }
    let meta: Meta = serde_json::from_str(json)
        .map_err(|e| WorkspaceError::Graph(format!("bad `cargo metadata` output: {e}")))?;
    Ok(meta
        .packages
        .into_iter()
        .filter_map(|p| Some((p.id, p.rust_version?)))
        .collect())
}

fn read_toml(path: &Path) -> Result<toml::Table, WorkspaceError> {
    let text = std::fs::read_to_string(path).map_err(|e| WorkspaceError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.parse()
        .map_err(|e: toml::de::Error| WorkspaceError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
}

fn target_kind(kinds: &[String]) -> TargetKind {
    match kinds.first().map(String::as_str) {
        Some("bin") => TargetKind::Bin,
        Some("example") => TargetKind::Example,
        Some("test") => TargetKind::Test,
        Some("bench") => TargetKind::Bench,
        Some("custom-build") => TargetKind::CustomBuild,
        _ => TargetKind::Lib,
    }
}

/// `harness = false` entries of `[[test]]`, `[[bench]]`, `[[bin]]`, `[[example]]`, `[lib]`.
fn harness_flags(doc: &toml::Table) -> HashMap<(TargetKind, String), bool> {
    let mut out = HashMap::new();
    for (section, kind) in [
        ("test", TargetKind::Test),
        ("bench", TargetKind::Bench),
        ("bin", TargetKind::Bin),
        ("example", TargetKind::Example),
    ] {
        for t in doc
            .get(section)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let (Some(name), Some(h)) = (
                t.get("name").and_then(|v| v.as_str()),
                t.get("harness").and_then(|v| v.as_bool()),
            ) {
                out.insert((kind, name.to_string()), h);
            }
        }
    }
    if let Some(lib) = doc.get("lib").and_then(|v| v.as_table()) {
        if let Some(h) = lib.get("harness").and_then(|v| v.as_bool()) {
            let name = lib
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            out.insert((TargetKind::Lib, name), h);
        }
    }
    out
}

fn resolver_version(root_doc: &toml::Table, packages: &[Package], root_manifest: &Path) -> String {
    if let Some(r) = root_doc
        .get("workspace")
        .and_then(|w| w.get("resolver"))
        .or_else(|| root_doc.get("package").and_then(|p| p.get("resolver")))
        .and_then(|v| v.as_str())
    {
        return r.to_string();
    }
    // Without an explicit resolver, the root package's edition decides.
    let root_pkg = packages.iter().find(|p| p.manifest_path == root_manifest);
    match root_pkg.map(|p| p.edition.as_str()) {
        Some("2024") => "3".into(),
        Some("2021") => "2".into(),
        _ => "1".into(),
    }
}

/// `[lints]` → rustc flags, as Cargo's `lints_to_rustflags`: the `cargo`
/// table is dropped, entries are sorted by priority ascending then lint name
/// descending, then `--check-cfg` values of `rust.unexpected_cfgs`.
/// `[package.metadata.hbuild] test-inputs`: a list of glob patterns.
fn test_inputs(metadata: &serde_json::Value) -> Result<Vec<String>, String> {
    let Some(v) = metadata.get("hbuild").and_then(|h| h.get("test-inputs")) else {
        return Ok(Vec::new());
    };
    let bad = || {
        "`package.metadata.hbuild.test-inputs` must be an array of glob patterns (strings)"
            .to_string()
    };
    let list = v.as_array().ok_or_else(bad)?;
    list.iter()
        .map(|p| p.as_str().map(str::to_string).ok_or_else(bad))
        .collect()
}

fn lint_flags(doc: &toml::Table, root_doc: &toml::Table) -> Result<Vec<String>, String> {
    let Some(lints) = doc.get("lints") else {
        return Ok(Vec::new());
    };
    let lints = if lints.get("workspace").and_then(|v| v.as_bool()) == Some(true) {
        match root_doc.get("workspace").and_then(|w| w.get("lints")) {
            Some(l) => l,
            None => {
                return Err(
                    "`lints.workspace = true` but the workspace has no `[workspace.lints]`".into(),
                )
            }
        }
    } else {
        lints
    };
    let Some(table) = lints.as_table() else {
        return Ok(Vec::new());
    };
    // (priority, bare lint name, flag), sorted as Cargo does:
    // priority ascending, then bare name descending, then the flag.
    let mut entries: Vec<(i64, String, String)> = Vec::new();
    let mut check_cfg = Vec::new();
    for (tool, lints) in table {
        if tool == "cargo" || tool == "workspace" {
            continue;
        }
        let Some(lints) = lints.as_table() else {
            continue;
        };
        for (lint, cfg) in lints {
            let (level, priority) = match cfg {
                toml::Value::String(s) => (s.clone(), 0),
                toml::Value::Table(t) => {
                    if tool == "rust" && lint == "unexpected_cfgs" {
                        for c in t
                            .get("check-cfg")
                            .and_then(|v| v.as_array())
                            .into_iter()
                            .flatten()
                        {
                            if let Some(s) = c.as_str() {
                                check_cfg.push(s.to_string());
                            }
                        }
                    }
                    let level = t
                        .get("level")
                        .and_then(|v| v.as_str())
                        .unwrap_or("warn")
                        .to_string();
                    (
                        level,
                        t.get("priority").and_then(|v| v.as_integer()).unwrap_or(0),
                    )
                }
                _ => return Err(format!("invalid lint setting for `{tool}.{lint}`")),
            };
            if !["forbid", "deny", "warn", "allow", "expect"].contains(&level.as_str()) {
                return Err(format!("unknown lint level `{level}` for `{tool}.{lint}`"));
            }
            let name = if tool == "rust" {
                lint.clone()
            } else {
                format!("{tool}::{lint}")
            };
            entries.push((priority, lint.clone(), format!("--{level}={name}")));
        }
    }
    entries.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.2.cmp(&b.2))
    });
    let mut flags: Vec<String> = entries.into_iter().map(|(_, _, flag)| flag).collect();
    for c in check_cfg {
        flags.push("--check-cfg".into());
        flags.push(c);
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lints_are_ordered_like_cargo() {
        let root: toml::Table = r#"
[workspace.lints.rust]
unsafe_code = "warn"
unused_qualifications = { level = "deny", priority = -1 }
unexpected_cfgs = { level = "warn", check-cfg = ['cfg(my_custom_cfg)'] }
[workspace.lints.clippy]
pedantic = { level = "warn", priority = -1 }
"#
        .parse()
        .unwrap();
        let member: toml::Table = "[lints]\nworkspace = true\n".parse().unwrap();
        assert_eq!(
            lint_flags(&member, &root).unwrap(),
            [
                "--deny=unused_qualifications",
                "--warn=clippy::pedantic",
                "--warn=unsafe_code",
                "--warn=unexpected_cfgs",
                "--check-cfg",
                "cfg(my_custom_cfg)"
            ]
        );
    }

    #[test]
    fn bad_lint_level_is_reported() {
        let member: toml::Table = "[lints.rust]\nunsafe_code = \"loud\"\n".parse().unwrap();
        assert!(lint_flags(&member, &toml::Table::new())
            .unwrap_err()
            .contains("loud"));
    }
}

//! The keying policy of an action: what of its final invocation and of its
//! dependencies' results goes into its [`KeyComponents`].
//!
//! The executor decides *how* an action runs (the flags build scripts add,
//! which program runs); this module decides what of that identifies it:
//!
//! * [`compose`]: the components known before running, from the final
//!   argv and environment, the package identity and the dependency edges;
//! * [`fill_inputs`]: the second step, from the files and variables the
//!   last run read;
//! * [`DepDigests`]: what an action gives its dependents, computed from its
//!   result ([`DepDigests::of_result`]) or, for a pipelined `.rmeta`,
//!   before it finished ([`DepDigests::pipelined`]); each edge keys on the
//!   one its [`Needs`] asks for ([`DepDigests::for_edge`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::key::{InputDigest, KeyComponents, KEY_SCHEMA_VERSION};
use super::normalize::NormalizedText;
use super::{policy, PathNormalizer};
use crate::cache::{ActionResult, OutputFile};
use crate::core::{Digest, RelPath};
use crate::plan::action::{ActionKind, Needs};
use crate::plan::{Action, ActionGraph};

/// What identifies the build every action of one execution belongs to.
#[derive(Clone, Copy)]
pub struct KeyContext<'a> {
    /// `rustc -vV` and the linker.
    pub toolchain_id: &'a str,
    /// Paths out of keys.
    pub normalizer: &'a PathNormalizer,
}

/// The digests an action gives its dependents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepDigests {
    /// What a metadata edge consumes: the `.rmeta` and the closure of its
    /// inputs (the same as `full` for an action without `.rmeta`).
    pub meta: Digest,
    /// What a full edge consumes: every output but the ones only hbuild
    /// reads ([`consumed_digest`]) and the closure of its inputs.
    pub full: Digest,
}

impl DepDigests {
    /// The digest an edge with `needs` keys on.
    pub fn for_edge(&self, needs: Needs) -> Digest {
        match needs {
            Needs::Metadata => self.meta,
            Needs::Full => self.full,
        }
    }

    /// The digests of action `a`'s result `r`, with `comps` its key
    /// components (whose dependency digests close over its inputs).
    pub fn of_result(a: &Action, r: &ActionResult, comps: &KeyComponents) -> Self {
        let full = {
            let mut h = blake3::Hasher::new();
            h.update(b"full");
            h.update(consumed_digest(a, r).as_bytes());
            for (_, d) in &comps.deps {
                h.update(d.as_bytes());
            }
            Digest::from_bytes(*h.finalize().as_bytes())
        };
        let rmeta = a.rmeta.as_ref().and_then(|rm| {
            let rel = RelPath::strip(rm, &a.output_root)?;
            r.outputs.iter().find(|o| o.path == rel).map(|o| o.digest)
        });
        let meta = rmeta.map_or(full, |d| meta_digest(d, comps));
        DepDigests { meta, full }
    }

    /// The digests of a library whose `.rmeta` (with digest `rmeta`) is
    /// written while rustc still runs: enough for pipelined dependents,
    /// which need nothing else.
    pub fn pipelined(rmeta: Digest, comps: &KeyComponents) -> Self {
        let meta = meta_digest(rmeta, comps);
        DepDigests { meta, full: meta }
    }
}

/// The key components of action `a` known before it runs, from its final
/// `argv` and `env` (with what build scripts added) and `deps`, the
/// digests of its dependencies (indexed like `a.deps`).
pub fn compose(
    cx: KeyContext<'_>,
    graph: &ActionGraph,
    a: &Action,
    argv: &[String],
    env: &BTreeMap<String, String>,
    deps: &[DepDigests],
) -> KeyComponents {
    let norm = cx.normalizer;
    let mut comps = KeyComponents {
        schema: KEY_SCHEMA_VERSION,
        toolchain: norm.normalize(cx.toolchain_id),
        program: "rustc".into(),
        argv: key_argv(argv).map(|s| norm.normalize(s)).collect(),
        env: policy::keyed_env(env, norm),
        deps: Vec::new(),
        package: package_identity(a),
        inputs: Vec::new(),
        tracked_env: BTreeMap::new(),
        lint_config: None,
        location: None,
    };
    if let Some(d) = &a.lint {
        // Clippy's lints and its rustc: what a linted check's result is.
        // The configuration is added by [`lint_config`].
        comps.program = format!("clippy-driver\n{}", norm.normalize(&d.identity).as_str());
        comps.lint_config = Some(Vec::new());
    }
    if a.kind == ActionKind::TestRun {
        // A test binary is keyed through its digest (a dependency edge);
        // doctests through rustdoc's argv and the toolchain.
        comps.program = if a.test.as_ref().is_some_and(|t| t.doc) {
            "rustdoc --test".into()
        } else {
            "test-run".into()
        };
    }
    if a.kind == ActionKind::Doc {
        comps.program = "rustdoc".into();
        // rustdoc names the pages of generated sources (`include!` from
        // OUT_DIR) by their absolute path: such docs belong to one target
        // dir and are not shared with other checkouts.
        if let Some(run) = a.script_inputs.own {
            if let Some(od) = &graph.actions[run.index()].out_dir {
                comps.program = format!("rustdoc in {}", od.display());
            }
        }
    }
    for (d, r) in a.deps.iter().zip(deps) {
        let dep = &graph.actions[d.action.index()];
        if a.kind == ActionKind::BuildScriptRun && dep.kind == ActionKind::BuildScriptCompile {
            comps.program = format!("build-script:{}", r.full);
        }
        let label = d.extern_name.clone().unwrap_or_else(|| dep.display_name());
        comps.deps.push((label, r.for_edge(d.needs)));
    }
    comps
}

/// The package identity: a registry or git source is immutable and
/// identified by itself; a path package (a member or not) by its name and
/// version, since its source says where the checkout is and its files are
/// keyed as inputs.
fn package_identity(a: &Action) -> String {
    if a.is_member || a.package_id.0.starts_with("path+") {
        format!("{}@{}", a.package_name, a.package_version)
    } else {
        a.package_id.0.clone()
    }
}

/// The argv as keyed: without `-C incremental=DIR`, an execution strategy
/// (like the rustc wrapper) that must not change what rustc produces.
pub fn key_argv(argv: &[String]) -> impl Iterator<Item = &String> {
    let mut skip = false;
    argv.iter()
        .enumerate()
        .filter(move |(i, x)| {
            if std::mem::take(&mut skip) {
                return false;
            }
            if *x == "-C"
                && argv
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("incremental="))
            {
                skip = true;
                return false;
            }
            true
        })
        .map(|(_, x)| x)
}

/// Sets the Clippy configuration of a linted action: the files that apply
/// (`files`, absolute) with their current digests, known before it runs,
/// so that a new, edited or removed `clippy.toml` changes its pre-key.
pub fn lint_config(
    comps: &mut KeyComponents,
    norm: &PathNormalizer,
    files: &[PathBuf],
    digests: Vec<Option<Digest>>,
) {
    if comps.lint_config.is_none() {
        return;
    }
    comps.lint_config = Some(
        files
            .iter()
            .zip(digests)
            .map(|(f, digest)| InputDigest {
                path: norm.path(f),
                digest,
            })
            .collect(),
    );
}

/// Where the second step's values come from.
pub struct ReadState<'a> {
    /// The current digest of each file (None: it does not exist), in the
    /// order of the paths asked for.
    pub digest_all: &'a dyn Fn(&[PathBuf]) -> Vec<Option<Digest>>,
    /// The action's own environment.
    pub env: &'a BTreeMap<String, String>,
    /// The environment hbuild was started with, for variables the action
    /// does not set.
    pub process_env: &'a BTreeMap<String, String>,
}

/// Fills the second step of `comps`: the current digests of `files` and
/// the keyed values of the variables `vars`, what the last run read, and
/// this checkout's location if the last run's outputs embedded it.
pub fn fill_inputs(
    comps: &mut KeyComponents,
    norm: &PathNormalizer,
    (files, vars, embeds_location): (&[NormalizedText], &[String], bool),
    state: &ReadState<'_>,
) {
    comps.location = embeds_location.then(|| norm.location_digest());
    let paths: Vec<PathBuf> = files.iter().map(|f| norm.expand(f)).collect();
    let digests = (state.digest_all)(&paths);
    comps.inputs = files
        .iter()
        .zip(digests)
        .map(|(p, d)| InputDigest {
            path: p.clone(),
            digest: d,
        })
        .collect();
    comps.tracked_env = policy::keyed_tracked_env(
        vars.iter().map(|k| {
            let value = state.env.get(k).or_else(|| state.process_env.get(k));
            (k.as_str(), value.map(String::as_str))
        }),
        norm,
    );
}

/// A digest of what dependents consume of a result: every output except
/// the files only hbuild reads (dep-info, a build script's raw stdout and
/// stderr), which name the checkout's paths, plus a build script's parsed
/// directives in their portable form. Two checkouts that produce the same
/// consumable bytes thus give their dependents the same keys, whichever of
/// them stored the entry first.
fn consumed_digest(a: &Action, r: &ActionResult) -> Digest {
    let consumed = |o: &&OutputFile| !a.is_private_output(&o.path.under(&a.output_root));
    let mut h = blake3::Hasher::new();
    for o in r.outputs.iter().filter(consumed) {
        h.update(o.path.as_str().as_bytes());
        h.update(&[0, o.executable as u8]);
        h.update(o.digest.as_bytes());
    }
    if let Some(script) = &r.meta.script {
        h.update(b"\0script\0");
        h.update(script.as_bytes());
    }
    Digest::from_bytes(*h.finalize().as_bytes())
}

fn meta_digest(rmeta: Digest, comps: &KeyComponents) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"meta");
    h.update(rmeta.as_bytes());
    for (_, d) in &comps.deps {
        h.update(d.as_bytes());
    }
    Digest::from_bytes(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn cx_compose(g: &ActionGraph, i: usize) -> KeyComponents {
        let a = &g.actions[i];
        let deps: Vec<DepDigests> = a
            .deps
            .iter()
            .map(|d| {
                let (meta, full) = fixture::dep_digests(d.action.index());
                DepDigests { meta, full }
            })
            .collect();
        let norm = fixture::normalizer();
        let cx = KeyContext {
            toolchain_id: fixture::TOOLCHAIN,
            normalizer: &norm,
        };
        compose(cx, g, a, &a.argv, &a.env, &deps)
    }

    // The keys the fixture's actions had before `compose` existed: any
    // change of what enters a key must show here (and bump the schema).
    #[test]
    fn keys_are_pinned() {
        let g = fixture::graph();
        let pinned = [
            (
                "a181c531352422b2480c227ac6bf2978dba70ea1e7ef1ebb8de687eabc00e108",
                "b5f9bbb565d00e1c8fc149f47ee98bc94c1b12b2749f90ad2649d4d00b05981e",
            ),
            (
                "b735e1f0e4492f4b3ae6fbafa9b46ca666651c731073e679874774e1016c5c8f",
                "a4ce060a786e0a995574c71cac410ae8617ccd0dd9785f911f2a64d4bc655217",
            ),
            (
                "df55c3720ea05a397c5c1b3d13a3abf572241c0f580ce8df8e0232702d311f42",
                "897379797f79d0aec597c8f69001ccf610d5331d82ff7e315c69c5363e1c6332",
            ),
            (
                "dbec95efb087e37f112c4c2d0c615e1f4de1367b8e700fe26110dfddceb9f0fd",
                "96bbb7ae718defb58180031352b6e779a5d6027629f5b69e0800f95e5dc2bd3f",
            ),
        ];
        for (i, (pre, key)) in pinned.iter().enumerate() {
            let c = cx_compose(&g, i);
            assert_eq!(c.pre_key().0.to_hex(), *pre, "pre-key of action {i}");
            assert_eq!(c.key().0.to_hex(), *key, "key of action {i}");
        }
        assert_eq!(KEY_SCHEMA_VERSION, 3);
    }

    #[test]
    fn second_step_is_pinned() {
        let g = fixture::graph();
        let mut c = KeyComponents {
            schema: KEY_SCHEMA_VERSION,
            package: g.actions[3].package_id.0.clone(),
            ..Default::default()
        };
        let digest_all = |paths: &[PathBuf]| -> Vec<Option<Digest>> {
            let lib = std::path::Path::new("/ws/app/src/lib.rs");
            paths
                .iter()
                .map(|p| (p == lib).then(|| Digest::of_bytes(b"pub fn f() {}")))
                .collect()
        };
        let env = BTreeMap::from([("CC".to_string(), "/ws/bin/cc".to_string())]);
        let process_env = BTreeMap::from([
            ("MAKEFLAGS".to_string(), "-j2".to_string()),
            ("CC".to_string(), "gcc".to_string()),
        ]);
        let state = ReadState {
            digest_all: &digest_all,
            env: &env,
            process_env: &process_env,
        };
        let files = [
            "${WORKSPACE}/app/src/lib.rs",
            "${WORKSPACE}/app/src/gone.rs",
        ];
        let files: Vec<NormalizedText> = files.iter().map(|&f| f.into()).collect();
        let vars = ["CC", "MAKEFLAGS", "CXX"].map(String::from);
        let norm = fixture::normalizer();
        fill_inputs(&mut c, &norm, (&files, &vars, false), &state);
        assert_eq!(
            serde_json::to_string(&c.tracked_env).unwrap(),
            r#"{"CC":"${WORKSPACE}/bin/cc","CXX":null}"#,
            "the action's own value wins; execution details are left out"
        );
        assert_eq!(
            c.key().0.to_hex(),
            "d4b493bcc9ecb0b9ab991f14095c704f7475c8b43de07506d1fc714d153fd6f8"
        );
        assert_eq!(
            c.pre_key().0.to_hex(),
            "5283a90075fe73fec1c9ad2618f59febf68e4c1ce24ced039fbdcbbf2a101ab3"
        );

        // Outputs that embedded the checkout's paths tie the key, not the
        // pre-key, to the location.
        let (pre, key) = (c.pre_key(), c.key());
        fill_inputs(&mut c, &norm, (&files, &vars, true), &state);
        assert_eq!(c.pre_key(), pre);
        assert_ne!(c.key(), key);
        let elsewhere = PathNormalizer::new(
            std::path::Path::new("/other"),
            std::path::Path::new("/other/target"),
            Some(std::path::Path::new("/home/u/.cargo")),
            std::path::Path::new("/sysroot"),
        );
        let mut moved = c.clone();
        fill_inputs(&mut moved, &elsewhere, (&files, &vars, true), &state);
        assert_ne!(moved.location, c.location);
        fill_inputs(&mut c, &norm, (&files, &vars, false), &state);
        assert_eq!(c.key(), key, "without the flag the key is as before");
    }

    #[test]
    fn components_of_a_member_with_a_pipelined_and_a_script_edge() {
        let g = fixture::graph();
        let c = cx_compose(&g, 3);
        assert_eq!(c.program, "rustc");
        assert_eq!(
            c.package, "app@0.1.0",
            "a path package has no checkout path"
        );
        let argv: Vec<&str> = c.argv.iter().map(|a| a.as_str()).collect();
        assert!(
            !argv.iter().any(|a| a.starts_with("incremental=")),
            "{argv:?}"
        );
        assert!(argv.contains(&"${WORKSPACE}/app/src/lib.rs"), "{argv:?}");
        assert_eq!(
            c.env.keys().collect::<Vec<_>>(),
            ["CARGO_MANIFEST_DIR", "CARGO_PKG_NAME", "DEPLOY_TOKEN"]
        );
        assert!(!c.env["DEPLOY_TOKEN"].contains("hunter2"));
        let (dep_meta, _) = fixture::dep_digests(0);
        let (_, run_full) = fixture::dep_digests(2);
        assert_eq!(
            c.deps,
            [
                ("dep".to_string(), dep_meta),
                ("app (build script run)".to_string(), run_full)
            ],
            "a metadata edge keys on the rmeta digest, a full edge on all outputs"
        );
    }

    #[test]
    fn a_script_run_keys_on_its_binary() {
        let g = fixture::graph();
        let c = cx_compose(&g, 2);
        let (_, binary) = fixture::dep_digests(1);
        assert_eq!(c.program, format!("build-script:{binary}"));
        assert!(!c.env.contains_key("NUM_JOBS") && !c.env.contains_key("CARGO_MAKEFLAGS"));
        assert_eq!(c.env["OUT_DIR"].as_str(), "${TARGET_DIR}/debug/build-2/out");
    }

    #[test]
    fn result_digests_are_pinned() {
        let g = fixture::graph();
        let lib = fixture::library_result(&g, b"rlib", b"dep.d: /ws/x");
        let d = DepDigests::of_result(&g.actions[0], &lib, &cx_compose(&g, 0));
        assert_eq!(
            d.meta.to_hex(),
            "acc8eb3e2b9310490eb8c6a4555e1a66919d14df270201c1d32425f7520cf978"
        );
        assert_eq!(
            d.full.to_hex(),
            "0848c05a0b5b752af6755be1e5b293619b823ecdc4e055b23ef15113d2bab7e7"
        );
        let run = fixture::script_result(&g, b"cargo::rustc-cfg=x", b"gen", r#"{"cfgs":["x"]}"#);
        let d = DepDigests::of_result(&g.actions[2], &run, &cx_compose(&g, 2));
        let pinned = "2c976ffd04ae21451b203f07f54ad0f2a8a53981724aa3a6fd50fad97caecb2b";
        assert_eq!(
            (d.meta.to_hex(), d.full.to_hex()),
            (pinned.into(), pinned.into())
        );
        let p = DepDigests::pipelined(Digest::of_bytes(b"rmeta"), &cx_compose(&g, 3));
        let pinned = "3d2f90b1183d1c24876ad251f51a699efd9d3083ff8c07b01405099adcb20072";
        assert_eq!(
            (p.meta.to_hex(), p.full.to_hex()),
            (pinned.into(), pinned.into())
        );
    }

    #[test]
    fn dep_digest_ignores_what_only_hbuild_reads() {
        let g = fixture::graph();
        let (a, c) = (&g.actions[0], cx_compose(&g, 0));
        let of = |r: &ActionResult| DepDigests::of_result(a, r, &c);
        let base = of(&fixture::library_result(&g, b"rlib", b"dep.d: /ws/x"));
        let other_checkout = of(&fixture::library_result(&g, b"rlib", b"dep.d: /w2/x"));
        assert_eq!(base, other_checkout, "dep-info bytes are not consumed");
        let other_rlib = of(&fixture::library_result(&g, b"rlib2", b"dep.d: /ws/x"));
        assert_ne!(base.full, other_rlib.full, "rlib bytes are consumed");
        assert_eq!(
            base.meta, other_rlib.meta,
            "a metadata edge reads only the rmeta"
        );

        let (a, c) = (&g.actions[2], cx_compose(&g, 2));
        let of = |stdout: &[u8], generated: &[u8], directives: &str| {
            DepDigests::of_result(
                a,
                &fixture::script_result(&g, stdout, generated, directives),
                &c,
            )
        };
        let base = of(b"cargo::rustc-env=X=/ws/a", b"gen", "{}");
        assert_eq!(
            base,
            of(b"cargo::rustc-env=X=/w2/a", b"gen", "{}"),
            "raw output"
        );
        assert_ne!(
            base,
            of(b"cargo::rustc-env=X=/ws/a", b"gen2", "{}"),
            "OUT_DIR files"
        );
        assert_ne!(
            base,
            of(b"cargo::rustc-env=X=/ws/a", b"gen", "{\"x\":1}"),
            "directives"
        );
    }

    #[test]
    fn each_edge_keys_on_what_it_needs() {
        let d = DepDigests {
            meta: Digest::of_bytes(b"m"),
            full: Digest::of_bytes(b"f"),
        };
        assert_eq!(d.for_edge(Needs::Metadata), d.meta);
        assert_eq!(d.for_edge(Needs::Full), d.full);
    }

    #[test]
    fn incremental_dir_is_not_keyed() {
        let argv: Vec<String> = [
            "--crate-name",
            "a",
            "-C",
            "incremental=/t/inc",
            "-C",
            "debuginfo=2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let keyed: Vec<&String> = key_argv(&argv).collect();
        assert_eq!(keyed, ["--crate-name", "a", "-C", "debuginfo=2"]);
    }
}

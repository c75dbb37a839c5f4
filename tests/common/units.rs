//! Normalised units, from Cargo's `--unit-graph` (the oracle; only used in
//! tests, with RUSTC_BOOTSTRAP) and from `cargo hbuild --plan`, so that the
//! two can be compared as sets.
//!
//! What is compared per unit: package name and version, target kind and
//! name, mode, platform, features, profile settings that reach rustc, and
//! the set of dependencies with their extern names. What is not: Cargo's
//! hashes and absolute paths (they legitimately differ), and the profile of
//! build-script *runs*, which Cargo strips and which only feeds OPT_LEVEL,
//! DEBUG and PROFILE (checked by the rustc-invocation parity instead), and
//! `incremental`, an execution strategy that the rustc-invocation parity
//! checks through `-C incremental`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Identity of a unit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnitKey {
    /// `name@version`.
    pub package: String,
    /// `lib`, `bin`, `custom-build`...
    pub target_kind: String,
    /// Target name.
    pub target: String,
    /// `build`, `test`, `run-custom-build`.
    pub mode: String,
    /// Triple, or `host`.
    pub platform: String,
    /// Features.
    pub features: Vec<String>,
    /// Profile settings (part of the identity: `--release --all-targets`
    /// builds some libraries twice, with `panic=abort` and `unwind`).
    pub profile: Vec<(String, String)>,
}

/// A unit with what is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormUnit {
    /// Identity.
    pub key: UnitKey,
    /// Profile settings.
    pub profile: BTreeMap<String, String>,
    /// Dependencies: (dependency key, extern name or "").
    pub deps: BTreeSet<(UnitKey, String)>,
}

fn s(v: &Value) -> String {
    match v {
        Value::String(x) => x.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn pkg_of(id: &str) -> String {
    // `path+file:///x/crates/app#0.3.1`, `registry+...#anyhow@1.0.1`, `path+file:///x/util#util@0.1.0`.
    let frag = id.rsplit('#').next().unwrap_or(id);
    if let Some((n, v)) = frag.split_once('@') {
        return format!("{n}@{v}");
    }
    let name = id
        .split('#')
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("");
    format!("{name}@{frag}")
}

fn debuginfo(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(0) => "none".into(),
            Some(1) => "limited".into(),
            _ => "full".into(),
        },
        Value::String(x) => x.clone(),
        _ => "?".into(),
    }
}

fn profile(
    mode: &str,
    p: &Value,
    opt: &Value,
    debug: String,
    codegen_units: &Value,
    lto: String,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if mode == "run-custom-build" {
        return m;
    }
    m.insert("opt_level".into(), s(opt));
    m.insert("debuginfo".into(), debug);
    m.insert("debug_assertions".into(), s(&p["debug_assertions"]));
    m.insert("overflow_checks".into(), s(&p["overflow_checks"]));
    m.insert("panic".into(), s(&p["panic"]));
    m.insert("codegen_units".into(), s(codegen_units));
    m.insert("lto".into(), lto);
    m
}

/// Units of Cargo's `--unit-graph` JSON.
pub fn from_unit_graph(json: &str) -> Vec<NormUnit> {
    let g: Value = serde_json::from_str(json).expect("unit graph JSON");
    let units = g["units"].as_array().unwrap();
    let keys: Vec<UnitKey> = units
        .iter()
        .map(|u| UnitKey {
            package: pkg_of(u["pkg_id"].as_str().unwrap()),
            target_kind: u["target"]["kind"][0]
                .as_str()
                .unwrap()
                .replace("proc-macro", "lib")
                .replace("cdylib", "lib")
                .replace("rlib", "lib"),
            target: u["target"]["name"].as_str().unwrap().to_string(),
            mode: u["mode"].as_str().unwrap().to_string(),
            platform: u["platform"].as_str().unwrap_or("host").to_string(),
            features: u["features"].as_array().unwrap().iter().map(s).collect(),
            profile: {
                let p = &u["profile"];
                profile(
                    u["mode"].as_str().unwrap(),
                    p,
                    &p["opt_level"],
                    debuginfo(&p["debuginfo"]),
                    &p["codegen_units"],
                    s(&p["lto"]),
                )
                .into_iter()
                .collect()
            },
        })
        .collect();
    units
        .iter()
        .zip(&keys)
        .map(|(u, k)| {
            let p = &u["profile"];
            NormUnit {
                key: k.clone(),
                profile: profile(
                    &k.mode,
                    p,
                    &p["opt_level"],
                    debuginfo(&p["debuginfo"]),
                    &p["codegen_units"],
                    s(&p["lto"]),
                ),
                deps: u["dependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        let dep = keys[d["index"].as_u64().unwrap() as usize].clone();
                        // Edges into build-script units carry the script's
                        // crate name (`build_script_<stem>`), which no rustc
                        // call uses; hbuild records no extern name for them.
                        let name = if dep.target_kind == "custom-build" {
                            ""
                        } else {
                            d["extern_crate_name"].as_str().unwrap()
                        };
                        (dep, name.to_string())
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Units of `cargo hbuild --plan` JSON.
pub fn from_plan(json: &str, triple: Option<&str>) -> Vec<NormUnit> {
    let g: Value = serde_json::from_str(json).expect("plan JSON");
    let actions = g["actions"].as_array().unwrap();
    let keys: Vec<UnitKey> = actions
        .iter()
        .map(|a| UnitKey {
            package: format!("{}@{}", s(&a["package_name"]), s(&a["package_version"])),
            target_kind: s(&a["target_kind"]),
            target: s(&a["target_name"]),
            // Cargo's unit graph writes both check modes as `check`.
            mode: s(&a["mode"]).replace("check-test", "check"),
            platform: if a["compile_kind"] == "target" {
                triple.unwrap_or("?").to_string()
            } else {
                "host".into()
            },
            features: a["features"].as_array().unwrap().iter().map(s).collect(),
            profile: {
                let p = &a["profile"];
                let lto = match s(&p["lto"]).as_str() {
                    "fat" => "true".to_string(),
                    other => other.to_string(),
                };
                profile(
                    &s(&a["mode"]),
                    p,
                    &p["opt_level"],
                    s(&p["debuginfo"]),
                    &p["codegen_units"],
                    lto,
                )
                .into_iter()
                .collect()
            },
        })
        .collect();
    actions
        .iter()
        .zip(&keys)
        // A test binary's run is no unit of Cargo's (a doctest run is).
        .filter(|(a, _)| !(a["kind"] == "test-run" && a["mode"] == "test"))
        // Nor is the assembly of target/doc.
        .filter(|(a, _)| a["kind"] != "doc-index")
        .map(|(a, k)| {
            let p = &a["profile"];
            let lto = match s(&p["lto"]).as_str() {
                "fat" => "true".to_string(),
                other => other.to_string(),
            };
            let debug = s(&p["debuginfo"]);
            NormUnit {
                key: k.clone(),
                profile: profile(&k.mode, p, &p["opt_level"], debug, &p["codegen_units"], lto),
                deps: a["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        (
                            keys[d["action"].as_u64().unwrap() as usize].clone(),
                            d["extern_name"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    // Cargo lists the binaries an integration test runs as
                    // dependencies; hbuild records them as runtime deps.
                    .chain(a["runtime_deps"].as_array().unwrap().iter().map(|d| {
                        let k = keys[d.as_u64().unwrap() as usize].clone();
                        let name = k.target.replace('-', "_");
                        (k, name)
                    }))
                    .collect(),
            }
        })
        .collect()
}

/// A readable difference between two unit sets ("" when equal). Units
/// that share a key (Cargo writes a plain check and a test check of one
/// target alike) are compared as a group, by profile and dependencies.
pub fn diff(cargo: &[NormUnit], hbuild: &[NormUnit]) -> String {
    let index = |v: &[NormUnit]| -> BTreeMap<UnitKey, Vec<NormUnit>> {
        let mut m: BTreeMap<UnitKey, Vec<NormUnit>> = BTreeMap::new();
        for u in v {
            m.entry(u.key.clone()).or_default().push(u.clone());
        }
        m
    };
    let (c, h) = (index(cargo), index(hbuild));
    let mut out = String::new();
    for k in c.keys() {
        if !h.contains_key(k) {
            out.push_str(&format!("only in cargo: {k:?}\n"));
        }
    }
    for k in h.keys() {
        if !c.contains_key(k) {
            out.push_str(&format!("only in hbuild: {k:?}\n"));
        }
    }
    for (k, cg) in &c {
        let Some(hg) = h.get(k) else { continue };
        if let ([cu], [hu]) = (cg.as_slice(), hg.as_slice()) {
            diff_unit(k, cu, hu, &mut out);
            continue;
        }
        let shape = |g: &[NormUnit]| {
            let mut v: Vec<String> = g
                .iter()
                .map(|u| format!("{:?} {:?}", u.profile, u.deps))
                .collect();
            v.sort();
            v
        };
        if shape(cg) != shape(hg) {
            out.push_str(&format!(
                "units {k:?} differ:\n  cargo  {:?}\n  hbuild {:?}\n",
                shape(cg),
                shape(hg)
            ));
        }
    }
    out
}

fn diff_unit(k: &UnitKey, cu: &NormUnit, hu: &NormUnit, out: &mut String) {
    if cu.profile != hu.profile {
        out.push_str(&format!(
            "profile differs for {k:?}:\n  cargo  {:?}\n  hbuild {:?}\n",
            cu.profile, hu.profile
        ));
    }
    if cu.deps != hu.deps {
        let only_c: Vec<_> = cu.deps.difference(&hu.deps).collect();
        let only_h: Vec<_> = hu.deps.difference(&cu.deps).collect();
        out.push_str(&format!(
            "deps differ for {k:?}:\n  only cargo  {only_c:?}\n  only hbuild {only_h:?}\n"
        ));
    }
}

//! Unit-graph tests on the captured metadata of `kitchen-sink`
//! (`testdata/metadata/`), planned without cargo or rustc.

use crate::plan::testkit::{set, Fixture, HOST};
use crate::plan::unit::{LtoMode, Unit};
use crate::plan::PlanError;
use crate::workspace::features::Side;
use crate::workspace::profiles::{DebugInfo, Profiles};

fn short(f: &Fixture, ug: &super::UnitGraph, what: &str) -> String {
    let found = f.find(ug, what);
    assert_eq!(found.len(), 1, "`{what}` is not one unit");
    found[0].short_hash()
}

/// Hashes name every output file and enter every action key: they must
/// not move when the planner's code does. Values from the planner before
/// it was split into modules; those above `mymacro` moved once since, when
/// the fixture's syn lost its `full` feature (the hash covers features).
#[test]
fn unit_hashes_are_pinned() {
    #[derive(Clone, Copy)]
    enum Req {
        Dev,
        Release,
        Target,
    }
    use Req::*;
    let pins = [
        (Dev, "util lib:util_lib build host", "7bd4294cc13bc7e3"),
        (Dev, "app lib:app_core build host", "baefdfeaa2058751"),
        (Dev, "app bin:app-cli build host", "cea35a76e0dc4bb2"),
        (
            Dev,
            "foo-sys custom-build:build-script-build run host",
            "22a0351ce3bc6604",
        ),
        (Release, "app bin:app-cli build host", "e354a446e77f5dc6"),
        (
            Release,
            "mymacro lib:mymacro build host for-host",
            "45ddfbd1369d9dc8",
        ),
        (Target, "app bin:app-cli build target", "8cbf50346e7159b0"),
        (
            Target,
            "app custom-build:build-script-build run target",
            "71a6075447bf0a9e",
        ),
    ];
    let f = Fixture::kitchen_sink();
    for (which, unit, hash) in pins {
        let mut req = f.request();
        match which {
            Dev => {}
            Release => req.profile = "release".into(),
            Target => req.target = Some(HOST.into()),
        }
        let ug = f.plan(&req).unwrap();
        assert_eq!(short(&f, &ug, unit), hash, "{unit}");
    }
}

#[test]
fn default_members_build_their_libs_and_bins() {
    let f = Fixture::kitchen_sink();
    let ug = f.plan(&f.request()).unwrap();
    assert_eq!(
        f.root_set(&ug),
        set(&[
            "app bin:app-cli build host",
            "app bin:helper build host",
            "app lib:app_core build host",
            "plugin lib:plugin build host",
        ])
    );
}

#[test]
fn dash_p_plans_only_that_package_and_its_dependencies() {
    let f = Fixture::kitchen_sink();
    let mut req = f.request();
    req.packages = vec!["util".into()];
    let ug = f.plan(&req).unwrap();
    assert_eq!(f.unit_set(&ug), set(&["util lib:util_lib build host"]));

    req.packages = vec!["plugin".into()];
    let ug = f.plan(&req).unwrap();
    assert_eq!(
        f.unit_set(&ug),
        set(&[
            "plugin lib:plugin build host",
            "shared lib:shared build host"
        ])
    );
}

#[test]
fn unknown_package_is_an_error_naming_it() {
    let f = Fixture::kitchen_sink();
    let mut req = f.request();
    req.packages = vec!["nope".into()];
    let err = f.plan(&req).unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
}

#[test]
fn all_targets_selects_every_target_and_test_mode() {
    let f = Fixture::kitchen_sink();
    let mut req = f.request();
    req.packages = vec!["app".into()];
    req.targets.all_targets = true;
    let ug = f.plan(&req).unwrap();
    assert_eq!(
        f.root_set(&ug),
        set(&[
            "app bench:mybench test host",
            "app bin:app-cli build host",
            "app bin:app-cli test host",
            "app bin:helper build host",
            "app bin:helper test host",
            "app example:demo build host",
            "app lib:app_core build host",
            "app lib:app_core test host",
            "app test:integ test host",
        ])
    );
    // The dev-dependency appears only with dev targets.
    assert!(f.unit_set(&ug).contains("either lib:either build host"));
    let ug = f.plan(&f.request()).unwrap();
    assert!(!f.unit_set(&ug).contains("either lib:either build host"));
}

#[test]
fn a_feature_flag_adds_exactly_its_units_and_features() {
    let f = Fixture::kitchen_sink();
    let base = f.plan(&f.request()).unwrap();
    let mut req = f.request();
    req.features = vec!["app/extra".into()];
    let extra = f.plan(&req).unwrap();
    let added: Vec<String> = f
        .unit_set(&extra)
        .difference(&f.unit_set(&base))
        .cloned()
        .collect();
    assert_eq!(added, ["ryu lib:ryu build host"]);
    let util = f.find(&extra, "util lib:util_lib build host");
    assert_eq!(util[0].features, ["fancy"]);
    let app = f.find(&extra, "app lib:app_core build host");
    assert_eq!(app[0].features, ["default", "extra", "fast", "ryu"]);
}

#[test]
fn required_features_drop_a_target_unless_it_is_named() {
    let mut f = Fixture::kitchen_sink();
    let app = f.pkg("app");
    let helper = f.loaded.model.packages[app]
        .targets
        .iter()
        .position(|t| t.name == "helper")
        .unwrap();
    f.loaded.model.packages[app].targets[helper].required_features = vec!["extra".into()];

    let ug = f.plan(&f.request()).unwrap();
    assert!(!f.unit_set(&ug).contains("app bin:helper build host"));
    let mut req = f.request();
    req.features = vec!["app/extra".into()];
    let ug = f.plan(&req).unwrap();
    assert!(f.root_set(&ug).contains("app bin:helper build host"));

    let mut req = f.request();
    req.targets.bins = vec!["helper".into()];
    match f.plan(&req) {
        Err(PlanError::RequiredFeatures {
            target,
            package,
            features,
        }) => assert_eq!(
            (&*target, &*package, &*features),
            ("helper", "app", "extra")
        ),
        other => panic!("expected a required-features error, got {other:?}"),
    }
}

/// Position of a unit in the graph, which lists dependencies first.
fn position(f: &Fixture, ug: &super::UnitGraph, what: &str) -> usize {
    let u: *const Unit = f.find(ug, what)[0];
    ug.units.iter().position(|x| std::ptr::eq(x, u)).unwrap()
}

#[test]
fn build_script_runs_before_its_package_compiles_and_after_links_dependencies() {
    let f = Fixture::kitchen_sink();
    let ug = f.plan(&f.request()).unwrap();
    let run = "app custom-build:build-script-build run host";
    let lib = "app lib:app_core build host";
    assert!(f.dep_set(&ug, f.find(&ug, lib)[0]).contains(run));
    assert!(position(&f, &ug, run) < position(&f, &ug, lib));
    // The run needs its compiled script and, for `DEP_FOO_*`, the run of
    // the `links` dependency foo-sys; nothing else.
    assert_eq!(
        f.dep_set(&ug, f.find(&ug, run)[0]),
        set(&[
            "app custom-build:build-script-build build host for-host",
            "foo-sys custom-build:build-script-build run host",
        ])
    );
    let run = f.find(&ug, run)[0];
    assert!(run.deps.iter().all(|d| d.extern_name.is_none()));
    // The script links its build-dependency, on the host side.
    assert_eq!(
        f.dep_set(
            &ug,
            f.find(
                &ug,
                "app custom-build:build-script-build build host for-host"
            )[0]
        ),
        set(&["shared lib:shared build host for-host"])
    );
}

#[test]
fn proc_macros_and_their_dependencies_are_host_side() {
    let f = Fixture::kitchen_sink();
    let mut req = f.request();
    req.target = Some(HOST.into());
    let ug = f.plan(&req).unwrap();
    let app = f.find(&ug, "app lib:app_core build target")[0];
    assert!(f
        .dep_set(&ug, app)
        .contains("mymacro lib:mymacro build host for-host"));
    assert_eq!(
        f.dep_set(
            &ug,
            f.find(&ug, "mymacro lib:mymacro build host for-host")[0]
        ),
        set(&[
            "proc-macro2 lib:proc_macro2 build host for-host",
            "quote lib:quote build host for-host",
            "syn lib:syn build host for-host",
        ])
    );
    // A proc-macro built as a root uses the normal profile, but what it
    // links is still host code.
    req.packages = vec!["mymacro".into()];
    let ug = f.plan(&req).unwrap();
    assert_eq!(
        f.dep_set(&ug, f.find(&ug, "mymacro lib:mymacro build host")[0]),
        set(&[
            "proc-macro2 lib:proc_macro2 build host for-host",
            "quote lib:quote build host for-host",
            "syn lib:syn build host for-host",
        ])
    );
    // Nothing on the host side links target code.
    for u in ug.units.iter().filter(|u| u.for_host) {
        for d in &u.deps {
            let du = &ug.units[d.unit.index()];
            assert!(du.for_host || d.extern_name.is_none(), "{}", f.describe(u));
        }
    }
}

#[test]
fn host_units_without_a_target_twin_lose_deferred_debuginfo() {
    let f = Fixture::kitchen_sink();
    let ug = f.plan(&f.request()).unwrap();
    let target = f.find(&ug, "shared lib:shared build host")[0];
    let host = f.find(&ug, "shared lib:shared build host for-host")[0];
    assert_eq!(
        (target.features.as_slice(), host.features.as_slice()),
        (&["a".to_string()][..], &["c".to_string()][..])
    );
    assert_eq!(target.profile.debuginfo, DebugInfo::Full);
    assert_eq!(host.profile.debuginfo, DebugInfo::None);
}

#[test]
fn identical_host_and_target_units_are_shared() {
    let f = Fixture::kitchen_sink();
    let req = f.request();
    let shared = f.pkg("shared");
    // Give the build-dependency the normal dependency's features: the two
    // units are then identical and Cargo builds one, keeping its debuginfo.
    let ug = f
        .plan_edited(&req, &f.profiles(&req), |r| {
            r.features[Side::Host as usize][shared] = Some(vec!["a".into()]);
        })
        .unwrap();
    let units = f.find(&ug, "shared lib:shared build host");
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].profile.debuginfo, DebugInfo::Full);
    assert!(!f
        .unit_set(&ug)
        .contains("shared lib:shared build host for-host"));
    assert_eq!(
        f.dep_set(
            &ug,
            f.find(
                &ug,
                "app custom-build:build-script-build build host for-host"
            )[0]
        ),
        set(&["shared lib:shared build host"])
    );

    // With `--target` host and target units never share.
    let mut req = f.request();
    req.target = Some(HOST.into());
    let ug = f
        .plan_edited(&req, &f.profiles(&req), |r| {
            r.features[Side::Host as usize][shared] = Some(vec!["a".into()]);
        })
        .unwrap();
    assert_eq!(
        f.find(&ug, "shared lib:shared build host for-host").len(),
        1
    );
    assert_eq!(f.find(&ug, "shared lib:shared build target").len(), 1);
}

fn release_with(
    f: &Fixture,
    profile_release: &str,
) -> (super::UnitGraph, crate::plan::BuildRequest) {
    let mut req = f.request();
    req.profile = "release".into();
    // The fixture's own release profile, with one setting added.
    let text = std::fs::read_to_string(&f.loaded.model.root_manifest)
        .unwrap()
        .replace(
            "[profile.release]\n",
            &format!("[profile.release]\n{profile_release}\n"),
        );
    assert!(text.contains(profile_release));
    let profiles =
        Profiles::from_manifest_text(&text, &f.loaded.model.root_manifest, "release", None)
            .unwrap();
    (f.plan_with(&req, &profiles).unwrap(), req)
}

fn with_lto(
    f: &Fixture,
    ug: &super::UnitGraph,
    mode: &LtoMode,
) -> std::collections::BTreeSet<String> {
    ug.units
        .iter()
        .filter(|u| &u.lto == mode)
        .map(|u| f.describe(u))
        .collect()
}

#[test]
fn fat_lto_runs_on_binaries_and_leaves_bitcode_below() {
    let f = Fixture::kitchen_sink();
    let (ug, _) = release_with(&f, "lto = true");
    assert_eq!(
        with_lto(&f, &ug, &LtoMode::Run(None)),
        set(&["app bin:app-cli build host", "app bin:helper build host"])
    );
    // The cdylib needs objects, and so does what it links.
    assert_eq!(
        with_lto(&f, &ug, &LtoMode::ObjectAndBitcode),
        set(&[
            "plugin lib:plugin build host",
            "shared lib:shared build host"
        ])
    );
    for u in &ug.units {
        let d = f.describe(u);
        if u.for_host || d.contains(" run ") {
            assert_eq!(u.lto, LtoMode::OnlyObject, "{d}");
        } else if !matches!(u.lto, LtoMode::Run(_) | LtoMode::ObjectAndBitcode) {
            assert_eq!(u.lto, LtoMode::OnlyBitcode, "{d}");
        }
    }
    let (ug, _) = release_with(&f, "lto = \"thin\"");
    assert_eq!(
        with_lto(&f, &ug, &LtoMode::Run(Some("thin".into()))),
        set(&["app bin:app-cli build host", "app bin:helper build host"])
    );
    let (ug, _) = release_with(&f, "lto = false");
    assert!(ug.units.iter().all(|u| u.lto == LtoMode::OnlyObject));
}

fn check_request(f: &Fixture) -> crate::plan::BuildRequest {
    let mut req = f.request();
    req.check = Some(crate::plan::request::CheckRequest::default());
    req
}

#[test]
fn a_check_checks_libraries_and_builds_what_runs_at_build_time() {
    let f = Fixture::kitchen_sink();
    let mut req = check_request(&f);
    req.packages = vec!["mymacro".into(), "cnative".into()];
    let ug = f.plan(&req).unwrap();
    assert_eq!(
        f.root_set(&ug),
        set(&[
            "cnative lib:cnative check host",
            "mymacro lib:mymacro check host"
        ])
    );
    // A checked proc-macro's own dependencies are checked; a build
    // script, what it links and its run are built.
    for u in [
        "syn lib:syn check host for-host",
        "cnative custom-build:build-script-main build host for-host",
        "cc lib:cc build host for-host",
        "cnative custom-build:build-script-main run host",
    ] {
        f.find(&ug, u);
    }
    let cnative = f.find(&ug, "cnative lib:cnative check host")[0];
    assert!(f
        .dep_set(&ug, cnative)
        .contains("cnative custom-build:build-script-main run host"));

    // Under a checked package, a proc-macro dependency is built, with
    // everything it links.
    let mut req = check_request(&f);
    req.packages = vec!["app".into()];
    let ug = f.plan(&req).unwrap();
    for u in [
        "mymacro lib:mymacro build host for-host",
        "syn lib:syn build host for-host",
        "util lib:util_lib check host",
        "anyhow lib:anyhow check host",
    ] {
        f.find(&ug, u);
    }
    assert!(!ug
        .units
        .iter()
        .any(|u| u.mode == crate::plan::unit::Mode::Build
            && !u.for_host
            && f.describe(u).contains(" lib:")));
    // Check outputs never take a built unit's name.
    let built = f
        .plan(&{
            let mut r = f.request();
            r.packages = vec!["app".into()];
            r
        })
        .unwrap();
    assert_ne!(
        short(&f, &ug, "util lib:util_lib check host"),
        short(&f, &built, "util lib:util_lib build host")
    );
}

#[test]
fn tests_are_checked_as_tests_with_dev_dependencies_and_no_binaries() {
    let f = Fixture::kitchen_sink();
    let mut req = check_request(&f);
    req.packages = vec!["app".into()];
    req.targets.tests = vec!["integ".into()];
    let ug = f.plan(&req).unwrap();
    assert_eq!(f.root_set(&ug), set(&["app test:integ check-test host"]));
    let integ = f.find(&ug, "app test:integ check-test host")[0];
    let deps = f.dep_set(&ug, integ);
    assert!(deps.contains("either lib:either check host"), "{deps:?}");
    assert!(deps.contains("app lib:app_core check host"), "{deps:?}");
    assert!(
        !ug.units
            .iter()
            .any(|u| f.describe(u).starts_with("app bin:")),
        "a check runs no test, so it needs no binary"
    );
    // `--profile test`: every root is checked as a test.
    let mut req = check_request(&f);
    req.check.as_mut().unwrap().test = true;
    req.profile = "test".into();
    req.packages = vec!["util".into()];
    let ug = f.plan(&req).unwrap();
    assert_eq!(f.root_set(&ug), set(&["util lib:util_lib check-test host"]));
}

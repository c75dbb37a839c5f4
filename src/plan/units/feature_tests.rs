//! Feature resolution (`workspace::features`) on captured `cargo metadata`:
//! the planner's test kit builds the requests, as the analysis does.

use crate::plan::request::BuildRequest;
use crate::plan::testkit::{linux_info, Fixture};
use crate::plan::units::select;
use crate::workspace::features::*;
use crate::workspace::WorkspaceError;

/// Resolves kitchen-sink for `-p` specs (default members when empty)
/// and `--features` values.
fn resolve_with(
    fx: &Fixture,
    packages: &[&str],
    features: &[&str],
    edit: impl FnOnce(&mut BuildRequest),
) -> Result<Resolution, WorkspaceError> {
    let mut req = fx.request();
    req.packages = packages.iter().map(|s| s.to_string()).collect();
    req.features = features.iter().map(|s| s.to_string()).collect();
    edit(&mut req);
    let model = &fx.loaded.model;
    let selected = select::packages(model, &req)?;
    let info = linux_info();
    resolve(
        &fx.loaded.graph,
        model,
        &req.feature_request(selected),
        &info,
        &info,
    )
}

fn ok(fx: &Fixture, packages: &[&str], features: &[&str]) -> Resolution {
    resolve_with(fx, packages, features, |_| {}).expect("resolves")
}

fn err(fx: &Fixture, packages: &[&str], features: &[&str]) -> String {
    match resolve_with(fx, packages, features, |_| {}) {
        Ok(_) => panic!("{packages:?} {features:?} resolved"),
        Err(e) => e.to_string(),
    }
}

/// The features of a package on a side; `None` when it is not built there.
fn on(fx: &Fixture, r: &Resolution, side: Side, name: &str) -> Option<Vec<String>> {
    r.features[side as usize][fx.pkg(name)].clone()
}

fn list(s: &[&str]) -> Option<Vec<String>> {
    Some(s.iter().map(|x| x.to_string()).collect())
}

/// Where `crates/app` is, as Cargo's resolver errors print it.
fn app_id(fx: &Fixture) -> String {
    let root = fx.loaded.model.root.join("crates/app");
    format!("app v0.3.1 ({})", root.display())
}

#[test]
fn a_selected_members_own_feature() {
    let fx = Fixture::kitchen_sink();
    let r = ok(&fx, &["app"], &["app/extra"]);
    assert_eq!(
        on(&fx, &r, Side::Target, "app"),
        list(&["default", "extra", "fast", "ryu"])
    );
    // `extra` asks `myutil/fancy` and turns the optional `ryu` on.
    assert_eq!(on(&fx, &r, Side::Target, "util"), list(&["fancy"]));
    assert_eq!(on(&fx, &r, Side::Target, "ryu"), list(&[]));
    // `?` means nothing for a member.
    let weak = ok(&fx, &["app"], &["app?/extra"]);
    assert_eq!(weak.features, r.features);
}

#[test]
fn a_renamed_dependency_by_its_manifest_name() {
    let fx = Fixture::kitchen_sink();
    let r = ok(&fx, &["app"], &["myutil/fancy"]);
    assert_eq!(on(&fx, &r, Side::Target, "util"), list(&["fancy"]));
    assert_eq!(on(&fx, &r, Side::Target, "app"), list(&["default", "fast"]));
    let plain = ok(&fx, &["app"], &[]);
    assert_eq!(on(&fx, &plain, Side::Target, "util"), list(&[]));
}

#[test]
fn a_registry_dependency() {
    let fx = Fixture::kitchen_sink();
    let serde = list(&["default", "derive", "serde_derive", "std"]);
    let r = ok(&fx, &["app"], &["serde/derive"]);
    assert_eq!(on(&fx, &r, Side::Target, "serde"), serde);
    let r = ok(&fx, &["app"], &["serde/rc"]);
    assert_eq!(
        on(&fx, &r, Side::Target, "serde"),
        list(&["default", "derive", "rc", "serde_derive", "std"])
    );
    assert_eq!(
        on(&fx, &r, Side::Target, "serde_core"),
        list(&["rc", "result", "std"])
    );
}

#[test]
fn a_member_that_is_a_dependency_of_the_selected_one() {
    let fx = Fixture::kitchen_sink();
    // Default members are app and plugin; cnative is app's dependency.
    let r = ok(&fx, &[], &["cnative/wide"]);
    assert_eq!(on(&fx, &r, Side::Target, "cnative"), list(&["wide"]));
    assert_eq!(on(&fx, &r, Side::Target, "app"), list(&["default", "fast"]));
}

#[test]
fn an_optional_dependency_is_turned_on_by_its_feature() {
    let fx = Fixture::kitchen_sink();
    let r = ok(&fx, &["app"], &["ryu/small"]);
    assert_eq!(on(&fx, &r, Side::Target, "ryu"), list(&["small"]));
    // As Cargo: the implicit feature of the dependency's name too.
    assert_eq!(
        on(&fx, &r, Side::Target, "app"),
        list(&["default", "fast", "ryu"])
    );
    let app = fx.pkg("app");
    let edge = |to: &str| r.edges[app][0].iter().any(|e| e.to == fx.pkg(to));
    assert!(edge("ryu"));
    // `itoa` is declared through `dep:`: no feature of its name.
    let r = resolve_with(&fx, &["app"], &["itoa/no-panic"], |q| {
        q.no_default_features = true
    })
    .unwrap();
    assert_eq!(on(&fx, &r, Side::Target, "app"), list(&[]));
    assert_eq!(on(&fx, &r, Side::Target, "itoa"), list(&["no-panic"]));
    assert!(r.edges[app][0].iter().any(|e| e.to == fx.pkg("itoa")));
}

#[test]
fn features_outside_the_loaded_resolve_ask_for_another_load() {
    let fx = Fixture::kitchen_sink();
    // The members' features already turn these on.
    for f in ["serde/derive", "cnative/wide", "myutil/fancy"] {
        assert!(ok(&fx, &[], &[f]).reload_with.is_empty(), "{f}");
    }
    // `no-panic` is itoa's optional dependency: only a resolve with
    // the feature has it.
    let r = ok(&fx, &["app"], &["serde/rc", "itoa/no-panic", "ryu?/small"]);
    assert_eq!(r.reload_with, ["itoa/no-panic", "ryu?/small", "serde/rc"]);
}

#[test]
fn a_weak_dependency_feature_waits_for_its_dependency() {
    let fx = Fixture::kitchen_sink();
    let r = ok(&fx, &["app"], &["ryu?/small"]);
    assert_eq!(on(&fx, &r, Side::Target, "ryu"), None);
    assert_eq!(on(&fx, &r, Side::Target, "app"), list(&["default", "fast"]));
    let r = ok(&fx, &["app"], &["extra", "ryu?/small"]);
    assert_eq!(on(&fx, &r, Side::Target, "ryu"), list(&["small"]));
    // A required dependency is on anyway.
    let r = ok(&fx, &["app"], &["myutil?/fancy"]);
    assert_eq!(on(&fx, &r, Side::Target, "util"), list(&["fancy"]));
}

#[test]
fn each_declaration_puts_the_feature_on_its_own_side() {
    let fx = Fixture::kitchen_sink();
    // `shared` is a normal (`a`), dev (`b`) and build (`c`) dependency
    // of app; a plain build has no dev units.
    let r = ok(&fx, &["app"], &["shared/b"]);
    assert_eq!(on(&fx, &r, Side::Target, "shared"), list(&["a", "b"]));
    assert_eq!(on(&fx, &r, Side::Host, "shared"), list(&["b", "c"]));
    let plain = ok(&fx, &["app"], &[]);
    assert_eq!(on(&fx, &plain, Side::Host, "shared"), list(&["c"]));
}

#[test]
fn a_non_member_package_gets_what_the_members_ask() {
    let fx = Fixture::kitchen_sink();
    let r = ok(&fx, &["serde"], &[]);
    assert_eq!(
        on(&fx, &r, Side::Target, "serde"),
        list(&["default", "derive", "serde_derive", "std"])
    );
    assert_eq!(
        err(&fx, &["serde"], &["std"]),
        "cannot specify features for packages outside of workspace"
    );
}

#[test]
fn unknown_names_are_refused_with_cargos_words() {
    let fx = Fixture::kitchen_sink();
    // app calls util `myutil`; util is not selected.
    assert_eq!(
        err(&fx, &["app"], &["util/fancy"]),
        "the package 'app' does not contain this feature: util/fancy"
    );
    assert_eq!(
        err(&fx, &[], &["util/fancy"]),
        "none of the selected packages contains this feature: util/fancy\n\
         selected packages: app, plugin"
    );
    assert_eq!(
        err(&fx, &["app"], &["nope/x"]),
        "the package 'app' does not contain this feature: nope/x\n\
         help: there is a similarly named feature: app/ryu"
    );
    assert_eq!(
        err(&fx, &["app"], &["util/fancy", "zzz/y"]),
        "the package 'app' does not contain these features: util/fancy, zzz/y\n\
         help: there is a similarly named feature: app/ryu"
    );
    assert_eq!(
        err(&fx, &["app"], &["dep:itoa"]),
        "feature `dep:itoa` is not allowed to use explicit `dep:` syntax"
    );
    assert_eq!(
        err(&fx, &["app"], &["a/b/c"]),
        "multiple slashes in feature `a/b/c` is not allowed"
    );
}

#[test]
fn unknown_features_are_refused_with_cargos_words() {
    let fx = Fixture::kitchen_sink();
    assert_eq!(
        err(&fx, &["app"], &["warp-drive"]),
        "the package 'app' does not contain this feature: warp-drive"
    );
    assert_eq!(
        err(&fx, &["app"], &["app/warp-drive"]),
        "the package 'app' does not contain this feature: app/warp-drive\n\
         help: there is a similarly named feature: app/ryu"
    );
    assert_eq!(
        err(&fx, &["app"], &["app/fancy", "x", "y"]),
        "the package 'app' does not contain these features: app/fancy, x, y\n\
         help: there are similarly named features: app/fast, app/ryu, ryu"
    );
    assert_eq!(
        err(&fx, &["app", "plugin"], &["fancy"]),
        "none of the selected packages contains this feature: fancy\n\
         selected packages: app, plugin\n\
         help: package with the missing feature: util"
    );
    assert_eq!(
        err(&fx, &["app"], &["itoa"]),
        format!(
            "package `{}` does not have feature `itoa`\n\n\
             help: an optional dependency with that name exists, but the `features` table \
             includes it with the \"dep:\" syntax so it does not have an implicit feature \
             with that name\nDependency `itoa` would be enabled by these features:\n\t- `fast`",
            app_id(&fx)
        )
    );
}

#[test]
fn a_dependency_without_the_feature_is_refused_with_cargos_words() {
    let fx = Fixture::kitchen_sink();
    let expected = |dep: &str, req: &str, version: &str, feature: &str, hint: &str| {
        format!(
            "failed to select a version for `{dep}`.\n    ... required by package `{}`\n\
             versions that meet the requirements `{req}` (locked to {version}) are: {version}\n\n\
             package `app` depends on `{dep}` with feature `{feature}` but `{dep}` does not have that feature.\n\
             {hint}\n\nfailed to select a version for `{dep}` which could resolve this conflict",
            app_id(&fx)
        )
    };
    assert_eq!(
        err(&fx, &["app"], &["myutil/nope"]),
        expected("util", "*", "0.3.1", "nope", " available features: fancy\n")
    );
    assert_eq!(
        err(&fx, &["app"], &["shared/zz"]),
        expected(
            "shared",
            "*",
            "0.3.1",
            "zz",
            " package `shared` does have feature `a`\n"
        )
    );
    assert_eq!(
        err(&fx, &["app"], &["serde/serde_core"]),
        expected(
            "serde",
            "^1",
            "1.0.229",
            "serde_core",
            " A required dependency with that name exists, but only optional dependencies can be used as features.\n"
        )
    );
    assert_eq!(
        err(&fx, &["app"], &["foo-sys/x"]),
        expected("foo-sys", "*", "0.3.1", "x", "")
    );
}

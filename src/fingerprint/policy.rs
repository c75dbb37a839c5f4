//! The keying policy of environment variables: which of an action's
//! variables enter its key, and in what form.
//!
//! A variable enters the key (the `env` component for what hbuild sets, the
//! `tracked_env` component for what an action declared it reads) unless it
//! is in [`EXECUTION_ONLY_ENV`]. Every keyed value has its paths normalised
//! ([`PathNormalizer`]), and a secret value (the policy of
//! [`crate::core::secret`]) is keyed by its digest, so that stamps and
//! explain records, which keep the key components, never hold it.
//!
//! [`EXECUTION_ONLY_ENV`] are execution details: how many jobs run and how
//! they share the machine, and which wrapper launches rustc. They are still
//! passed to the processes with their real values (a build script sees the
//! real `NUM_JOBS`), but keying them would make a cache filled with `-j2`
//! on a CI runner miss for every build script on a laptop building with
//! `-j8`, and the jobserver descriptors in `CARGO_MAKEFLAGS` differ from one
//! process to the next. Cargo's own fingerprint leaves them out too. In
//! theory a build script could write different outputs for a different
//! `NUM_JOBS`; a script whose outputs depend on the job count is not
//! reproducible under Cargo either.

use std::collections::BTreeMap;

use super::{NormalizedText, PathNormalizer};

/// Variables passed to actions but kept out of keys (see the module docs).
///
/// | variable | why it is an execution detail |
/// |---|---|
/// | `NUM_JOBS` | the `-j` of the build, given to build scripts |
/// | `CARGO_BUILD_JOBS` | Cargo's setting of `-j` |
/// | `CARGO_MAKEFLAGS`, `MAKEFLAGS`, `MFLAGS` | `-j` and the jobserver descriptors (`--jobserver-auth=R,W` / `--jobserver-fds=R,W` / `fifo:PATH`), different in every process |
/// | `MAKELEVEL` | the depth of nested `make` invocations |
/// | `RUSTC_WRAPPER`, `RUSTC_WORKSPACE_WRAPPER` | how rustc is launched (sccache and the like); a wrapper must not change what rustc produces |
pub const EXECUTION_ONLY_ENV: [&str; 8] = [
    "NUM_JOBS",
    "CARGO_BUILD_JOBS",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
];

/// Whether the variable `name` enters keys.
pub fn is_keyed(name: &str) -> bool {
    !EXECUTION_ONLY_ENV.contains(&name)
}

/// The keyed form of one value: paths normalised, a secret as its digest.
pub fn keyed_value(name: &str, value: &str, norm: &PathNormalizer) -> NormalizedText {
    norm.normalize(value).recorded_as(name)
}

/// The `env` component of a key from the variables hbuild sets for an
/// action.
pub fn keyed_env(
    env: &BTreeMap<String, String>,
    norm: &PathNormalizer,
) -> BTreeMap<String, NormalizedText> {
    env.iter()
        .filter(|(k, _)| is_keyed(k))
        .map(|(k, v)| (k.clone(), keyed_value(k, v, norm)))
        .collect()
}

/// The `tracked_env` entries of a key from the variables an action read
/// and their values (None: unset); execution-only variables are left out.
pub fn keyed_tracked_env<'a>(
    read: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    norm: &PathNormalizer,
) -> BTreeMap<String, Option<NormalizedText>> {
    read.into_iter()
        .filter(|(k, _)| is_keyed(k))
        .map(|(k, v)| (k.to_string(), v.map(|v| keyed_value(k, v, norm))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::secret;
    use std::path::Path;

    fn norm() -> PathNormalizer {
        PathNormalizer::new(
            Path::new("/ws"),
            Path::new("/ws/target"),
            None,
            Path::new("/sysroot"),
        )
    }

    #[test]
    fn job_settings_are_not_keyed() {
        let env = |jobs: &str, fds: &str| {
            BTreeMap::from([
                ("NUM_JOBS".to_string(), jobs.to_string()),
                (
                    "CARGO_MAKEFLAGS".to_string(),
                    format!("-j{jobs} --jobserver-auth={fds}"),
                ),
                ("OUT_DIR".to_string(), "/ws/target/out".to_string()),
            ])
        };
        let a = keyed_env(&env("2", "3,4"), &norm());
        assert_eq!(a, keyed_env(&env("1", "5,6"), &norm()));
        assert_eq!(
            a,
            BTreeMap::from([("OUT_DIR".to_string(), "${TARGET_DIR}/out".into())])
        );
        let tracked = keyed_tracked_env(
            [
                ("MAKEFLAGS", Some("-j2")),
                ("CC", Some("gcc")),
                ("CXX", None),
            ],
            &norm(),
        );
        assert_eq!(
            tracked,
            BTreeMap::from([
                ("CC".to_string(), Some("gcc".into())),
                ("CXX".to_string(), None)
            ])
        );
    }

    #[test]
    fn secrets_are_keyed_by_digest() {
        let t = |v: &str| keyed_tracked_env([("MY_API_TOKEN", Some(v))], &norm());
        let a = t("s3cr3t-one");
        let shown = a["MY_API_TOKEN"].clone().unwrap();
        assert!(
            !shown.contains("s3cr3t") && secret::is_digest(&shown),
            "{shown}"
        );
        assert_ne!(a, t("s3cr3t-two"), "a changed secret still changes the key");
        let env = BTreeMap::from([("DEPLOY_TOKEN".to_string(), "hunter2".to_string())]);
        assert!(!keyed_env(&env, &norm())["DEPLOY_TOKEN"].contains("hunter2"));
    }
}

//! The secret policy: which values hbuild never writes to disk or prints,
//! and what stands in for them.
//!
//! A value is secret when it is
//!
//! * a remote-cache credential: the variables [`REMOTE_CACHE_SECRET_VARS`]
//!   (the URL may carry `user:password@`), every `--remote-cache-header`
//!   value and the `user:password@` of a URL (see [`redact_url`]);
//! * the value of a variable whose name contains one of
//!   [`SECRET_NAME_PARTS`] (case-insensitive), which covers Cargo's
//!   `CARGO_REGISTRY_TOKEN` and `CARGO_REGISTRIES_<NAME>_TOKEN`.
//!
//! Records that need a secret for invalidation (action keys, stamps,
//! explain records, the saved analysis, the server's messages) hold
//! [`recorded_value`] instead: a digest standing for the value. Printed
//! output shows [`REDACTED`].
//!
//! The digest is blake3 in key-derivation mode over the variable's name and
//! value, with a fixed context, so the same value gives the same digest on
//! every machine: it is part of action keys, which a shared cache needs to
//! agree between a CI runner and a laptop. A per-machine salt would make
//! every action that reads a secret miss everywhere else, and would not
//! hide more: an action key is a deterministic function of the value as
//! well. So a guessable secret (a short human password) can be found by
//! trying candidates against a stamp or key by someone who can read the
//! target dir or the remote cache; long random tokens cannot.

use std::collections::BTreeMap;

/// What a secret value prints as.
pub const REDACTED: &str = "<redacted>";

/// Variables of the remote-cache configuration whose values are secret.
pub const REMOTE_CACHE_SECRET_VARS: [&str; 5] = [
    "HBUILD_REMOTE_CACHE",
    "HBUILD_REMOTE_CACHE_TOKEN",
    "HBUILD_REMOTE_CACHE_USER",
    "HBUILD_REMOTE_CACHE_PASSWORD",
    "HBUILD_REMOTE_CACHE_HEADERS",
];

/// A variable whose name contains one of these (upper-cased) holds a secret.
pub const SECRET_NAME_PARTS: [&str; 9] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "AUTHORIZATION",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
];

/// Names hbuild derives from package data (`CARGO_FEATURE_<feature>`,
/// `CARGO_CFG_<cfg>`, `CARGO_PKG_<field>`): their values are set by hbuild
/// and never secret, whatever the feature or cfg is called.
const DERIVED_NAME_PREFIXES: [&str; 3] = ["CARGO_FEATURE_", "CARGO_CFG_", "CARGO_PKG_"];

/// Start of the digest that stands for a secret value in records.
const DIGEST_PREFIX: &str = "<redacted:blake3:";

/// Context of the key derivation; changing it changes every digest.
const DIGEST_CONTEXT: &str = "cargo-hbuild 2024 secret environment value v1";

/// Whether the value of the variable `name` is secret.
pub fn is_secret_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if DERIVED_NAME_PREFIXES.iter().any(|p| upper.starts_with(p)) {
        return false;
    }
    REMOTE_CACHE_SECRET_VARS.contains(&upper.as_str())
        || SECRET_NAME_PARTS.iter().any(|p| upper.contains(p))
}

/// The form of a variable's value that may be written to a record: the
/// value itself, or for a secret the digest standing for it. A value that
/// already is such a digest is kept, so that a record made from recorded
/// values (the server gets its clients' environments in this form) equals
/// one made from the values.
pub fn recorded_value(name: &str, value: &str) -> String {
    if !is_secret_var(name) || is_digest(value) {
        return value.to_string();
    }
    let mut h = blake3::Hasher::new_derive_key(DIGEST_CONTEXT);
    h.update(&(name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update(value.as_bytes());
    format!("{DIGEST_PREFIX}{}>", h.finalize().to_hex())
}

/// [`recorded_value`] of every variable of `env`.
pub fn recorded_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| (k.clone(), recorded_value(k, v)))
        .collect()
}

/// Whether `value` is a digest made by [`recorded_value`].
pub fn is_digest(value: &str) -> bool {
    value
        .strip_prefix(DIGEST_PREFIX)
        .and_then(|rest| rest.strip_suffix('>'))
        .is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
}

/// The form of a variable's value that may be printed.
pub fn shown_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret_var(name) {
        REDACTED
    } else {
        value
    }
}

/// Replaces the secret values of `env` by [`REDACTED`], for printing.
pub fn redact_env_for_display(env: &mut BTreeMap<String, String>) {
    for (k, v) in env.iter_mut() {
        if is_secret_var(k) {
            *v = REDACTED.to_string();
        }
    }
}

/// A URL as it may be printed: any `user:password@` before the host becomes
/// `<redacted>@`. Works on text that does not parse as a URL, and on
/// `user:password@host` without a scheme.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}{REDACTED}{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names() {
        for n in [
            "CARGO_REGISTRY_TOKEN",
            "CARGO_REGISTRIES_MY_CORP_TOKEN",
            "HBUILD_REMOTE_CACHE_TOKEN",
            "HBUILD_REMOTE_CACHE",
            "HBUILD_REMOTE_CACHE_HEADERS",
            "my_api_token",
            "DB_PASSWORD",
            "FTP_PASSWD",
            "AWS_SECRET_ACCESS_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "OPENAI_API_KEY",
        ] {
            assert!(is_secret_var(n), "{n}");
        }
        for n in [
            "PATH",
            "HBUILD_REMOTE_CACHE_TIMEOUT",
            "CARGO_PKG_AUTHORS",
            "CARGO_FEATURE_TOKEN_AUTH",
            "CARGO_CFG_TARGET_OS",
            "APP_BUILD_KNOB",
        ] {
            assert!(!is_secret_var(n), "{n}");
        }
    }

    #[test]
    fn recorded_values_hide_secrets_and_stay_distinct() {
        assert_eq!(recorded_value("PATH", "/bin"), "/bin");
        let a = recorded_value("MY_TOKEN", "abc");
        assert!(is_digest(&a) && !a.contains("abc"), "{a}");
        assert_eq!(a, recorded_value("MY_TOKEN", "abc"), "deterministic");
        assert_ne!(a, recorded_value("MY_TOKEN", "abd"));
        assert_ne!(a, recorded_value("OTHER_TOKEN", "abc"), "keyed by name");
        // Length-prefixed name: no ambiguity between name and value.
        assert_ne!(
            recorded_value("A_TOKEN", "Xv"),
            recorded_value("A_TOKENX", "v")
        );
        assert_eq!(recorded_value("MY_TOKEN", &a), a, "idempotent");
        assert!(!is_digest("<redacted:blake3:xyz>"));
    }

    #[test]
    fn display_forms() {
        assert_eq!(shown_value("MY_TOKEN", "abc"), REDACTED);
        assert_eq!(shown_value("HOME", "/root"), "/root");
        let mut env = BTreeMap::from([
            ("A".to_string(), "1".to_string()),
            ("DEPLOY_TOKEN".to_string(), "hunter2".to_string()),
        ]);
        redact_env_for_display(&mut env);
        assert_eq!(env["A"], "1");
        assert_eq!(env["DEPLOY_TOKEN"], REDACTED);
    }

    #[test]
    fn urls_lose_their_userinfo() {
        assert_eq!(
            redact_url("https://u:p@cache.example:8443/bazel/"),
            "https://<redacted>@cache.example:8443/bazel/"
        );
        assert_eq!(redact_url("u:p@host:8080"), "<redacted>@host:8080");
        assert_eq!(
            redact_url("http://a:b@c@host/x"),
            "http://<redacted>@host/x"
        );
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        assert_eq!(redact_url("http://host/"), "http://host/");
    }
}

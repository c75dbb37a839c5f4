//! Configuration of the remote cache: URL, credentials, headers, limits.
//!
//! Credentials never leave this module in printable form: [`RemoteConfig`]'s
//! `Display` and `Debug` implementations redact the URL's `user:password@`,
//! the bearer token and every custom header value, as the secret policy
//! ([`crate::core::secret`]) says.

use std::fmt;
use std::time::Duration;

use reqwest::Url;

use crate::cache::CacheError;
use crate::core::secret::{self, REDACTED};

/// Environment variable holding the remote cache URL.
pub const ENV_URL: &str = "HBUILD_REMOTE_CACHE";
/// Environment variable holding a bearer token sent as `Authorization: Bearer`.
pub const ENV_TOKEN: &str = "HBUILD_REMOTE_CACHE_TOKEN";
/// Environment variable holding the basic-auth user (alternative to the URL's userinfo).
pub const ENV_USER: &str = "HBUILD_REMOTE_CACHE_USER";
/// Environment variable holding the basic-auth password.
pub const ENV_PASSWORD: &str = "HBUILD_REMOTE_CACHE_PASSWORD";
/// Environment variable holding extra headers, `Name: value` separated by
/// newlines or `;`.
pub const ENV_HEADERS: &str = "HBUILD_REMOTE_CACHE_HEADERS";
/// Environment variable that makes the remote cache read-only (`1`, `true`, `yes`, `on`).
pub const ENV_READ_ONLY: &str = "HBUILD_REMOTE_CACHE_READ_ONLY";
/// Environment variable with the per-request timeout (`30`, `30s`, `500ms`, `2m`).
pub const ENV_TIMEOUT: &str = "HBUILD_REMOTE_CACHE_TIMEOUT";
/// Environment variable with the connect timeout (same syntax as [`ENV_TIMEOUT`]).
pub const ENV_CONNECT_TIMEOUT: &str = "HBUILD_REMOTE_CACHE_CONNECT_TIMEOUT";

/// Environment variable choosing which outputs of remote hits are
/// downloaded (`all` or `minimal`).
pub const ENV_DOWNLOAD: &str = "HBUILD_REMOTE_DOWNLOAD";

/// Which outputs of remote cache hits and remote runs a build downloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Download {
    /// Every output (`--remote-download=all`).
    #[default]
    All,
    /// Only final artifacts and what a local action reads
    /// (`--remote-download=minimal`): the rest stays in the remote cache,
    /// known by digest, and is fetched when an action needs it.
    Minimal,
}

impl Download {
    /// `--remote-download` over [`ENV_DOWNLOAD`]; the error names where
    /// the bad value came from.
    pub fn resolve(
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Download, CacheError> {
        let (value, origin) = match flag {
            Some(v) => (v.to_string(), "--remote-download"),
            None => match env(ENV_DOWNLOAD).filter(|v| !v.trim().is_empty()) {
                Some(v) => (v, ENV_DOWNLOAD),
                None => return Ok(Download::All),
            },
        };
        match value.trim() {
            "all" => Ok(Download::All),
            "minimal" => Ok(Download::Minimal),
            other => Err(CacheError::Config(format!(
                "invalid value `{other}` for {origin}: expected `all` or `minimal`"
            ))),
        }
    }
}

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default timeout of one request, body transfer included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on concurrent connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 8;
/// Default number of consecutive faults after which the remote is switched off.
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 3;

/// HTTP basic-auth credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    /// User name (percent-decoded).
    pub user: String,
    /// Password (percent-decoded); may be empty.
    pub password: String,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BasicAuth({REDACTED})")
    }
}

/// Everything needed to talk to one remote cache.
#[derive(Clone)]
pub struct RemoteConfig {
    /// Base URL (http or https) without credentials; its path ends with `/`.
    /// `ac/<key>` and `cas/<sha256>` are appended to it.
    pub url: Url,
    /// Token sent as `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// Basic-auth credentials, from the URL's userinfo or given explicitly.
    pub basic_auth: Option<BasicAuth>,
    /// Extra headers sent with every request (values are treated as secrets).
    pub headers: Vec<(String, String)>,
    /// Never upload: only GET and HEAD requests are sent.
    pub read_only: bool,
    /// Timeout of the TCP/TLS connect phase.
    pub connect_timeout: Duration,
    /// Timeout of one request, body transfer included.
    pub timeout: Duration,
    /// Upper bound on concurrent connections (requests in flight).
    pub max_connections: usize,
    /// Consecutive faults after which the remote is switched off for the
    /// rest of the process.
    pub max_consecutive_failures: u32,
    /// The REAPI instance name of a `grpc://` or `grpcs://` remote: the
    /// URL's path without its slashes, or `--remote-instance-name`.
    pub instance_name: String,
}

/// Environment variable holding the REAPI instance name of a gRPC remote.
pub const ENV_INSTANCE_NAME: &str = "HBUILD_REMOTE_INSTANCE_NAME";

/// Values given on the command line; each one, when set, wins over its
/// environment variable.
#[derive(Clone, Debug, Default)]
pub struct RemoteFlags {
    /// `--remote-cache URL`.
    pub url: Option<String>,
    /// `--remote-cache-read-only`.
    pub read_only: bool,
    /// `--remote-cache-header "Name: value"` (repeatable); added to the
    /// headers of [`ENV_HEADERS`].
    pub headers: Vec<String>,
    /// `--remote-cache-timeout` (same syntax as [`ENV_TIMEOUT`]).
    pub timeout: Option<String>,
    /// `--remote-cache-connect-timeout`.
    pub connect_timeout: Option<String>,
    /// `--remote-instance-name` (gRPC remotes).
    pub instance_name: Option<String>,
}

impl RemoteConfig {
    /// A configuration with default limits for `url`. A `user:password@`
    /// in the URL becomes [`RemoteConfig::basic_auth`] and is removed from
    /// [`RemoteConfig::url`].
    pub fn new(url: &str) -> Result<Self, CacheError> {
        let mut parsed = Url::parse(url.trim()).map_err(|e| {
            CacheError::Config(format!(
                "invalid remote cache URL `{}`: {e}",
                secret::redact_url(url.trim())
            ))
        })?;
        let grpc = matches!(parsed.scheme(), "grpc" | "grpcs");
        if !grpc && parsed.scheme() != "http" && parsed.scheme() != "https" {
            // What parses as a scheme may be a user name (`alice:pw@host`).
            return Err(CacheError::Config(format!(
                "remote cache URL must be http://, https://, grpc:// or grpcs://, got `{}`",
                secret::redact_url(url.trim())
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(CacheError::Config("remote cache URL has no host".into()));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(CacheError::Config(
                "remote cache URL must not have a query or fragment".into(),
            ));
        }
        // The URL parser resolves `.` and `..`; look at what was written.
        let raw_path = url
            .trim()
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        let path = parsed.path().to_string();
        if path.contains("//")
            || raw_path.contains("//")
            || raw_path
                .split('/')
                .any(|s| s == "." || s == ".." || s.eq_ignore_ascii_case("%2e%2e"))
        {
            return Err(CacheError::Config(
                "remote cache URL path must not contain `//`, `.` or `..` segments".into(),
            ));
        }
        if grpc && (!parsed.username().is_empty() || parsed.password().is_some()) {
            return Err(CacheError::Config(format!(
                "a gRPC remote cache URL cannot carry credentials; use {ENV_TOKEN} or \
                 --remote-cache-header"
            )));
        }
        let instance_name = if grpc {
            path.trim_matches('/').to_string()
        } else {
            String::new()
        };
        if !grpc && !path.ends_with('/') {
            parsed.set_path(&format!("{path}/"));
        }
        let basic_auth = if !parsed.username().is_empty() || parsed.password().is_some() {
            let auth = BasicAuth {
                user: decode(parsed.username())?,
                password: decode(parsed.password().unwrap_or(""))?,
            };
            // Cannot fail for http(s) URLs with a host.
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            Some(auth)
        } else {
            None
        };
        Ok(RemoteConfig {
            url: parsed,
            bearer_token: None,
            basic_auth,
            headers: Vec::new(),
            read_only: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_consecutive_failures: DEFAULT_MAX_CONSECUTIVE_FAILURES,
            instance_name,
        })
    }

    /// Builds the configuration from command-line flags and an environment,
    /// given as a lookup function (the settings layer passes its snapshot).
    /// `Ok(None)` when no URL is configured (remote disabled).
    pub fn from_lookup(
        flags: &RemoteFlags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, CacheError> {
        let nonempty = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let url = match flags.url.clone().or_else(|| nonempty(ENV_URL)) {
            Some(url) if !url.trim().is_empty() => url,
            _ => return Ok(None),
        };
        let mut cfg = RemoteConfig::new(&url)?;
        if let Some(token) = nonempty(ENV_TOKEN) {
            cfg.bearer_token = Some(token.trim().to_string());
        }
        if let Some(user) = nonempty(ENV_USER) {
            if cfg.basic_auth.is_some() {
                return Err(CacheError::Config(format!(
                    "both the remote cache URL and {ENV_USER} carry a user name; use one"
                )));
            }
            cfg.basic_auth = Some(BasicAuth {
                user,
                password: env(ENV_PASSWORD).unwrap_or_default(),
            });
        }
        if cfg.bearer_token.is_some() && cfg.basic_auth.is_some() {
            return Err(CacheError::Config(format!(
                "both a bearer token ({ENV_TOKEN}) and basic-auth credentials are set \
                 for the remote cache; use one"
            )));
        }
        if let Some(h) = env(ENV_HEADERS) {
            cfg.headers.extend(parse_headers(&h)?);
        }
        for h in &flags.headers {
            cfg.headers.extend(parse_headers(h)?);
        }
        cfg.read_only = flags.read_only || env(ENV_READ_ONLY).is_some_and(|v| parse_bool(&v));
        if let Some(t) = flags.timeout.clone().or_else(|| nonempty(ENV_TIMEOUT)) {
            cfg.timeout = parse_duration(&t)?;
        }
        if let Some(t) = flags
            .connect_timeout
            .clone()
            .or_else(|| nonempty(ENV_CONNECT_TIMEOUT))
        {
            cfg.connect_timeout = parse_duration(&t)?;
        }
        if let Some(name) = flags
            .instance_name
            .clone()
            .or_else(|| env(ENV_INSTANCE_NAME))
        {
            if !cfg.is_grpc() {
                return Err(CacheError::Config(
                    "an instance name applies to grpc:// and grpcs:// remotes only".into(),
                ));
            }
            cfg.instance_name = name.trim().trim_matches('/').to_string();
        }
        Ok(Some(cfg))
    }

    /// Whether the remote speaks REAPI over gRPC (else the HTTP protocol).
    pub fn is_grpc(&self) -> bool {
        matches!(self.url.scheme(), "grpc" | "grpcs")
    }

    /// The base URL as it may be printed: `<redacted>@` in place of
    /// basic-auth credentials (user and password).
    pub fn redacted_url(&self) -> String {
        let url = self.url.to_string();
        match (&self.basic_auth, url.split_once("://")) {
            (Some(_), Some((scheme, rest))) => format!("{scheme}://{REDACTED}@{rest}"),
            _ => url,
        }
    }
}

impl fmt::Display for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted_url())?;
        let mut notes = Vec::new();
        if self.bearer_token.is_some() {
            notes.push(format!("bearer token {REDACTED}"));
        }
        for (name, _) in &self.headers {
            notes.push(format!("{name}: {REDACTED}"));
        }
        if self.read_only {
            notes.push("read-only".to_string());
        }
        if !notes.is_empty() {
            write!(f, " ({})", notes.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("url", &self.redacted_url())
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| REDACTED),
            )
            .field("basic_auth", &self.basic_auth)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| (n.as_str(), REDACTED))
                    .collect::<Vec<_>>(),
            )
            .field("read_only", &self.read_only)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("max_connections", &self.max_connections)
            .field("max_consecutive_failures", &self.max_consecutive_failures)
            .field("instance_name", &self.instance_name)
            .finish()
    }
}

/// Parses `Name: value` pairs separated by newlines or `;`. Blank entries
/// are ignored.
pub fn parse_headers(s: &str) -> Result<Vec<(String, String)>, CacheError> {
    let mut out = Vec::new();
    for entry in s.split(['\n', ';']) {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((name, value)) = entry.split_once(':') else {
            // Do not echo the entry: it may be a secret missing its name.
            return Err(CacheError::Config(
                "remote cache header must look like `Name: value`".into(),
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(CacheError::Config(format!(
                "invalid remote cache header name `{name}`"
            )));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(CacheError::Config(format!(
                "invalid value for remote cache header `{name}`"
            )));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Parses a duration: plain seconds (`30`, `2.5`) or with a unit suffix
/// `ms`, `s`, `m`.
pub fn parse_duration(s: &str) -> Result<Duration, CacheError> {
    // A request timeout of more than a day is a mistake, not a setting.
    crate::core::parse_duration(s, crate::core::duration::UP_TO_MINUTES)
        .filter(|d| *d <= Duration::from_secs(86_400))
        .ok_or_else(|| {
            CacheError::Config(format!(
                "invalid duration `{}` (expected e.g. 30s, 500ms, 2m)",
                s.trim()
            ))
        })
}

fn parse_bool(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn decode(s: &str) -> Result<String, CacheError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| CacheError::Config("remote cache URL credentials are not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_download_mode_comes_from_the_flag_over_the_variable() {
        let none = env_of(&[]);
        assert_eq!(Download::resolve(None, &none).unwrap(), Download::All);
        let minimal = env_of(&[(ENV_DOWNLOAD, "minimal")]);
        assert_eq!(
            Download::resolve(None, &minimal).unwrap(),
            Download::Minimal
        );
        assert_eq!(
            Download::resolve(Some("all"), &minimal).unwrap(),
            Download::All
        );
        let bad = Download::resolve(Some("some"), &none).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "invalid value `some` for --remote-download: expected `all` or `minimal`"
        );
        let bad_env = env_of(&[(ENV_DOWNLOAD, "toplevel")]);
        let e = Download::resolve(None, &bad_env).unwrap_err().to_string();
        assert!(e.contains("`toplevel` for HBUILD_REMOTE_DOWNLOAD"), "{e}");
    }

    #[test]
    fn userinfo_becomes_basic_auth_and_is_redacted() {
        let cfg = RemoteConfig::new("https://alice:s%40cret@cache.example:8443/bazel").unwrap();
        assert_eq!(cfg.url.as_str(), "https://cache.example:8443/bazel/");
        let auth = cfg.basic_auth.as_ref().unwrap();
        assert_eq!(
            (auth.user.as_str(), auth.password.as_str()),
            ("alice", "s@cret")
        );
        let shown = cfg.to_string();
        assert_eq!(shown, "https://<redacted>@cache.example:8443/bazel/");
        let debug = format!("{cfg:?}");
        for text in [&shown, &debug] {
            assert!(
                !text.contains("s%40cret") && !text.contains("s@cret"),
                "{text}"
            );
        }
    }

    #[test]
    fn token_and_headers_are_redacted() {
        let flags = RemoteFlags {
            url: Some("http://127.0.0.1:9090".into()),
            read_only: true,
            ..Default::default()
        };
        let env = env_of(&[
            (ENV_TOKEN, "tok-SECRET-123"),
            (
                ENV_HEADERS,
                "X-Api-Key: key-SECRET-456; X-Team: blue\nX-Other: v",
            ),
        ]);
        let cfg = RemoteConfig::from_lookup(&flags, env).unwrap().unwrap();
        assert_eq!(cfg.bearer_token.as_deref(), Some("tok-SECRET-123"));
        assert_eq!(cfg.headers.len(), 3);
        assert_eq!(
            cfg.headers[0],
            ("X-Api-Key".into(), "key-SECRET-456".into())
        );
        let shown = cfg.to_string();
        assert_eq!(
            shown,
            "http://127.0.0.1:9090/ (bearer token <redacted>, X-Api-Key: <redacted>, \
             X-Team: <redacted>, X-Other: <redacted>, read-only)"
        );
        let debug = format!("{cfg:?}");
        assert!(
            !debug.contains("SECRET") && !shown.contains("SECRET"),
            "{debug}"
        );
    }

    #[test]
    fn credential_variables_are_secret_by_policy() {
        for name in [ENV_URL, ENV_TOKEN, ENV_USER, ENV_PASSWORD, ENV_HEADERS] {
            assert!(secret::is_secret_var(name), "{name}");
        }
        assert!(!secret::is_secret_var(ENV_TIMEOUT));
    }

    #[test]
    fn no_url_means_disabled() {
        let cfg = RemoteConfig::from_lookup(&RemoteFlags::default(), env_of(&[])).unwrap();
        assert!(cfg.is_none());
        let cfg =
            RemoteConfig::from_lookup(&RemoteFlags::default(), env_of(&[(ENV_URL, " ")])).unwrap();
        assert!(cfg.is_none());
    }

    #[test]
    fn flags_win_over_env() {
        let flags = RemoteFlags {
            url: Some("http://flag.example/c/".into()),
            timeout: Some("500ms".into()),
            ..Default::default()
        };
        let env = env_of(&[
            (ENV_URL, "http://env.example/"),
            (ENV_TIMEOUT, "10"),
            (ENV_CONNECT_TIMEOUT, "2s"),
            (ENV_READ_ONLY, "yes"),
        ]);
        let cfg = RemoteConfig::from_lookup(&flags, env).unwrap().unwrap();
        assert_eq!(cfg.url.as_str(), "http://flag.example/c/");
        assert_eq!(cfg.timeout, Duration::from_millis(500));
        assert_eq!(cfg.connect_timeout, Duration::from_secs(2));
        assert!(cfg.read_only);
    }

    #[test]
    fn user_and_password_from_env() {
        let flags = RemoteFlags {
            url: Some("http://h/".into()),
            ..Default::default()
        };
        let env = env_of(&[(ENV_USER, "bob"), (ENV_PASSWORD, "pw-SECRET")]);
        let cfg = RemoteConfig::from_lookup(&flags, env).unwrap().unwrap();
        assert_eq!(cfg.basic_auth.as_ref().unwrap().password, "pw-SECRET");
        assert_eq!(cfg.to_string(), "http://<redacted>@h/");
    }

    #[test]
    fn rejects_bad_config_without_echoing_secrets() {
        for bad in ["ftp://h/", "http://h/a/../b", "http://h/?q=1", "not a url"] {
            assert!(RemoteConfig::new(bad).is_err(), "{bad} accepted");
        }
        let flags = RemoteFlags {
            url: Some("http://u:p@h/".into()),
            ..Default::default()
        };
        let err = RemoteConfig::from_lookup(&flags, env_of(&[(ENV_TOKEN, "t")])).unwrap_err();
        assert!(err.to_string().contains("use one"));
        let err = parse_headers("justASecretValue").unwrap_err().to_string();
        assert!(!err.contains("justASecretValue"), "{err}");
        for bad in [
            "http://user:pw-SECRET@[bad/",
            "user-SECRET:pw-SECRET@host:8080",
            "ftp://user-SECRET:pw-SECRET@h/",
        ] {
            let err = RemoteConfig::new(bad).unwrap_err().to_string();
            assert!(!err.contains("SECRET"), "{err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        for bad in ["", "0", "-1", "abc", "1h", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn grpc_urls_name_their_instance_and_carry_no_credentials() {
        let cfg = RemoteConfig::new("grpc://127.0.0.1:8980").unwrap();
        assert!(cfg.is_grpc());
        assert_eq!(cfg.instance_name, "");
        let cfg = RemoteConfig::new("grpcs://cache.example.com/main/").unwrap();
        assert!(cfg.is_grpc());
        assert_eq!(cfg.instance_name, "main");
        assert!(!RemoteConfig::new("http://h/main").unwrap().is_grpc());
        let err = RemoteConfig::new("grpc://u:pw-SECRET@h:1").unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(
            err.to_string().contains("cannot carry credentials"),
            "{err}"
        );

        let flags = RemoteFlags {
            url: Some("grpc://h:1/a".into()),
            instance_name: Some("b".into()),
            ..Default::default()
        };
        let cfg = RemoteConfig::from_lookup(&flags, |_| None)
            .unwrap()
            .unwrap();
        assert_eq!(cfg.instance_name, "b");
        let env = env_of(&[(ENV_INSTANCE_NAME, "c")]);
        let flags = RemoteFlags {
            url: Some("grpc://h:1/a".into()),
            ..Default::default()
        };
        let cfg = RemoteConfig::from_lookup(&flags, env).unwrap().unwrap();
        assert_eq!(cfg.instance_name, "c");
        let flags = RemoteFlags {
            url: Some("http://h:1/".into()),
            instance_name: Some("b".into()),
            ..Default::default()
        };
        let err = RemoteConfig::from_lookup(&flags, |_| None).unwrap_err();
        assert!(err.to_string().contains("grpc:// and grpcs://"), "{err}");
    }
}

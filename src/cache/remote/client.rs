//! The HTTP layer: one blocking reqwest client, a bound on requests in
//! flight, and the classification of every answer into the few outcomes the
//! cache logic cares about. Nothing here decides about disabling the remote;
//! that is [`super::Shared`]'s job.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use sha2::Digest as _;

use super::config::RemoteConfig;
use super::proto::{hex, BlobRef};
use crate::cache::CacheError;
use crate::core::{ActionKey, Digest};

/// Why a request did not give a usable answer.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The server or the network misbehaved (refused, timed out, 5xx,
    /// 401/403, truncated body, unexpected status). Counts towards switching
    /// the remote off.
    Fault {
        /// What happened (no credentials).
        msg: String,
        /// The server refused our credentials (401/403).
        auth: bool,
    },
    /// The server answered, but the data is unusable (wrong digest, wrong
    /// size, invalid entry). The entry is ignored.
    Invalid(String),
    /// The server does not have it (404).
    NotFound,
    /// The server refused a blob as too large or is full (413/507).
    TooLarge(String),
    /// A local problem (scratch file, local store); not the server's fault.
    Local(String),
}

impl Failure {
    pub(crate) fn fault(msg: impl Into<String>) -> Self {
        Failure::Fault {
            msg: msg.into(),
            auth: false,
        }
    }
}

/// Counting semaphore bounding requests in flight.
struct Permits {
    free: Mutex<usize>,
    cv: Condvar,
}

/// A held permit; released on drop.
pub(crate) struct Permit<'a>(&'a Permits);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|e| e.into_inner());
        *free += 1;
        self.0.cv.notify_one();
    }
}

impl Permits {
    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.cv.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

/// A response whose status was 2xx, with the permit and deadline of its
/// request.
pub(crate) struct Answer<'a> {
    resp: Response,
    deadline: Instant,
    _permit: Permit<'a>,
}

/// Which namespace a key lives in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ns {
    /// Action cache.
    Ac,
    /// Content-addressable store.
    Cas,
}

/// The blocking HTTP client of one remote cache.
pub(crate) struct Http {
    client: Client,
    base: Url,
    timeout: Duration,
    bearer: Option<String>,
    basic: Option<(String, String)>,
    permits: Permits,
}

impl Http {
    /// Builds the client: rustls, no redirects, bounded idle pool, timeouts.
    pub(crate) fn new(cfg: &RemoteConfig) -> Result<Self, CacheError> {
        let mut headers = HeaderMap::new();
        for (name, value) in &cfg.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| CacheError::Config(format!("invalid header name `{name}`")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| CacheError::Config(format!("invalid value for header `{name}`")))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        let max = cfg.max_connections.max(1);
        let client = Client::builder()
            .user_agent(concat!("cargo-hbuild/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .pool_max_idle_per_host(max)
            .build()
            .map_err(|e| {
                CacheError::Remote(format!("cannot build HTTP client: {}", describe(&e)))
            })?;
        Ok(Http {
            client,
            base: cfg.url.clone(),
            timeout: cfg.timeout,
            bearer: cfg.bearer_token.clone(),
            basic: cfg
                .basic_auth
                .as_ref()
                .map(|a| (a.user.clone(), a.password.clone())),
            permits: Permits {
                free: Mutex::new(max),
                cv: Condvar::new(),
            },
        })
    }

    /// URL of `ac/<key>`.
    pub(crate) fn ac_url(&self, key: &ActionKey) -> Url {
        self.url(Ns::Ac, &key.0.to_hex())
    }

    /// URL of `cas/<sha256>`.
    pub(crate) fn cas_url(&self, blob: &BlobRef) -> Url {
        self.url(Ns::Cas, &blob.sha256)
    }

    fn url(&self, ns: Ns, hex: &str) -> Url {
        let rel = match ns {
            Ns::Ac => format!("ac/{hex}"),
            Ns::Cas => format!("cas/{hex}"),
        };
        // `base` ends with `/` and `rel` is plain ASCII: join cannot fail.
        self.base.join(&rel).unwrap_or_else(|_| self.base.clone())
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let rb = self.client.request(method, url);
        match (&self.bearer, &self.basic) {
            (Some(token), _) => rb.bearer_auth(token),
            (None, Some((user, pass))) => rb.basic_auth(user, Some(pass)),
            (None, None) => rb,
        }
    }

    /// Sends a request and classifies its status. Returns the time spent.
    fn send(&self, rb: RequestBuilder) -> (Result<Answer<'_>, Failure>, Duration) {
        let permit = self.permits.acquire();
        let started = Instant::now();
        let result = match rb.send() {
            Err(e) => Err(Failure::fault(describe(&e))),
            Ok(resp) => classify(resp.status()).map(|()| Answer {
                resp,
                deadline: started + self.timeout,
                _permit: permit,
            }),
        };
        (result, started.elapsed())
    }

    /// GET `url`; on 2xx the answer's body is still to be read.
    pub(crate) fn get(&self, url: Url) -> (Result<Answer<'_>, Failure>, Duration) {
        self.send(self.request(Method::GET, url))
    }

    /// HEAD a blob: `Ok(true)` if the server has it with the right size.
    pub(crate) fn head(&self, blob: &BlobRef) -> (Result<bool, Failure>, Duration) {
        let (res, took) = self.send(self.request(Method::HEAD, self.cas_url(blob)));
        let res = match res {
            // A HEAD response has no body, so `content_length()` (the body's
            // size hint) is 0: read the header itself.
            Ok(answer) => Ok(answer
                .resp
                .headers()
                .get(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_none_or(|n| n == blob.size)),
            Err(Failure::NotFound) => Ok(false),
            Err(e) => Err(e),
        };
        (res, took)
    }

    /// PUT a body of known length (always sent with `Content-Length`).
    pub(crate) fn put(&self, url: Url, body: Body) -> (Result<(), Failure>, Duration) {
        let rb = self
            .request(Method::PUT, url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        let (res, took) = self.send(rb);
        let res = match res {
            Ok(_) => Ok(()),
            // A 404 to a PUT is no miss: the server cannot store there.
            Err(Failure::NotFound) => Err(Failure::fault("unexpected answer HTTP 404 to a PUT")),
            Err(e) => Err(e),
        };
        (res, took)
    }

    /// PUT a file streamed from disk.
    pub(crate) fn put_file(
        &self,
        url: Url,
        file: File,
        size: u64,
    ) -> (Result<(), Failure>, Duration) {
        self.put(url, Body::sized(file, size))
    }
}

fn classify(status: StatusCode) -> Result<(), Failure> {
    let code = status.as_u16();
    match code {
        200..=299 => Ok(()),
        404 => Err(Failure::NotFound),
        401 | 403 => Err(Failure::Fault {
            msg: format!("authentication failed (HTTP {status})"),
            auth: true,
        }),
        413 | 507 => Err(Failure::TooLarge(format!("HTTP {status}"))),
        _ => Err(Failure::fault(format!("unexpected answer HTTP {status}"))),
    }
}

/// A transport error as text: the error and its causes, without the URL.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "broken response body".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
        depth += 1;
        if depth > 4 {
            break;
        }
    }
    msg
}

fn io_fault(e: &std::io::Error) -> Failure {
    // reqwest wraps its own errors (timeouts, truncated bodies) in io::Error.
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<reqwest::Error>());
    Failure::fault(match inner {
        Some(re) => format!("while reading the body: {}", describe(re)),
        None => format!("while reading the body: {e}"),
    })
}

impl Answer<'_> {
    /// Reads the whole body into memory. More than `max` bytes, or a
    /// size different from `expected`, gives [`Failure::Invalid`].
    pub(crate) fn read_to_vec(
        mut self,
        expected: Option<u64>,
        max: u64,
    ) -> Result<Vec<u8>, Failure> {
        let limit = expected.unwrap_or(max).min(max);
        if let Some(n) = self.resp.content_length() {
            if n > limit || expected.is_some_and(|e| e != n) {
                return Err(Failure::Invalid(format!(
                    "server announced {n} bytes, expected {limit}"
                )));
            }
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                break;
            }
            if out.len() as u64 + n as u64 > limit {
                return Err(Failure::Invalid(format!("body longer than {limit} bytes")));
            }
            out.extend_from_slice(&buf[..n]);
        }
        if let Some(e) = expected {
            if out.len() as u64 != e {
                return Err(Failure::Invalid(format!(
                    "body has {} bytes, expected {e}",
                    out.len()
                )));
            }
        }
        Ok(out)
    }

    /// Streams the body into `file`, checking size and SHA-256 against
    /// `blob` on the way. Returns the blake3 digest of what was written.
    pub(crate) fn read_to_file(
        mut self,
        blob: &BlobRef,
        file: &mut File,
    ) -> Result<(Digest, u64), Failure> {
        if let Some(n) = self.resp.content_length() {
            if n != blob.size {
                return Err(Failure::Invalid(format!(
                    "server announced {n} bytes for blob {}, expected {}",
                    blob.sha256, blob.size
                )));
            }
        }
        let mut sha = sha2::Sha256::new();
        let mut b3 = blake3::Hasher::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = self.read_chunk(&mut buf)?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > blob.size {
                return Err(Failure::Invalid(format!(
                    "blob {} is longer than {}",
                    blob.sha256, blob.size
                )));
            }
            sha.update(&buf[..n]);
            b3.update(&buf[..n]);
            file.write_all(&buf[..n])
                .map_err(|e| Failure::Local(format!("cannot write scratch file: {e}")))?;
        }
        if size != blob.size {
            return Err(Failure::Invalid(format!(
                "blob {} has {size} bytes, expected {}",
                blob.sha256, blob.size
            )));
        }
        let got = hex(&sha.finalize());
        if got != blob.sha256 {
            return Err(Failure::Invalid(format!(
                "blob {} has SHA-256 {got}",
                blob.sha256
            )));
        }
        file.flush()
            .map_err(|e| Failure::Local(format!("cannot write scratch file: {e}")))?;
        Ok((Digest::from_bytes(*b3.finalize().as_bytes()), size))
    }

    fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, Failure> {
        if Instant::now() > self.deadline {
            return Err(Failure::fault("timed out while reading the body"));
        }
        loop {
            match self.resp.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_fault(&e)),
            }
        }
    }
}

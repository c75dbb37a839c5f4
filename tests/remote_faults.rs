//! The remote cache against a misbehaving in-process HTTP server: refused
//! connections, errors, authentication failures, hangs, truncated or wrong
//! bodies, hostile entries. None may produce a hit, write outside the store
//! or fail the build; repeated faults switch the remote off with one warning.
mod common;

use common::dirstore::{pseudo_random_bytes, DirStore};

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hbuild::cache::remote::proto::{
    sha256_hex, MetaOutput, Metadata, PbActionResult, PbDigest, PbOutputFile, METADATA_FORMAT,
    METADATA_PATH,
};
use hbuild::cache::remote::{RemoteCache, RemoteConfig, RemoteLookup};
use hbuild::cache::{ActionResult, ResultMeta, ENTRY_FORMAT_VERSION};
use hbuild::core::{ActionKey, Digest, RelPath};

// ---------------------------------------------------------------------------
// The misbehaving server.

/// A request as the server saw it.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the server does with a request.
enum Reply {
    /// Act as a correct cache that verifies like bazel-remote.
    Cache,
    /// This status, empty body.
    Status(u16),
    /// This status and body.
    Body(u16, Vec<u8>),
    /// Say nothing for this long, then close.
    Hang(Duration),
    /// Announce `declared` bytes, send `body`, close.
    Truncated { declared: usize, body: Vec<u8> },
    /// Correct headers, then one byte per `delay`.
    Trickle { body: Vec<u8>, delay: Duration },
    /// Wait, then act as the cache.
    SlowCache(Duration),
}

type Rule = Arc<dyn Fn(&Req, &HashMap<String, Vec<u8>>) -> Reply + Send + Sync>;

struct ServerState {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    log: Mutex<Vec<Req>>,
    rule: Mutex<Rule>,
}

struct FakeServer {
    port: u16,
    state: Arc<ServerState>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ServerState {
            blobs: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            rule: Mutex::new(Arc::new(|_: &Req, _: &HashMap<String, Vec<u8>>| {
                Reply::Cache
            })),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        FakeServer {
            port,
            state,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn set_rule(
        &self,
        rule: impl Fn(&Req, &HashMap<String, Vec<u8>>) -> Reply + Send + Sync + 'static,
    ) {
        *self.state.rule.lock().unwrap() = Arc::new(rule);
    }

    fn log(&self) -> Vec<Req> {
        self.state.log.lock().unwrap().clone()
    }

    fn requests(&self) -> Vec<String> {
        self.log()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    fn put_raw(&self, path: &str, body: Vec<u8>) {
        self.state
            .blobs
            .lock()
            .unwrap()
            .insert(path.to_string(), body);
    }

    fn get_raw(&self, path: &str) -> Option<Vec<u8>> {
        self.state.blobs.lock().unwrap().get(path).cloned()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(conn: TcpStream, st: &ServerState) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        body.resize(n, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
    }
    let req = Req {
        method,
        path,
        headers,
        body,
    };
    st.log.lock().unwrap().push(req.clone());
    let rule = st.rule.lock().unwrap().clone();
    let reply = rule(&req, &st.blobs.lock().unwrap());
    let mut out = conn;
    let write_head = |out: &mut TcpStream, status: u16, len: usize| {
        let head =
            format!("HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
        out.write_all(head.as_bytes())
    };
    let _ = match reply {
        Reply::Status(code) => write_head(&mut out, code, 0),
        Reply::Body(code, b) => write_head(&mut out, code, b.len()).and_then(|_| out.write_all(&b)),
        Reply::Hang(d) => {
            std::thread::sleep(d);
            Ok(())
        }
        Reply::Truncated { declared, body } => {
            write_head(&mut out, 200, declared).and_then(|_| out.write_all(&body))
        }
        Reply::Trickle { body, delay } => write_head(&mut out, 200, body.len()).and_then(|_| {
            for b in body {
                out.write_all(&[b])?;
                out.flush()?;
                std::thread::sleep(delay);
            }
            Ok(())
        }),
        Reply::Cache => act_as_cache(&req, st, &mut out),
        Reply::SlowCache(d) => {
            std::thread::sleep(d);
            act_as_cache(&req, st, &mut out)
        }
    };
    let _ = out.flush();
}

/// A cache that checks what bazel-remote checks: Content-Length on PUT,
/// SHA-256 of CAS blobs, AC bodies that parse as ActionResult.
fn act_as_cache(req: &Req, st: &ServerState, out: &mut TcpStream) -> std::io::Result<()> {
    let reply = |out: &mut TcpStream, status: u16, body: &[u8], send_body: bool| {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        out.write_all(head.as_bytes())?;
        if send_body {
            out.write_all(body)?;
        }
        Ok(())
    };
    let mut blobs = st.blobs.lock().unwrap();
    match req.method.as_str() {
        "GET" | "HEAD" => match blobs.get(&req.path) {
            Some(b) => reply(out, 200, &b.clone(), req.method == "GET"),
            None => reply(out, 404, b"", true),
        },
        "PUT" => {
            if !req.headers.contains_key("content-length") {
                return reply(out, 400, b"PUT without Content-Length", true);
            }
            if let Some(hash) = req.path.strip_prefix("/cas/") {
                if sha256_hex(&req.body) != hash {
                    return reply(out, 400, b"checksums don't match", true);
                }
            } else if req.path.starts_with("/ac/") {
                if <PbActionResult as prost::Message>::decode(req.body.as_slice()).is_err() {
                    return reply(out, 400, b"bad ActionResult", true);
                }
            } else {
                return reply(out, 400, b"bad path", true);
            }
            blobs.insert(req.path.clone(), req.body.clone());
            reply(out, 201, b"", true)
        }
        _ => reply(out, 405, b"", true),
    }
}

// ---------------------------------------------------------------------------
// Helpers.

fn key(name: &str) -> ActionKey {
    ActionKey(Digest::of_bytes(name.as_bytes()))
}

fn config(url: &str) -> RemoteConfig {
    let mut cfg = RemoteConfig::new(url).unwrap();
    cfg.connect_timeout = Duration::from_secs(1);
    cfg.timeout = Duration::from_secs(2);
    cfg
}

fn remote(server: &FakeServer) -> RemoteCache {
    RemoteCache::new(config(&server.url())).unwrap()
}

const OUTPUT: &str = "deps/libx.rlib";

/// Uploads a valid entry for `k` (one output of `content`) through the
/// client itself; returns the result.
fn seed_entry(server: &FakeServer, k: ActionKey, content: &[u8]) -> ActionResult {
    let src = DirStore::new();
    let result = ActionResult {
        outputs: vec![src.add(OUTPUT, content, false)],
        stdout: "out\n".into(),
        stderr: String::new(),
        meta: ResultMeta {
            script: Some("v".into()),
            ..Default::default()
        },
    };
    let rc = remote(server);
    rc.upload(k, result.clone(), src.clone());
    let report = rc.finish(Duration::from_secs(30));
    assert_eq!(report.uploaded, 1, "{report:?} {:?}", rc.take_warnings());
    result
}

fn ac_path(k: &ActionKey) -> String {
    format!("/ac/{}", k.0.to_hex())
}

fn expect_unavailable(l: RemoteLookup) -> String {
    match l {
        RemoteLookup::Unavailable(why) => why,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

fn expect_rejected(l: RemoteLookup) -> String {
    match l {
        RemoteLookup::Rejected(why) => why,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

fn disable_warnings(w: &[String]) -> usize {
    w.iter().filter(|w| w.contains("switched off")).count()
}

// ---------------------------------------------------------------------------
// Lookups.

#[test]
fn refused_connections_switch_the_remote_off_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rc = RemoteCache::new(config(&format!("http://127.0.0.1:{port}/"))).unwrap();
    let store = DirStore::new();
    for i in 0..5 {
        let why = expect_unavailable(rc.get(&key("a"), store.as_ref()));
        if i < 3 {
            assert!(why.contains("connect"), "{why}");
        } else {
            assert!(why.contains("off"), "{why}");
        }
    }
    let w = rc.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("switched off") && w[0].contains("3 consecutive failures"),
        "{w:?}"
    );
    assert!(
        rc.take_warnings().is_empty(),
        "a warning was returned twice"
    );
    let stats = rc.stats();
    assert_eq!(stats.faults, 3, "requests were sent after switching off");
    assert!(stats.disabled_reason.is_some());
    // Uploads are off too.
    rc.upload(key("a"), ActionResult::default(), store.clone());
    assert_eq!(rc.finish(Duration::from_secs(5)).skipped, 1);
    store.assert_untouched();
}

#[test]
fn http_500_is_a_fault() {
    let server = FakeServer::start();
    server.set_rule(|_, _| Reply::Status(500));
    let rc = remote(&server);
    let store = DirStore::new();
    for _ in 0..3 {
        let why = expect_unavailable(rc.get(&key("a"), store.as_ref()));
        assert!(why.contains("500"), "{why}");
    }
    assert_eq!(server.log().len(), 3);
    expect_unavailable(rc.get(&key("a"), store.as_ref()));
    assert_eq!(
        server.log().len(),
        3,
        "the switched-off remote was still asked"
    );
    let w = rc.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(disable_warnings(&w), 1);
    assert_eq!(rc.stats().faults, 3);
    store.assert_untouched();
}

#[test]
fn auth_failures_warn_about_authentication_without_the_token() {
    for code in [401u16, 403] {
        let server = FakeServer::start();
        server.set_rule(move |_, _| Reply::Status(code));
        let mut cfg = config(&server.url());
        cfg.bearer_token = Some("tok-SECRET-42".into());
        cfg.headers = vec![("X-Api-Key".into(), "hdr-SECRET-7".into())];
        let rc = RemoteCache::new(cfg).unwrap();
        let store = DirStore::new();
        let why = expect_unavailable(rc.get(&key("a"), store.as_ref()));
        assert!(
            why.contains("authentication") && why.contains(&code.to_string()),
            "{why}"
        );
        let seen = &server.log()[0];
        assert_eq!(
            seen.headers.get("authorization").unwrap(),
            "Bearer tok-SECRET-42"
        );
        assert_eq!(seen.headers.get("x-api-key").unwrap(), "hdr-SECRET-7");
        let w = rc.take_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("authentication failed"), "{w:?}");
        // Two more: switched off, and still only one authentication warning.
        expect_unavailable(rc.get(&key("a"), store.as_ref()));
        expect_unavailable(rc.get(&key("a"), store.as_ref()));
        let w2 = rc.take_warnings();
        assert_eq!(w2.len(), 1, "{w2:?}");
        assert_eq!(disable_warnings(&w2), 1);
        let everything = format!("{w:?}{w2:?}{:?}{:?}{why}", rc.stats(), rc);
        assert!(
            !everything.contains("SECRET"),
            "credential leaked: {everything}"
        );
        store.assert_untouched();
    }
}

#[test]
fn not_found_is_a_miss_not_a_fault() {
    let server = FakeServer::start();
    let rc = remote(&server);
    let store = DirStore::new();
    for _ in 0..10 {
        assert!(matches!(
            rc.get(&key("nothing"), store.as_ref()),
            RemoteLookup::Miss
        ));
    }
    assert_eq!(server.log().len(), 10);
    assert!(server
        .requests()
        .iter()
        .all(|r| r == &format!("GET {}", ac_path(&key("nothing")))));
    let stats = rc.stats();
    assert_eq!((stats.misses, stats.faults), (10, 0));
    assert!(stats.disabled_reason.is_none());
    assert!(rc.take_warnings().is_empty());
}

#[test]
fn hanging_server_times_out() {
    let server = FakeServer::start();
    server.set_rule(|_, _| Reply::Hang(Duration::from_secs(6)));
    let mut cfg = config(&server.url());
    cfg.timeout = Duration::from_millis(500);
    let rc = RemoteCache::new(cfg).unwrap();
    let store = DirStore::new();
    let t = Instant::now();
    let why = expect_unavailable(rc.get(&key("a"), store.as_ref()));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert!(why.contains("timed out"), "{why}");
    assert_eq!(rc.stats().faults, 1);
    store.assert_untouched();
}

#[test]
fn slow_body_hits_the_overall_timeout() {
    let server = FakeServer::start();
    let k = key("slow");
    let content = pseudo_random_bytes("slow", 4000);
    seed_entry(&server, k, &content);
    let blob = format!("/cas/{}", sha256_hex(&content));
    let c2 = content.clone();
    server.set_rule(move |req, _| {
        if req.path == blob {
            // 4000 bytes at 20 ms each: 80 s, far beyond the 1 s timeout,
            // while no single read waits long.
            Reply::Trickle {
                body: c2.clone(),
                delay: Duration::from_millis(20),
            }
        } else {
            Reply::Cache
        }
    });
    let mut cfg = config(&server.url());
    cfg.timeout = Duration::from_secs(1);
    let rc = RemoteCache::new(cfg).unwrap();
    let store = DirStore::new();
    let t = Instant::now();
    let why = expect_unavailable(rc.get(&k, store.as_ref()));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(why.contains("timed out"), "{why}");
    store.assert_untouched();
}

#[test]
fn truncated_bodies_are_faults() {
    let server = FakeServer::start();
    let k = key("trunc");
    let content = pseudo_random_bytes("trunc", 10_000);
    seed_entry(&server, k, &content);
    let ac = server.get_raw(&ac_path(&k)).unwrap();
    let blob_path = format!("/cas/{}", sha256_hex(&content));

    // The AC entry itself cut short.
    let (acp, ac2) = (ac_path(&k), ac.clone());
    server.set_rule(move |req, _| {
        if req.path == acp {
            Reply::Truncated {
                declared: ac2.len() + 100,
                body: ac2.clone(),
            }
        } else {
            Reply::Cache
        }
    });
    let rc = remote(&server);
    let store = DirStore::new();
    let why = expect_unavailable(rc.get(&k, store.as_ref()));
    assert!(why.contains("body"), "{why}");
    store.assert_untouched();

    // An output blob cut short.
    let (bp, c2) = (blob_path.clone(), content.clone());
    server.set_rule(move |req, _| {
        if req.path == bp {
            Reply::Truncated {
                declared: c2.len(),
                body: c2[..5000].to_vec(),
            }
        } else {
            Reply::Cache
        }
    });
    expect_unavailable(rc.get(&k, store.as_ref()));
    store.assert_untouched();
    assert_eq!(rc.stats().faults, 2);
    assert!(server.requests().contains(&format!("GET {blob_path}")));
}

#[test]
fn three_different_faults_in_a_row_switch_off_once() {
    let server = FakeServer::start();
    let k = key("mixed");
    let content = pseudo_random_bytes("mixed", 3000);
    seed_entry(&server, k, &content);
    let ac = server.get_raw(&ac_path(&k)).unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    server.set_rule(move |req, _| {
        if !req.path.starts_with("/ac/") {
            return Reply::Cache;
        }
        match n2.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::Status(503),
            1 => Reply::Hang(Duration::from_secs(4)),
            _ => Reply::Truncated {
                declared: ac.len() * 2,
                body: ac.clone(),
            },
        }
    });
    let mut cfg = config(&server.url());
    cfg.timeout = Duration::from_millis(700);
    let rc = RemoteCache::new(cfg).unwrap();
    let store = DirStore::new();
    for _ in 0..3 {
        expect_unavailable(rc.get(&k, store.as_ref()));
    }
    let w = rc.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("switched off"), "{w:?}");
    let before = server.log().len();
    for _ in 0..3 {
        expect_unavailable(rc.get(&k, store.as_ref()));
    }
    assert_eq!(server.log().len(), before);
    assert!(rc.take_warnings().is_empty());
    store.assert_untouched();
}

#[test]
fn blob_not_matching_its_sha256_is_rejected() {
    let server = FakeServer::start();
    let k = key("mismatch");
    let content = pseudo_random_bytes("mismatch", 50_000);
    seed_entry(&server, k, &content);
    let blob_path = format!("/cas/{}", sha256_hex(&content));
    for variant in 0..3 {
        let mut evil = content.clone();
        match variant {
            0 => evil[1234] ^= 1,    // same size, other content
            1 => evil.push(0),       // one byte longer
            _ => evil.truncate(100), // shorter, honestly announced
        }
        let bp = blob_path.clone();
        server.set_rule(move |req, _| {
            if req.path == bp {
                Reply::Body(200, evil.clone())
            } else {
                Reply::Cache
            }
        });
        let rc = remote(&server);
        let store = DirStore::new();
        let why = expect_rejected(rc.get(&k, store.as_ref()));
        assert!(why.contains(&sha256_hex(&content)), "{why}");
        assert_eq!(rc.stats().rejected, 1);
        store.assert_untouched();
    }
    // The honest blob still gives a hit.
    server.set_rule(|_, _| Reply::Cache);
    let store = DirStore::new();
    assert!(matches!(
        remote(&server).get(&k, store.as_ref()),
        RemoteLookup::Hit(_)
    ));
    assert_eq!(store.blob_count(), 1);
}

/// Builds an entry by hand: outputs (path, content, blake3 claimed).
fn craft_entry(server: &FakeServer, k: ActionKey, outputs: &[(&str, &[u8], Digest)]) {
    let mut files = Vec::new();
    let mut meta_outputs = Vec::new();
    for (path, content, blake3) in outputs {
        let sha = sha256_hex(content);
        server.put_raw(&format!("/cas/{sha}"), content.to_vec());
        files.push(PbOutputFile {
            path: path.to_string(),
            digest: Some(PbDigest {
                hash: sha.clone(),
                size_bytes: content.len() as i64,
            }),
            ..Default::default()
        });
        if let Ok(p) = RelPath::new(*path) {
            meta_outputs.push(MetaOutput {
                path: p,
                blake3: *blake3,
                sha256: sha,
                size: content.len() as u64,
                executable: false,
            });
        }
    }
    let meta = Metadata {
        format: METADATA_FORMAT.into(),
        version: ENTRY_FORMAT_VERSION,
        outputs: meta_outputs,
        meta: ResultMeta::default(),
    };
    let meta_bytes = serde_json::to_vec(&meta).unwrap();
    let meta_sha = sha256_hex(&meta_bytes);
    server.put_raw(&format!("/cas/{meta_sha}"), meta_bytes.clone());
    files.push(PbOutputFile {
        path: METADATA_PATH.into(),
        digest: Some(PbDigest {
            hash: meta_sha,
            size_bytes: meta_bytes.len() as i64,
        }),
        ..Default::default()
    });
    let pb = PbActionResult {
        output_files: files,
        ..Default::default()
    };
    server.put_raw(&ac_path(&k), prost::Message::encode_to_vec(&pb));
}

#[test]
fn blake3_mismatch_is_rejected_before_adopting() {
    let server = FakeServer::start();
    let k = key("b3");
    craft_entry(
        &server,
        k,
        &[(OUTPUT, b"real bytes", Digest::of_bytes(b"claimed bytes"))],
    );
    let rc = remote(&server);
    let store = DirStore::new();
    let why = expect_rejected(rc.get(&k, store.as_ref()));
    assert!(why.contains("blake3"), "{why}");
    store.assert_untouched();
    // The same entry with the true digest is fine.
    craft_entry(
        &server,
        k,
        &[(OUTPUT, b"real bytes", Digest::of_bytes(b"real bytes"))],
    );
    match rc.get(&k, store.as_ref()) {
        RemoteLookup::Hit(r) => assert_eq!(r.outputs[0].digest, Digest::of_bytes(b"real bytes")),
        other => panic!("expected a hit, got {other:?}"),
    }
}

#[test]
fn unsafe_output_paths_are_rejected_without_downloading() {
    let server = FakeServer::start();
    let rc = remote(&server);
    for (i, bad) in [
        "../escape",
        "/etc/passwd",
        "a/../../escape",
        ".hbuild/evil",
        "./x",
        "a//b",
    ]
    .iter()
    .enumerate()
    {
        let k = key(&format!("unsafe-{i}"));
        craft_entry(&server, k, &[(bad, b"evil", Digest::of_bytes(b"evil"))]);
        let before = server.log().len();
        let store = DirStore::new();
        let why = expect_rejected(rc.get(&k, store.as_ref()));
        assert!(
            why.contains("path") || why.contains(".hbuild"),
            "{bad}: {why}"
        );
        let new: Vec<_> = server.requests()[before..].to_vec();
        assert_eq!(
            new,
            vec![format!("GET {}", ac_path(&k))],
            "{bad}: blobs were fetched"
        );
        store.assert_untouched();
    }
    // Rejections are not faults: the remote stays on, nothing to warn about.
    assert_eq!(rc.stats().rejected, 6);
    assert!(rc.stats().disabled_reason.is_none());
    assert!(rc.take_warnings().is_empty());
}

#[test]
fn foreign_or_garbage_entries_are_rejected() {
    let server = FakeServer::start();
    let rc = remote(&server);
    let store = DirStore::new();
    // Not a protobuf.
    server.put_raw(
        &ac_path(&key("garbage")),
        b"\xff\xff\xff\xff not a protobuf".to_vec(),
    );
    expect_rejected(rc.get(&key("garbage"), store.as_ref()));
    // A valid ActionResult written by Bazel (no hbuild metadata).
    let pb = PbActionResult {
        output_files: vec![PbOutputFile {
            path: "bazel-out/x".into(),
            digest: Some(PbDigest {
                hash: sha256_hex(b"x"),
                size_bytes: 1,
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    server.put_raw(&ac_path(&key("bazel")), prost::Message::encode_to_vec(&pb));
    let why = expect_rejected(rc.get(&key("bazel"), store.as_ref()));
    assert!(why.contains("metadata"), "{why}");
    // A failed action.
    let pb = PbActionResult {
        exit_code: 1,
        ..Default::default()
    };
    server.put_raw(&ac_path(&key("failed")), prost::Message::encode_to_vec(&pb));
    expect_rejected(rc.get(&key("failed"), store.as_ref()));
    // An entry whose blob is gone (dangling).
    let k = key("dangling");
    seed_entry(&server, k, b"soon gone");
    server
        .state
        .blobs
        .lock()
        .unwrap()
        .remove(&format!("/cas/{}", sha256_hex(b"soon gone")));
    let why = expect_rejected(rc.get(&k, store.as_ref()));
    assert!(why.contains("not found"), "{why}");
    store.assert_untouched();
    assert_eq!(rc.stats().faults, 0);
}

#[test]
fn concurrent_lookups_share_the_client() {
    let server = FakeServer::start();
    let k = key("shared");
    let result = seed_entry(&server, k, &pseudo_random_bytes("shared", 200_000));
    let mut cfg = config(&server.url());
    cfg.max_connections = 2;
    let rc = Arc::new(RemoteCache::new(cfg).unwrap());
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (rc, result) = (rc.clone(), result.clone());
            std::thread::spawn(move || {
                let store = DirStore::new();
                match rc.get(&k, store.as_ref()) {
                    RemoteLookup::Hit(r) => assert_eq!(r, result),
                    other => panic!("expected a hit, got {other:?}"),
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(rc.stats().hits, 6);
}

// ---------------------------------------------------------------------------
// Uploads.

#[test]
fn uploads_blobs_first_with_content_length() {
    let server = FakeServer::start();
    let k = key("order");
    let result = seed_entry(&server, k, &pseudo_random_bytes("order", 300_000));
    let log = server.log();
    let puts: Vec<&Req> = log.iter().filter(|r| r.method == "PUT").collect();
    // Output, metadata, stdout; then the entry.
    assert_eq!(puts.len(), 4, "{:?}", server.requests());
    assert!(puts[..3].iter().all(|r| r.path.starts_with("/cas/")));
    assert_eq!(puts[3].path, ac_path(&k));
    for r in &puts {
        assert_eq!(
            r.headers.get("content-length").unwrap(),
            &r.body.len().to_string()
        );
        assert!(!r.headers.contains_key("transfer-encoding"));
    }
    // Every PUT was checked and stored by the server (SHA-256 verified).
    assert_eq!(server.state.blobs.lock().unwrap().len(), 4);
    // The entry uses relative paths and the reserved metadata path.
    let pb: PbActionResult = prost::Message::decode(puts[3].body.as_slice()).unwrap();
    let paths: Vec<_> = pb.output_files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec![OUTPUT, METADATA_PATH]);
    assert_eq!(
        pb.stdout_digest.as_ref().unwrap().hash,
        sha256_hex(b"out\n")
    );
    assert!(pb.stderr_digest.is_none());
    let meta_sha = &pb.output_files[1].digest.as_ref().unwrap().hash;
    let meta: Metadata =
        serde_json::from_slice(&server.get_raw(&format!("/cas/{meta_sha}")).unwrap()).unwrap();
    assert_eq!(meta.outputs[0].blake3, result.outputs[0].digest);
    assert_eq!(meta.meta, result.meta);
}

#[test]
fn failed_blob_upload_sends_no_entry() {
    for code in [500u16, 404, 405, 400] {
        let server = FakeServer::start();
        server.set_rule(move |req, _| {
            if req.method == "PUT" {
                Reply::Status(code)
            } else {
                Reply::Cache
            }
        });
        let src = DirStore::new();
        let result = ActionResult {
            outputs: vec![src.add(OUTPUT, b"abc", false)],
            ..Default::default()
        };
        let rc = remote(&server);
        rc.upload(key("f"), result, src.clone());
        let report = rc.finish(Duration::from_secs(10));
        assert_eq!((report.uploaded, report.failed), (0, 1), "HTTP {code}");
        let requests = server.requests();
        assert!(requests.iter().all(|r| !r.contains("/ac/")), "{requests:?}");
        // The HEADs of both blobs (output and metadata; 404: missing), then
        // the first, refused PUT, nothing more.
        assert_eq!(requests.len(), 3, "{requests:?}");
        assert!(
            requests[..2].iter().all(|r| r.starts_with("HEAD")),
            "{requests:?}"
        );
        assert!(requests[2].starts_with("PUT"), "{requests:?}");
        assert_eq!(rc.stats().faults, 1, "HTTP {code}");
    }
}

#[test]
fn too_large_blobs_warn_once_and_are_not_faults() {
    let server = FakeServer::start();
    server.set_rule(|req, _| {
        if req.method == "PUT" {
            Reply::Status(413)
        } else {
            Reply::Cache
        }
    });
    let src = DirStore::new();
    let rc = remote(&server);
    for i in 0..4 {
        let out = src.add(OUTPUT, format!("content {i}").as_bytes(), false);
        rc.upload(
            key(&format!("big{i}")),
            ActionResult {
                outputs: vec![out],
                ..Default::default()
            },
            src.clone(),
        );
    }
    let report = rc.finish(Duration::from_secs(10));
    assert_eq!(report.failed, 4, "{report:?}");
    let w = rc.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("too large"), "{w:?}");
    assert_eq!(rc.stats().faults, 0);
    assert!(rc.stats().disabled_reason.is_none());
    assert!(server.requests().iter().all(|r| !r.contains("/ac/")));
}

#[test]
fn read_only_never_sends_a_request_for_uploads() {
    let server = FakeServer::start();
    let src = DirStore::new();
    let mut cfg = config(&server.url());
    cfg.read_only = true;
    let rc = RemoteCache::new(cfg).unwrap();
    for i in 0..3 {
        let out = src.add(OUTPUT, format!("c{i}").as_bytes(), false);
        rc.upload(
            key(&format!("ro{i}")),
            ActionResult {
                outputs: vec![out],
                ..Default::default()
            },
            src.clone(),
        );
    }
    let report = rc.finish(Duration::from_secs(5));
    assert_eq!((report.skipped, report.uploaded), (3, 0));
    std::thread::sleep(Duration::from_millis(200));
    assert!(server.log().is_empty(), "{:?}", server.requests());
}

#[test]
fn finish_abandons_what_does_not_fit_in_the_timeout() {
    let server = FakeServer::start();
    server.set_rule(|req, _| {
        if req.method == "PUT" {
            Reply::SlowCache(Duration::from_millis(1500))
        } else {
            Reply::Cache
        }
    });
    let src = DirStore::new();
    let mut cfg = config(&server.url());
    cfg.max_connections = 1;
    cfg.timeout = Duration::from_secs(10);
    let rc = RemoteCache::new(cfg).unwrap();
    for i in 0..3 {
        let out = src.add(OUTPUT, format!("slow {i}").as_bytes(), false);
        rc.upload(
            key(&format!("slow{i}")),
            ActionResult {
                outputs: vec![out],
                ..Default::default()
            },
            src.clone(),
        );
    }
    let t = Instant::now();
    let report = rc.finish(Duration::from_millis(300));
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "finish blocked for {:?}",
        t.elapsed()
    );
    assert_eq!(report.abandoned, 3, "{report:?}");
    assert_eq!(report.uploaded, 0);
    // The upload that was running stops before its entry.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        server.requests().iter().all(|r| !r.contains("/ac/")),
        "{:?}",
        server.requests()
    );
    // Later uploads are refused.
    rc.upload(key("late"), ActionResult::default(), src.clone());
    assert_eq!(rc.finish(Duration::from_secs(1)).skipped, 1);
}

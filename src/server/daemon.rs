//! The server process of one target dir.
//!
//! Threads: the accept loop (one short-lived thread per connection), the
//! checker (finished builds are checked one at a time, in order), the
//! watcher's event thread, and a reaper that ends the process after the idle
//! timeout or when its socket or target dir disappears. All state is in
//! [`Shared`]; the event handler only marks invocations changed.

use std::collections::HashMap;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::paths::{ServerInfo, ServerPaths};
use super::protocol::{self, Reply, Request, Status};
use super::verify::{self, Verified};
use super::watch::{Notice, WatchSet, Watcher};
use super::ServerError;
use crate::core::Digest;
use crate::report::ReportConfig;
use crate::settings::Settings;

/// Invocations remembered at most (least recently used ones are dropped).
const MAX_INVOCATIONS: usize = 32;
/// How long a reply may wait for the watcher to catch up (it takes well
/// under a millisecond; the margin is for a machine busy compiling).
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);

/// One invocation ([`Settings::invocation_key`]) the server knows.
#[derive(Default)]
struct Known {
    watch: Arc<WatchSet>,
    /// Bumped by every change to a watched path.
    epoch: u64,
    /// Set while nothing changed since the check that produced it.
    clean: Option<Arc<Verified>>,
    last_used: Option<Instant>,
}

type Invocations = Arc<Mutex<HashMap<Digest, Known>>>;

/// State of the server.
struct Shared {
    paths: ServerPaths,
    exe: String,
    started: Instant,
    idle_timeout: Duration,
    last_request: Mutex<Instant>,
    known: Invocations,
    watcher: Watcher,
    checks: Mutex<mpsc::Sender<Settings>>,
    answered: AtomicU64,
    declined: AtomicU64,
    verified: AtomicU64,
    last_check: Mutex<Option<String>>,
    /// Answers are given one at a time: they hold the target-dir lock,
    /// which another thread of this process could not take meanwhile.
    answering: Mutex<()>,
}

fn on_notice(known: &Invocations, n: Notice<'_>) {
    let mut known = known.lock().expect("state lock");
    match n {
        Notice::Lost => {
            for k in known.values_mut() {
                k.epoch += 1;
                k.clean = None;
            }
        }
        Notice::Event(ev) => {
            for k in known.values_mut() {
                // An event without paths says nothing precise: assume the worst.
                if ev.paths.is_empty() || ev.paths.iter().any(|p| k.watch.covers(&ev.kind, p)) {
                    if k.clean.is_some() {
                        // The server's stderr is its log.
                        crate::report::eprint_locked(&format!(
                            "changed: {:?} {:?}\n",
                            ev.kind, ev.paths
                        ));
                    }
                    k.epoch += 1;
                    k.clean = None;
                }
            }
        }
    }
}

/// Runs the server of `paths.target_dir` until it is idle for
/// `idle_timeout`, stopped, or its target dir is removed. Returns at once
/// when another server holds the target dir.
pub fn run(paths: ServerPaths, idle_timeout: Duration) -> Result<(), ServerError> {
    let dir = paths
        .lock
        .parent()
        .expect("lock in a directory")
        .to_path_buf();
    std::fs::create_dir_all(&dir).map_err(ServerError::io("cannot create", &dir))?;
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&paths.lock)
        .map_err(ServerError::io("cannot open", &paths.lock))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(ServerError::io("cannot lock", &paths.lock)(e))
        }
    }
    // A killed server leaves its socket behind; the lock says it is dead.
    let _ = std::fs::remove_file(&paths.socket);
    let listener = UnixListener::bind(&paths.socket)
        .map_err(ServerError::io("cannot listen on", &paths.socket))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600));
    }
    let known: Invocations = Arc::default();
    let k2 = known.clone();
    let watcher =
        Watcher::new(&paths.cookies, move |n| on_notice(&k2, n)).map_err(ServerError::Config)?;
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        exe: super::exe_identity(),
        started: Instant::now(),
        idle_timeout,
        last_request: Mutex::new(Instant::now()),
        known,
        watcher,
        checks: Mutex::new(tx),
        answered: AtomicU64::new(0),
        declined: AtomicU64::new(0),
        verified: AtomicU64::new(0),
        last_check: Mutex::new(None),
        answering: Mutex::new(()),
        paths: paths.clone(),
    });
    let info = ServerInfo {
        pid: std::process::id(),
        exe: shared.exe.clone(),
        started_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        idle_timeout_secs: idle_timeout.as_secs(),
        socket: paths.socket.clone(),
    };
    let tmp = paths.info.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(&info).expect("info serialises"))
        .and_then(|()| std::fs::rename(&tmp, &paths.info))
        .map_err(ServerError::io("cannot write", &paths.info))?;

    let s2 = shared.clone();
    std::thread::Builder::new()
        .name("checker".into())
        .stack_size(256 << 20)
        .spawn(move || checker(&s2, rx))
        .map_err(ServerError::io("cannot start a thread in", &dir))?;
    let s3 = shared.clone();
    std::thread::Builder::new()
        .name("reaper".into())
        .spawn(move || reaper(&s3))
        .map_err(ServerError::io("cannot start a thread in", &dir))?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let s = shared.clone();
        // Without a thread the connection is dropped unanswered, and the
        // client builds directly.
        let _ = std::thread::Builder::new().spawn(move || connection(&s, stream));
    }
    Ok(())
}

/// Removes what the server published and ends the process (the lock goes
/// with it).
fn exit(shared: &Shared) -> ! {
    let ours = std::fs::read(&shared.paths.info)
        .ok()
        .and_then(|b| serde_json::from_slice::<ServerInfo>(&b).ok())
        .is_some_and(|i| i.pid == std::process::id());
    if ours {
        let _ = std::fs::remove_file(&shared.paths.socket);
        let _ = std::fs::remove_file(&shared.paths.info);
    }
    let _ = std::fs::remove_dir_all(&shared.paths.cookies);
    std::process::exit(0)
}

fn reaper(shared: &Shared) {
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let idle = shared.last_request.lock().expect("idle lock").elapsed();
        if idle >= shared.idle_timeout
            || !shared.paths.socket.exists()
            || !shared.paths.info.exists()
        {
            exit(shared);
        }
    }
}

fn checker(shared: &Shared, rx: mpsc::Receiver<Settings>) {
    while let Ok(first) = rx.recv() {
        // Of several builds of one invocation queued meanwhile, the last counts.
        let mut batch: Vec<Settings> = vec![first];
        while let Ok(more) = rx.try_recv() {
            let key = more.invocation_key();
            batch.retain(|b| b.invocation_key() != key);
            batch.push(more);
        }
        for settings in batch {
            let outcome = check_one(shared, settings);
            shared.verified.fetch_add(1, Ordering::Relaxed);
            *shared.last_check.lock().expect("last check lock") = outcome.err();
        }
    }
}

fn check_one(shared: &Shared, settings: Settings) -> Result<(), String> {
    let key = settings.invocation_key();
    let prepared = verify::prepare(settings)?;
    let watch = Arc::new(prepared.watch.clone());
    {
        let mut known = shared.known.lock().expect("state lock");
        if !known.contains_key(&key) && known.len() >= MAX_INVOCATIONS {
            if let Some(oldest) = known
                .iter()
                .min_by_key(|(_, k)| k.last_used)
                .map(|(d, _)| *d)
            {
                known.remove(&oldest);
            }
        }
        let k = known.entry(key).or_default();
        k.watch = watch.clone();
        k.clean = None;
        k.last_used = Some(Instant::now());
    }
    // Watch first, then look: a change after this point is an event, one
    // before it is seen by the check.
    shared.watcher.ensure(&watch)?;
    if !shared.watcher.sync(SYNC_TIMEOUT) {
        return Err("the watcher did not respond".into());
    }
    let epoch = shared
        .known
        .lock()
        .expect("state lock")
        .get(&key)
        .map(|k| k.epoch);
    let verified = verify::check(prepared)?;
    if !shared.watcher.sync(SYNC_TIMEOUT) {
        return Err("the watcher did not respond".into());
    }
    let mut known = shared.known.lock().expect("state lock");
    let k = known.get_mut(&key).ok_or("forgotten meanwhile")?;
    if Some(k.epoch) != epoch {
        return Err("a watched file changed during the check".into());
    }
    k.clean = Some(Arc::new(verified));
    Ok(())
}

fn connection(shared: &Shared, mut stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(req) = protocol::receive::<Request>(&stream) else {
        return;
    };
    // Looking at the server is not using it.
    if !matches!(req, Request::Status) {
        *shared.last_request.lock().expect("idle lock") = Instant::now();
    }
    match req {
        Request::Query {
            exe,
            settings,
            report,
            cache_dir,
        } => {
            let t0 = Instant::now();
            let (reply, summary) = answer(shared, &exe, &settings, &report, t0);
            let ok = matches!(reply, Reply::UpToDate { .. });
            if ok {
                shared.answered.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.declined.fetch_add(1, Ordering::Relaxed);
            }
            let _ = protocol::send(&mut stream, &reply);
            drop(stream);
            // After the reply, as a direct no-op would: log the build.
            if let (Some(s), Some(dir)) = (summary, cache_dir) {
                if let Ok(l) = crate::cache::local::LocalCache::open(&dir) {
                    crate::analysis::run::record_build(&l, &s);
                }
            }
            if exe != shared.exe {
                // Another hbuild binary talks to us: make way for its server.
                exit(shared);
            }
        }
        Request::Built { exe, settings } => {
            let _ = protocol::send(&mut stream, &Reply::Ok);
            if exe == shared.exe {
                let _ = shared.checks.lock().expect("checks lock").send(*settings);
            } else {
                exit(shared);
            }
        }
        Request::Status => {
            let _ = protocol::send(&mut stream, &Reply::Status(status(shared)));
        }
        Request::Stop => {
            let _ = protocol::send(&mut stream, &Reply::Ok);
            exit(shared);
        }
    }
}

fn declined(why: impl Into<String>) -> (Reply, Option<crate::exec::BuildSummary>) {
    (Reply::Unknown { why: why.into() }, None)
}

fn answer(
    shared: &Shared,
    exe: &str,
    settings: &Settings,
    report: &ReportConfig,
    t0: Instant,
) -> (Reply, Option<crate::exec::BuildSummary>) {
    if exe != shared.exe {
        return declined("the server runs another hbuild binary");
    }
    let key = settings.invocation_key();
    let clean = {
        let mut known = shared.known.lock().expect("state lock");
        let Some(k) = known.get_mut(&key) else {
            return declined("this invocation has not been built since the server started");
        };
        k.last_used = Some(Instant::now());
        match &k.clean {
            Some(c) => c.clone(),
            None => return declined("a watched file changed, or the last build was not checked"),
        }
    };
    if let Some(var) = clean.env_matches(settings.env()) {
        return declined(format!("`{var}` differs from the verified build"));
    }
    if clean.format != report.format {
        return declined("another message format");
    }
    let _one = shared.answering.lock().expect("answer lock");
    let lock = match crate::exec::lock::try_lock_target_dir(&clean.target_dir) {
        Ok(Some(l)) => l,
        _ => return declined("another build holds the target dir"),
    };
    // Every change made before the client asked must have been seen.
    if !shared.watcher.sync(SYNC_TIMEOUT) {
        return declined("the watcher did not respond");
    }
    let still = shared
        .known
        .lock()
        .expect("state lock")
        .get(&key)
        .and_then(|k| k.clean.clone())
        .is_some_and(|c| Arc::ptr_eq(&c, &clean));
    if !still {
        return declined("a watched file changed");
    }
    clean.refresh_explain_record();
    let (stdout, stderr) = clean.render(report, t0.elapsed());
    drop(lock);
    (
        Reply::UpToDate {
            stdout,
            stderr,
            exit_code: 0,
        },
        Some(clean.summary.clone()),
    )
}

fn status(shared: &Shared) -> Status {
    let known = shared.known.lock().expect("state lock");
    Status {
        pid: std::process::id(),
        target_dir: shared.paths.target_dir.clone(),
        uptime_secs: shared.started.elapsed().as_secs(),
        idle_timeout_secs: shared.idle_timeout.as_secs(),
        invocations: known.len(),
        up_to_date: known.values().filter(|k| k.clean.is_some()).count(),
        watched: shared.watcher.watched(),
        answered: shared.answered.load(Ordering::Relaxed),
        declined: shared.declined.load(Ordering::Relaxed),
        verified: shared.verified.load(Ordering::Relaxed),
        last_check: shared.last_check.lock().expect("last check lock").clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, ModifyKind};
    use notify::{Event, EventKind};

    fn known_with(watch: WatchSet) -> Invocations {
        let known: Invocations = Arc::default();
        let v = Verified {
            graph: Arc::default(),
            events: Vec::new(),
            summary: Default::default(),
            reasons: Default::default(),
            env: Default::default(),
            target_dir: "/t".into(),
            format: crate::report::MessageFormat::Human,
            explain_stamp: Mutex::new(None),
        };
        known.lock().unwrap().insert(
            Digest::of_bytes(b"k"),
            Known {
                watch: Arc::new(watch),
                epoch: 0,
                clean: Some(Arc::new(v)),
                last_used: None,
            },
        );
        known
    }

    fn clean(known: &Invocations) -> bool {
        known.lock().unwrap().values().all(|k| k.clean.is_some())
    }

    #[test]
    fn only_changes_to_watched_paths_drop_a_verified_state() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::write(root.join("lib.rs"), "").unwrap();
        let mut w = WatchSet::default();
        w.add_file(&root.join("lib.rs"));
        let known = known_with(w);
        let modify = |p: &std::path::Path| {
            Event::new(EventKind::Modify(ModifyKind::Data(DataChange::Content))).add_path(p.into())
        };
        on_notice(&known, Notice::Event(&modify(&root.join("notes.txt"))));
        assert!(clean(&known));
        on_notice(&known, Notice::Event(&modify(&root.join("lib.rs"))));
        assert!(!clean(&known));
        assert_eq!(known.lock().unwrap().values().next().unwrap().epoch, 1);
    }

    #[test]
    fn lost_events_and_pathless_events_drop_everything() {
        let known = known_with(WatchSet::default());
        on_notice(
            &known,
            Notice::Event(&Event::new(EventKind::Create(CreateKind::Any))),
        );
        assert!(!clean(&known));
        let known = known_with(WatchSet::default());
        on_notice(&known, Notice::Lost);
        assert!(!clean(&known));
    }
}

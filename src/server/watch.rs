//! What a verified build depends on, and the watcher that reports changes
//! to it.
//!
//! A [`WatchSet`] names files (inputs, outputs, stamps, manifests, config
//! files that must stay absent) and directories whose listing matters
//! (package directories: a new file can be a new target). Paths are stored
//! canonical, as the watcher reports them. Files are watched twice: through
//! their directory (replacement by rename, deletion, creation) and by inode
//! (a write through another hard link).
//!
//! [`Watcher::sync`] implements cookie files, as Watchman does: the server
//! creates a file in a watched directory and waits for its event. inotify
//! delivers the events of one instance in order, so once the cookie is seen,
//! every change made before it was created has been seen too.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecursiveMode, Watcher as _};

/// The paths one verified build depends on.
#[derive(Clone, Debug, Default)]
pub struct WatchSet {
    /// Files (or absent paths) whose any change matters.
    files: HashSet<PathBuf>,
    /// Directories whose entries matter (not their files' contents).
    listings: HashSet<PathBuf>,
    /// Directories to watch.
    dirs: HashSet<PathBuf>,
    /// Existing files to watch by inode.
    inodes: HashSet<PathBuf>,
}

/// The canonical existing directory nearest to `p` and the name below it
/// on the way to `p`: for an absent path, its first missing component.
fn anchor(p: &Path) -> Option<(PathBuf, OsString)> {
    let mut cur = p;
    loop {
        let parent = cur.parent()?;
        let name = cur.file_name()?;
        if let Ok(dir) = std::fs::canonicalize(parent) {
            return Some((dir, name.to_os_string()));
        }
        cur = parent;
    }
}

impl WatchSet {
    /// A file whose content or existence matters (absent files too).
    pub fn add_file(&mut self, p: &Path) {
        let Some((dir, name)) = anchor(p) else { return };
        let at = dir.join(&name);
        self.dirs.insert(dir);
        if let Ok(real) = std::fs::canonicalize(p) {
            // A symlink: its target changes in another directory.
            if real != at {
                if let Some(d) = real.parent() {
                    self.dirs.insert(d.to_path_buf());
                }
                self.files.insert(real.clone());
            }
            if real.is_file() {
                self.inodes.insert(real);
            }
        }
        self.files.insert(at);
    }

    /// A directory whose entries matter.
    pub fn add_listing(&mut self, d: &Path) {
        match std::fs::canonicalize(d) {
            Ok(c) if c.is_dir() => {
                self.dirs.insert(c.clone());
                self.listings.insert(c);
            }
            _ => self.add_file(d),
        }
    }

    /// Whether `p` (any spelling) is one of the files.
    pub fn has_file(&self, p: &Path) -> bool {
        anchor(p).is_some_and(|(d, n)| self.files.contains(&d.join(n)))
    }

    /// Whether an event of `kind` on `path` changes something this set
    /// depends on.
    pub fn covers(&self, kind: &EventKind, path: &Path) -> bool {
        if self.files.contains(path) || self.listings.contains(path) {
            return true;
        }
        let entry_changed = matches!(
            kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Modify(ModifyKind::Any)
                | EventKind::Any
                | EventKind::Other
        );
        entry_changed && path.parent().is_some_and(|d| self.listings.contains(d))
    }

    fn watch_points(&self) -> impl Iterator<Item = &PathBuf> {
        self.dirs.iter().chain(self.inodes.iter())
    }
}

/// Whether an event can be a change (reads and opens are not).
pub fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[derive(Default)]
struct Cookies {
    seen: Mutex<HashSet<u64>>,
    arrived: Condvar,
    next: AtomicU64,
}

/// What the watcher tells its owner: a change event, or that events may
/// have been lost (queue overflow, backend error) so nothing can be trusted.
pub enum Notice<'a> {
    /// An event.
    Event(&'a Event),
    /// Events may have been lost.
    Lost,
}

/// The file-system watcher of a server.
pub struct Watcher {
    inner: Mutex<notify::RecommendedWatcher>,
    registered: Arc<Mutex<HashSet<PathBuf>>>,
    cookies: Arc<Cookies>,
    cookie_dir: PathBuf,
}

impl Watcher {
    /// Starts watching, with `cookie_dir` (emptied) for synchronisation.
    /// `on_notice` runs on the watcher's thread for every event.
    pub fn new(
        cookie_dir: &Path,
        on_notice: impl Fn(Notice<'_>) + Send + 'static,
    ) -> Result<Self, String> {
        let _ = std::fs::remove_dir_all(cookie_dir);
        std::fs::create_dir_all(cookie_dir)
            .map_err(|e| format!("cannot create `{}`: {e}", cookie_dir.display()))?;
        let cookie_dir = std::fs::canonicalize(cookie_dir)
            .map_err(|e| format!("{}: {e}", cookie_dir.display()))?;
        let cookies = Arc::new(Cookies::default());
        let registered: Arc<Mutex<HashSet<PathBuf>>> = Arc::default();
        let (c2, d2, r2) = (cookies.clone(), cookie_dir.clone(), registered.clone());
        let handler = move |res: notify::Result<Event>| {
            let ev = match res {
                Ok(ev) if !ev.need_rescan() => ev,
                _ => {
                    // Lost events: forget the registrations too, so that the
                    // next check watches everything again.
                    r2.lock().expect("registered lock").clear();
                    on_notice(Notice::Lost);
                    return;
                }
            };
            for p in &ev.paths {
                if p.parent() == Some(d2.as_path()) {
                    if let (EventKind::Create(_), Some(n)) = (
                        &ev.kind,
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .and_then(|n| n.strip_prefix("cookie-"))
                            .and_then(|n| n.parse::<u64>().ok()),
                    ) {
                        c2.seen.lock().expect("cookie lock").insert(n);
                        c2.arrived.notify_all();
                    }
                }
            }
            if !is_change(&ev.kind) {
                return;
            }
            if !matches!(ev.kind, EventKind::Modify(ModifyKind::Data(_))) {
                // A path created, removed or renamed may be another inode
                // now: watch it again at the next check.
                let mut r = r2.lock().expect("registered lock");
                for p in &ev.paths {
                    r.remove(p);
                }
            }
            on_notice(Notice::Event(&ev));
        };
        let mut inner = notify::recommended_watcher(handler).map_err(|e| e.to_string())?;
        inner
            .watch(&cookie_dir, RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch `{}`: {e}", cookie_dir.display()))?;
        Ok(Watcher {
            inner: Mutex::new(inner),
            registered,
            cookies,
            cookie_dir,
        })
    }

    /// Watches every path of `set` not watched yet.
    pub fn ensure(&self, set: &WatchSet) -> Result<(), String> {
        let todo: Vec<PathBuf> = {
            let r = self.registered.lock().expect("registered lock");
            set.watch_points()
                .filter(|p| !r.contains(*p))
                .cloned()
                .collect()
        };
        // Not under the `registered` lock: notify's `watch` waits for its
        // event thread, which may be waiting for that lock in the handler.
        let mut inner = self.inner.lock().expect("watcher lock");
        for p in todo {
            match inner.watch(&p, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.registered.lock().expect("registered lock").insert(p);
                }
                // Gone since the set was made: the check will notice.
                Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                Err(e) => return Err(format!("cannot watch `{}`: {e}", p.display())),
            }
        }
        Ok(())
    }

    /// Waits until every change made before this call has been delivered.
    pub fn sync(&self, timeout: Duration) -> bool {
        let n = self.cookies.next.fetch_add(1, Ordering::SeqCst);
        let path = self.cookie_dir.join(format!("cookie-{n}"));
        if std::fs::write(&path, b"").is_err() {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let mut seen = self.cookies.seen.lock().expect("cookie lock");
        let ok = loop {
            if seen.remove(&n) {
                break true;
            }
            let now = Instant::now();
            if now >= deadline {
                break false;
            }
            seen = self
                .cookies
                .arrived
                .wait_timeout(seen, deadline - now)
                .expect("cookie lock")
                .0;
        };
        drop(seen);
        let _ = std::fs::remove_file(&path);
        ok
    }

    /// Number of paths watched.
    pub fn watched(&self) -> usize {
        self.registered.lock().expect("registered lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, RenameMode};

    #[test]
    fn files_listings_and_absent_paths() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir_all(root.join("pkg/src")).unwrap();
        std::fs::write(root.join("pkg/src/lib.rs"), "").unwrap();
        let mut w = WatchSet::default();
        w.add_file(&root.join("pkg/src/../src/lib.rs"));
        w.add_listing(&root.join("pkg/src"));
        w.add_file(&root.join("pkg/.cargo/config.toml"));
        let modify = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        let create = EventKind::Create(CreateKind::File);
        assert!(w.covers(&modify, &root.join("pkg/src/lib.rs")));
        assert!(w.has_file(&root.join("pkg/src/lib.rs")));
        // A sibling's content is not an input; a new entry is.
        assert!(!w.covers(&modify, &root.join("pkg/src/notes.txt")));
        assert!(w.covers(&create, &root.join("pkg/src/new.rs")));
        assert!(w.covers(
            &EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            &root.join("pkg/src/moved.rs")
        ));
        // The absent config file's first missing component is watched.
        assert!(w.covers(&create, &root.join("pkg/.cargo")));
        assert!(!w.covers(&create, &root.join("pkg/other")));
        assert!(!is_change(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
    }

    #[test]
    fn sees_changes_in_order_with_cookies() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        let f = root.join("input.rs");
        std::fs::write(&f, "one").unwrap();
        let mut set = WatchSet::default();
        set.add_file(&f);
        let hits = Arc::new(AtomicU64::new(0));
        let (h2, s2) = (hits.clone(), set.clone());
        let w = Watcher::new(&root.join("cookies"), move |n| match n {
            Notice::Event(ev) => {
                if ev.paths.iter().any(|p| s2.covers(&ev.kind, p)) {
                    h2.fetch_add(1, Ordering::SeqCst);
                }
            }
            Notice::Lost => {}
        })
        .unwrap();
        w.ensure(&set).unwrap();
        assert!(w.sync(Duration::from_secs(5)));
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        std::fs::write(&f, "two").unwrap();
        // No sleep: the cookie guarantees the write was delivered first.
        assert!(w.sync(Duration::from_secs(5)));
        assert!(hits.load(Ordering::SeqCst) > 0);
        // A write through a hard link elsewhere is seen by inode.
        let other = root.join("elsewhere");
        std::fs::create_dir(&other).unwrap();
        std::fs::hard_link(&f, other.join("link.rs")).unwrap();
        assert!(w.sync(Duration::from_secs(5)));
        let before = hits.load(Ordering::SeqCst);
        std::fs::write(other.join("link.rs"), "three").unwrap();
        assert!(w.sync(Duration::from_secs(5)));
        assert!(hits.load(Ordering::SeqCst) > before);
    }
}

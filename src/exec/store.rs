//! The executor's view of the caches: local first, then remote, with
//! explicit outcomes. Failures of the cache never fail a build: they turn
//! into misses and warnings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use crate::cache::local::LocalCache;
use crate::cache::{ActionResult, Lookup};
use crate::core::{ActionKey, Digest, FileStamp, RelPath};
use crate::fingerprint::{KeyComponents, NormalizedText};

/// Files and variables an action read, stored under its pre-key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Normalised paths of files read.
    pub files: Vec<NormalizedText>,
    /// Variables read.
    pub env: Vec<String>,
    /// The outputs held this checkout's absolute paths (see
    /// [`KeyComponents::location`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub embeds_location: bool,
}

/// Where a hit came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitSource {
    /// Local cache.
    Local,
    /// Remote cache.
    Remote,
    /// Remote cache, outputs left there (see [`Store::lookup_digests`]).
    RemoteDigests,
}

/// Why a lookup missed.
#[derive(Clone, Debug, Default)]
pub struct MissInfo {
    /// A local entry existed but was corrupt and was dropped.
    pub corrupt: Option<String>,
    /// The remote was asked and did not have it.
    pub remote_missed: bool,
    /// The remote could not be asked: why.
    pub remote_unavailable: Option<String>,
}

/// The caches of one build.
pub struct Store {
    local: Option<Arc<LocalCache>>,
    remote: Option<crate::cache::remote::RemoteCache>,
    warnings: Mutex<Vec<String>>,
    saving: Mutex<Vec<PendingSave>>,
    at_finish: Mutex<Vec<FinishStep>>,
    /// Whether this build linked a file into or out of the CAS.
    linked: AtomicBool,
}

/// A step of [`Store::finish_saving`].
struct FinishStep {
    /// Only if the build linked a file into or out of the CAS.
    if_linked: bool,
    step: Box<dyn FnOnce() + Send>,
}

/// The stamps of an action's outputs right after the cache stored them.
pub type Adopted = Vec<(RelPath, FileStamp)>;

/// A background save, and what to do once it stored every output.
struct PendingSave {
    /// The outputs' stamps, if every one was stored with the digest the
    /// build used.
    thread: std::thread::JoinHandle<Option<Adopted>>,
    adopted: Box<dyn FnOnce(Adopted) + Send>,
}

impl Store {
    /// A store over the given caches (either may be absent).
    pub fn new(
        local: Option<Arc<LocalCache>>,
        remote: Option<crate::cache::remote::RemoteCache>,
    ) -> Self {
        Store {
            local,
            remote,
            warnings: Mutex::new(Vec::new()),
            saving: Mutex::new(Vec::new()),
            at_finish: Mutex::new(Vec::new()),
            linked: AtomicBool::new(false),
        }
    }

    /// The remote cache, if any.
    pub fn remote(&self) -> Option<&crate::cache::remote::RemoteCache> {
        self.remote.as_ref()
    }

    fn warn(&self, w: String) {
        lock(&self.warnings).push(w);
    }

    /// Warnings gathered so far (each returned once).
    pub fn take_warnings(&self) -> Vec<String> {
        let mut w = std::mem::take(&mut *lock(&self.warnings));
        if let Some(r) = &self.remote {
            w.extend(r.take_warnings());
        }
        w
    }

    /// Looks a key up: local, then remote (a remote hit is stored locally).
    pub fn lookup(&self, key: &ActionKey) -> (Option<(ActionResult, HitSource)>, MissInfo) {
        self.lookup_with(key, true)
    }

    /// Looks a key up like [`Store::lookup`], but a remote hit downloads
    /// no outputs (`--remote-download=minimal`): it is not stored locally,
    /// and its outputs are known by their digests only.
    pub fn lookup_digests(&self, key: &ActionKey) -> (Option<(ActionResult, HitSource)>, MissInfo) {
        self.lookup_with(key, false)
    }

    fn lookup_with(
        &self,
        key: &ActionKey,
        bytes: bool,
    ) -> (Option<(ActionResult, HitSource)>, MissInfo) {
        let mut info = MissInfo::default();
        let Some(local) = &self.local else {
            return (None, info);
        };
        match local.get(key) {
            Ok(Lookup::Hit(r)) => return (Some((r, HitSource::Local)), info),
            Ok(Lookup::Miss) => {}
            Ok(Lookup::Corrupt(why)) => {
                self.warn(format!(
                    "dropped a corrupt cache entry {}: {why}",
                    key.0.short(16)
                ));
                info.corrupt = Some(why);
            }
            Err(e) => self.warn(format!("local cache lookup failed: {e}")),
        }
        if let Some(remote) = &self.remote {
            use crate::cache::remote::RemoteLookup;
            let found = if bytes {
                remote.get(key, local.as_ref())
            } else {
                remote.get_digests(key)
            };
            match found {
                RemoteLookup::Hit(r) if !bytes => {
                    return (Some((r, HitSource::RemoteDigests)), info);
                }
                RemoteLookup::Hit(r) => {
                    if let Err(e) = local.put(key, &r) {
                        self.warn(format!("could not store a remote hit locally: {e}"));
                    }
                    return (Some((r, HitSource::Remote)), info);
                }
                RemoteLookup::Miss => info.remote_missed = true,
                RemoteLookup::Rejected(why) => {
                    info.remote_missed = true;
                    self.warn(format!(
                        "rejected a remote cache entry {}: {why}",
                        key.0.short(16)
                    ));
                }
                RemoteLookup::Unavailable(why) => info.remote_unavailable = Some(why),
            }
        }
        (None, info)
    }

    /// The input manifest recorded under a pre-key.
    pub fn manifest(&self, pre: &ActionKey) -> Option<Manifest> {
        let mkey = KeyComponents::manifest_key(pre);
        let (found, _) = self.lookup(&mkey);
        let (r, _) = found?;
        serde_json::from_str(r.meta.manifest.as_deref()?).ok()
    }

    /// Records the input manifest of a pre-key.
    pub fn put_manifest(&self, pre: &ActionKey, m: &Manifest) {
        let Some(local) = &self.local else { return };
        let mut r = ActionResult::default();
        r.meta.manifest = Some(serde_json::to_string(m).expect("manifest serialises"));
        let mkey = KeyComponents::manifest_key(pre);
        if let Err(e) = local.put(&mkey, &r) {
            self.warn(format!("could not record inputs in the cache: {e}"));
            return;
        }
        self.upload(mkey, r);
    }

    /// Stores `result`, whose outputs were hashed in place below `root`,
    /// under `key` on a background thread: dependents start while the files
    /// are copied into the cache. An output that no longer has the digest
    /// the build used is not stored, and neither is the entry. `share` also
    /// uploads the entry. [`Store::finish_saving`] waits for every save and
    /// then calls `adopted` for each one that stored every output with the
    /// digest the build used, with the outputs' stamps as the cache left
    /// them (adopting a file by hard link changes its ctime; by then every
    /// action has written its own stamp).
    pub fn save_in_background(
        self: &Arc<Self>,
        key: ActionKey,
        root: PathBuf,
        result: ActionResult,
        share: bool,
        adopted: impl FnOnce(Adopted) + Send + 'static,
    ) {
        if self.local.is_none() {
            return;
        }
        let me = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("hbuild-cache-save".into())
            .spawn(move || me.save_now(&key, &root, result, share));
        match spawned {
            Ok(thread) => lock(&self.saving).push(PendingSave {
                thread,
                adopted: Box::new(adopted),
            }),
            // Not caching is always correct; the build goes on.
            Err(e) => self.warn(format!(
                "cannot start a thread to store an output in the cache: {e}; not cached"
            )),
        }
    }

    /// The outputs' stamps right after they were stored, if every one was
    /// stored with the digest the build used.
    fn save_now(
        &self,
        key: &ActionKey,
        root: &Path,
        result: ActionResult,
        share: bool,
    ) -> Option<Adopted> {
        let local = self.local.as_ref()?;
        let mut adopted = Vec::with_capacity(result.outputs.len());
        self.linked.store(true, Ordering::Relaxed);
        for o in &result.outputs {
            let f = o.path.under(root);
            match local.insert_file(&f) {
                Ok((digest, size)) if digest == o.digest && size == o.size => {
                    // Stat at once: the cache just hashed this inode.
                    if let Some(st) = FileStamp::of(&f) {
                        adopted.push((o.path.clone(), st));
                    }
                }
                Ok(_) => {
                    self.warn(format!(
                        "`{}` changed while it was being cached; not cached",
                        f.display()
                    ));
                    return None;
                }
                Err(e) => {
                    self.warn(format!(
                        "could not store `{}` in the cache: {e}",
                        f.display()
                    ));
                    return None;
                }
            }
        }
        if let Err(e) = local.put(key, &result) {
            self.warn(format!("could not store a cache entry: {e}"));
        } else if share {
            self.upload(*key, result);
        }
        Some(adopted)
    }

    /// Runs `step` in [`Store::finish_saving`], after every save.
    pub fn at_finish(&self, step: impl FnOnce() + Send + 'static) {
        self.push_step(false, Box::new(step));
    }

    /// Runs `step` in [`Store::finish_saving`] if this build materialised a
    /// blob or stored an output: a hard link to an inode moves the ctime of
    /// every output that shares it, also of actions that were fresh.
    pub fn at_finish_if_linked(&self, step: impl FnOnce() + Send + 'static) {
        self.push_step(true, Box::new(step));
    }

    fn push_step(&self, if_linked: bool, step: Box<dyn FnOnce() + Send>) {
        lock(&self.at_finish).push(FinishStep { if_linked, step });
    }

    /// Waits until every background save is done, then runs the `adopted`
    /// step of each complete one and the [`Store::at_finish`] steps. Called
    /// once every action has finished.
    pub fn finish_saving(&self) {
        let pending = std::mem::take(&mut *lock(&self.saving));
        for p in pending {
            // A save that panicked stored no entry (the entry is written
            // last), so the cache holds nothing half-saved.
            match p.thread.join() {
                Ok(Some(stamps)) => (p.adopted)(stamps),
                Ok(None) => {}
                Err(payload) => self.warn(format!(
                    "a cache write failed unexpectedly (this is a bug in cargo-hbuild, please report it): {}",
                    crate::core::panic::panic_message(payload.as_ref())
                )),
            }
        }
        let steps = std::mem::take(&mut *lock(&self.at_finish));
        let linked = self.linked.load(Ordering::Relaxed);
        for s in steps.into_iter().filter(|s| linked || !s.if_linked) {
            (s.step)();
        }
    }

    fn upload(&self, key: ActionKey, result: ActionResult) {
        if let (Some(remote), Some(local)) = (&self.remote, &self.local) {
            remote.upload(
                key,
                result,
                local.clone() as Arc<dyn crate::cache::BlobStore>,
            );
        }
    }

    /// Stores `result` in the remote cache now, with the outputs `direct`
    /// names taken from there (see
    /// [`crate::cache::remote::RemoteCache::upload_now`]); not locally,
    /// since not all its blobs are here.
    pub fn put_remote_now(
        &self,
        key: ActionKey,
        result: &ActionResult,
        direct: HashMap<Digest, crate::cache::remote::OutputBytes>,
    ) -> Result<(), String> {
        match (&self.remote, &self.local) {
            (Some(remote), Some(local)) => remote.upload_now(
                key,
                result.clone(),
                local.clone() as Arc<dyn crate::cache::BlobStore>,
                direct,
            ),
            _ => Err("there is no remote cache".into()),
        }
    }

    /// Writes a result's files below `root`. An error means the entry is
    /// unusable (a blob was corrupt and has been dropped).
    pub fn materialize(&self, result: &ActionResult, root: &Path) -> Result<(), String> {
        let local = self.local.as_ref().ok_or("no cache")?;
        self.linked.store(true, Ordering::Relaxed);
        for o in &result.outputs {
            let dest = o.path.under(root);
            local.materialize(o, &dest).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Locks a mutex of the store. A background save that panicked while
/// holding one left it consistent: each is changed by single pushes.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a file has an executable bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::OutputFile;
    use crate::core::Digest;

    fn result_for(root: &Path, name: &str, digest: Digest) -> ActionResult {
        let f = root.join(name);
        ActionResult {
            outputs: vec![OutputFile {
                path: RelPath::strip(&f, root).unwrap(),
                digest,
                size: std::fs::metadata(&f).unwrap().len(),
                executable: false,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn background_saves_store_verified_outputs_only() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("out");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("lib.rlib"), b"rlib bytes").unwrap();
        let local = Arc::new(LocalCache::open(&d.path().join("cache")).unwrap());
        let store = Arc::new(Store::new(Some(local), None));
        let good = ActionKey(Digest::of_bytes(b"good"));
        let bad = ActionKey(Digest::of_bytes(b"bad"));
        let right = result_for(&root, "lib.rlib", Digest::of_bytes(b"rlib bytes"));
        let adopted = Arc::new(Mutex::new(Vec::new()));
        let on_adopted = |name: &'static str| {
            let adopted = adopted.clone();
            move |stamps: Adopted| adopted.lock().unwrap().push((name, stamps.len()))
        };
        store.save_in_background(good, root.clone(), right, true, on_adopted("good"));
        // As if the file had changed after the build hashed it.
        let stale = result_for(&root, "lib.rlib", Digest::of_bytes(b"other bytes"));
        store.save_in_background(bad, root.clone(), stale, true, on_adopted("bad"));
        store.finish_saving();
        assert_eq!(*adopted.lock().unwrap(), [("good", 1)]);
        assert!(store.lookup(&good).0.is_some());
        assert!(
            store.lookup(&bad).0.is_none(),
            "a stale digest must not be stored"
        );
        let warnings = store.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("changed while it was being cached"));
        assert!(warnings[0].contains("lib.rlib"));
    }
}

//! Lookups: fetch an AC entry, validate it, download and verify its blobs,
//! and hand them to the local store.

use std::time::Duration;

use super::client::Failure;
use super::proto::{self, BlobRef, MetaCheck, Metadata, ParsedEntry};
use super::{RemoteLookup, Shared, MAX_AC_ENTRY_BYTES, MAX_INLINE_BLOB_BYTES};
use crate::cache::{ActionResult, BlobStore, OutputFile};
use crate::core::ActionKey;

/// Why a lookup did not produce a hit.
enum Stop {
    Miss,
    Rejected(String),
    Unavailable(String),
}

/// See [`super::RemoteCache::get`].
/// Without a `store`, the outputs are not downloaded.
pub(super) fn get(sh: &Shared, key: &ActionKey, store: Option<&dyn BlobStore>) -> RemoteLookup {
    match lookup(sh, key, store) {
        Ok(result) => RemoteLookup::Hit(result),
        Err(Stop::Miss) => RemoteLookup::Miss,
        Err(Stop::Rejected(why)) => RemoteLookup::Rejected(why),
        Err(Stop::Unavailable(why)) => RemoteLookup::Unavailable(why),
    }
}

/// Books a failure and turns it into a [`Stop`]. A missing blob of an
/// existing entry makes the entry invalid, not a miss.
fn stop(sh: &Shared, what: &str, f: Failure, missing_is_invalid: bool) -> Stop {
    let text = sh.record_failure(what, &f, false);
    match f {
        Failure::NotFound if missing_is_invalid => {
            Stop::Rejected(format!("{text} (dangling entry)"))
        }
        Failure::NotFound => Stop::Miss,
        Failure::Invalid(_) => Stop::Rejected(text),
        Failure::Fault { .. } | Failure::TooLarge(_) | Failure::Local(_) => Stop::Unavailable(text),
    }
}

fn timed<T>(sh: &Shared, (res, took): (T, Duration)) -> T {
    sh.add_time(took);
    res
}

fn lookup(
    sh: &Shared,
    key: &ActionKey,
    store: Option<&dyn BlobStore>,
) -> Result<ActionResult, Stop> {
    let what = format!("AC entry {key}");
    let body = timed(sh, sh.remote.get_entry(key, MAX_AC_ENTRY_BYTES))
        .map_err(|f| stop(sh, &what, f, false))?;
    Shared::add(&sh.counters.bytes_down, body.len() as u64);
    sh.record_ok();
    let entry =
        proto::decode_entry(&body).map_err(|why| Stop::Rejected(format!("{what}: {why}")))?;

    let meta_bytes = fetch_inline(sh, &entry.metadata, "metadata blob")?;
    let meta = match proto::check_metadata(&meta_bytes, &entry) {
        Ok(MetaCheck::Ok(m)) => m,
        Ok(MetaCheck::OtherVersion(_)) => return Err(Stop::Miss),
        Err(why) => return Err(Stop::Rejected(format!("{what}: {why}"))),
    };
    let stdout = fetch_text(sh, entry.stdout.as_ref(), "stdout")?;
    let stderr = fetch_text(sh, entry.stderr.as_ref(), "stderr")?;
    let outputs = match store {
        Some(store) => fetch_outputs(sh, &entry, &meta, store)?,
        None => left_remote(sh, &entry, &meta)?,
    };
    Ok(ActionResult {
        outputs,
        stdout,
        stderr,
        meta: meta.meta,
    })
}

/// Downloads a small blob into memory and verifies it.
fn fetch_inline(sh: &Shared, blob: &BlobRef, what: &str) -> Result<Vec<u8>, Stop> {
    if blob.is_empty_blob() {
        return Ok(Vec::new());
    }
    let what = format!("{what} {}", blob.sha256);
    if blob.size > MAX_INLINE_BLOB_BYTES {
        return Err(Stop::Rejected(format!(
            "{what}: {} bytes is too large",
            blob.size
        )));
    }
    let bytes = timed(sh, sh.remote.read_small(blob, MAX_INLINE_BLOB_BYTES))
        .map_err(|f| stop(sh, &what, f, true))?;
    Shared::add(&sh.counters.bytes_down, bytes.len() as u64);
    if BlobRef::of_bytes(&bytes) != *blob {
        return Err(stop(
            sh,
            &what,
            Failure::Invalid("content does not match its SHA-256".into()),
            true,
        ));
    }
    sh.record_ok();
    Ok(bytes)
}

fn fetch_text(sh: &Shared, blob: Option<&BlobRef>, what: &str) -> Result<String, Stop> {
    let Some(blob) = blob else {
        return Ok(String::new());
    };
    let bytes = fetch_inline(sh, blob, what)?;
    String::from_utf8(bytes)
        .map_err(|_| Stop::Rejected(format!("{what} {} is not UTF-8", blob.sha256)))
}

/// The outputs of an entry whose blobs stay in the remote cache, once the
/// server said it holds every one: an entry whose blobs were evicted is
/// invalid now, not when a later action needs them.
fn left_remote(sh: &Shared, entry: &ParsedEntry, meta: &Metadata) -> Result<Vec<OutputFile>, Stop> {
    let blobs: Vec<BlobRef> = entry
        .outputs
        .iter()
        .map(|(_, b, _)| b.clone())
        .filter(|b| !b.is_empty_blob())
        .collect();
    let what = format!("the {} output blobs of an AC entry", blobs.len());
    let missing = timed(sh, sh.remote.missing(&blobs)).map_err(|f| stop(sh, &what, f, true))?;
    if let Some(b) = missing.first() {
        return Err(stop(
            sh,
            &format!("blob {}", b.sha256),
            Failure::NotFound,
            true,
        ));
    }
    sh.record_ok();
    sh.remember_cas(&meta.outputs);
    let outputs: Vec<OutputFile> = meta.outputs.iter().map(output_of).collect();
    let bytes = outputs.iter().map(|o| o.size).sum();
    Shared::add(&sh.counters.output_bytes_left, bytes);
    Ok(outputs)
}

fn output_of(m: &proto::MetaOutput) -> OutputFile {
    OutputFile {
        path: m.path.clone(),
        digest: m.blake3,
        size: m.size,
        executable: m.executable,
    }
}

/// Downloads every output into the store's scratch directory, verifying
/// size and SHA-256 while streaming and the blake3 digest before and after
/// adopting the file.
fn fetch_outputs(
    sh: &Shared,
    entry: &ParsedEntry,
    meta: &Metadata,
    store: &dyn BlobStore,
) -> Result<Vec<OutputFile>, Stop> {
    let scratch = store.scratch_dir();
    let local = |why: String| Stop::Unavailable(format!("local store: {why}"));
    std::fs::create_dir_all(&scratch).map_err(|e| local(format!("{}: {e}", scratch.display())))?;
    let mut outputs = Vec::with_capacity(meta.outputs.len());
    // `check_metadata` made `meta.outputs` and `entry.outputs` agree, both sorted.
    for (m, (_, blob, _)) in meta.outputs.iter().zip(&entry.outputs) {
        let what = format!("blob {} of `{}`", blob.sha256, m.path);
        let mut tmp = tempfile::Builder::new()
            .prefix(".remote-")
            .tempfile_in(&scratch)
            .map_err(|e| local(format!("cannot create scratch file: {e}")))?;
        let (blake3, size) = if blob.is_empty_blob() {
            (crate::core::Digest::of_bytes(b""), 0)
        } else {
            let got = timed(sh, sh.remote.read_to_file(blob, tmp.as_file_mut()))
                .map_err(|f| stop(sh, &what, f, true))?;
            Shared::add(&sh.counters.bytes_down, got.1);
            Shared::add(&sh.counters.output_bytes_down, got.1);
            sh.record_ok();
            got
        };
        if blake3 != m.blake3 || size != m.size {
            return Err(Stop::Rejected(format!(
                "{what}: blake3 {blake3} does not match the entry's {}",
                m.blake3
            )));
        }
        let path = tmp.into_temp_path();
        let (adopted, adopted_size) = store
            .adopt_file(&path)
            .map_err(|e| local(format!("cannot adopt {what}: {e}")))?;
        // `adopt_file` moved the file; nothing left to delete.
        let _ = path.keep();
        if adopted != m.blake3 || adopted_size != m.size {
            return Err(Stop::Rejected(format!(
                "{what}: the local store computed blake3 {adopted}, the entry says {}",
                m.blake3
            )));
        }
        outputs.push(output_of(m));
    }
    Ok(outputs)
}

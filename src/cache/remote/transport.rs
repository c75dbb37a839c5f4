//! The operations the cache logic needs from a remote, over either protocol:
//! the Bazel HTTP cache ([`Http`]) or REAPI v2 over gRPC ([`Grpc`]). Every
//! call returns its outcome with the time it took; verification of what
//! comes back stays with the callers, the same for both.

use std::fs::File;
use std::time::Duration;

use super::client::{Failure, Http};
use super::config::RemoteConfig;
use super::grpc::{Grpc, Source};
use super::proto::BlobRef;
use crate::cache::CacheError;
use crate::core::{ActionKey, Digest};

/// One remote, by protocol.
pub(crate) enum Transport {
    /// `http://`, `https://`.
    Http(Box<Http>),
    /// `grpc://`, `grpcs://`.
    Grpc(Box<Grpc>),
}

type Timed<T> = (Result<T, Failure>, Duration);

impl Transport {
    /// The client for `cfg`'s protocol. Sends no request.
    pub(crate) fn new(cfg: &RemoteConfig) -> Result<Self, CacheError> {
        if cfg.is_grpc() {
            Ok(Transport::Grpc(Box::new(Grpc::new(cfg)?)))
        } else {
            Ok(Transport::Http(Box::new(Http::new(cfg)?)))
        }
    }

    /// The AC entry of `key` (an encoded `ActionResult`), at most `max` bytes.
    pub(crate) fn get_entry(&self, key: &ActionKey, max: u64) -> Timed<Vec<u8>> {
        match self {
            Transport::Http(h) => {
                let (res, took) = h.get(h.ac_url(key));
                let t = std::time::Instant::now();
                let res = res.and_then(|a| a.read_to_vec(None, max));
                (res, took + t.elapsed())
            }
            Transport::Grpc(g) => {
                let (res, took) = g.get_entry(key);
                let res = res.and_then(|body| {
                    if body.len() as u64 > max {
                        Err(Failure::Invalid(format!("entry longer than {max} bytes")))
                    } else {
                        Ok(body)
                    }
                });
                (res, took)
            }
        }
    }

    /// A whole blob of at most `max` bytes, of the size `blob` says.
    pub(crate) fn read_small(&self, blob: &BlobRef, max: u64) -> Timed<Vec<u8>> {
        match self {
            Transport::Http(h) => {
                let (res, took) = h.get(h.cas_url(blob));
                let t = std::time::Instant::now();
                let res = res.and_then(|a| a.read_to_vec(Some(blob.size), max));
                (res, took + t.elapsed())
            }
            Transport::Grpc(g) => g.read_small(blob, max),
        }
    }

    /// Streams a blob into `file`, verifying size and SHA-256; gives its
    /// blake3 digest and size.
    pub(crate) fn read_to_file(&self, blob: &BlobRef, file: &mut File) -> Timed<(Digest, u64)> {
        match self {
            Transport::Http(h) => {
                let (res, took) = h.get(h.cas_url(blob));
                let t = std::time::Instant::now();
                let res = res.and_then(|a| a.read_to_file(blob, file));
                (res, took + t.elapsed())
            }
            Transport::Grpc(g) => g.read_to_file(blob, file),
        }
    }

    /// The blobs of `blobs` the server lacks (HEAD each over HTTP, one
    /// `FindMissingBlobs` over gRPC).
    pub(crate) fn missing(&self, blobs: &[BlobRef]) -> Timed<Vec<BlobRef>> {
        match self {
            Transport::Http(h) => {
                let mut total = Duration::ZERO;
                let mut out = Vec::new();
                for b in blobs {
                    let (res, took) = h.head(b);
                    total += took;
                    match res {
                        Ok(true) => {}
                        Ok(false) => out.push(b.clone()),
                        Err(f) => return (Err(f), total),
                    }
                }
                (Ok(out), total)
            }
            Transport::Grpc(g) => g.missing(blobs),
        }
    }

    /// Stores one blob.
    pub(crate) fn write_blob(&self, blob: &BlobRef, source: Source<'_>) -> Timed<()> {
        match self {
            Transport::Http(h) => {
                let url = h.cas_url(blob);
                match source {
                    Source::Bytes(b) => h.put(url, b.to_vec().into()),
                    Source::File(f) => h.put_file(url, f, blob.size),
                }
            }
            Transport::Grpc(g) => g.write_blob(blob, source),
        }
    }

    /// Stores the AC entry of `key` (an encoded `ActionResult`).
    pub(crate) fn put_entry(&self, key: &ActionKey, body: Vec<u8>) -> Timed<()> {
        match self {
            Transport::Http(h) => h.put(h.ac_url(key), body.into()),
            Transport::Grpc(g) => g.put_entry(key, &body),
        }
    }
}

//! `big-codec`: compression through flate2's zlib backend (bundled C zlib from
//! `libz-sys`), hashing, and a small C shim compiled against zlib's headers.

use std::ffi::CStr;
use std::io::{Read, Write};
use std::os::raw::{c_char, c_uchar, c_ulong};

use byteorder::{BigEndian, WriteBytesExt};
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

extern "C" {
    fn big_zlib_header_version() -> *const c_char;
    fn big_adler32(buf: *const c_uchar, len: usize) -> c_ulong;
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// I/O failure while (de)compressing.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Round trip mismatch.
    #[error("round trip mismatch")]
    Mismatch,
}

/// zlib version from the C header (via our shim) and from the library (via libz-sys).
pub fn zlib_versions() -> (String, String) {
    // SAFETY: both functions return pointers to static NUL-terminated strings.
    unsafe {
        let header = CStr::from_ptr(big_zlib_header_version()).to_string_lossy().into_owned();
        let lib = CStr::from_ptr(libz_sys::zlibVersion()).to_string_lossy().into_owned();
        (header, lib)
    }
}

/// Adler-32 through the C shim.
pub fn adler32(data: &[u8]) -> u32 {
    // SAFETY: pointer and length come from a valid slice.
    unsafe { big_adler32(data.as_ptr(), data.len()) as u32 }
}

/// Compresses with zlib level 6, returns the compressed bytes.
pub fn compress(data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::new(6));
    enc.write_all(data)?;
    Ok(enc.finish()?)
}

/// Decompresses zlib data.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    ZlibDecoder::new(data).read_to_end(&mut out)?;
    Ok(out)
}

/// All report lines of this crate for `text`.
pub fn report(text: &str) -> Result<Vec<String>, CodecError> {
    let data = text.as_bytes();
    let compressed = compress(data)?;
    let back = decompress(&compressed)?;
    if back != data {
        return Err(CodecError::Mismatch);
    }
    let (header, lib) = zlib_versions();
    let mut len_be = Vec::new();
    len_be.write_u32::<BigEndian>(data.len() as u32)?;
    Ok(vec![
        format!("zlib: header={header} library={lib}"),
        format!(
            "flate2: {} bytes -> {} bytes -> {} bytes roundtrip=ok",
            data.len(),
            compressed.len(),
            back.len()
        ),
        format!("compressed sha256: {}", hex::encode(Sha256::digest(&compressed))),
        format!("sha256: {}", hex::encode(Sha256::digest(data))),
        format!("crc32: {:08x}", crc32fast::hash(data)),
        format!("adler32 (C shim): {:08x}", adler32(data)),
        format!("length (big endian): {}", hex::encode(len_be)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let data = b"hello hello hello hello";
        let c = compress(data).unwrap();
        assert_eq!(decompress(&c).unwrap(), data);
    }

    #[test]
    fn versions_agree() {
        let (h, l) = zlib_versions();
        assert_eq!(h, l);
    }

    #[test]
    fn adler_known_value() {
        // Adler-32 of "Wikipedia" is 0x11E60398.
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }
}

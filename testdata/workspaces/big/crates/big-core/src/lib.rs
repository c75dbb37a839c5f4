//! `big-core`: exercises many small registry crates deterministically.

use std::hash::Hasher;

use base64::Engine as _;
use big_macros::FieldNames;
use indexmap::IndexMap;
use itertools::Itertools;
use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use typenum::{Prod, Sum, Unsigned, U1000, U24, U6, U7};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

static_assertions::const_assert!(std::mem::size_of::<u64>() == 8);

static WORD_NUM: Lazy<Regex> = Lazy::new(|| Regex::new(r"(\w+)-(\d+)").expect("valid regex"));

bitflags::bitflags! {
    /// Some flags.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Flags: u8 {
        /// Read.
        const READ = 0b001;
        /// Write.
        const WRITE = 0b010;
        /// Exec.
        const EXEC = 0b100;
    }
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Version did not parse.
    #[error("bad version {0:?}: {1}")]
    BadVersion(String, semver::Error),
    /// JSON failure.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// A serializable record with generated field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, FieldNames)]
pub struct BuildRecord {
    /// Package name.
    pub package_name: String,
    /// Number of units.
    pub unit_count: u32,
    /// Tags.
    pub tags: Vec<String>,
}

/// `6 * 7` and `1000 + 24` computed in the type system with typenum.
pub fn typenum_values() -> (u32, u32) {
    (<Prod<U6, U7>>::to_u32(), <Sum<U1000, U24>>::to_u32())
}

/// Regex captures of `word-123` pairs.
pub fn regex_pairs(text: &str) -> Vec<(String, u32)> {
    WORD_NUM
        .captures_iter(text)
        .filter_map(|c| Some((c[1].to_string(), c[2].parse().ok()?)))
        .collect()
}

/// Parses a version and checks a requirement.
pub fn semver_check(version: &str, req: &str) -> Result<bool, CoreError> {
    let v = semver::Version::parse(version).map_err(|e| CoreError::BadVersion(version.to_string(), e))?;
    let r = semver::VersionReq::parse(req).map_err(|e| CoreError::BadVersion(req.to_string(), e))?;
    Ok(r.matches(&v))
}

/// JSON round trip of a record.
pub fn json_roundtrip(rec: &BuildRecord) -> Result<String, CoreError> {
    let s = serde_json::to_string(rec)?;
    let back: BuildRecord = serde_json::from_str(&s)?;
    assert_eq!(&back, rec);
    Ok(s)
}

/// FNV-1a 64 of a string.
pub fn fnv(s: &str) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

/// All report lines of this crate.
pub fn report(text: &str) -> Result<Vec<String>, CoreError> {
    let mut lines = Vec::new();
    let (a, b) = typenum_values();
    lines.push(format!("typenum: 6*7={a} 1000+24={b}"));
    let pairs = regex_pairs(text);
    lines.push(format!(
        "regex: {}",
        pairs.iter().map(|(w, n)| format!("{w}={n}")).join(",")
    ));
    lines.push(format!(
        "semver: 1.4.2 matches ^1.2={} 0.9.0 matches ^1.2={}",
        semver_check("1.4.2", "^1.2")?,
        semver_check("0.9.0", "^1.2")?
    ));
    let rec = BuildRecord {
        package_name: "big-app".to_string(),
        unit_count: 3,
        tags: vec!["proc-macro".to_string(), "build-script".to_string()],
    };
    lines.push(format!("json: {}", json_roundtrip(&rec)?));
    lines.push(format!(
        "fields of {}: {}",
        BuildRecord::type_name_kebab(),
        BuildRecord::field_names().join(",")
    ));
    let mut map: IndexMap<&str, usize> = IndexMap::new();
    for w in text.split_whitespace() {
        *map.entry(w).or_insert(0) += 1;
    }
    lines.push(format!(
        "indexmap: {} distinct, first: {}, repeated: {}",
        map.len(),
        map.iter().take(3).map(|(k, v)| format!("{k}:{v}")).join(" "),
        map.iter().filter(|(_, v)| **v > 1).map(|(k, v)| format!("{k}:{v}")).join(" ")
    ));
    let sorted: SmallVec<[u32; 8]> = pairs.iter().map(|p| p.1).sorted().collect();
    lines.push(format!("smallvec sorted: {:?} spilled={}", sorted.as_slice(), sorted.spilled()));
    let mut av: arrayvec::ArrayVec<u8, 4> = arrayvec::ArrayVec::new();
    for i in 1..=4 {
        av.push(i * 10);
    }
    lines.push(format!("arrayvec: {:?} full={}", av.as_slice(), av.is_full()));
    lines.push(format!(
        "base64: {}",
        base64::engine::general_purpose::STANDARD.encode("big workspace")
    ));
    let s = "e\u{301}te\u{301} \u{65e5}\u{672c}";
    lines.push(format!(
        "unicode: chars={} graphemes={} width={}",
        s.chars().count(),
        s.graphemes(true).count(),
        s.width()
    ));
    let flags = Flags::READ | Flags::EXEC;
    lines.push(format!("bitflags: {:?} bits={}", flags, flags.bits()));
    lines.push(format!(
        "num-traits: pow(3,4)={} checked_add={:?}",
        num_traits::pow(3u64, 4),
        num_traits::CheckedAdd::checked_add(&u8::MAX, &1u8)
    ));
    let mut rng = fastrand::Rng::with_seed(42);
    let rolls: Vec<u8> = (0..5).map(|_| rng.u8(1..=6)).collect();
    lines.push(format!("fastrand(seed 42): {rolls:?}"));
    lines.push(format!("fnv(\"hbuild\"): {:016x}", fnv("hbuild")));
    log::debug!("report built ({} lines)", lines.len());
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typenum_math() {
        assert_eq!(typenum_values(), (42, 1024));
    }

    #[test]
    fn regex_and_semver() {
        assert_eq!(regex_pairs("a-1 b-22"), vec![("a".into(), 1), ("b".into(), 22)]);
        assert!(semver_check("1.2.3", ">=1.0").unwrap());
        assert!(semver_check("nope", ">=1.0").is_err());
    }

    #[test]
    fn derive_names() {
        assert_eq!(BuildRecord::field_names(), &["package-name", "unit-count", "tags"]);
    }
}

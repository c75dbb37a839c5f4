//! Cache size limits: the default and the parser for human-written sizes.

use crate::cache::CacheError;

/// Default upper bound on the local cache size: 10 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024 * 1024;

/// Parses a size such as `1024`, `500M`, `10G`, `2GiB` or `1.5 G`.
///
/// Units are binary and case-insensitive: `K`/`KB`/`KiB` = 1024, then `M`,
/// `G` and `T` likewise; `B` or no unit means bytes. (`KB` is read as 1024
/// too: for a cache limit nobody means 1000.) The result is rounded down to
/// whole bytes.
pub fn parse_size(s: &str) -> Result<u64, CacheError> {
    let bad = |why: &str| {
        CacheError::Config(format!(
            "invalid cache size `{s}`: {why} (expected a number with an optional unit \
             K, M, G or T, e.g. `500M`, `10G` or `2GiB`)"
        ))
    };
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(bad("unknown unit")),
    };
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(bad("no number"));
    }
    if frac.contains('.') {
        return Err(bad("more than one decimal point"));
    }
    // Exact arithmetic in u128: value = (int + frac / 10^len) * 2^shift.
    let int_val: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad("number too large"))?
    };
    let frac = frac.get(..frac.len().min(18)).unwrap_or(frac);
    let frac_val: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad("bad fraction"))?
    };
    let frac_den: u128 = 10u128.pow(frac.len() as u32);
    let bytes = int_val
        .checked_mul(1u128 << shift)
        .and_then(|v| v.checked_add((frac_val << shift) / frac_den))
        .ok_or_else(|| bad("number too large"))?;
    u64::try_from(bytes).map_err(|_| bad("number too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_suffixed_sizes() {
        let cases = [
            ("1024", 1024),
            ("0", 0),
            ("500M", 500 << 20),
            ("10G", 10 << 30),
            ("2GiB", 2 << 30),
            ("2gib", 2 << 30),
            ("3 KB", 3 << 10),
            ("7k", 7 << 10),
            ("1T", 1 << 40),
            ("12B", 12),
            ("1.5G", 3 << 29),
            ("0.5K", 512),
            (" 64M ", 64 << 20),
        ];
        for (s, want) in cases {
            assert_eq!(parse_size(s).unwrap(), want, "{s}");
        }
        assert_eq!(parse_size("10G").unwrap(), DEFAULT_MAX_SIZE);
    }

    #[test]
    fn rejects_bad_sizes_naming_them() {
        for bad in [
            "",
            "G",
            "-5M",
            "10X",
            "1.2.3G",
            "ten",
            "99999999999999999999T",
            ".",
        ] {
            let err = parse_size(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{bad}: {err}");
        }
    }
}

//! Durations as users write them in flags and variables.

use std::time::Duration;

/// Units of short durations (request timeouts): `ms`, `s`, `m`. `ms` comes
/// first so that it is not read as minutes or seconds.
pub const UP_TO_MINUTES: &[(&str, f64)] = &[("ms", 0.001), ("s", 1.0), ("m", 60.0)];

/// Units of long durations (idle timeouts): also `h` and `d`.
pub const UP_TO_DAYS: &[(&str, f64)] = &[
    ("ms", 0.001),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

/// Parses a number of seconds, optionally with one of `units` (`500ms`,
/// `30s`, `2m`...); fractions are allowed (`1.5s`). None for anything else,
/// zero, negative or too large.
pub fn parse_duration(s: &str, units: &[(&str, f64)]) -> Option<Duration> {
    let t = s.trim();
    let (num, scale) = units
        .iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n, *scale)))
        .unwrap_or((t, 1.0));
    let v: f64 = num.trim().parse().ok()?;
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(v * scale).ok()
}

/// A duration as [`parse_duration`] reads it back, in the largest unit of
/// [`UP_TO_DAYS`] that divides it (`3h`, `90s`, `1500ms`).
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, scale) in UP_TO_DAYS.iter().rev() {
        let per = (*scale * 1000.0) as u128;
        if ms > 0 && ms.is_multiple_of(per) {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_in_their_largest_whole_unit_and_read_back() {
        let cases = [
            (10_800_000, "3h"),
            (90_000, "90s"),
            (600_000, "10m"),
            (1_500, "1500ms"),
            (0, "0ms"),
        ];
        for (ms, text) in cases {
            let d = Duration::from_millis(ms);
            assert_eq!(human(d), text);
            if ms > 0 {
                assert_eq!(parse_duration(text, UP_TO_DAYS), Some(d));
            }
        }
    }

    #[test]
    fn units_fractions_and_rejections() {
        let days = |s| parse_duration(s, UP_TO_DAYS);
        assert_eq!(days("90"), Some(Duration::from_secs(90)));
        assert_eq!(days(" 1.5s "), Some(Duration::from_millis(1500)));
        assert_eq!(days("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(days("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(days("3h"), Some(Duration::from_secs(10800)));
        assert_eq!(days("1d"), Some(Duration::from_secs(86400)));
        for bad in ["", "soon", "3w", "0", "-1s", "NaNs", "1e300d"] {
            assert_eq!(days(bad), None, "{bad} accepted");
        }
        assert_eq!(parse_duration("1h", UP_TO_MINUTES), None);
    }
}

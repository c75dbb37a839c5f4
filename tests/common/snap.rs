//! Redactions for snapshot tests of whole outputs: what differs between two
//! runs of the same build (temporary paths, unit hashes, digests, times) is
//! replaced by a placeholder, and nothing else.

use super::Ws;

/// `text` with the workspace's temporary directory, the toolchain's
/// version, `-<16 hex>` unit hashes, 64-hex digests and durations redacted,
/// and without Cargo's package-cache lock notes (they say that another test
/// ran `cargo` at the same moment, nothing about the build).
pub fn redact(ws: &Ws, text: &str) -> String {
    let text = &drop_package_cache_waits(text);
    let tmp = ws.tmp.path().display().to_string();
    let home = std::env::var("CARGO_HOME")
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| format!("{h}/.cargo")))
        .unwrap_or_default();
    let mut s = text.replace(&tmp, "[TMP]");
    if !home.is_empty() {
        s = s.replace(&home, "[CARGO_HOME]");
    }
    let s = s.replace(&super::rustc_release(), "[RUSTC_VERSION]");
    let s = replace_hex_runs(&s);
    redact_durations(&s)
}

/// `text` without the lines of Cargo's wait for the package cache lock.
fn drop_package_cache_waits(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|l| l.trim() != "Blocking waiting for file lock on package cache")
        .collect()
}

/// Replaces `-` + 16 hex digits by `-[HASH]` and 64 hex digits by `[DIGEST]`.
fn replace_hex_runs(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        let boundary = |j: usize| j >= b.len() || !b[j].is_ascii_alphanumeric();
        let starts = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if starts && run == 64 && boundary(i + 64) {
            out.push_str("[DIGEST]");
            i += 64;
        } else if i > 0 && b[i - 1] == b'-' && run == 16 && boundary(i + 16) {
            out.push_str("[HASH]");
            i += 16;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Replaces `1.23s`, `0.5ms` and the like by `[TIME]`.
fn redact_durations(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let starts = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '.' && c != '-');
        let num = rest[i..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len() - i);
        let after = &rest[i + num..];
        let unit = ["ms", "s"].into_iter().find(|u| {
            after.starts_with(u)
                && after[u.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
        });
        out.push_str(&rest[..i]);
        match unit {
            Some(u) if starts && rest[i..i + num].contains('.') => {
                out.push_str("[TIME]");
                rest = &after[u.len()..];
            }
            _ => {
                out.push_str(&rest[i..i + num]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A JSON message with the values of durations (`*_ms` fields) redacted.
pub fn redact_json_times(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| {
                    let x = if k.ends_with("_ms") && x.is_number() {
                        Value::String("[TIME]".into())
                    } else {
                        redact_json_times(x)
                    };
                    (k, x)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(redact_json_times).collect()),
        other => other,
    }
}

/// Pins `text` as the snapshot `name`, kept in `tests/suite/snapshots/`.
pub fn pin(name: &str, text: &str) {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_snapshot_path(super::repo_root().join("tests/suite/snapshots"));
    s.bind(|| insta::assert_snapshot!(name, text));
}

#[cfg(test)]
mod tests {
    #[test]
    fn redactions_touch_only_what_varies() {
        assert_eq!(
            super::replace_hex_runs("libx-0123456789abcdef.rlib 1.0.104 a-12"),
            "libx-[HASH].rlib 1.0.104 a-12"
        );
        assert_eq!(
            super::redact_durations("in 3.99s, 12 units, v1.2 0.5ms x1.5s"),
            "in [TIME], 12 units, v1.2 [TIME] x1.5s"
        );
        assert_eq!(
            super::drop_package_cache_waits(
                "error: a\n    Blocking waiting for file lock on package cache\nerror: b\n"
            ),
            "error: a\nerror: b\n"
        );
    }
}

//! Cargo's `--message-format json` messages, normalised so that hbuild's
//! can be compared with Cargo's (the oracle).
//!
//! Normalised, and nothing else (docs/differences.md says why each
//! differs): the target dir (hbuild's internal files are under
//! `target/hbuild/`), `-<16 hex>` hashes in paths, and `fresh`. hbuild's own `hbuild-*` messages
//! are left out. The field order of every object is kept (as
//! `<key order>`), so that it is compared too. Messages are matched by (reason, package id, target kind,
//! target name, mode) and compared as multisets per key; the order
//! constraints Cargo guarantees are checked separately.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

/// What a message is matched by: reason, package id, target kind, target
/// name, test mode (`compiler-artifact` only).
pub type MsgKey = (String, String, String, String, String);

/// The messages of a run's stdout, normalised, in order.
pub fn normalise(stdout: &str, target_dir: &Path) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| Some((l, serde_json::from_str::<Value>(l).ok()?)))
        .filter(|(_, m)| {
            m["reason"]
                .as_str()
                .is_some_and(|r| !r.starts_with("hbuild-"))
        })
        .map(|(line, mut m)| {
            if let Some(o) = m.as_object_mut() {
                o.remove("fresh");
                o.insert("<key order>".into(), Value::String(key_order(line)));
            }
            strings(m, &|s| normalise_str(s, target_dir))
        })
        .collect()
}

/// The field order of every object in a JSON text, depth first:
/// `{a,b{c,d},e[{f}]}` (a `Value` keeps its fields sorted).
pub fn key_order(json: &str) -> String {
    serde_json::from_str::<KeyOrder>(json).map_or_else(|e| format!("<{e}>"), |k| k.0)
}

struct KeyOrder(String);

impl<'de> serde::Deserialize<'de> for KeyOrder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KeyOrderVisitor)
    }
}

struct KeyOrderVisitor;

impl<'de> serde::de::Visitor<'de> for KeyOrderVisitor {
    type Value = KeyOrder;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<KeyOrder, A::Error> {
        let mut keys = Vec::new();
        while let Some(k) = m.next_key::<String>()? {
            let v: KeyOrder = m.next_value()?;
            keys.push(format!("{k}{}", v.0));
        }
        Ok(KeyOrder(format!("{{{}}}", keys.join(","))))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<KeyOrder, A::Error> {
        let mut items = String::new();
        while let Some(v) = a.next_element::<KeyOrder>()? {
            items.push_str(&v.0);
        }
        Ok(KeyOrder(if items.is_empty() {
            items
        } else {
            format!("[{items}]")
        }))
    }

    fn visit_bool<E>(self, _: bool) -> Result<KeyOrder, E> {
        Ok(KeyOrder(String::new()))
    }

    fn visit_i64<E>(self, _: i64) -> Result<KeyOrder, E> {
        Ok(KeyOrder(String::new()))
    }

    fn visit_u64<E>(self, _: u64) -> Result<KeyOrder, E> {
        Ok(KeyOrder(String::new()))
    }

    fn visit_f64<E>(self, _: f64) -> Result<KeyOrder, E> {
        Ok(KeyOrder(String::new()))
    }

    fn visit_str<E>(self, _: &str) -> Result<KeyOrder, E> {
        Ok(KeyOrder(String::new()))
    }

    fn visit_unit<E>(self) -> Result<KeyOrder, E> {
        Ok(KeyOrder(String::new()))
    }
}

fn strings(v: Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| strings(x, f)).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, strings(x, f))).collect()),
        other => other,
    }
}

/// One string of a message, normalised.
pub fn normalise_str(s: &str, target_dir: &Path) -> String {
    let t = target_dir.display().to_string();
    let s = s
        .replace(&format!("{t}/hbuild/"), "<target>/")
        .replace(&t, "<target>");
    unhash(&s)
}

/// Removes `-<16 hex>` hash suffixes.
fn unhash(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-'
            && i + 17 <= b.len()
            && b[i + 1..i + 17].iter().all(u8::is_ascii_hexdigit)
            && (i + 17 == b.len() || !b[i + 17].is_ascii_hexdigit())
        {
            i += 17;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The key a message is matched by.
pub fn key(m: &Value) -> MsgKey {
    let t = &m["target"];
    (
        text(&m["reason"]),
        text(&m["package_id"]),
        text(&t["kind"]),
        text(&t["name"]),
        text(&m["profile"]["test"]),
    )
}

/// Differences between Cargo's and hbuild's messages ("" when equal),
/// and how many messages of each reason were compared.
pub fn diff(cargo: &[Value], hbuild: &[Value]) -> (String, BTreeMap<String, usize>) {
    let group = |v: &[Value]| {
        let mut g: BTreeMap<MsgKey, Vec<String>> = BTreeMap::new();
        for m in v {
            g.entry(key(m)).or_default().push(m.to_string());
        }
        for list in g.values_mut() {
            list.sort();
        }
        g
    };
    let (c, h) = (group(cargo), group(hbuild));
    let keys: BTreeSet<&MsgKey> = c.keys().chain(h.keys()).collect();
    let mut out = String::new();
    let mut compared: BTreeMap<String, usize> = BTreeMap::new();
    let none = Vec::new();
    for k in keys {
        let (cm, hm) = (c.get(k).unwrap_or(&none), h.get(k).unwrap_or(&none));
        *compared.entry(k.0.clone()).or_default() += cm.len();
        if cm != hm {
            out.push_str(&format!("messages differ for {k:?}:\n"));
            for m in cm.iter().filter(|m| !hm.contains(m)) {
                out.push_str(&format!("  cargo  {m}\n"));
            }
            for m in hm.iter().filter(|m| !cm.contains(m)) {
                out.push_str(&format!("  hbuild {m}\n"));
            }
            if cm.len() != hm.len() {
                out.push_str(&format!(
                    "  count: cargo {}, hbuild {}\n",
                    cm.len(),
                    hm.len()
                ));
            }
        }
    }
    (out, compared)
}

/// The message key of a `--plan` action's message.
fn action_key(a: &Value) -> MsgKey {
    if a["kind"] == "build-script-run" {
        return (
            "build-script-executed".into(),
            text(&a["package_id"]),
            String::new(),
            String::new(),
            String::new(),
        );
    }
    (
        "compiler-artifact".into(),
        text(&a["package_id"]),
        text(&a["target_meta"]["kind"]),
        text(&a["target_name"]),
        (a["mode"] == "test").to_string(),
    )
}

/// Pairs (dependency, dependent) whose messages Cargo orders: a dependent
/// starts only when the dependency finished (its complete outputs are
/// needed, or it is a build script or its run), and Cargo prints a unit's
/// message when it finishes. Edges where the `.rmeta` suffices are left
/// out: the dependent may finish first.
pub fn ordered_edges(plan: &str) -> Vec<(MsgKey, MsgKey)> {
    let g: Value = serde_json::from_str(plan).expect("plan JSON");
    let actions = g["actions"].as_array().expect("actions");
    let mut edges = Vec::new();
    for a in actions {
        for d in a["deps"].as_array().expect("deps") {
            let dep = &actions[d["action"].as_u64().expect("index") as usize];
            if d["needs"] == "full" || dep["kind"] != "compile" {
                edges.push((action_key(dep), action_key(a)));
            }
        }
    }
    edges
}

/// Violations of the order constraints: every message of a dependent
/// comes after a message of each of its ordered dependencies, and
/// `build-finished` comes last.
pub fn order_violations(msgs: &[Value], edges: &[(MsgKey, MsgKey)]) -> Vec<String> {
    let keys: Vec<MsgKey> = msgs.iter().map(key).collect();
    let mut out = Vec::new();
    for (dep, unit) in edges {
        for (i, k) in keys.iter().enumerate() {
            if k == unit && !keys[..i].contains(dep) {
                out.push(format!("{unit:?} printed before its dependency {dep:?}"));
            }
        }
    }
    if let Some(last) = msgs.last() {
        if last["reason"] != "build-finished" {
            out.push(format!("the last message is not build-finished: {last}"));
        }
    }
    out
}

//! A real headless Chromium that loads a page from `file://`, runs its
//! script and returns the DOM as the script left it, with the network cut
//! off. Needs the `chromium` binary (`apt-get install chromium`); a test
//! that asks for it fails loudly when it is missing or cannot start.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long Chromium may take to load and dump a page: a hang guard.
const LIMIT: Duration = Duration::from_secs(120);

/// Path of the chromium binary in `PATH` (or `/usr/bin/chromium`).
/// Panics with install instructions if there is none.
pub fn chromium_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("chromium"));
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "chromium is required for the timing report tests but was not found \
         (PATH or /usr/bin/chromium): run `apt-get install chromium`"
    );
}

/// The DOM of `page` after its scripts ran, as Chromium serialises it.
/// Panics (with Chromium's output) if Chromium cannot start, fails or
/// hangs. Every host name resolves to nothing and every request goes to a
/// dead proxy, so a page that needs the network shows it.
pub fn dump_dom(page: &Path) -> Dom {
    let bin = chromium_binary();
    let home = tempfile::tempdir().unwrap();
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    let mut child = Command::new(&bin)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=http://127.0.0.1:9",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            home.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(err.try_clone().unwrap()))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium ({}): {e}", bin.display()));
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |f: &mut std::fs::File| {
        use std::io::Seek;
        let mut s = String::new();
        f.rewind().unwrap();
        f.read_to_string(&mut s).unwrap();
        s
    };
    let (dom, log) = (read(&mut out), read(&mut err));
    match status {
        None => panic!(
            "chromium hung on {}: killed after {LIMIT:?}\n{log}",
            page.display()
        ),
        Some(s) if !s.success() || !dom.contains("</html>") => panic!(
            "chromium failed on {} ({s}), no DOM dumped\n--- stdout\n{dom}\n--- stderr\n{log}",
            page.display()
        ),
        Some(_) => Dom { html: dom, log },
    }
}

/// A serialised DOM, and Chromium's log (console messages included).
pub struct Dom {
    /// The HTML.
    pub html: String,
    /// What Chromium printed on stderr.
    pub log: String,
}

/// A start tag of the DOM: its attributes and the text right after it
/// (up to the next tag).
#[derive(Clone, Debug)]
pub struct Tag {
    /// Attributes, unescaped.
    pub attrs: BTreeMap<String, String>,
    /// Text up to the next tag, unescaped.
    pub text: String,
}

impl Tag {
    /// An attribute's value, or "".
    pub fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map_or("", String::as_str)
    }
}

impl Dom {
    /// Every start tag `<name ...>`, in document order.
    pub fn tags(&self, name: &str) -> Vec<Tag> {
        let open = format!("<{name}");
        let mut out = Vec::new();
        let mut rest = self.html.as_str();
        while let Some(i) = rest.find(&open) {
            rest = &rest[i + open.len()..];
            if !rest.starts_with([' ', '>', '/']) {
                continue;
            }
            let (attrs, after) = parse_attrs(rest);
            let end = after.find('<').unwrap_or(after.len());
            out.push(Tag {
                attrs,
                text: unescape(&after[..end]),
            });
            rest = after;
        }
        out
    }

    /// The tags `<name>` whose attribute `attr` is `value`.
    pub fn tags_with(&self, name: &str, attr: &str, value: &str) -> Vec<Tag> {
        self.tags(name)
            .into_iter()
            .filter(|t| t.attr(attr) == value)
            .collect()
    }
}

/// The attributes of a start tag whose name was just read, and the text
/// after its `>`. Chromium quotes every value with `"`.
fn parse_attrs(s: &str) -> (BTreeMap<String, String>, &str) {
    let mut attrs = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '/', '\n']);
        if let Some(after) = rest.strip_prefix('>') {
            return (attrs, after);
        }
        if rest.is_empty() {
            return (attrs, rest);
        }
        let name_end = rest.find(['=', ' ', '>']).unwrap_or(rest.len());
        let name = rest[..name_end].to_string();
        rest = &rest[name_end..];
        let Some(v) = rest.strip_prefix("=\"") else {
            attrs.insert(name, String::new());
            continue;
        };
        let close = v.find('"').unwrap_or(v.len());
        attrs.insert(name, unescape(&v[..close]));
        rest = &v[(close + 1).min(v.len())..];
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

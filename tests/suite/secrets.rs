//! Secret values never reach a file hbuild writes nor anything it prints,
//! while a changed secret still re-runs the build script that reads it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::nginx::Nginx;
use crate::common::{executed, fixture, Run, Ws};

const REMOTE_TOKEN: &str = "rcTok-7f3a91c2e5";
const REGISTRY_TOKEN: &str = "regTok-0b8d44e1a9";
const CORP_REGISTRY_TOKEN: &str = "corpTok-c5e27a0f13";
const HEADER_VALUE: &str = "hdrVal-93be0d7c41";
const DEPLOY_TOKEN: &str = "cfgTok-2d6f18b0e7";
const API_TOKENS: [&str; 3] = [
    "apiTok-one-51c9e3",
    "apiTok-two-a07d2f88",
    "apiTok-three-e4",
];
const URL_USER: &str = "urluser-6a1f0c";
const URL_PASSWORD: &str = "urlPw-d83b27e5";
const BAD_URL_USER: &str = "baduser-44c1e0";
const BAD_URL_PASSWORD: &str = "badPw-90fa3d";

/// `failures` with `bad-build-script` reading `MY_API_TOKEN` (declared with
/// `rerun-if-env-changed`) and the `[env]` entry `DEPLOY_TOKEN`; it writes
/// their length and byte sum to `OUT_DIR/seen.txt`, never the values.
fn workspace() -> Ws {
    let ws = fixture("failures");
    ws.replace(
        "crates/bad-build-script/build.rs",
        "    println!(\"cargo::rerun-if-changed=build.rs\");\n",
        r#"    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=MY_API_TOKEN");
    let sum = |v: &str| match std::env::var(v) {
        Ok(s) => format!("{} {}", s.len(), s.bytes().map(u64::from).sum::<u64>()),
        Err(_) => "unset".to_string(),
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let seen = format!("MY_API_TOKEN={}\nDEPLOY_TOKEN={}\n", sum("MY_API_TOKEN"), sum("DEPLOY_TOKEN"));
    std::fs::write(out.join("seen.txt"), seen).unwrap();
"#,
    );
    std::fs::create_dir_all(ws.path(".cargo")).unwrap();
    std::fs::write(
        ws.path(".cargo/config.toml"),
        format!("[env]\nDEPLOY_TOKEN = \"{DEPLOY_TOKEN}\"\n"),
    )
    .unwrap();
    ws
}

/// What the build script records for a value.
fn checksum(v: &str) -> String {
    format!("{} {}", v.len(), v.bytes().map(u64::from).sum::<u64>())
}

/// The build script's `seen.txt` (exactly one in the target dir).
fn seen(ws: &Ws) -> String {
    let files: Vec<PathBuf> = walkdir::WalkDir::new(ws.path("target"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_name() == "seen.txt")
        .map(|e| e.into_path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0]).unwrap()
}

fn expected_seen(api: &str) -> String {
    format!(
        "MY_API_TOKEN={}\nDEPLOY_TOKEN={}\n",
        checksum(api),
        checksum(DEPLOY_TOKEN)
    )
}

/// Every file below `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .map(|e| e.into_path())
        .collect()
}

/// Collects every run's output for the final check.
#[derive(Default)]
struct Outputs(Vec<(String, Run)>);

impl Outputs {
    fn keep(&mut self, what: &str, run: Run) -> &Run {
        self.0.push((what.to_string(), run));
        &self.0.last().unwrap().1
    }
}

fn server_status(ws: &Ws) -> serde_json::Value {
    let run = ws
        .hbuild(&["server", "status", "--message-format", "json"])
        .ok();
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn wait_verified(ws: &Ws, builds: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = server_status(ws);
        if s["status"]["verified"].as_u64().unwrap_or(0) >= builds {
            return;
        }
        assert!(Instant::now() < deadline, "the server never checked: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn secrets_are_never_written_or_printed_and_still_invalidate() {
    let nginx = Nginx::start();
    let url = nginx.url();
    let header = format!("X-Api-Key: {HEADER_VALUE}");
    let remote = [
        "--remote-cache",
        url.as_str(),
        "--remote-cache-header",
        &header,
    ];
    let ws = workspace();
    let env = |api: &'static str| {
        vec![
            ("HBUILD_REMOTE_CACHE_TOKEN", REMOTE_TOKEN),
            ("CARGO_REGISTRY_TOKEN", REGISTRY_TOKEN),
            ("CARGO_REGISTRIES_CORP_TOKEN", CORP_REGISTRY_TOKEN),
            ("MY_API_TOKEN", api),
            // Every output reproducible, so every entry is uploaded.
            ("CARGO_INCREMENTAL", "0"),
            ("HBUILD_SERVER_IDLE_TIMEOUT", "120s"),
        ]
    };
    let with = |extra: &[&str], base: &[&'static str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ws.hbuild_env(&args, env)
    };
    let mut out = Outputs::default();

    // A build filling the local and the remote cache.
    let first = out.keep(
        "build",
        run(
            with(&remote, &["--workspace", "--message-format", "json"]),
            &env(API_TOKENS[0]),
        )
        .ok(),
    );
    assert_eq!(
        executed(first),
        first.summary()["actions_total"].as_u64().unwrap()
    );
    assert!(
        nginx.access_log().iter().any(|l| l.method == "PUT"),
        "nothing was uploaded"
    );
    assert_eq!(seen(&ws), expected_seen(API_TOKENS[0]));

    let plan = out.keep(
        "--plan",
        run(
            with(&remote, &["--workspace", "--plan"]),
            &env(API_TOKENS[0]),
        )
        .ok(),
    );
    assert!(
        plan.stdout.contains("\"DEPLOY_TOKEN\": \"<redacted>\""),
        "{}",
        plan.stdout
    );

    let noop = out.keep(
        "-v",
        run(with(&remote, &["--workspace", "-v"]), &env(API_TOKENS[0])).ok(),
    );
    assert!(
        noop.stderr.contains("Reusing the saved analysis"),
        "{}",
        noop.stderr
    );
    assert!(noop.stderr.contains("0 executed"), "{}", noop.stderr);
    // (`-vv` shows the warnings of registry crates: they compile again.)
    out.keep(
        "-vv",
        run(with(&remote, &["--workspace", "-vv"]), &env(API_TOKENS[0])).ok(),
    );

    // A changed secret re-runs the script that reads it, with the real
    // values (the `[env]` one restored from the config after the saved
    // analysis was reused).
    let explain = out.keep(
        "--explain -v",
        run(
            with(&remote, &["--workspace", "--explain", "-v"]),
            &env(API_TOKENS[1]),
        )
        .ok(),
    );
    for text in [
        "Reusing the saved analysis",
        "Rebuilt bad-build-script (build script run)",
        "environment variable MY_API_TOKEN changed (value hidden)",
    ] {
        assert!(explain.stderr.contains(text), "{text}: {}", explain.stderr);
    }
    assert_eq!(seen(&ws), expected_seen(API_TOKENS[1]));

    let json = out.keep(
        "--explain json",
        run(
            with(
                &remote,
                &["--workspace", "--explain", "--message-format", "json"],
            ),
            &env(API_TOKENS[2]),
        )
        .ok(),
    );
    let rerun: Vec<_> = json
        .messages("hbuild-explain")
        .into_iter()
        .filter(|m| m["unit"] == "bad-build-script (build script run)")
        .collect();
    assert_eq!(rerun.len(), 1, "{}", json.stdout);
    assert_eq!(
        rerun[0]["reasons"],
        serde_json::json!([{
            "kind": "env-changed", "name": "MY_API_TOKEN", "old": null, "new": null, "secret": true
        }]),
        "{}",
        json.stdout
    );
    assert_eq!(seen(&ws), expected_seen(API_TOKENS[2]));

    // The resident server answers the no-op from digests of the secrets.
    let server_env = env(API_TOKENS[2]);
    out.keep(
        "--server (direct)",
        ws.hbuild_env(&["--workspace", "--server"], &server_env)
            .ok(),
    );
    wait_verified(&ws, 1);
    let answered = server_status(&ws)["status"]["answered"].as_u64().unwrap();
    out.keep(
        "--server (answered)",
        ws.hbuild_env(&["--workspace", "--server"], &server_env)
            .ok(),
    );
    let status = server_status(&ws);
    out.keep("server stop", ws.hbuild(&["server", "stop"]).ok());
    assert_eq!(
        status["status"]["answered"].as_u64().unwrap(),
        answered + 1,
        "the server did not answer: {status}"
    );

    // Credentials in the URL, a good one and one that does not parse.
    let creds_url = url.replace("http://", &format!("http://{URL_USER}:{URL_PASSWORD}@"));
    // Basic auth replaces the bearer token (the two together are refused).
    let mut url_env: Vec<(&str, &str)> = env(API_TOKENS[2])
        .into_iter()
        .filter(|(k, _)| *k != "HBUILD_REMOTE_CACHE_TOKEN")
        .collect();
    url_env.push(("HBUILD_REMOTE_CACHE", &creds_url));
    out.keep(
        "user:password URL",
        ws.hbuild_env(&["--workspace", "-v"], &url_env).ok(),
    );
    let bad_url = format!("{BAD_URL_USER}:{BAD_URL_PASSWORD}@127.0.0.1:1");
    let bad = out.keep(
        "bad URL",
        ws.hbuild_env(&["--workspace", "--remote-cache", &bad_url], &server_env),
    );
    assert_ne!(bad.code, 0, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("<redacted>@127.0.0.1:1"),
        "{}",
        bad.stderr
    );

    let secrets = [
        REMOTE_TOKEN,
        REGISTRY_TOKEN,
        CORP_REGISTRY_TOKEN,
        HEADER_VALUE,
        DEPLOY_TOKEN,
        API_TOKENS[0],
        API_TOKENS[1],
        API_TOKENS[2],
        URL_USER,
        URL_PASSWORD,
        BAD_URL_USER,
        BAD_URL_PASSWORD,
    ];
    let mut leaks = Vec::new();
    for s in secrets {
        for dir in [ws.path("target"), ws.cache.clone(), nginx.store_dir()] {
            for f in files_containing(&dir, s) {
                leaks.push(format!("{s} in {}", f.display()));
            }
        }
        for (what, r) in &out.0 {
            if r.stdout.contains(s) || r.stderr.contains(s) {
                leaks.push(format!("{s} in the output of {what}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "secret values leaked:\n{}",
        leaks.join("\n")
    );
}

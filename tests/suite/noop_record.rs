//! The no-op record: without the server, a no-op answers from the stamps
//! of what the last verified no-op depended on, prints what a direct no-op
//! prints, and builds after every kind of change.

use std::time::Duration;

use crate::common::{file_set, fixture, normalised, Run, Ws};

/// What `-v` prints when the record answers.
const ANSWERED: &str = "Reusing the no-op record of the last build";

/// A record is written only for files that had settled (changed more than
/// a timestamp granule before the no-op began).
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

fn build(ws: &Ws, env: &[(&str, &str)]) -> Run {
    build_with(ws, &[], env)
}

fn build_with(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Run {
    let args: Vec<&str> = ["-v", "--no-server"].iter().chain(args).copied().collect();
    ws.hbuild_env(&args, env).ok()
}

/// A verbose no-op after settling, then one that must answer from the record
/// with the same output; returns the answered run.
fn recorded(ws: &Ws, env: &[(&str, &str)]) -> Run {
    recorded_with(ws, &[], env)
}

fn recorded_with(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Run {
    settle();
    let direct = build_with(ws, args, env);
    assert!(!direct.stderr.contains(ANSWERED), "{}", direct.stderr);
    let answered = build_with(ws, args, env);
    assert!(answered.stderr.contains(ANSWERED), "{}", answered.stderr);
    let without_line = Run {
        code: answered.code,
        stdout: answered.stdout.clone(),
        stderr: answered
            .stderr
            .lines()
            .filter(|l| !l.contains(ANSWERED))
            .map(|l| format!("{l}\n"))
            .collect(),
    };
    assert_eq!(normalised(&direct), normalised(&without_line));
    answered
}

/// A build after a change: not answered from the record.
fn rebuilt(ws: &Ws, env: &[(&str, &str)]) -> Run {
    let run = build(ws, env);
    assert!(!run.stderr.contains(ANSWERED), "{}", run.stderr);
    run
}

#[test]
fn a_noop_answers_from_its_record_like_a_direct_noop_and_every_change_builds() {
    let ws = fixture("tiny");
    ws.hbuild(&["--no-server"]).ok();
    settle();
    // Plain output: the replayed warnings and the closing lines, as direct.
    let direct = ws.hbuild(&["--no-server"]).ok();
    let answered = ws.hbuild(&["--no-server"]).ok();
    assert_eq!(normalised(&direct), normalised(&answered));
    assert!(
        answered.stderr.contains("unused variable: `unused`"),
        "{}",
        answered.stderr
    );
    assert!(
        answered.stderr.contains("greeting is hello"),
        "{}",
        answered.stderr
    );
    let records = file_set(&ws.path("target/hbuild/noop"), |_| true);
    assert_eq!(records.len(), 1, "{records:?}");

    let r = recorded(&ws, &[]);
    assert!(r.stderr.contains("Fresh greet"), "{}", r.stderr);
    // JSON messages: the artifacts of the fresh units, then the closing ones.
    let json = recorded_with(&ws, &["--message-format", "json"], &[]);
    let reasons: Vec<String> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["reason"].to_string())
        .collect();
    let mut sorted = reasons.clone();
    sorted.sort();
    let expected = [
        "build-finished",
        "build-script-executed",
        "compiler-artifact",
        "compiler-artifact",
        "compiler-artifact",
        "compiler-message",
        "hbuild-summary",
    ];
    assert_eq!(sorted, expected.map(|r| format!("\"{r}\"")), "{reasons:?}");
    assert_eq!(reasons.last().unwrap(), "\"hbuild-summary\"", "{reasons:?}");

    // A variable a build script tracks.
    let run = rebuilt(&ws, &[("GREETING", "hi")]);
    assert!(run.stderr.contains("greeting is hi"), "{}", run.stderr);
    assert_eq!(ws.run_program("target/debug/app"), "hi, world\n");
    recorded(&ws, &[("GREETING", "hi")]);
    rebuilt(&ws, &[]);
    assert_eq!(ws.run_program("target/debug/app"), "hello, world\n");
    recorded(&ws, &[]);

    // A source edited in place with its mtime put back: only its ctime moved.
    ws.overwrite_in_place_keeping_mtime("app/src/main.rs", "{}, world", "{}; world");
    rebuilt(&ws, &[]);
    assert_eq!(ws.run_program("target/debug/app"), "hello; world\n");
    recorded(&ws, &[]);

    // A relevant variable that was not set.
    let run = rebuilt(&ws, &[("RUSTFLAGS", "--cfg=hbuild_noop_test")]);
    assert!(
        run.stderr.contains("Compiling app") || run.stderr.contains("Running"),
        "{}",
        run.stderr
    );
    rebuilt(&ws, &[]);
    recorded(&ws, &[]);

    // An uplifted output removed, then a new target.
    std::fs::remove_file(ws.path("target/debug/app")).unwrap();
    rebuilt(&ws, &[]);
    assert_eq!(ws.run_program("target/debug/app"), "hello; world\n");
    recorded(&ws, &[]);
    std::fs::create_dir_all(ws.path("app/src/bin")).unwrap();
    std::fs::write(
        ws.path("app/src/bin/extra.rs"),
        "fn main() { println!(\"extra\"); }\n",
    )
    .unwrap();
    rebuilt(&ws, &[]);
    assert_eq!(ws.run_program("target/debug/extra"), "extra\n");
    recorded(&ws, &[]);
}

//! The shim at work: real programs run under it, and what they opened is
//! checked against a policy. Needs a C compiler (`cc`), as observation
//! itself does.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::shim::{build, LOG_VAR};
use super::{prepare, read_log, AccessPolicy, Availability, Shim, ShimError};

/// The tests' scratch root, under the target dir.
fn scratch_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/observe-tests");
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// A policy that watches the scratch root, so that what tests read there
/// counts as undeclared even when the checkout is under the exempt `/tmp`.
fn policy(
    extra_exempt: Vec<PathBuf>,
    declared_files: BTreeSet<PathBuf>,
    declared_dirs: Vec<PathBuf>,
) -> AccessPolicy {
    AccessPolicy::new(extra_exempt, declared_files, declared_dirs).watching(vec![scratch_root()])
}

/// Scratch space whose reads count as undeclared.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let root = scratch_root();
    let d = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&root)
        .unwrap();
    let path = std::fs::canonicalize(d.path()).unwrap();
    let nothing = policy(Vec::new(), BTreeSet::new(), Vec::new());
    assert_eq!(
        nothing.undeclared(std::slice::from_ref(&path)),
        std::slice::from_ref(&path),
        "the scratch directory must not be exempt"
    );
    (d, path)
}

/// The shim, built once per test process into a cache shared by the runs
/// of the tests (as hbuild's own cache is shared by its builds).
fn shim() -> &'static Shim {
    static SHIM: OnceLock<Shim> = OnceLock::new();
    SHIM.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/observe-tests/shim-cache");
        match prepare(&dir, None) {
            Availability::Available(s) => s,
            Availability::Unavailable(e) => panic!("{e}"),
        }
    })
}

/// Runs `cmd` in `cwd` under the shim, checks it succeeded, and returns
/// what it opened.
fn observe(mut cmd: Command, cwd: &Path, log: &Path) -> Vec<PathBuf> {
    cmd.current_dir(cwd);
    shim().instrument(&mut cmd, log, None);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    read_log(log).unwrap()
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.args(["-c", script]);
    c
}

fn write(dir: &Path, names: &[&str]) {
    for n in names {
        let p = dir.join(n);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, n).unwrap();
    }
}

fn under(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    v.sort();
    v
}

/// Nothing declared, nothing exempt beyond the standard directories.
fn bare_policy() -> AccessPolicy {
    policy(Vec::new(), BTreeSet::new(), Vec::new())
}

/// Compiles a C program with `cc`.
fn cc(source: &str, out: &Path, flags: &[&str]) {
    let src = out.with_extension("c");
    std::fs::write(&src, source).unwrap();
    let status = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success(), "cc {}", src.display());
}

#[test]
fn the_shim_is_built_once_and_reused_and_a_changed_source_is_rebuilt() {
    let (_d, dir) = scratch();
    let Availability::Available(first) = prepare(&dir, None) else {
        panic!("the shim did not build")
    };
    let meta = std::fs::metadata(first.path()).unwrap();
    let Availability::Available(second) = prepare(&dir, None) else {
        panic!("the shim did not build the second time")
    };
    assert_eq!(second, first);
    let again = std::fs::metadata(second.path()).unwrap();
    // A rebuild renames a new file into place: a new inode.
    assert_eq!(
        (again.ino(), again.mtime(), again.mtime_nsec()),
        (meta.ino(), meta.mtime(), meta.mtime_nsec())
    );
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [first.path().file_name().unwrap().to_string_lossy()]);

    let changed = build(&dir, Path::new("cc"), "int hbuild_observe_changed;\n").unwrap();
    assert_ne!(changed.path(), first.path());
    assert!(first.path().is_file() && changed.path().is_file());
}

#[test]
fn a_compiler_that_does_not_exist_makes_observation_unavailable_naming_it() {
    let (_d, dir) = scratch();
    let cc = dir.join("no-such-cc");
    let Availability::Unavailable(e) = prepare(&dir.join("cache"), Some(&cc)) else {
        panic!("a shim built without a compiler")
    };
    assert!(matches!(e, ShimError::CompilerNotRun { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "cannot run the C compiler `{}` to build the file-access shim: No such file or directory (os error 2)",
            cc.display()
        )
    );
}

#[test]
fn a_compiler_that_fails_or_writes_nothing_is_reported() {
    let (_d, dir) = scratch();
    let Availability::Unavailable(e) = prepare(&dir, Some(Path::new("/bin/false"))) else {
        panic!("a shim built by /bin/false")
    };
    assert_eq!(
        e.to_string(),
        "the C compiler `/bin/false` failed to build the file-access shim (exit status: 1)"
    );
    let Availability::Unavailable(e) = prepare(&dir, Some(Path::new("/bin/true"))) else {
        panic!("a shim built by /bin/true")
    };
    assert_eq!(
        e.to_string(),
        "the C compiler `/bin/true` wrote no file-access shim"
    );
    let spaced = dir.join("with space");
    let Availability::Unavailable(e) = prepare(&spaced, None) else {
        panic!("a shim in a directory LD_PRELOAD cannot name")
    };
    assert!(matches!(e, ShimError::UnsafeDir(_)), "{e:?}");
}

#[test]
fn the_shim_source_compiles_without_warnings() {
    let (_d, dir) = scratch();
    let src = dir.join("shim.c");
    std::fs::write(&src, include_str!("shim.c")).unwrap();
    let out = Command::new("cc")
        .args(["-fsyntax-only", "-Wall", "-Wextra", "-Werror"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cat_and_a_pipeline_open_exactly_the_files_they_read() {
    let (_d, dir) = scratch();
    write(&dir, &["a", "b", "c"]);
    let log = dir.join("cat.log");
    let mut cat = Command::new("/bin/cat");
    cat.arg(dir.join("a"));
    let opened = observe(cat, &dir, &log);
    // System files are opened too, and exempt.
    assert!(
        opened.contains(&PathBuf::from("/usr/bin/cat")),
        "{opened:?}"
    );
    assert_eq!(bare_policy().undeclared(&opened), under(&dir, &["a"]));

    let log = dir.join("sh.log");
    let opened = observe(sh("cat a; cat b > /dev/null"), &dir, &log);
    assert!(opened.contains(&PathBuf::from("/dev/null")), "{opened:?}");
    assert_eq!(bare_policy().undeclared(&opened), under(&dir, &["a", "b"]));
    let declared = policy(Vec::new(), [dir.join("a")].into(), Vec::new());
    assert_eq!(declared.undeclared(&opened), under(&dir, &["b"]));
    let declared = policy(Vec::new(), BTreeSet::new(), vec![dir.clone()]);
    assert_eq!(declared.undeclared(&opened), Vec::<PathBuf>::new());
}

#[test]
fn relative_paths_are_logged_absolute_children_count_and_failures_do_not() {
    let (_d, dir) = scratch();
    write(&dir, &["sub/rel", "up", "child"]);
    let log = dir.join("access.log");
    let script =
        "cat rel ../up; sh -c 'cat ../child'; cat missing 2>/dev/null; ls . >/dev/null; true";
    let opened = observe(sh(script), &dir.join("sub"), &log);
    assert_eq!(
        bare_policy().undeclared(&opened),
        under(&dir, &["child", "sub", "sub/rel", "up"])
    );
}

#[test]
fn every_hooked_function_logs_what_it_opened_and_nothing_it_failed_to() {
    let (_d, dir) = scratch();
    let tools = dir.join("tools");
    let work = dir.join("work");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::create_dir_all(work.join("d-opendir")).unwrap();
    std::fs::create_dir_all(work.join("d-scandir")).unwrap();
    let driver = tools.join("driver");
    cc(include_str!("test_driver.c"), &driver, &["-O1", "-pthread"]);
    // Only an exec hook can see a static program start: no shim loads in it.
    let static_true = tools.join("static-true");
    cc("int main(void) { return 0; }\n", &static_true, &["-static"]);
    let files = [
        "f-open",
        "f-open64",
        "f-open_2",
        "f-open64_2",
        "sub/f-openat",
        "sub/f-openat64",
        "sub/f-openat_2",
        "sub/f-openat64_2",
        "f-openat-cwd",
        "f-fopen",
        "f-fopen64",
        "f-freopen",
    ];
    write(&work, &files);
    let programs = [
        "x-execve",
        "x-execv",
        "x-execvp",
        "x-execvpe",
        "x-execl",
        "x-execlp",
        "x-execle",
        "sub/x-execveat",
        "x-posix_spawn",
        "x-posix_spawnp",
    ];
    for p in programs {
        std::fs::hard_link(&static_true, work.join(p)).unwrap();
    }
    let log = dir.join("access.log");
    let mut cmd = Command::new(&driver);
    cmd.arg("hooks");
    let opened = observe(cmd, &work, &log);

    let policy = policy(vec![tools], BTreeSet::new(), Vec::new());
    let mut want: Vec<&str> = files.to_vec();
    want.extend(programs);
    want.extend(["f-creat", "f-creat64", "d-opendir", "d-scandir", "sub"]);
    assert_eq!(policy.undeclared(&opened), under(&work, &want));
}

#[test]
fn a_successful_open_keeps_errno_even_when_the_log_cannot_be_written() {
    let (_d, dir) = scratch();
    write(&dir, &["f-errno"]);
    let driver = dir.join("driver");
    cc(include_str!("test_driver.c"), &driver, &["-O1", "-pthread"]);
    // A directory in the log's place: the shim cannot open it.
    let log = dir.join("log-is-a-dir");
    std::fs::create_dir(&log).unwrap();
    let mut cmd = Command::new(&driver);
    cmd.arg("errno").current_dir(&dir);
    shim().instrument(&mut cmd, &log, None);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // ... and says that lines were lost.
    let e = read_log(&log).unwrap_err();
    assert!(e.to_string().contains("is incomplete"), "{e}");
}

#[test]
fn threads_and_processes_at_once_write_whole_lines() {
    let (_d, dir) = scratch();
    let driver = dir.join("driver");
    cc(include_str!("test_driver.c"), &driver, &["-O1", "-pthread"]);
    let work = dir.join("work");
    let names: Vec<String> = (0..40).map(|i| format!("p{i}")).collect();
    write(&work, &names.iter().map(String::as_str).collect::<Vec<_>>());
    let script = format!(
        "{} threads & for f in {}; do cat $f >/dev/null & done; wait",
        driver.display(),
        names.join(" ")
    );
    let log = dir.join("access.log");
    let opened = observe(sh(&script), &work, &log);
    let policy = policy(vec![driver], BTreeSet::new(), Vec::new());
    let mut want: Vec<String> = names.clone();
    for t in 0..8 {
        want.extend((0..100).map(|i| format!("t-{t}-{i}")));
    }
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(policy.undeclared(&opened), under(&work, &want));
}

#[test]
fn the_log_itself_is_never_logged() {
    let (_d, dir) = scratch();
    write(&dir, &["a"]);
    let log = dir.join("access.log");
    let opened = observe(
        sh(&format!(
            "cat \"${LOG_VAR}\" >/dev/null; cat a >> \"${LOG_VAR}.copy\""
        )),
        &dir,
        &log,
    );
    let raw = std::fs::read_to_string(&log).unwrap();
    assert!(
        !raw.lines().any(|l| Path::new(l) == log),
        "the log names itself:\n{raw}"
    );
    assert_eq!(
        bare_policy().undeclared(&opened),
        under(&dir, &["a", "access.log.copy"])
    );
}

#[test]
fn a_second_runtime_is_observed_too() {
    // Python opens through its own runtime: open(), os.listdir (opendir),
    // os.open with dir_fd (openat on a directory descriptor).
    let (_d, dir) = scratch();
    write(&dir, &["py/data.txt", "py/sub/rel.txt"]);
    let log = dir.join("access.log");
    let script = "import os\n\
                  open('data.txt').read()\n\
                  os.listdir('sub')\n\
                  fd = os.open('sub', os.O_RDONLY)\n\
                  os.close(os.open('rel.txt', os.O_RDONLY, dir_fd=fd))\n\
                  try:\n    open('missing.txt')\nexcept FileNotFoundError:\n    pass\n";
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script]);
    let opened = observe(cmd, &dir.join("py"), &log);
    let mine: Vec<PathBuf> = opened.into_iter().filter(|p| p.starts_with(&dir)).collect();
    assert_eq!(
        mine,
        under(&dir, &["py/data.txt", "py/sub", "py/sub/rel.txt"])
    );
}

#[test]
fn the_libraries_a_program_loads_count_as_read_but_not_the_shim() {
    let (_d, dir) = scratch();
    let tools = dir.join("tools");
    let lib = dir.join("lib");
    std::fs::create_dir_all(&tools).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    cc(
        "int answer(void) { return 42; }\n",
        &lib.join("libanswer.so"),
        &["-shared", "-fPIC"],
    );
    let rpath = format!("-Wl,-rpath,{}", lib.display());
    let link = format!("-L{}", lib.display());
    let program = tools.join("answer");
    let src = tools.join("answer.c");
    std::fs::write(
        &src,
        "int answer(void);\nint main(void) { return answer() - 42; }\n",
    )
    .unwrap();
    let status = Command::new("cc")
        .arg("-o")
        .arg(&program)
        .arg(&src)
        .args([link.as_str(), rpath.as_str(), "-lanswer"])
        .status()
        .unwrap();
    assert!(status.success());
    let log = dir.join("access.log");
    let opened = observe(Command::new(&program), &dir, &log);
    let policy = policy(vec![tools], BTreeSet::new(), Vec::new());
    assert!(!opened.contains(&shim().path().to_path_buf()), "{opened:?}");
    assert_eq!(policy.undeclared(&opened), under(&lib, &["libanswer.so"]));
}

#!/usr/bin/env python3
"""No-op build latency: `cargo build` vs `cargo hbuild` without and with the
resident server, on one copy of a workspace each, alternating the tools for
ROUNDS rounds in one run. Prints medians and the ratios hbuild/cargo.

usage: bench/noop.py HBUILD_BIN WORKSPACE [ROUNDS] [LEAF]

With TYPED=1 in the environment, hbuild runs as users type it, `cargo hbuild`
(HBUILD_BIN's directory first in PATH), and `cargo hbuild --version` is timed
too: the floor of Cargo's dispatch to a subcommand.

With LEAF (a .rs file of the workspace), each round first appends a comment
to LEAF in every copy and builds it (not timed), so that the timed no-op
comes right after a build, when the files it wrote are newest.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

hb, src = sys.argv[1], sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
leaf = sys.argv[4] if len(sys.argv) > 4 else None
work = tempfile.mkdtemp()
env = dict(os.environ, HBUILD_CACHE_DIR=os.path.join(work, "cache"),
           HBUILD_SERVER_IDLE_TIMEOUT="10m")
typed = os.environ.get("TYPED") == "1"
if typed:
    env["PATH"] = os.path.dirname(os.path.abspath(hb)) + os.pathsep + env.get("PATH", "")
# How hbuild is started: the binary itself, or through Cargo.
hbuild = ["cargo", "hbuild"] if typed else [hb, "hbuild"]
for k in ("CARGO_TARGET_DIR", "HBUILD_SERVER"):
    env.pop(k, None)


def copy(name):
    dst = os.path.join(work, name)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("target"))
    return os.path.join(dst, "Cargo.toml")


def run(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


try:
    c, d, s = copy("cargo"), copy("direct"), copy("server")
    cargo = ["cargo", "build", "--manifest-path", c]
    direct = hbuild + ["--no-server", "--manifest-path", d]
    server = hbuild + ["--manifest-path", s]
    run(cargo), run(direct)
    run([hb, "hbuild", "--server", "--manifest-path", s])
    run(cargo), run(direct), run(server)  # the server checks the first build
    time.sleep(1)
    times = {"cargo": [], "direct": [], "server": []}
    if typed:
        times["floor"] = []
    for i in range(rounds):
        if leaf:
            for name, argv in (("cargo", cargo), ("direct", direct), ("server", server)):
                with open(os.path.join(work, name, leaf), "a") as f:
                    f.write(f"// round {i}\n")
                run(argv)
        times["cargo"].append(run(cargo))
        times["direct"].append(run(direct))
        times["server"].append(run(server))
        if typed:
            times["floor"].append(run(hbuild + ["--version"]))
    status = subprocess.run([hb, "hbuild", "server", "status", "--manifest-path", s],
                            env=env, capture_output=True, text=True).stdout
    med = {k: statistics.median(v) for k, v in times.items()}
    after = f" right after a build (edit of {leaf})" if leaf else ""
    print(f"workspace={os.path.basename(src.rstrip('/'))} rounds={rounds}{after}")
    for k in times:
        print(f"median {k:<7} {med[k] * 1000:8.2f} ms")
    if typed:
        print(f"typed as `cargo hbuild`; floor = `cargo hbuild --version`, {med['floor'] / med['cargo']:.3f} of cargo's no-op")
    print(f"ratio hbuild/cargo (no server)   {med['direct'] / med['cargo']:.3f}")
    print(f"ratio hbuild/cargo (with server) {med['server'] / med['cargo']:.3f}")
    print(status.strip())
finally:
    subprocess.run([hb, "hbuild", "server", "stop", "--manifest-path", os.path.join(work, "server", "Cargo.toml")],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)

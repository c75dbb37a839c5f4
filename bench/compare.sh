#!/usr/bin/env bash
# Side-by-side timings of `cargo build` and `cargo hbuild` on one workspace,
# in one run, alternating the two tools. Prints each measurement and the
# ratio hbuild/cargo of the medians.
#
# usage: bench/compare.sh MODE [WORKSPACE] [ROUNDS]
#   MODE  cold    cargo cold build vs hbuild cold build (no cache)
#         warm    cargo cold build vs hbuild with a warm local cache, fresh copy in another dir
#         remote  cargo cold build vs hbuild with an empty local cache and a warm remote (nginx)
#         remote-grpc  the same with a warm REAPI gRPC remote (BuildGrid, cache-only; the venv
#                 of scripts/test-deps.sh or HBUILD_TEST_BUILDGRID), with the bytes each
#                 build downloaded (HBUILD_REMOTE_DOWNLOAD=minimal: builds without the bytes)
#         noop    no-op `cargo build` vs no-op `cargo hbuild`, without and with the
#                 resident server (bench/noop.py; ROUNDS defaults to 30 there)
#         noop-after-build  the same, each no-op right after a build of an
#                 edit (a comment appended to LEAF, default the leaf file below)
#         edit    a comment appended to one leaf file, then rebuild (cargo vs hbuild)
#         edit-code  a function added to that file, then rebuild
#         test-cold  `cargo test` cold vs `cargo hbuild test` cold (no cache)
#         test-warm  `cargo test` cold vs `cargo hbuild test` with a warm cache, copy in another dir
#         test-edit  a function added to one leaf file, then `cargo test` vs `cargo hbuild test`
#         check-cold   `cargo check` cold vs `cargo hbuild check` cold (no cache)
#         check-warm   `cargo check` cold vs `cargo hbuild check` with a warm cache, copy in another dir
#         clippy-cold  `cargo clippy` cold vs `cargo hbuild clippy` cold (no cache)
#         clippy-warm  `cargo clippy` cold vs `cargo hbuild clippy` with a warm cache, copy in another dir
#   TEST_ARGS: arguments of the test modes (default `--workspace --no-fail-fast`).
#   LINT_ARGS: arguments of the check and clippy modes (default `--workspace --all-targets`).
#   WORKSPACE defaults to testdata/workspaces/big; ROUNDS to 3.
set -euo pipefail
mode=${1:?mode}
repo=$(cd "$(dirname "$0")/.." && pwd)
ws_src=${2:-$repo/testdata/workspaces/big}
rounds=${3:-3}
# HBUILD_BIN: a prebuilt binary to measure (default: build this checkout).
if [ -z "${HBUILD_BIN:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
fi
hb="${HBUILD_BIN:-$repo/target/release/cargo-hbuild}"
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null; [ -n "${bgd_pid:-}" ] && kill "$bgd_pid" 2>/dev/null || true' EXIT

fresh_copy() { rm -rf "$1"; mkdir -p "$1"; (cd "$ws_src" && tar --exclude=./target -cf - .) | (cd "$1" && tar xf -); }
now() { date +%s.%N; }
time_it() { local t0; t0=$(now); "$@" >/dev/null 2>&1 || true; python3 -c "print(round($(now) - $t0, 3))"; }
read -r -a test_args <<< "${TEST_ARGS:---workspace --no-fail-fast}"
ctest() { (cd "$1" && cargo test "${test_args[@]}"); }
htest() { (cd "$1" && "$hb" hbuild test "${@:2}" "${test_args[@]}"); }
read -r -a lint_args <<< "${LINT_ARGS:---workspace --all-targets}"
# `clippy` or `check`, per mode.
lint_cmd=${mode%%-*}
clint() { (cd "$1" && cargo "$lint_cmd" "${lint_args[@]}"); }
hlint() { (cd "$1" && "$hb" hbuild "$lint_cmd" "${@:2}" "${lint_args[@]}"); }
# Cold builds run the two tools in alternating order, so that neither always
# profits from (or pays for) what the other left in the machine's caches.
in_turn() { if (( i % 2 )); then "$1"; "$2"; else "$2"; "$1"; fi; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cargo fetch --locked --manifest-path "$ws_src/Cargo.toml" -q
if [ "$mode" = noop ]; then
  exec python3 "$repo/bench/noop.py" "$hb" "$ws_src" "${3:-30}"
fi
if [ "$mode" = noop-after-build ]; then
  exec python3 "$repo/bench/noop.py" "$hb" "$ws_src" "${3:-15}" "${LEAF:-crates/big-macros/src/lib.rs}"
fi
: > "$work/cargo.t"; : > "$work/hbuild.t"
edit_file() { local f; f=$(cd "$1" && git ls-files 2>/dev/null | grep '\.rs$' | head -1 || true); [ -n "$f" ] || f=$(cd "$1" && find . -path ./target -prune -o -name '*.rs' -print | sort | tail -1); echo "$1/$f"; }

if [ "$mode" = remote ]; then
  store="$work/store"; mkdir -p "$store"; chmod 777 "$store" "$work"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/nginx.conf" <<NGINX
daemon off; pid $work/nginx.pid; error_log $work/error.log;
events {}
http { access_log $work/access.log; client_body_temp_path $work/body;
  server { listen 127.0.0.1:$port; location / { root $store; dav_methods PUT; create_full_put_path on; client_max_body_size 2G; dav_access user:rw group:rw all:rw; } } }
NGINX
  "$(command -v nginx || echo /usr/sbin/nginx)" -c "$work/nginx.conf" & nginx_pid=$!
  sleep 1
  export HBUILD_REMOTE_CACHE="http://127.0.0.1:$port"
  # The seed plays CI, which builds without incremental compilation (whose
  # outputs are never uploaded); the measured builds use the dev defaults.
  fresh_copy "$work/seed"; CARGO_INCREMENTAL=0 HBUILD_CACHE_DIR="$work/seed-cache" "$hb" hbuild --manifest-path "$work/seed/Cargo.toml" >/dev/null 2>&1
fi
if [ "$mode" = remote-grpc ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/cas"
  cat > "$work/bgd.yml" <<BGD
server:
  - !channel {address: "127.0.0.1:$port", insecure-mode: true}
authorization: {method: none}
storages:
  - !disk-storage &cas {path: "$work/cas"}
caches:
  - !lru-action-cache &cache {storage: *cas, max-cached-refs: 100000, allow-updates: true, cache-failed-actions: false}
instances:
  - name: ""
    services: [!cas {storage: *cas}, !bytestream {storage: *cas}, !action-cache {cache: *cache}]
BGD
  "${HBUILD_TEST_BUILDGRID:-/opt/hbuild-test/buildgrid}/bin/bgd" server start "$work/bgd.yml" > "$work/bgd.log" 2>&1 & bgd_pid=$!
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; do sleep 0.2; done
  export HBUILD_REMOTE_CACHE="grpc://127.0.0.1:$port"
  fresh_copy "$work/seed"; CARGO_INCREMENTAL=0 HBUILD_CACHE_DIR="$work/seed-cache" "$hb" hbuild --manifest-path "$work/seed/Cargo.toml" >/dev/null 2>&1
fi
if [ "$mode" = test-warm ]; then
  fresh_copy "$work/seed"; HBUILD_CACHE_DIR="$work/warm-cache" htest "$work/seed" >/dev/null 2>&1 || true
fi
if [ "$mode" = check-warm ] || [ "$mode" = clippy-warm ]; then
  fresh_copy "$work/seed"; HBUILD_CACHE_DIR="$work/warm-cache" hlint "$work/seed" >/dev/null 2>&1 || true
fi
if [ "$mode" = warm ]; then
  fresh_copy "$work/seed"; HBUILD_CACHE_DIR="$work/warm-cache" "$hb" hbuild --manifest-path "$work/seed/Cargo.toml" >/dev/null 2>&1
fi

for i in $(seq "$rounds"); do
  case "$mode" in
    cold)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      run_c() { time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"; }
      run_h() { time_it "$hb" hbuild --no-cache --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t"; }
      in_turn run_c run_h;;
    warm)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/warm-cache" time_it "$hb" hbuild --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t";;
    remote)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/empty-cache-$i" time_it "$hb" hbuild --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t"
      echo "round $i: bytes downloaded: $(awk '$9==200 && $6=="\"GET" {s+=$10} END {print s+0}' "$work/access.log")";;
    remote-grpc)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/empty-cache-$i" time_it "$hb" hbuild --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t"
      echo "round $i: bytes downloaded: $("$hb" hbuild cache stats --cache-dir "$work/empty-cache-$i" --message-format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["recent_builds"][-1]["remote_bytes_down"])')";;
    edit|edit-code)
      if [ "$i" = 1 ]; then
        fresh_copy "$work/c"; fresh_copy "$work/h"
        cargo build --manifest-path "$work/c/Cargo.toml" >/dev/null 2>&1
        HBUILD_CACHE_DIR="$work/cache" "$hb" hbuild --manifest-path "$work/h/Cargo.toml" >/dev/null 2>&1
        cf=$(edit_file "$work/c"); hf=$(edit_file "$work/h")
      fi
      if [ "$mode" = edit ]; then line="// edit $i"; else line="#[allow(dead_code)] fn bench_edit_$i() -> u32 { $i }"; fi
      echo "$line" >> "$cf"; echo "$line" >> "$hf"
      time_it cargo build --manifest-path "$work/c/Cargo.toml" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/cache" time_it "$hb" hbuild --manifest-path "$work/h/Cargo.toml" >> "$work/hbuild.t";;
    test-cold)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it ctest "$work/c$i" >> "$work/cargo.t"
      time_it htest "$work/h$i" --no-cache >> "$work/hbuild.t";;
    test-warm)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it ctest "$work/c$i" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/warm-cache" time_it htest "$work/h$i" >> "$work/hbuild.t";;
    test-edit)
      if [ "$i" = 1 ]; then
        fresh_copy "$work/c"; fresh_copy "$work/h"
        ctest "$work/c" >/dev/null 2>&1 || true
        HBUILD_CACHE_DIR="$work/cache" htest "$work/h" >/dev/null 2>&1 || true
        cf=$(edit_file "$work/c"); hf=$(edit_file "$work/h")
      fi
      line="#[allow(dead_code)] fn bench_edit_$i() -> u32 { $i }"
      echo "$line" >> "$cf"; echo "$line" >> "$hf"
      time_it ctest "$work/c" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/cache" time_it htest "$work/h" >> "$work/hbuild.t";;
    check-cold|clippy-cold)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it clint "$work/c$i" >> "$work/cargo.t"
      time_it hlint "$work/h$i" --no-cache >> "$work/hbuild.t";;
    check-warm|clippy-warm)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it clint "$work/c$i" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/warm-cache" time_it hlint "$work/h$i" >> "$work/hbuild.t";;
    *) echo "unknown mode $mode" >&2; exit 2;;
  esac
  echo "round $i: cargo $(tail -1 "$work/cargo.t")s  hbuild $(tail -1 "$work/hbuild.t")s"
done
c=$(median < "$work/cargo.t"); h=$(median < "$work/hbuild.t")
echo "mode=$mode workspace=$(basename "$ws_src") rounds=$rounds"
echo "median cargo  ${c}s"
echo "median hbuild ${h}s"
echo "ratio hbuild/cargo $(python3 -c "print(round($h / $c, 3))")"

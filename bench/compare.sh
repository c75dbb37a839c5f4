#!/usr/bin/env bash
# Side-by-side timings of `cargo build` and `cargo hbuild` on one workspace,
# in one run, alternating the two tools. Prints each measurement and the
# ratio hbuild/cargo of the medians.
#
# usage: bench/compare.sh MODE [WORKSPACE] [ROUNDS]
#   MODE  cold    cargo cold build vs hbuild cold build (no cache)
#         warm    cargo cold build vs hbuild with a warm local cache, fresh copy in another dir
#         remote  cargo cold build vs hbuild with an empty local cache and a warm remote (nginx)
#         noop    no-op `cargo build` vs no-op `cargo hbuild`, without and with the
#                 resident server (bench/noop.py; ROUNDS defaults to 30 there)
#         edit    a comment appended to one leaf file, then rebuild (cargo vs hbuild)
#         edit-code  a function added to that file, then rebuild
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
trap 'rm -rf "$work"; [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null || true' EXIT

fresh_copy() { rm -rf "$1"; mkdir -p "$1"; (cd "$ws_src" && tar --exclude=./target -cf - .) | (cd "$1" && tar xf -); }
now() { date +%s.%N; }
time_it() { local t0; t0=$(now); "$@" >/dev/null 2>&1; python3 -c "print(round($(now) - $t0, 3))"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

cargo fetch --locked --manifest-path "$ws_src/Cargo.toml" -q
if [ "$mode" = noop ]; then
  exec python3 "$repo/bench/noop.py" "$hb" "$ws_src" "${3:-30}"
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
if [ "$mode" = warm ]; then
  fresh_copy "$work/seed"; HBUILD_CACHE_DIR="$work/warm-cache" "$hb" hbuild --manifest-path "$work/seed/Cargo.toml" >/dev/null 2>&1
fi

for i in $(seq "$rounds"); do
  case "$mode" in
    cold)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
      time_it "$hb" hbuild --no-cache --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t";;
    warm)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/warm-cache" time_it "$hb" hbuild --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t";;
    remote)
      fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
      time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
      HBUILD_CACHE_DIR="$work/empty-cache-$i" time_it "$hb" hbuild --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t"
      echo "round $i: bytes downloaded: $(awk '$9==200 && $6=="\"GET" {s+=$10} END {print s+0}' "$work/access.log")";;
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
    *) echo "unknown mode $mode" >&2; exit 2;;
  esac
  echo "round $i: cargo $(tail -1 "$work/cargo.t")s  hbuild $(tail -1 "$work/hbuild.t")s"
done
c=$(median < "$work/cargo.t"); h=$(median < "$work/hbuild.t")
echo "mode=$mode workspace=$(basename "$ws_src") rounds=$rounds"
echo "median cargo  ${c}s"
echo "median hbuild ${h}s"
echo "ratio hbuild/cargo $(python3 -c "print(round($h / $c, 3))")"

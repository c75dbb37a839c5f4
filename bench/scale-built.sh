#!/usr/bin/env bash
# Scale on built workspaces: synthetic workspaces of 1,000 / 5,000 / 10,000
# crates (bench/synthetic.py, chain and diamond shapes) are built once with
# hbuild, then measured: the no-op, direct and with the resident server
# (medians of ROUNDS runs), the rebuild after touching one leaf crate's
# source and after editing it, and the peak memory of the build and of a
# direct no-op.
#
# usage: bench/scale-built.sh [ROUNDS]
#   SIZES="1000 5000 10000" SHAPES="diamond chain" select the workspaces;
#   HBUILD_BIN selects a prebuilt binary.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-11}
if [ -z "${HBUILD_BIN:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
fi
hb="${HBUILD_BIN:-$repo/target/release/cargo-hbuild}"
work=$(mktemp -d)
export HBUILD_CACHE_DIR="$work/cache" HBUILD_SERVER_IDLE_TIMEOUT=10m
unset CARGO_TARGET_DIR HBUILD_SERVER
stop_servers() {
  for m in "$work"/*/Cargo.toml; do
    [ -f "$m" ] && "$hb" hbuild server stop --manifest-path "$m" >/dev/null 2>&1 || true
  done
}
trap 'stop_servers; rm -rf "$work"' EXIT

now() { date +%s.%N; }
# Seconds taken by a command whose output is dropped.
secs() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); echo "$t1 - $t0" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# "<seconds> <peak RSS KiB>" of a command.
timed() { /usr/bin/time -o "$work/time" -f "%e %M" "$@" >/dev/null 2>&1; tail -n 1 "$work/time"; }
ms() { echo "scale=1; $1 * 1000 / 1" | bc; }

printf '%-7s %-8s %9s %9s %10s %10s %9s %9s %10s %10s\n' \
  crates shape build_s build_MiB noop_ms server_ms touch_s edit_s noop_MiB actions
for shape in ${SHAPES:-diamond chain}; do
  for n in ${SIZES:-1000 5000 10000}; do
    ws="$work/$shape-$n"
    python3 "$repo/bench/synthetic.py" "$ws" "$n" "$shape"
    (cd "$ws" && cargo generate-lockfile -q --offline)
    m="$ws/Cargo.toml"
    build=$(timed "$hb" hbuild --no-server --manifest-path "$m")
    "$hb" hbuild --no-server --manifest-path "$m" >/dev/null 2>&1
    direct=$(for _ in $(seq "$rounds"); do secs "$hb" hbuild --no-server --manifest-path "$m"; done | median)
    noop_mem=$(timed "$hb" hbuild --no-server --manifest-path "$m")
    # Started, then given time to check that build, then a first answer.
    "$hb" hbuild --server --manifest-path "$m" >/dev/null 2>&1
    until "$hb" hbuild server status --message-format json --manifest-path "$m" |
      python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["status"]["verified"] >= 1 else 1)'; do
      sleep 0.2
    done
    "$hb" hbuild --manifest-path "$m" >/dev/null 2>&1
    server=$(for _ in $(seq "$rounds"); do secs "$hb" hbuild --manifest-path "$m"; done | median)
    "$hb" hbuild server stop --manifest-path "$m" >/dev/null 2>&1 || true
    leaf="$ws/crates/c$(printf %05d $((n - 1)))/src/lib.rs"
    touch "$leaf"
    touch_s=$(secs "$hb" hbuild --no-server --manifest-path "$m")
    echo "pub fn edited() -> u64 { 2 }" >> "$leaf"
    edit_s=$(secs "$hb" hbuild --no-server --manifest-path "$m")
    actions=$("$hb" hbuild --plan --manifest-path "$m" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["actions"]))')
    printf '%-7s %-8s %9s %9s %10s %10s %9.3f %9.3f %10s %10s\n' "$n" "$shape" \
      "${build% *}" "$(( ${build#* } / 1024 ))" "$(ms "$direct")" "$(ms "$server")" \
      "$touch_s" "$edit_s" "$(( ${noop_mem#* } / 1024 ))" "$actions"
    rm -rf "$ws" "$HBUILD_CACHE_DIR"
  done
done

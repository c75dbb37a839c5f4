#!/usr/bin/env bash
# Cold builds through remote execution on one machine, side by side with
# `cargo build`: a BuildGrid with its SQL scheduler on a private PostgreSQL
# and N worker bots (tests/bot/worker.py, as user nobody when run as root),
# then, alternating, `cargo build` and `cargo hbuild --no-cache
# --remote-executor` (--no-cache: the engine's action cache is skipped too,
# so every action executes) on fresh copies. A first unmeasured build
# uploads the toolchain. Prints each time, the ratio of the medians, and
# the engine's queueing and running time per action.
#
# usage: bench/remote-exec.sh WORKERS [WORKSPACE] [ROUNDS] [JOBS]
#   needs the venv and PostgreSQL of scripts/test-deps.sh
#   DOWNLOAD=minimal: builds without the bytes. They need the engine as the
#   remote cache, so hbuild keeps a fresh local cache per round instead of
#   --no-cache, and each round builds both tools with its own
#   `RUSTFLAGS=--cfg=hbuild_bench_round_N`, so that no key repeats.
set -euo pipefail
workers=${1:?workers}
repo=$(cd "$(dirname "$0")/.." && pwd)
ws_src=${2:-$repo/testdata/workspaces/big}
rounds=${3:-3}
jobs=${4:-16}
venv=${HBUILD_TEST_BUILDGRID:-/opt/hbuild-test/buildgrid}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
if [ -z "${HBUILD_BIN:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
fi
hb="${HBUILD_BIN:-$repo/target/release/cargo-hbuild}"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/pg" ] && as postgres "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM
chmod 755 "$work"
as() { local u=$1; shift; if [ "$(id -u)" = 0 ]; then setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits for a port, failing with the log when the process $2 died.
wait_port() {
  until python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
    kill -0 "$2" 2>/dev/null || { echo "the server exited:" >&2; tail -n 20 "$3" >&2; exit 1; }
    sleep 0.2
  done
}

# PostgreSQL, owned by its user.
pg_port=$(free_port)
mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
as postgres "$pgbin/initdb" -D "$work/pg/data" -U postgres -A trust >/dev/null
as postgres "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-h 127.0.0.1 -p $pg_port -k $work/pg -c fsync=off" start >/dev/null
"$pgbin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres bgd
db="postgresql+psycopg2://postgres@127.0.0.1:$pg_port/bgd"
"$venv/bin/bgd" migrate apply "$db" >/dev/null 2>&1

# BuildGrid with execution.
port=$(free_port)
mkdir -p "$work/cas"
cat > "$work/bgd.yml" <<BGD
thread-pool-size: 128
server:
  - !channel
    address: "127.0.0.1:$port"
    insecure-mode: true
authorization:
  method: none
connections:
  - !sql-connection &sql
    connection-string: "$db"
    pool-size: 5
    max-overflow: 10
storages:
  - !disk-storage &cas
    path: "$work/cas"
caches:
  - !lru-action-cache &cache
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &sched
    sql: *sql
    storage: *cas
    action-cache: *cache
    property-set: !dynamic-property-set
      match-property-keys: [OSFamily, ISA]
    bot-session-keepalive-timeout: 30
    poll-interval: 0.5
    bot-poll-interval: 0.5
    assigners:
      - !priority-age-assigner
        count: 1
        interval: 0.05
        jitter-factor: 0.01
        priority-assignment-percentage: 100
        bot-assignment-strategy: !assign-by-capacity
instances:
  - name: ""
    services:
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
      - !action-cache
        cache: *cache
      - !execution
        scheduler: *sched
BGD
"$venv/bin/bgd" server start "$work/bgd.yml" > "$work/bgd.log" 2>&1 & pids+=($!)
wait_port "$port" "$!" "$work/bgd.log"

# The bots, each in a work directory of its own.
mkdir -p "$work/bots"; cp "$repo/tests/bot/worker.py" "$work/bots/"
for i in $(seq "$workers"); do
  mkdir -p "$work/bots/w$i"; [ "$(id -u)" = 0 ] && chown nobody "$work/bots/w$i"
  as nobody "$venv/bin/python" -I "$work/bots/worker.py" --server "127.0.0.1:$port" --instance "" \
    --work-dir "$work/bots/w$i" --bot-id "bench-bot-$i" 2> "$work/bots/w$i.log" & pids+=($!)
done
sleep 2

fresh_copy() { rm -rf "$1"; mkdir -p "$1"; (cd "$ws_src" && tar --exclude=./target -cf - .) | (cd "$1" && tar xf -); }
now() { date +%s.%N; }
time_it() { local t0 t1; t0=$(now); "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }; t1=$(now); echo "$t1 - $t0" | bc; }
export HBUILD_REMOTE_EXECUTOR="grpc://127.0.0.1:$port" CARGO_INCREMENTAL=0

# Uploads the toolchain once; not measured.
fresh_copy "$work/seed"
"$hb" hbuild --no-cache -j "$jobs" --manifest-path "$work/seed/Cargo.toml" >/dev/null 2>&1

for i in $(seq "$rounds"); do
  fresh_copy "$work/c$i"; fresh_copy "$work/h$i"
  if [ "${DOWNLOAD:-all}" = minimal ]; then
    export RUSTFLAGS="--cfg=hbuild_bench_round_$i"
    caching=(--remote-download minimal)
    export HBUILD_CACHE_DIR="$work/cache-$i"
  else
    caching=(--no-cache)
  fi
  time_it cargo build --manifest-path "$work/c$i/Cargo.toml" >> "$work/cargo.t"
  time_it "$hb" hbuild "${caching[@]}" -j "$jobs" --manifest-path "$work/h$i/Cargo.toml" >> "$work/hbuild.t"
  echo "round $i: cargo $(tail -n 1 "$work/cargo.t") s, hbuild $(tail -n 1 "$work/hbuild.t") s"
  grep -E "^ +Remote" "$work/last.err" | sed 's/^ */  /'
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
c=$(median "$work/cargo.t"); h=$(median "$work/hbuild.t")
echo "workers=$workers jobs=$jobs median cargo ${c}s hbuild ${h}s ratio $(echo "scale=3; $h / $c" | bc)"

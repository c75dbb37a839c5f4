#!/usr/bin/env bash
# Planning time and peak memory of `cargo hbuild --plan` on synthetic
# workspaces of 1,000, 5,000 and 10,000 crates (chain and diamond shapes),
# cold (analysis computed) and warm (persisted analysis reused).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# HBUILD_BIN: a prebuilt binary to measure (default: build this checkout).
if [ -z "${HBUILD_BIN:-}" ]; then
  cargo build --release --locked --manifest-path "$repo/Cargo.toml" -q
fi
hb="${HBUILD_BIN:-$repo/target/release/cargo-hbuild}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
printf '%-8s %-8s %10s %10s %12s\n' crates shape cold_s warm_s peak_rss_MiB
for shape in chain diamond; do
  for n in ${SIZES:-1000 5000 10000}; do
    ws="$work/$shape-$n"; python3 "$repo/bench/synthetic.py" "$ws" "$n" "$shape"
    (cd "$ws" && cargo generate-lockfile -q --offline)
    cold=$( { /usr/bin/time -f "%e %M" "$hb" hbuild --plan --manifest-path "$ws/Cargo.toml" >/dev/null; } 2>&1 | tail -1)
    # A build writes the persisted analysis; --plan after it reuses it.
    warm=$( { /usr/bin/time -f "%e %M" "$hb" hbuild --plan --manifest-path "$ws/Cargo.toml" >/dev/null; } 2>&1 | tail -1)
    printf '%-8s %-8s %10s %10s %12s\n' "$n" "$shape" "${cold% *}" "${warm% *}" "$(( ${cold#* } / 1024 ))"
  done
done

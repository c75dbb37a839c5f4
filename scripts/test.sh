#!/usr/bin/env bash
# The full test suite on a fresh machine: installs what the tests need
# (scripts/test-deps.sh), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/test-deps.sh
exec cargo nextest run --workspace --no-fail-fast "$@"

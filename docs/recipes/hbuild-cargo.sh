#!/bin/sh
# A `cargo` for tools that build tests through Cargo (cargo-nextest,
# cargo-llvm-cov): `test` goes to `cargo hbuild test`, everything else to
# cargo. Use it as `CARGO=/path/to/hbuild-cargo.sh cargo-nextest nextest run`.
# (Not `cargo nextest run`: cargo sets CARGO to itself for its subcommands.)
for a in "$@"; do
  case "$a" in
    test) exec cargo-hbuild hbuild "$@" ;;
    -*) ;;
    *) break ;;
  esac
done
exec cargo "$@"

#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine, each only when
# missing: nginx (HTTP remote cache tests), Chromium (timing report tests),
# PostgreSQL (BuildGrid's execution scheduler) and BuildGrid, a real REAPI v2
# server (gRPC remote cache and remote execution tests), in a venv pinned by
# scripts/buildgrid-requirements.txt at /opt/hbuild-test/buildgrid
# (HBUILD_TEST_BUILDGRID overrides the place); and the fixtures' crates.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  echo "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${HBUILD_APT_UPDATED:-}" ]; then
    apt-get update -qq
    HBUILD_APT_UPDATED=1
  fi
  apt-get install -y -qq "$@" >/dev/null
}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx
fi
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
# The tests run private clusters of their own: the package's default one
# (which would be started on port 5432) is not made.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  apt_install postgresql-common
  sed -ri 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' \
    /etc/postgresql-common/createcluster.conf
  apt_install postgresql
fi

# BuildGrid: a venv made with Debian's interpreter, holding exactly the
# pinned set; rebuilt when the pins change.
venv="${HBUILD_TEST_BUILDGRID:-/opt/hbuild-test/buildgrid}"
pins=scripts/buildgrid-requirements.txt
want="$(sha256sum "$pins" | cut -d' ' -f1)"
if [ "$(cat "$venv/.hbuild-pins" 2>/dev/null || true)" != "$want" ]; then
  echo "installing BuildGrid into $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  if ! /usr/bin/python3 -m venv "$venv" 2>/dev/null; then
    apt_install python3-venv
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$pins"
  "$venv/bin/bgd" --help >/dev/null
  "$venv/bin/python" -c 'import psycopg2'
  # The remote execution tests' worker runs as `nobody` with this venv.
  chmod -R a+rX "$venv"
  echo "$want" > "$venv/.hbuild-pins"
fi

# The fixtures' pinned dependencies, downloaded once, up front.
for manifest in testdata/workspaces/*/Cargo.toml; do
  cargo fetch --locked --quiet --manifest-path "$manifest"
done

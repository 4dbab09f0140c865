#!/usr/bin/env bash
# The supply-chain checks of every landing (docs/dependencies.md):
#   1. RustSec advisories: `cargo audit` against the snapshot of the advisory database (these
#      machines cannot fetch the live one); a vulnerability fails, warnings are listed;
#   2. licenses, sources, the one TLS stack, npm lockfiles, no RSA private key:
#      scripts/supply_chain.py.
# cargo-audit is installed here (pinned, skipped when that version is there already).
set -euo pipefail
cd "$(dirname "$0")/.."

AUDIT_VERSION=0.22.2

if [ "$(cargo audit --version 2>/dev/null)" != "cargo-audit-audit $AUDIT_VERSION" ] &&
  [ "$(cargo audit --version 2>/dev/null)" != "cargo-audit $AUDIT_VERSION" ]; then
  echo "supply chain: installing cargo-audit $AUDIT_VERSION" >&2
  # Its own target folder: it must not disturb (or be disturbed by) the project's.
  CARGO_TARGET_DIR=/var/tmp/cargo-audit-target \
    cargo install --locked --quiet cargo-audit --version "$AUDIT_VERSION" >&2
fi

# The snapshot lives beside the project (../shared/advisory-db); KUNCI_ADVISORY_DB overrides.
db=${KUNCI_ADVISORY_DB:-}
if [ -z "$db" ]; then
  for candidate in ../shared/advisory-db /work/shared/advisory-db; do
    if [ -d "$candidate/crates" ]; then db=$candidate; break; fi
  done
fi
if [ -z "$db" ]; then
  echo "supply chain: no advisory database (set KUNCI_ADVISORY_DB to a RustSec snapshot)" >&2
  exit 1
fi
echo "supply chain: advisories from $db: $(head -n 1 "$db/SNAPSHOT.txt" 2>/dev/null | cut -c 1-110)"

# `--stale`: the snapshot is old by design; `--no-fetch`: no network. The ignores, each with
# its reason in docs/dependencies.md, live in .cargo/audit.toml.
cargo audit --db "$db" --no-fetch --stale --file Cargo.lock
cargo audit --db "$db" --no-fetch --stale --file fuzz/Cargo.lock

python3 scripts/supply_chain.py

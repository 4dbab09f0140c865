#!/usr/bin/env bash
# Runs every fuzz target for a while (default 60 s each): `scripts/fuzz.sh [SECONDS] [TARGET…]`.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); stable Rust, so without sanitizers (`-s none`):
# libFuzzer finds panics, overflows, hangs and memory blow-ups, not undefined behaviour (the
# crypto crate forbids unsafe code). New inputs go to fuzz/corpus/<target>/ (not committed); the
# committed seeds in fuzz/seeds/<target>/ are read, never written. A crash is saved under
# fuzz/artifacts/<target>/ and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo fuzz list)
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
cargo fuzz build -O -a -s none
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  echo "== $target (${seconds}s)"
  cargo fuzz run -O -a -s none "$target" "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=1024 -timeout=5
done

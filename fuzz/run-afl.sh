#!/usr/bin/env bash
# Builds the AFL++ target and fuzzes for SECONDS (default 3600).
#   bash fuzz/run-afl.sh [SECONDS]
# Needs `cargo install cargo-afl` (works on the stable toolchain). Findings
# land in fuzz/out/afl/default/{crashes,hangs}/; replay them with
#   cargo run --release --manifest-path fuzz/Cargo.toml -- --replay FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-3600}
target_dir=target/afl
cargo afl build --release --manifest-path fuzz/Cargo.toml --features afl --bin afl-target --target-dir "$target_dir"
seeds=fuzz/out/afl-seeds
rm -rf "$seeds"
mkdir -p "$seeds"
i=0
for file in examples/*.rag examples/*/stack.rag tests/fixtures/err/*.rag tests/fixtures/hostile/*.rag fuzz/regressions/*.rag; do
  [ -f "$file" ] || continue
  [ "$(stat -c %s "$file")" -le 65536 ] || continue
  cp "$file" "$seeds/$(printf '%03d' "$i")-$(basename "$file")"
  i=$((i + 1))
done
# A user kind inline with its stack: kinds may be declared in the stack file.
cat examples/custom-kind/kinds/minio.rag examples/custom-kind/stack.rag >"$seeds/custom-kind-inline.rag"
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
# Resume from an earlier run's queue when there is one.
input=$seeds
if [ -d fuzz/out/afl/default/queue ]; then input=-; fi
# Or start from a queue kept from an earlier run (RAGC_AFL_QUEUE=DIR).
if [ -n "${RAGC_AFL_QUEUE:-}" ]; then input=$RAGC_AFL_QUEUE; fi
exec cargo afl fuzz -V "$seconds" -t 5000 -x fuzz/rag.dict -i "$input" -o fuzz/out/afl "$target_dir/release/afl-target"

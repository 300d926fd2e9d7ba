#!/usr/bin/env bash
# Builds every fuzz target with libFuzzer's coverage instrumentation (on the stable
# toolchain: the sanitizer-coverage pass and `--cfg fuzzing` need no nightly flags) and runs
# each for FUZZ_SECONDS (default 60), FUZZ_JOBS at a time (default: the number of cores).
# A crash stops the run with the target's name and leaves the input under fuzz/artifacts/.
#
#   scripts/fuzz.sh                 every target
#   scripts/fuzz.sh jwt cron        some targets
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-$(nproc)}"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
# An explicit target keeps the instrumentation off build scripts and proc macros.
triple="$(rustc -vV | sed -n 's/^host: //p')"
mapfile -t all < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^skillos-fuzz$')
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")

echo "building ${#targets[@]} fuzz targets (instrumented, release)..." >&2
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
  cargo build --release --target "$triple" --target-dir "$target_dir" $(printf -- '--bin %s ' "${targets[@]}")
bin_dir="$target_dir/$triple/release"

mkdir -p artifacts corpus
failed=()
run() {
  local target="$1"
  mkdir -p "corpus/$target" "artifacts/$target"
  if "$bin_dir/$target" "corpus/$target" -max_total_time="$seconds" \
      -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"artifacts/$target.log" 2>&1; then
    echo "ok       $target ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "artifacts/$target.log" | grep -o '[0-9]*$') runs in ${seconds}s)"
  else
    echo "CRASHED  $target: see fuzz/artifacts/$target.log and fuzz/artifacts/$target/"
    return 1
  fi
}
pids=()
names=()
for target in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do sleep 1; done
  run "$target" & pids+=($!); names+=("$target")
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzzing found crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "${#targets[@]} fuzz targets ran ${seconds}s each without a crash"

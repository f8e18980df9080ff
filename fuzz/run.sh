#!/usr/bin/env bash
# Runs rdptap's fuzz targets (cargo-fuzz, libFuzzer) and prints each run's figures.
#
#   bash fuzz/run.sh                      # every target, 60 s each, 2 at a time
#   bash fuzz/run.sh --seconds 600        # the 10-minute runs of benches/RESULTS.md
#   bash fuzz/run.sh --seconds 20 tls x224
#   bash fuzz/run.sh --list
#
# Needs a nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz
# when it is missing. Seeds come from tests/data (examples/fuzz_seeds.rs); what a run
# finds new goes to fuzz/corpus/TARGET, crashes to fuzz/artifacts/TARGET, logs to
# fuzz/logs/TARGET.log. Inputs in fuzz/regressions/TARGET (past crashes) run first.
# Exit status: 0 when no target crashed, timed out or ran out of memory.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=60
jobs=$(nproc 2>/dev/null || echo 2)
targets=()
list=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --list) list=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz/run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

all=$(sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^rdptap-fuzz$')
if [ "$list" = 1 ]; then echo "$all"; exit 0; fi
if [ ${#targets[@]} -eq 0 ]; then mapfile -t targets <<<"$all"; fi
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$all" || { echo "fuzz/run.sh: no target $t; --list shows them" >&2; exit 2; }
done

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

echo "== seeds from tests/data"
rm -rf fuzz/seeds
cargo run --quiet --example fuzz_seeds -- tests/data fuzz/seeds

echo "== building the targets"
# No sanitizer: the fuzzed code has no unsafe, and the RSS limit should measure what
# rdptap holds, not a sanitizer's shadow memory. Overflow checks and debug assertions
# stay on (cargo-fuzz's default).
cargo +nightly fuzz build -s none >fuzz/build.log 2>&1 || { tail -40 fuzz/build.log; exit 1; }
bin=fuzz/target/x86_64-unknown-linux-gnu/release

mkdir -p fuzz/logs
run_one() {
  local t=$1
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/seeds/$t" "fuzz/regressions/$t"
  local rc=0
  "$bin/$t" -rss_limit_mb=512 -timeout=2 -max_total_time="$seconds" \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
    "fuzz/corpus/$t" "fuzz/regressions/$t" "fuzz/seeds/$t" >"fuzz/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"fuzz/logs/$t.rc"
}

echo "== fuzzing ${#targets[@]} targets, ${seconds} s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

# The summary: libFuzzer's last status line has cov (edges), ft (features) and corp.
failed=0
printf '%-16s %8s %12s %9s %7s %7s %6s  %s\n' target seconds execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
  log=fuzz/logs/$t.log
  rc=$(cat "fuzz/logs/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    result="FAILED (exit $rc): $(grep -m1 -E 'ERROR: libFuzzer|panicked at|SUMMARY' "$log" || echo "see $log")"
  fi
  printf '%-16s %8s %12s %9s %7s %7s %6s  %s\n' "$t" "$seconds" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
if [ "$failed" = 1 ]; then
  echo "fuzz/run.sh: a target failed; the input is in fuzz/artifacts/TARGET, the log in fuzz/logs" >&2
  exit 1
fi

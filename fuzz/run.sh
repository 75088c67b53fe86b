#!/bin/bash
# fuzz/run.sh [SECONDS [TARGET...]]: builds the libFuzzer targets with clang
# in build-fuzz/ and runs each, one after another, for SECONDS (default 30),
# on a copy of its seed corpus (fuzz/corpus/TARGET/ is never written).
# Prints per target the executions, executions per second and coverage
# (libFuzzer's cov: edges and ft: features at the end), and where a
# crashing input was kept. Exits non-zero when any target found a crash,
# a timeout or a leak, or did not run. docs/FUZZING.md has the details.
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
shift $(( $# > 0 ? 1 : 0 ))
all="wire_request wire_response name http_parse http_range http_target admin hubwire hubsec lottery"
targets=${*:-$all}
build=${FERRY_FUZZ_BUILD:-build-fuzz}

command -v clang > /dev/null || { echo "fuzz/run.sh: clang is missing (contrib/deps.sh --fuzz)" >&2; exit 2; }
blog=$(mktemp /tmp/ferry-fuzz-build-XXXXXX)
{ cmake -S . -B "$build" -DFERRY_FUZZ=ON -DCMAKE_C_COMPILER=clang &&
    cmake --build "$build" --target fuzz -j"$(nproc)"; } > "$blog" 2>&1 ||
    { cat "$blog" >&2; rm -f "$blog"; echo "fuzz/run.sh: the build failed" >&2; exit 2; }
rm -f "$blog"

work=$(mktemp -d /tmp/ferry-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts" "$build/logs" "$work/tmp"
export TMPDIR="$work/tmp" # what a target leaves there (fuzz_admin's socket) goes with $work
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=$(printf '%-14s %12s %9s %7s %7s %6s  %s\n' target executions exec/s cov ft corpus result)
for t in $targets; do
    bin="$build/fuzz/fuzz_$t"
    log="$build/logs/$t.log"
    [ -x "$bin" ] || { echo "fuzz/run.sh: no target $t" >&2; failed=1; continue; }
    cp -r "fuzz/corpus/$t" "$work/$t"
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
    echo "== fuzz_$t for ${secs}s" >&2
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t-" "${dict[@]}" "$work/$t" > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<< "$last")
    result=ok
    if [ "$rc" -ne 0 ]; then
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -1)
        result="FAILED (exit $rc): ${artifact:-no input saved}; log $log"
        grep -E 'invariant broken|ERROR: |runtime error|SUMMARY' "$log" | head -5 >&2
        if [ -n "$artifact" ]; then
            echo "reproduce: $bin $artifact" >&2
            echo "minimise:  $bin -minimize_crash=1 -max_total_time=30" \
                "-exact_artifact_path=$artifact.min $artifact" >&2
        fi
    fi
    summary+=$'\n'$(printf '%-14s %12s %9s %7s %7s %6s  %s' "$t" "${execs:-?}" "${rate:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")
done
echo "$summary"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: FAILED (inputs kept in $build/artifacts/)"
    exit 1
fi
echo "fuzz: every target ran ${secs}s without a crash"

#!/bin/bash
# A/B for the hot path: the same small-file case against several ferryd
# builds, in one run, interleaved so that the machine's drift hits them all
# alike, at the default log level (one line per connection, to a log file).
# Beside the noisy rates, deterministic counts per request: system calls of
# the serving process (strace -c), TCP segments sent on loopback by both
# sides (/proc/net/snmp OutSegs) and instructions (valgrind --tool=callgrind).
#
#   contrib/bench/ab.sh 'LABEL=PATH/TO/ferryd [OPTION...]' ...
#   e.g. ab.sh before=/tmp/old/ferryd after=build/bin/ferryd \
#              'after, no log line=build/bin/ferryd --log-level warn'
#
# Env: DURATION=5 (seconds per rate run) REPEATS=5 (interleaved rounds; the
#      median is printed) CONNS=8 REQUESTS=2000 (for the counts)
#      FILE=4K (in CORPUS=/tmp/benchdata; made if missing) BENCH=ferry-bench
# Only loopback; every server started here is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DUR=${DURATION:-5}; REP=${REPEATS:-5}; CONNS=${CONNS:-8}; N=${REQUESTS:-2000}
CORPUS=${CORPUS:-/tmp/benchdata}; FILE=${FILE:-4K}
BENCH=${BENCH:-$ROOT/build-bench/bin/ferry-bench}
PORT=18189
[ $# -ge 1 ] || { echo "usage: $0 'LABEL=FERRYD [OPTION...]' ..."; exit 2; }
if [ ! -x "$BENCH" ]; then
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$ROOT/build-bench" -j"$(nproc)" --target ferry-bench > /dev/null
fi
mkdir -p "$CORPUS"
[ "$(stat -c %s "$CORPUS/4K" 2> /dev/null)" = 4096 ] || head -c 4096 /dev/urandom > "$CORPUS/4K"
TMP=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill -TERM "$SERVER" 2> /dev/null; rm -rf "$TMP"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
up() {  # waits until the server answers
  for _ in $(seq 200); do "$BENCH" -n 1 127.0.0.1 $PORT "$FILE" > /dev/null 2>&1 && return 0; sleep 0.05; done
  echo "ferryd did not come up" >&2; exit 1
}
start() {  # "FERRYD [OPTION...]" MODE [wrapper...]: starts it, sets SERVER and TARGET
  local -a bin; read -ra bin <<< "$1"; local mode=$2; shift 2
  "$@" "${bin[@]}" --mode "$mode" --workers 2 --log-file "$TMP/ferryd.log" \
    --admin-socket "$TMP/admin.sock" 127.0.0.1 $PORT "$CORPUS" 2> /dev/null &
  SERVER=$! TARGET=$!
  up
  # Under strace the server is strace's only child: that one gets the signal.
  [ "${1:-}" = strace ] && TARGET=$(pgrep -P "$SERVER" | head -1)
  return 0
}
stop() { kill -TERM "$TARGET"; wait "$SERVER" 2> /dev/null || true; SERVER=; }
outsegs() { awk '/^Tcp:/ {if (h) {print $12; exit} h=1}' /proc/net/snmp; }

declare -A RATES SYSCALLS SEGS INSNS TOP
for round in $(seq "$REP"); do
  for spec in "$@"; do
    label=${spec%%=*}; bin=${spec#*=}
    start "$bin" prefork
    RATES[$label]+="$("$BENCH" -c "$CONNS" -d "$DUR" 127.0.0.1 $PORT "$FILE" |
                      grep -o 'req_s=[0-9.]*' | cut -d= -f2) "
    stop
  done
done
for spec in "$@"; do
  label=${spec%%=*}; bin=${spec#*=}
  # System calls per request: the iterative server alone serves them all
  # (its admin thread adds a few a second, counted too).
  start "$bin" iterative strace -f -c -o "$TMP/strace"
  "$BENCH" -c 1 -n "$N" 127.0.0.1 $PORT "$FILE" > /dev/null
  stop
  SYSCALLS[$label]=$(awk -v n="$N" '$NF == "total" {printf "%.2f", $4 / n}' "$TMP/strace")
  TOP[$label]=$(awk -v n="$N" '$1 ~ /^[0-9.]+$/ && $NF != "total" && $4 + 0 >= n / 2 {
                  printf "%s %.2f, ", $NF, $4 / n}' "$TMP/strace")
  # Segments per request, both directions (each is sent once on loopback).
  start "$bin" prefork
  s0=$(outsegs); "$BENCH" -c 1 -n "$N" 127.0.0.1 $PORT "$FILE" > /dev/null; s1=$(outsegs)
  stop
  SEGS[$label]=$(awk -v a="$s0" -v b="$s1" -v n="$N" 'BEGIN {printf "%.2f", (b - a) / n}')
  # Instructions per request in the serving process, start-up included
  # (small against N requests).
  start "$bin" iterative valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.%p" -q
  "$BENCH" -c 1 -n "$((N / 4))" 127.0.0.1 $PORT "$FILE" > /dev/null
  stop
  INSNS[$label]=$(cat "$TMP"/cg.* | awk -v n="$((N / 4))" '/^summary:/ {s += $2} END {printf "%.0f", s / n}')
  rm -f "$TMP"/cg.*
done

echo "# $(date -Iseconds) on $(nproc) cores, $(uname -r); $FILE, $CONNS connections,"
echo "# DURATION=$DUR x REPEATS=$REP interleaved; counts over $N requests"
echo
echo "| build | req/s (median) | runs | syscalls/req | segments/req | instructions/req |"
echo "|---|---:|---|---:|---:|---:|"
for spec in "$@"; do
  label=${spec%%=*}
  echo "| $label | $(tr ' ' '\n' <<< "${RATES[$label]}" | grep . | median) | ${RATES[$label]% } |" \
       "${SYSCALLS[$label]} | ${SEGS[$label]} | ${INSNS[$label]} |"
done
echo
echo "System calls made at least once per two requests (per request):"
for spec in "$@"; do label=${spec%%=*}; echo "- $label: ${TOP[$label]%, }"; done

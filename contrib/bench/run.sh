#!/bin/bash
# ferry's benchmark: builds a Release tree, makes a corpus, runs ferryd in
# each mode through one matrix and prints markdown tables for
# docs/BENCHMARKS.md. With --peers it also measures ferryd's HTTP listener,
# nginx and lighttpd from ../shared/bench the same way in the same run (wrk
# and limit --http for all three), and the native protocol beside them.
#
#   contrib/bench/run.sh [--peers] [--modes "iterative fork prefork event"]
#
# Env: DURATION=5 (seconds per run) REPEATS=3 (median of) WORKERS=2
#      (prefork pool) CORPUS=/tmp/benchdata SHARED_BENCH=../shared/bench
#      FERRYD_ARGS="..." (more ferryd options for every start, e.g.
#      "--user root --no-seccomp" to measure what the sandbox costs)
# Cases: 4 KiB at 1/8/32 connections (one file per connection), 256 MiB at
# 1/4 connections; idle PSS (/proc/PID/smaps_rollup) of master + children.
# Only loopback; every server started here is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DUR=${DURATION:-5}; REP=${REPEATS:-3}; WORKERS=${WORKERS:-2}
CORPUS=${CORPUS:-/tmp/benchdata}; SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
PORT=18089; HPORT=18088; PEERS=0; MODES="iterative fork prefork event"
while [ $# -gt 0 ]; do
  case $1 in
    --peers) PEERS=1 ;;
    --modes) MODES=$2; shift ;;
    *) echo "usage: $0 [--peers] [--modes \"iterative fork prefork event\"]"; exit 2 ;;
  esac; shift
done

BUILD=$ROOT/build-bench
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ferryd ferry-bench ferry-admin-probe > /dev/null
BENCH=$BUILD/bin/ferry-bench

mkdir -p "$CORPUS"
mk() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ] || head -c "$2" /dev/urandom > "$1"; }
mk "$CORPUS/4K" 4096; mk "$CORPUS/1M" 1048576; mk "$CORPUS/256M" 268435456
cat "$CORPUS/4K" "$CORPUS/1M" "$CORPUS/256M" > /dev/null   # page cache

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }
pss_kb() {  # PID: PSS of it and its children, KiB
  local pids; pids=$(ps -o pid= --pid "$1" --ppid "$1" | xargs)
  for p in $pids; do grep ^Pss: "/proc/$p/smaps_rollup"; done | awk '{s+=$2} END {print s+0}'
}

# Load-generator processes for C connections: two, as wrk -t2 (one for one).
nt() { [ "$1" -gt 1 ] && echo 2 || echo 1; }
# ferry-bench -c C for DUR seconds, REP times: "req_s MB_s GB_s p99_ms errors" (medians; errors summed)
# REQUEST=get (one round trip, the default) or file (FILE_REQUEST + READY).
run_case() {
  local file=$1 c=$2 out= r=${REQUEST:-get}
  "$BENCH" -r "$r" -c "$c" -t "$(nt "$c")" -d 1 127.0.0.1 $PORT "$file" > /dev/null || true    # warm-up
  for _ in $(seq "$REP"); do out+=$("$BENCH" -r "$r" -c "$c" -t "$(nt "$c")" -d "$DUR" 127.0.0.1 $PORT "$file" | grep ^RESULT)$'\n'; done
  echo "$(field req_s <<< "$out" | median) $(field MB_s <<< "$out" | median)" \
       "$(field GB_s <<< "$out" | median) $(field p99_ms <<< "$out" | median)" \
       "$(field errors <<< "$out" | awk '{s+=$1} END {print s}')"
}

# ferry-bench -b: blocking one-process-per-stream readers (limit --http's kind): "GB_s"
blocking_gbs() {  # STREAMS FILE
  for _ in $(seq "$REP"); do "$BENCH" -b -c "$1" -d "$DUR" 127.0.0.1 $PORT "$2"; done | field GB_s | median
}

ADMIN=$(mktemp -u /tmp/ferry-bench-XXXXXX.sock)
start_ferryd() {  # MODE [extra ferryd options]
  local mode=$1; shift
  # shellcheck disable=SC2086 # FERRYD_ARGS: words on purpose
  "$BUILD/bin/ferryd" --mode "$mode" --workers "$WORKERS" --log-level warn --admin-socket "$ADMIN" \
    ${FERRYD_ARGS:-} "$@" --listen native=127.0.0.1:$PORT --listen http=127.0.0.1:$HPORT "$CORPUS" &
  FERRYD=$!
  for _ in $(seq 100); do "$BENCH" -n 1 127.0.0.1 $PORT 4K > /dev/null 2>&1 && return 0; sleep 0.05; done
  echo "ferryd did not come up"; exit 1
}
stop_ferryd() { kill -TERM "$FERRYD"; wait "$FERRYD" || true; }
trap '[ -n "${FERRYD:-}" ] && kill -TERM "$FERRYD" 2> /dev/null || true' EXIT

echo "# $(date -Iseconds) on $(nproc) cores, $(uname -r); DURATION=$DUR REPEATS=$REP WORKERS=$WORKERS FERRYD_ARGS=\"${FERRYD_ARGS:-}\""
echo
echo "| mode | case | conns | req/s | MB/s | GB/s | p99 ms | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
declare -A IDLE
for mode in $MODES; do
  start_ferryd "$mode"
  IDLE[$mode]=$(pss_kb "$FERRYD")
  for c in 1 8 32; do
    read -r rq mb gb p99 err < <(run_case 4K "$c")
    echo "| $mode | 4K | $c | $rq | $mb | $gb | $p99 | $err |"
  done
  for c in 1 4; do
    read -r rq mb gb p99 err < <(run_case 256M "$c")
    echo "| $mode | 256M | $c | $rq | $mb | $gb | $p99 | $err |"
  done
  stop_ferryd
done
echo
echo "| mode | idle PSS, master + children (KiB) |"
echo "|---|---:|"
for mode in $MODES; do echo "| $mode | ${IDLE[$mode]} |"; done

# Admin socket latency while every worker is busy: status every 10 ms from
# one client, during a load that keeps the whole pool (or, iterative, the
# one process) inside transfers.
probe_under() {  # LOAD... : prints p50 p99 max (ms) of status round trips
  "$@" > /dev/null &
  local load=$!
  sleep 0.5
  "$BUILD/bin/ferry-admin-probe" "$ADMIN" "$((DUR - 1))" 10 | grep ^RESULT |
    awk '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
          print v["p50_ms"], v["p99_ms"], v["max_ms"], v["n"]}'
  wait "$load" || true
}
echo
echo "| mode | load during the probe | status answers | p50 ms | p99 ms | max ms |"
echo "|---|---|---:|---:|---:|---:|"
for mode in $MODES; do
  start_ferryd "$mode"
  read -r p50 p99 mx n < <(probe_under "$BENCH" -c 32 -d "$DUR" 127.0.0.1 $PORT 4K)
  echo "| $mode | 4K, 32 connections | $n | $p50 | $p99 | $mx |"
  c=$([ "$mode" = iterative ] && echo 1 || echo 4)
  read -r p50 p99 mx n < <(probe_under "$BENCH" -b -c "$c" -d "$DUR" 127.0.0.1 $PORT 256M)
  echo "| $mode | 256M, $c stream(s) | $n | $p50 | $p99 | $mx |"
  stop_ferryd
done

[ "$PEERS" = 1 ] || exit 0

# Side by side with the peers, each measured its own way in this run:
# ferry (PEER_MODE, event by default) with ferry-bench; nginx and lighttpd over HTTP with wrk
# (4 KiB, Connection: close) and limit --http (256 MiB, 1 MiB recv reader).
PB=$(mktemp -d); cp -r "$SHARED"/. "$PB"; chmod -R u+w "$PB"
BENCHDATA=$CORPUS "$PB/setup.sh" > /dev/null
gcc -O2 -o "$PB/limit/limit" "$PB/limit/limit.c"
wrk_field() {  # FIELD CONNS URL [wrk options]: median FIELD of wrk's RESULT line
  local f=$1 c=$2 url=$3 out=; shift 3
  wrk -t2 -c"$c" -d1s "$@" -s "$PB/wrk.lua" "$url" > /dev/null
  for _ in $(seq "$REP"); do
    out+=$(wrk -t2 -c"$c" -d"${DUR}s" --timeout 30s "$@" -s "$PB/wrk.lua" "$url" | grep ^RESULT)$'\n'
  done
  field "$f" <<< "$out" | median
}
limit_gbs() {  # PORT STREAMS
  for _ in $(seq "$REP"); do "$PB/limit/limit" --http "127.0.0.1:$1" /256M "$2" "$DUR"; done | field GB_s | median
}
http_cases() {  # KEY PORT: the HTTP rows of one server
  R[$1,close]=$(wrk_field req_s 8 "http://127.0.0.1:$2/4K" -H 'Connection: close')
  R[$1,ka]=$(wrk_field req_s 8 "http://127.0.0.1:$2/4K")
  R[$1,ka64]=$(wrk_field req_s 64 "http://127.0.0.1:$2/4K")
  R[$1,ka256]=$(wrk_field req_s 256 "http://127.0.0.1:$2/4K")
  R[$1,1m]=$(wrk_field MB_s 4 "http://127.0.0.1:$2/1M")
  R[$1,big1]=$(limit_gbs "$2" 1); R[$1,big4]=$(limit_gbs "$2" 4)
}
declare -A R
start_ferryd "${PEER_MODE:-event}"
R[ferry,pss]=$(pss_kb "$FERRYD")
http_cases ferry $HPORT
R[native,get]=$(run_case 4K 8 | cut -d' ' -f1)
R[native,file]=$(REQUEST=file run_case 4K 8 | cut -d' ' -f1)
R[native,big1]=$(blocking_gbs 1 256M); R[native,big4]=$(blocking_gbs 4 256M)
stop_ferryd
for peer in nginx lighttpd; do
  "$PB/peers.sh" start "$peer" > /dev/null
  port=$("$PB/peers.sh" port "$peer"); pid=$(cat "/tmp/bench-peers/$peer.pid")
  R[$peer,pss]=$(pss_kb "$pid")
  http_cases "$peer" "$port"
  "$PB/peers.sh" stop "$peer" > /dev/null
done
"$PB/limit/limit" "$CORPUS/256M" 1 "$DUR" splice | field GB_s > "$PB/phys"
echo
echo "| case | ferry HTTP | nginx | lighttpd | ferry native |"
echo "|---|---:|---:|---:|---:|"
echo "| 4 KiB, Connection: close, 8 conns (req/s) | ${R[ferry,close]} | ${R[nginx,close]} | ${R[lighttpd,close]} | GET ${R[native,get]}, FILE_REQUEST ${R[native,file]} |"
echo "| 4 KiB, keep-alive, 8 conns (req/s) | ${R[ferry,ka]} | ${R[nginx,ka]} | ${R[lighttpd,ka]} | |"
echo "| 4 KiB, keep-alive, 64 conns (req/s) | ${R[ferry,ka64]} | ${R[nginx,ka64]} | ${R[lighttpd,ka64]} | |"
echo "| 4 KiB, keep-alive, 256 conns (req/s) | ${R[ferry,ka256]} | ${R[nginx,ka256]} | ${R[lighttpd,ka256]} | |"
echo "| 1 MiB, keep-alive, 4 conns (MB/s) | ${R[ferry,1m]} | ${R[nginx,1m]} | ${R[lighttpd,1m]} | |"
echo "| 256 MiB, 1 stream, 1 MiB reader (GB/s) | ${R[ferry,big1]} | ${R[nginx,big1]} | ${R[lighttpd,big1]} | ${R[native,big1]} |"
echo "| 256 MiB, 4 streams, 1 MiB readers (GB/s) | ${R[ferry,big4]} | ${R[nginx,big4]} | ${R[lighttpd,big4]} | ${R[native,big4]} |"
echo "| idle PSS, all processes (KiB) | ${R[ferry,pss]} | ${R[nginx,pss]} | ${R[lighttpd,pss]} | (the same processes) |"
echo
echo "bare sendfile->splice limit, 1 stream: $(cat "$PB/phys") GB/s"
rm -rf "$PB"

#!/bin/bash
# How each server treats a normal client while a crowd exists: ferry-crowd's
# probe (sequential GET /4K, a new connection each) beside idle keep-alives,
# slowloris heads, slow readers and big streams. Builds a Release tree as
# run.sh does, makes the same corpus, and for each server runs the
# scenarios, each on a freshly started server, then prints markdown tables:
#   a  IDLE idle keep-alives + probe; PSS of master + children before and
#      with them open -> KiB per connection
#   b  LORIS slowloris + SLOW slow readers (/256M, 100 B/s) + probe
#   c  STREAMS streams of /256M + probe: 4 KiB latency beside big transfers
#   d  c again, /256M evicted from the page cache just before the run
#
#   contrib/bench/crowd.sh [--servers "ferry nginx lighttpd"] [--scenarios "a b c d"] [--no-build]
#
# Env: FERRYD_ARGS="--mode event --workers 2" (how ferryd runs; it gets
#      --listen http=127.0.0.1:18086 and CORPUS besides)
#      DURATION=10 (probe seconds in a, c, d) LORIS_DURATION=75 (b: past the
#      peers' 60 s header/send timeouts) SETUP_TIMEOUT=30 (a server that
#      cannot take the whole crowd is probed after this anyway)
#      IDLE=10000 LORIS=2000 SLOW=500 STREAMS=4
#      EVICT_EVERY=0 (d: seconds between evictions during the run; 0: once,
#      before it: the streams then cache the file again within one pass)
#      CORPUS=/tmp/benchdata SHARED_BENCH=../shared/bench (nginx :18081 and
#      lighttpd :18082 through its peers.sh; their configs are not changed)
# ferry-crowd's full output is kept in a directory named at the end. Only
# loopback; every process started here is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FERRYD_ARGS=${FERRYD_ARGS:---mode event --workers 2}
DUR=${DURATION:-10}; LDUR=${LORIS_DURATION:-75}; SETUP=${SETUP_TIMEOUT:-30}
IDLE=${IDLE:-10000}; LORIS=${LORIS:-2000}; SLOW=${SLOW:-500}; STREAMS=${STREAMS:-4}
EVICT_EVERY=${EVICT_EVERY:-0}
CORPUS=${CORPUS:-/tmp/benchdata}; SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
FPORT=18086; SERVERS="ferry nginx lighttpd"; SCENARIOS="a b c d"; BUILDIT=1
while [ $# -gt 0 ]; do
  case $1 in
    --servers) SERVERS=$2; shift ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --no-build) BUILDIT=0 ;;
    *) echo "usage: $0 [--servers \"ferry nginx lighttpd\"] [--scenarios \"a b c d\"] [--no-build]"; exit 2 ;;
  esac; shift
done

BUILD=$ROOT/build-bench
if [ "$BUILDIT" = 1 ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target ferryd ferry-crowd > /dev/null
fi
CROWD=$BUILD/bin/ferry-crowd

mkdir -p "$CORPUS"
mk() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ] || head -c "$2" /dev/urandom > "$1"; }
mk "$CORPUS/4K" 4096; mk "$CORPUS/1M" 1048576; mk "$CORPUS/256M" 268435456
cat "$CORPUS/4K" "$CORPUS/1M" "$CORPUS/256M" > /dev/null   # page cache

# The servers get the hard descriptor limit too: 10,000 connections.
ulimit -n "$(ulimit -Hn)"

LOG=$(mktemp -d /tmp/ferry-crowd-XXXXXX)
ADMIN=$(mktemp -u /tmp/ferry-crowd-XXXXXX.sock)
SERVER=; SPID=; SPORT=; CPID=; EVICTOR=

kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2" | head -1; }  # KEY LINE: its value
alive() { local s; s=$(ps -o stat= -p "$1" 2> /dev/null) && [ "${s:0:1}" != Z ]; }
pss_kb() {  # PID: PSS of it and its children, KiB (as run.sh)
  local pids; pids=$(ps -o pid= --pid "$1" --ppid "$1" | xargs)
  for p in $pids; do grep ^Pss: "/proc/$p/smaps_rollup"; done | awk '{s+=$2} END {print s+0}'
}
# Drops FILE's pages from the page cache (POSIX_FADV_DONTNEED through dd).
evict() { dd if="$1" iflag=nocache count=0 status=none; }
cached() { fincore -nb -o RES "$1" 2> /dev/null | awk '{printf "%.0f MiB", $1 / 1048576}'; }

start_server() {  # NAME: sets SPID (master) and SPORT
  SERVER=$1
  case $1 in
    ferry)
      if ss -Hltn "sport = :$FPORT" | grep -q .; then echo "port $FPORT is taken"; exit 1; fi
      # shellcheck disable=SC2086 # FERRYD_ARGS is a list of options
      "$BUILD/bin/ferryd" $FERRYD_ARGS --log-level warn --admin-socket "$ADMIN" \
        --listen http=127.0.0.1:$FPORT "$CORPUS" 2>> "$LOG/ferryd.log" &
      SPID=$!; SPORT=$FPORT ;;
    *)
      "$SHARED/peers.sh" start "$1" > /dev/null
      SPID=$(cat "/tmp/bench-peers/$1.pid"); SPORT=$("$SHARED/peers.sh" port "$1") ;;
  esac
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$SPORT/4K" && return 0; sleep 0.05; done
  echo "$1 did not come up"; exit 1
}
stop_server() {
  [ -n "$SERVER" ] || return 0
  if [ "$SERVER" = ferry ]; then
    local kids; kids=$(ps -o pid= --ppid "$SPID" | xargs)
    kill -TERM "$SPID" 2> /dev/null || true
    for _ in $(seq 100); do alive "$SPID" || break; sleep 0.1; done
    for p in $SPID $kids; do alive "$p" && kill -KILL "$p"; done
    wait "$SPID" 2> /dev/null || true
  else
    "$SHARED/peers.sh" stop "$SERVER" > /dev/null
  fi
  SERVER=; SPID=
}
cleanup() {
  [ -n "$CPID" ] && kill -TERM "$CPID" 2> /dev/null
  [ -n "$EVICTOR" ] && kill -TERM "$EVICTOR" 2> /dev/null
  stop_server
}
trap cleanup EXIT

# ferry-crowd against the running server; output in $LOG/NAME.out. With
# --pss, notes PSS when the crowd is established (its SETUP line) in
# $LOG/NAME.pss.
crowd() {  # NAME [--pss] ferry-crowd-options...
  local name=$1 pss=0 out=$LOG/$1.out; shift
  [ "$1" = --pss ] && { pss=1; shift; }
  "$CROWD" --setup-timeout "$SETUP" "$@" 127.0.0.1 "$SPORT" > "$out" 2>&1 &
  CPID=$!
  if [ "$pss" = 1 ]; then
    for _ in $(seq $(((SETUP + 30) * 10))); do
      if grep -q '^SETUP' "$out" || ! alive "$CPID"; then break; fi
      sleep 0.1
    done
    pss_kb "$SPID" > "$LOG/$name.pss"
  fi
  wait "$CPID" || true
  CPID=
  grep -q '^RESULT' "$out" || { echo "ferry-crowd failed ($name):"; cat "$out"; }
}

declare -A A B C
probe_cells() {  # RESULT line: "n | p50 | p99 | max | errors"
  echo "$(kv probe_n "$1") | $(kv p50_ms "$1") | $(kv p99_ms "$1") | $(kv max_ms "$1") | $(kv errors "$1")"
}

scenario_a() {
  local before after r s open
  curl -sf -o /dev/null "http://127.0.0.1:$SPORT/4K"   # one request: lazily built state
  before=$(pss_kb "$SPID")
  crowd "$SERVER-a" --pss --idle "$IDLE" --duration "$DUR"
  after=$(cat "$LOG/$SERVER-a.pss"); r=$(grep ^RESULT "$LOG/$SERVER-a.out" || true)
  s=$(grep ^SETUP "$LOG/$SERVER-a.out" || true); open=$(kv idle_open "$s"); open=${open:-0}
  A[$SERVER]="$(kv setup_s "$r") | $open | $(kv idle_open "$r") | $(kv idle_closed "$r") |"
  A[$SERVER]+=" $(kv idle_close_min_s "$r") / $(kv idle_close_max_s "$r") | $before | $after |"
  A[$SERVER]+=" $(awk -v b="$before" -v a="$after" -v n="$open" \
    'BEGIN { if (n > 0) printf "%.1f", (a - b) / n; else print "-" }') | $(probe_cells "$r")"
}
scenario_b() {
  local r
  crowd "$SERVER-b" --slowloris "$LORIS" --slow-readers "$SLOW" --duration "$LDUR"
  r=$(grep ^RESULT "$LOG/$SERVER-b.out" || true)
  B[$SERVER]="$(kv loris_open "$r") | $(kv loris_closed "$r") | $(kv loris_life_min_s "$r") /"
  B[$SERVER]+=" $(kv loris_life_med_s "$r") / $(kv loris_life_max_s "$r") |"
  B[$SERVER]+=" $(kv loris_responses "$r") ($(kv loris_status "$r")) | $(kv slow_open "$r") |"
  B[$SERVER]+=" $(kv slow_closed "$r") | $(kv slow_life_min_s "$r") / $(kv slow_life_med_s "$r") /"
  B[$SERVER]+=" $(kv slow_life_max_s "$r") | $(probe_cells "$r")"
}
scenario_streams() {  # c|d
  local r at_start
  if [ "$1" = d ]; then
    evict "$CORPUS/256M"
    if [ "$EVICT_EVERY" != 0 ]; then
      (while sleep "$EVICT_EVERY"; do evict "$CORPUS/256M"; done) &
      EVICTOR=$!
    fi
  else
    cat "$CORPUS/256M" > /dev/null
  fi
  at_start=$(cached "$CORPUS/256M")
  crowd "$SERVER-$1" --streams "$STREAMS" --stream-path /256M --duration "$DUR"
  [ -n "$EVICTOR" ] && { kill -TERM "$EVICTOR"; wait "$EVICTOR" 2> /dev/null || true; EVICTOR=; }
  r=$(grep ^RESULT "$LOG/$SERVER-$1.out" || true)
  C[$SERVER,$1]="$1 | ${at_start:-?} / $(cached "$CORPUS/256M") | $(kv stream_MB_s "$r") | $(probe_cells "$r")"
}

for server in $SERVERS; do
  for sc in $SCENARIOS; do
    start_server "$server"
    case $sc in
      a) scenario_a ;;
      b) scenario_b ;;
      c|d) scenario_streams "$sc" ;;
      *) echo "unknown scenario $sc"; exit 2 ;;
    esac
    stop_server
  done
done

label() { [ "$1" = ferry ] && echo "ferry ($FERRYD_ARGS)" || echo "$1"; }
echo "# $(date -Iseconds) on $(nproc) cores, $(uname -r); probe: GET /4K, a new connection every 10 ms"
for sc in $SCENARIOS; do
  echo
  case $sc in
    a) echo "a: $IDLE idle keep-alives, probe ${DUR} s. Open at set-up is what PSS was measured with."
       echo
       echo "| server | set-up s | open at set-up | open at end | closed by server | closed at s (first / last) | PSS before KiB | PSS with them KiB | KiB/conn | probe n | p50 ms | p99 ms | max ms | errors |"
       echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
       for s in $SERVERS; do echo "| $(label "$s") | ${A[$s]:-} |"; done ;;
    b) echo "b: $LORIS slowloris (1 byte/s) + $SLOW slow readers (/256M, 100 B/s), probe ${LDUR} s. Lifetimes min / median / max s."
       echo
       echo "| server | loris open | loris closed | loris lived s | loris answered (status) | slow open | slow closed | slow lived s | probe n | p50 ms | p99 ms | max ms | errors |"
       echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
       for s in $SERVERS; do echo "| $(label "$s") | ${B[$s]:-} |"; done ;;
    c|d) [ "$sc" = c ] && echo "c: $STREAMS streams of /256M (page cache warm), probe ${DUR} s." ||
           echo "d: as c, /256M evicted before the run$([ "$EVICT_EVERY" != 0 ] && echo " and every ${EVICT_EVERY} s during it")."
       echo
       echo "| server | run | 256M cached start / end | streams MB/s | probe n | p50 ms | p99 ms | max ms | errors |"
       echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
       for s in $SERVERS; do echo "| $(label "$s") | ${C[$s,$sc]:-} |"; done ;;
  esac
done
echo
echo "ferry-crowd output: $LOG"

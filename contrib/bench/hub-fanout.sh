#!/bin/bash
# The hub's fan-out (issue 10; docs/BENCHMARKS.md "Hub fan-out"): one
# timing run of ferry-hub-bench (the hub, and the baseline relays in the
# same run), then counts that do not depend on the noise, each in a run
# of its own on a fresh ferryd, during the fan-out rounds only:
#   strace     system calls of the hub process (strace -c -f -p), and of
#              the relays, per datagram handled;
#   perf       where the hub's CPU goes, kernel and user (perf record,
#              cpu-clock: this VM has no hardware counters);
#   callgrind  the hub's instructions per fan-out: ferryd under valgrind
#              (the hub is a fork of it, so it runs under callgrind too),
#              twice, with 1 post and with 1 + CG_POSTS, and the hub's
#              totals subtracted (a forked child has no vgdb FIFO, so its
#              counters cannot be zeroed and dumped around the rounds).
#
#   contrib/bench/hub-fanout.sh [--quick] [--no-build] [--passes "time strace perf callgrind"]
#                               [-- FERRY-HUB-BENCH OPTIONS...]
#
# Env: BUILD=build-bench (a Release tree, built here unless --no-build)
#      SESSIONS=1000 POSTS=20 (--quick: 50, 3) CG_POSTS=5 (fan-outs counted
#      under callgrind, about 50 times slower) CG_WINDOW=8 (handshakes in
#      flight then) QUIET_WAIT=120 (seconds to wait for an idle machine
#      before each pass)
# Only loopback; everything started is stopped by pid (ferry-hub-bench
# stops its ferryd and relays; the hooks stop their strace and perf).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SELF="$ROOT/contrib/bench/hub-fanout.sh"

# --hook TOOL DIR start|stop LABEL PID: ferry-hub-bench's --around.
if [ "${1:-}" = --hook ]; then
  tool=$2 dir=$3 what=$4 label=$5 pid=$6
  case $tool:$what in
    strace:start)
      strace -c -f -p "$pid" -o "$dir/strace.$label" 2> "$dir/strace.$label.err" &
      echo $! > "$dir/tracer.pid"
      for _ in $(seq 100); do grep -q attached "$dir/strace.$label.err" && break; sleep 0.05; done ;;
    perf:start)
      [ "$label" = hub ] || exit 0
      perf record -q -e cpu-clock -F 9999 -g -p "$pid" -o "$dir/perf.data" 2> "$dir/perf.err" &
      echo $! > "$dir/tracer.pid"; sleep 1 ;;
    strace:stop | perf:stop)
      [ -s "$dir/tracer.pid" ] || exit 0
      t=$(cat "$dir/tracer.pid"); : > "$dir/tracer.pid"
      kill -INT "$t" 2> /dev/null || true
      for _ in $(seq 200); do kill -0 "$t" 2> /dev/null || break; sleep 0.05; done ;;
  esac
  exit 0
fi

QUICK=; BUILDIT=1; PASSES="time strace perf callgrind"; EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=--quick ;;
    --no-build) BUILDIT=0 ;;
    --passes) PASSES=$2; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "usage: $0 [--quick] [--no-build] [--passes \"time strace perf callgrind\"] [-- OPTIONS]"
       exit 2 ;;
  esac; shift
done
if [ -n "$QUICK" ]; then N=${SESSIONS:-50} K=${POSTS:-3}; else N=${SESSIONS:-1000} K=${POSTS:-20}; fi
CGK=${CG_POSTS:-5}; CGW=${CG_WINDOW:-8}
BUILD=${BUILD:-$ROOT/build-bench}
if [ "$BUILDIT" = 1 ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target ferryd ferry-hub-bench > /dev/null
fi
BENCH=$BUILD/bin/ferry-hub-bench
TMP=$(mktemp -d /tmp/hub-fanout-XXXXXX)
echo "# $(date -Iseconds) on $(nproc) cores, $(uname -r); $N sessions, $K posts; files in $TMP"

# Waits (QUIET_WAIT=120 s at most) until the machine is idle: two 1 s
# samples of /proc/stat in a row at 90 % idle or more.
quiet() {
  local ok=0 t0 i0 t1 i1 a b c d e f g h
  for _ in $(seq "${QUIET_WAIT:-120}"); do
    read -r _ a b c d e f g h _ < /proc/stat; t0=$((a + b + c + d + e + f + g + h)); i0=$((d + e))
    sleep 1
    read -r _ a b c d e f g h _ < /proc/stat; t1=$((a + b + c + d + e + f + g + h)); i1=$((d + e))
    if [ $((100 * (i1 - i0) / (t1 - t0))) -ge 90 ]; then ok=$((ok + 1)); else ok=0; fi
    [ $ok -lt 2 ] || return 0
  done
  echo "(the machine did not become quiet within ${QUIET_WAIT:-120} s: measuring anyway)"
}
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$2" | awk 'NR == 1'; }  # KEY LINE: its value
result() { grep -m1 "^RESULT peer=$1 " "$2" || true; }                # PEER FILE: its RESULT line

# STRACE-FILE HANDLED FORWARDS: calls per datagram handled and per
# forward sent, and the calls made at least once per 20 datagrams.
per_dgram() {
  awk -v n="$2" -v f="$3" '$NF == "total" {
        printf "%.2f calls per datagram handled, %.2f per forward (%d calls, %d datagrams, %d forwards)",
               $4 / n, $4 / f, $4, n, f}
      $1 ~ /^[0-9.]+$/ && $NF != "total" && $4 + 0 >= n / 20 {top = top sprintf("%s %.2f, ", $NF, $4 / n)}
      END {sub(/, $/, "", top); print "; per datagram: " top}' "$1"
}

for pass in $PASSES; do
  quiet
  case $pass in
    time)
      echo; echo "## timing: $BENCH $QUICK -n $N -k $K ${EXTRA[*]}"
      "$BENCH" $QUICK -n "$N" -k "$K" "${EXTRA[@]}" | tee "$TMP/time.out" ;;
    strace)
      echo; echo "## strace -c: $BENCH $QUICK -n $N -k $K --around '$SELF --hook strace $TMP'"
      "$BENCH" $QUICK -n "$N" -k "$K" "${EXTRA[@]}" --around "$SELF --hook strace $TMP" \
        > "$TMP/strace.out"
      for peer in hub sendto sendmmsg; do
        [ -s "$TMP/strace.$peer" ] || continue
        line=$(result "$peer" "$TMP/strace.out")
        echo "- $peer: $(per_dgram "$TMP/strace.$peer" "$(kv handled "$line")" "$(kv forwards "$line")")"
        echo "  (under strace: last delivery median $(kv last_p50_ms "$line") ms," \
             "forwards sent again $(kv dup "$line"), dropped by its socket $(kv peer_drops "$line"))"
      done ;;
    perf)
      echo; echo "## perf record -e cpu-clock -g on the hub during the rounds"
      "$BENCH" $QUICK -n "$N" -k "$K" --baseline none "${EXTRA[@]}" \
        --around "$SELF --hook perf $TMP" > "$TMP/perf.out"
      perf report -i "$TMP/perf.data" --no-children --sort dso --stdio -g none 2> /dev/null |
        awk '/^ +[0-9]/ && n++ < 8' 
      perf report -i "$TMP/perf.data" --no-children --sort sym --stdio -g none 2> /dev/null |
        awk '/^ +[0-9]/ && n++ < 30' ;;
    callgrind)
      echo; echo "## callgrind: $BENCH $QUICK -n $N -k 1, then -k $((CGK + 1)), --window $CGW" \
                 "--baseline none --wrap 'valgrind --tool=callgrind ...'"
      for k in 1 $((CGK + 1)); do
        mkdir -p "$TMP/cg$k"
        "$BENCH" $QUICK -n "$N" -k "$k" --window "$CGW" --baseline none --timeout 900s \
          "${EXTRA[@]}" --wrap "valgrind --tool=callgrind --callgrind-out-file=$TMP/cg$k/cg.%p -q" \
          > "$TMP/cg$k.out" || true
        hubpid=$(sed -n 's/.*hub pid \([0-9]*\).*/\1/p' "$TMP/cg$k.out")
        line=$(result hub "$TMP/cg$k.out")
        echo "$(awk '/^summary:/ {print $2}' "$TMP/cg$k/cg.$hubpid") $(kv handled "$line")" \
             "$(kv dup "$line") $(kv peer_drops "$line")" > "$TMP/cg$k.sum"
        callgrind_annotate --inclusive=no "$TMP/cg$k/cg.$hubpid" 2> /dev/null | awk '
          match($0, /^ *[0-9,]+ /) {
            v = substr($0, 1, RLENGTH); gsub(/[ ,]/, "", v); f = substr($0, RLENGTH + 1)
            sub(/^ *\( *[0-9.]+%\) */, "", f); print v "\t" f}' > "$TMP/cg$k.fn"
      done
      read -r i1 h1 _ _ < "$TMP/cg1.sum"; read -r i2 h2 dup drops < "$TMP/cg$((CGK + 1)).sum"
      awk -v a="$i1" -v b="$i2" -v ha="$h1" -v hb="$h2" -v k="$CGK" 'BEGIN {
        printf "- hub: %d - %d instructions for %d fan-outs: %.0f per fan-out, %.0f per datagram handled (%d)\n",
               b, a, k, (b - a) / k, (b - a) / (hb - ha), hb - ha}'
      echo "  (the run with $((CGK + 1)) posts under callgrind: forwards sent again $dup," \
           "dropped by the hub's socket $drops)"
      awk -F '\t' -v k="$CGK" 'NR == FNR {a[$2] = $1; next} $2 != "PROGRAM TOTALS" {
          d = $1 - a[$2]; lib = $2; if (!sub(/.*\[/, "", lib)) lib = "?"; sub(/\]$/, "", lib)
          sub(/.*\//, "", lib); by[lib] += d; fn[$2] = d}
        END {print "  instructions per fan-out by object (self, the difference of the two runs):"
             for (l in by) if (by[l] / k >= 1000) printf "  %12.0f  %s\n", by[l] / k, l | "sort -g -r"
             close("sort -g -r")
             print "  and by function:"
             for (f in fn) if (fn[f] / k >= 1000) printf "  %12.0f  %s\n", fn[f] / k, f | "sort -g -r | awk \"NR <= 25\""}' \
        "$TMP/cg1.fn" "$TMP/cg$((CGK + 1)).fn" ;;
  esac
done
echo; echo "kept in $TMP"

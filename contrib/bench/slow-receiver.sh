#!/bin/bash
# The slow-receiver experiment (issue 9): ferryd serving deliberately slow
# readers, watched from outside. For each receive-buffer size it starts
#   ferry get --rate 50K            (the client sizes its own SO_RCVBUF)
#   slow_reader.py, 100 B / 1 KiB / 10 KiB every 10 ms, native GET
#   slow_reader.py, 1 KiB every 10 ms, HTTP GET
# (the raw readers set SO_RCVBUF to that size before connecting), samples
# the server's and the readers' sockets (ss -tinm) and ferryd's scoreboard
# (admin socket) every 0.2 s, times fast clients beside them, and prints a
# markdown table per size: rate set and got, the reader's buffer and window
# scale, bytes in flight (server Send-Q + reader Recv-Q), the window the
# reader advertised, how often it was zero, the share of the run the
# server's socket refused more data ("blocked"), the kernel's own
# rwnd-limited time, the longest gap between two writes of the server, and
# what the server sent over time; then the fast clients against a baseline
# taken before any slow reader. docs/BENCHMARKS.md ("Slow receivers") says
# how each figure is derived and what they show.
#
#   contrib/bench/slow-receiver.sh [--quick] [--sizes "default 4K 64K 1M"]
#                                  [--mode event] [--duration S] [--sndbuf SIZE]
#
# --sndbuf: ferryd's own --sndbuf (SO_SNDBUF of its connections; default:
# the kernel's autotuning), the server side's buffer.
#
# --quick: sizes "default 4K", 5 s each (CI: well under a minute).
# Env: FERRY_BIN (the binaries; default build/bin under the repo root),
#      WORKERS=2, FERRY_KEEP_TMP=1 keeps the work directory.
# Needs python3 and ss (iproute2). Only loopback; everything started here
# is stopped by pid on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/contrib/bench
BIN=${FERRY_BIN:-$ROOT/build/bin}
WORKERS=${WORKERS:-2}
SIZES="default 4K 64K 1M"; DUR=20; BASE=5; MODE=event; SNDBUF=0
usage() { echo "usage: $0 [--quick] [--sizes \"default 4K 64K 1M\"] [--mode MODE] [--duration S] [--sndbuf SIZE]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) SIZES="default 4K"; DUR=5; BASE=2 ;;
    --sizes) [ $# -ge 2 ] || usage; SIZES=$2; shift ;;
    --mode) [ $# -ge 2 ] || usage; MODE=$2; shift ;;
    --duration) [ $# -ge 2 ] || usage; DUR=$2; shift ;;
    --sndbuf) [ $# -ge 2 ] || usage; SNDBUF=$2; shift ;;
    *) usage ;;
  esac; shift
done
if ! [[ $DUR =~ ^[0-9]+$ ]] || [ "$DUR" -lt 2 ] || [ "$DUR" -gt 60 ]; then
  echo "$0: --duration: 2 to 60 seconds" >&2; exit 2
fi
for b in ferryd ferry; do
  [ -x "$BIN/$b" ] || { echo "$0: no $BIN/$b (build first, or set FERRY_BIN)" >&2; exit 1; }
done
command -v ss > /dev/null || { echo "$0: needs ss (iproute2)" >&2; exit 1; }

bytes() {  # SIZE: default | N | NK | NM -> bytes (0 for default)
  case $1 in
    default) echo 0 ;;
    *[kK]) echo $(( ${1%?} * 1024 )) ;;
    *[mM]) echo $(( ${1%?} * 1048576 )) ;;
    *[0-9]) echo "$1" ;;
    *) echo "$0: size $1: default, N, NK or NM" >&2; exit 2 ;;
  esac
}
for s in $SIZES; do bytes "$s" > /dev/null; done

W=$(mktemp -d /tmp/ferry-slow-XXXXXX)
FERRYD=; READERS=(); PROBE=; SAMPLER=
cleanup() {
  local p
  for p in "${READERS[@]}" $PROBE $SAMPLER; do kill -TERM "$p" 2> /dev/null || true; done
  if [ -n "$FERRYD" ]; then
    kill -TERM "$FERRYD" 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$FERRYD" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$FERRYD" 2> /dev/null || true
  fi
  wait 2> /dev/null || true
  if [ -n "${FERRY_KEEP_TMP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The corpus: one sparse 64 MiB file under a name per reader (hard links:
# one inode, one copy in the page cache; the names tell the connections
# apart in the scoreboard), a small and a 1 MiB file for the fast clients.
mkdir "$W/root"
truncate -s 64M "$W/root/slow"
for n in r-ferry r-100 r-1k r-10k r-1k-http; do ln "$W/root/slow" "$W/root/$n"; done
head -c 4096 /dev/urandom > "$W/root/4K"
head -c 1048576 /dev/urandom > "$W/root/1M"
cat "$W/root/slow" > /dev/null

ADMIN=$W/admin.sock
"$BIN/ferryd" --mode "$MODE" --workers "$WORKERS" --sndbuf "$SNDBUF" --admin-socket "$ADMIN" --log-file "$W/ferryd.log" \
  --listen native=127.0.0.1:0 --listen http=127.0.0.1:0 "$W/root" 2> "$W/ferryd.err" &
FERRYD=$!
NPORT=; HPORT=
for _ in $(seq 100); do
  if grep -q 'admin socket ' "$W/ferryd.log" 2> /dev/null; then
    NPORT=$(sed -n 's/.*listening on native=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/ferryd.log" | head -1)
    HPORT=$(sed -n 's/.*listening on http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/ferryd.log" | head -1)
    break
  fi
  kill -0 "$FERRYD" 2> /dev/null || break
  sleep 0.05
done
if [ -z "$NPORT" ] || [ -z "$HPORT" ]; then
  echo "$0: ferryd did not come up:" >&2; cat "$W/ferryd.err" "$W/ferryd.log" >&2 2> /dev/null; exit 1
fi

# Waits (bounded) until ferryd holds no connection: the next table starts clean.
drained() {
  for _ in $(seq 50); do
    python3 - "$ADMIN" << 'EOF' && return 0
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b'{"cmd":"connections"}\n')
buf = b""
while not buf.endswith(b"\n"):
    part = s.recv(65536)
    if not part:
        break
    buf += part
sys.exit(0 if json.loads(buf).get("total", 1) == 0 else 1)
EOF
    sleep 0.1
  done
  echo "$0: connections still open after 5 s" >&2
}

echo "## Slow receivers: $(date -Iseconds)"
echo
echo "ferryd --mode $MODE --workers $WORKERS --sndbuf $SNDBUF (defaults otherwise) on $(nproc) cores, Linux $(uname -r);"
echo "tcp_rmem $(sysctl -n net.ipv4.tcp_rmem | xargs), tcp_wmem $(sysctl -n net.ipv4.tcp_wmem | xargs)," \
     "rmem_max $(sysctl -n net.core.rmem_max), $(sysctl -n net.ipv4.tcp_congestion_control);" \
     "${DUR} s per table, samples every 0.2 s."
echo

python3 "$HERE/slow_sample.py" probe --native "127.0.0.1:$NPORT" --http "127.0.0.1:$HPORT" \
  --small 4K --big 1M --duration "$BASE" --out "$W/baseline.json"

RDUR=$((DUR + 10))  # the readers outlive the sampling; they are stopped after it
for size in $SIZES; do
  rb=$(bytes "$size")
  opt=(); [ "$rb" -gt 0 ] && opt=(--rcvbuf "$rb")
  : > "$W/readers"
  READERS=()
  "$BIN/ferry" get -q --rate 50K -t "$RDUR" -o - 127.0.0.1 "$NPORT" r-ferry 1G > /dev/null 2> "$W/ferry.err" &
  READERS+=($!); echo "r-ferry 51200 ferry get --rate 50K" >> "$W/readers"
  # TARGET CHUNK PORT --http|- LABEL: a read of CHUNK bytes every 10 ms.
  while read -r target chunk port http label; do
    [ "$http" = - ] && http=
    # shellcheck disable=SC2086 # $http is one option or none
    python3 "$HERE/slow_reader.py" "${opt[@]}" $http --chunk "$chunk" --interval 0.01 \
      --duration "$RDUR" --timeout "$RDUR" 127.0.0.1 "$port" "$target" > "$W/$target.out" 2>&1 &
    READERS+=($!); echo "$target $((chunk * 100)) $label" >> "$W/readers"
  done << EOF
r-100 100 $NPORT - raw 100 B / 10 ms
r-1k 1024 $NPORT - raw 1 KiB / 10 ms
r-10k 10240 $NPORT - raw 10 KiB / 10 ms
r-1k-http 1024 $HPORT --http raw 1 KiB / 10 ms, HTTP
EOF

  python3 "$HERE/slow_sample.py" probe --native "127.0.0.1:$NPORT" --http "127.0.0.1:$HPORT" \
    --small 4K --big 1M --duration "$((DUR - 1))" --out "$W/probe.json" &
  PROBE=$!
  python3 "$HERE/slow_sample.py" sample --admin "$ADMIN" --port "$NPORT" --port "$HPORT" \
    --pid "$FERRYD" --duration "$DUR" --out "$W/samples.json" &
  SAMPLER=$!
  wait "$SAMPLER"; SAMPLER=
  wait "$PROBE"; PROBE=
  for p in "${READERS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
  for p in "${READERS[@]}"; do wait "$p" 2> /dev/null || true; done
  READERS=()

  if [ "$rb" -gt 0 ]; then title="reader SO_RCVBUF $size ($rb B, set before connect)"
  else title="reader SO_RCVBUF default (autotuned, tcp_rmem)"; fi
  python3 "$HERE/slow_sample.py" table --samples "$W/samples.json" --readers "$W/readers" \
    --probe "$W/probe.json" --baseline "$W/baseline.json" --title "$title" --outputs "$W"
  # A reader that never started (a blocking mode with every worker taken)
  # or failed says so under its table.
  for f in "$W"/r-*.out; do
    if ! grep -q '^START' "$f"; then
      echo "note: $(basename "$f" .out) had no answer before it was stopped$(head -c 200 "$f" | sed 's/^/: /')"
    fi
  done
  if [ -s "$W/ferry.err" ]; then echo "note: ferry get: $(head -c 200 "$W/ferry.err")"; fi
  drained
done

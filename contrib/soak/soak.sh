#!/bin/bash
# The chaos soak: for each mode, a real ferryd (configuration file, native
# and HTTP listeners on 127.0.0.1, admin socket, all in a temporary
# directory) serving ~50 random files to N clients that download in a loop
# and check every SHA-256, while workers are SIGKILLed (respawn timed),
# the pool resized, SIGHUP sent, the file edited and reloaded, files
# truncated, grown and replaced, and `ferry get` fills a tiny tmpfs. Prints
# one table per mode (downloads ok / failed / corrupt, respawn latency,
# operations, RSS and descriptors over time, verdicts) and exits 0 only
# when no download was corrupt, every verdict passed and ferryd stopped
# cleanly; 1 otherwise, 2 on a usage error. docs/BENCHMARKS.md ("Chaos
# soak") says what each figure means; the driver is soak.py beside this.
#
#   contrib/soak/soak.sh [--duration SECONDS] [--mode iterative|fork|prefork|event|all]
#                        [--clients N] [--bin DIR] [--seed N] [--json FILE] [--keep]
#
# --duration is per mode: `--mode all` (the default) runs the four modes
# one after the other, so it takes four times as long.
# Env: FERRY_BIN (the binaries, when --bin is not given; else build/bin
# under the repo root), FERRY_KEEP_TMP=1 as --keep. Root mounts a tmpfs
# for the disk-full client, in a private mount namespace (unshare -m) when
# it can (unmounted at the end; the client is skipped when not root).
# Loopback only; everything it starts is stopped by pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${FERRY_BIN:-$ROOT/build/bin}
DURATION=600; MODE=all; CLIENTS=50; SEED=; JSON=; KEEP=${FERRY_KEEP_TMP:+--keep}

usage() {
  cat >&2 <<EOF
usage: $0 [--duration SECONDS] [--mode iterative|fork|prefork|event|all]
          [--clients N] [--bin DIR] [--seed N] [--json FILE] [--keep]
  --duration S   seconds per mode (default 600; --mode all runs four of them)
  --mode M       one mode, or all of them in turn (default all)
  --clients N    concurrent clients, half native, half HTTP (default 50)
  --bin DIR      ferryd, ferryctl and ferry (default \$FERRY_BIN, else build/bin)
  --seed N       the random schedule's seed (default: drawn, and printed)
  --json FILE    the results, machine-readable
  --keep         keep the temporary directory (ferryd's log, its configuration)
EOF
  exit 2
}
bad() { echo "$0: $1" >&2; usage; }

while [ $# -gt 0 ]; do
  case $1 in
    --duration) [ $# -ge 2 ] || bad "--duration needs a value"; DURATION=$2; shift ;;
    --mode) [ $# -ge 2 ] || bad "--mode needs a value"; MODE=$2; shift ;;
    --clients) [ $# -ge 2 ] || bad "--clients needs a value"; CLIENTS=$2; shift ;;
    --bin) [ $# -ge 2 ] || bad "--bin needs a value"; BIN=$2; shift ;;
    --seed) [ $# -ge 2 ] || bad "--seed needs a value"; SEED=$2; shift ;;
    --json) [ $# -ge 2 ] || bad "--json needs a value"; JSON=$2; shift ;;
    --keep) KEEP=--keep ;;
    -h|--help) usage ;;
    *) bad "unknown argument '$1'" ;;
  esac
  shift
done

if ! [[ $DURATION =~ ^[0-9]+$ ]] || [ "$DURATION" -lt 5 ] || [ "$DURATION" -gt 86400 ]; then
  bad "--duration: whole seconds, 5 to 86400"
fi
case $MODE in iterative|fork|prefork|event|all) ;; *) bad "--mode: iterative, fork, prefork, event or all" ;; esac
if ! [[ $CLIENTS =~ ^[0-9]+$ ]] || [ "$CLIENTS" -lt 2 ] || [ "$CLIENTS" -gt 500 ]; then
  bad "--clients: 2 to 500"
fi
[ -z "$SEED" ] || [[ $SEED =~ ^[0-9]+$ ]] || bad "--seed: a whole number"
for b in ferryd ferryctl ferry; do
  [ -x "$BIN/$b" ] || { echo "$0: no $BIN/$b (build first, or give --bin / FERRY_BIN)" >&2; exit 1; }
done
command -v python3 > /dev/null || { echo "$0: needs python3" >&2; exit 1; }

args=(--bin "$BIN" --duration "$DURATION" --mode "$MODE" --clients "$CLIENTS")
[ -z "$SEED" ] || args+=(--seed "$SEED")
[ -z "$JSON" ] || args+=(--json "$JSON")
[ -z "$KEEP" ] || args+=("$KEEP")
# As root the disk-full client mounts a tmpfs: in a mount namespace of our
# own, it goes away with the last process of the run even if the driver is
# SIGKILLed (the driver unmounts it anyway; ferryd dies with the driver).
if [ "$(id -u)" -eq 0 ] && command -v unshare > /dev/null &&
    unshare -m --propagation private true 2> /dev/null; then
  exec unshare -m --propagation private python3 "$ROOT/contrib/soak/soak.py" "${args[@]}"
fi
exec python3 "$ROOT/contrib/soak/soak.py" "${args[@]}"

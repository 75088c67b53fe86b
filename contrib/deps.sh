#!/bin/sh
# Installs what ferry needs to build and test on Debian 12 (as root, or via sudo).
set -e
pkgs="build-essential cmake pkg-config libuv1-dev libjansson-dev libcmocka-dev python3 util-linux"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

#!/bin/sh
# Installs what ferry needs to build and run on Debian 12 (as root, or via
# sudo); curl is for the quick start's example, scdoc makes the manual
# pages (docs/man/*.scd) at build time. --test adds what only the
# test suite uses: promtool, from Debian's prometheus package, to check the
# metrics exposition; the other HTTP clients the tests fetch with as
# people do: wget and Chromium (with a font: headless pages render text);
# tshark (with dumpcap), which runs the Wireshark dissector
# contrib/wireshark/ferry.lua over captures; and ss (iproute2), which the
# slow-receiver experiment samples sockets with; and for the packaging
# tests (docs/OPERATIONS.md): mandoc and man-db, which lint the manual
# pages; systemd (systemd-analyze), strace, logrotate, procps (pkill)
# and shellcheck, which check the unit, its system-call filter, the
# logrotate file and the maintainer scripts; adduser, which postinst
# runs when the .deb is installed into a scratch root. --fuzz adds clang,
# libFuzzer with the sanitizer runtimes (libclang-rt-dev, only a
# Recommends of clang) and llvm-symbolizer, for fuzz/run.sh.
set -e
pkgs="build-essential cmake pkg-config libuv1-dev libjansson-dev libcmocka-dev libsqlite3-dev libsodium-dev libinih-dev python3 util-linux curl libseccomp-dev scdoc"
[ "${1:-}" = "--test" ] && pkgs="$pkgs prometheus wget chromium fonts-liberation tshark iproute2"
[ "${1:-}" = "--test" ] && pkgs="$pkgs mandoc man-db systemd strace logrotate procps shellcheck adduser"
[ "${1:-}" = "--fuzz" ] && pkgs="$pkgs clang libclang-rt-dev llvm"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
# Packages must not start services here (prometheus would): deny starts
# while installing, unless the machine already has a policy.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d > /dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
fi
$sudo apt-get update -qq
# wireshark-common asks whether dumpcap should be setuid: answer no
# beforehand (the tests capture as root), so nothing waits for a reply.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing

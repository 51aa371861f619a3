#!/usr/bin/env bash
# Benchmark: --bwlimit holds the push at the rate asked for (issue 19:
# --bwlimit=2m within 10 % of 2 MiB/s over 20 s).
#
#   bench/bwlimit.sh [GSYNC_BINARY]
#
# Pushes one 40 MiB file of random data (20 s at 2 MiB/s) with
# gsync --once --bwlimit=2m to an rsync daemon on 127.0.0.1 and to a local
# directory, and with rsync -a --bwlimit=2m to the same daemon, and
# prints each rate (file bytes / wall time) and its ratio to 2 MiB/s.
# RATE and MIB override the limit and the size. Results go to stdout and
# bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
gsync=$(readlink -f "${1:-bin/gsync}")
rate=${RATE:-2m}
mib=${MIB:-40}
command -v rsync >/dev/null || { echo "rsync is not installed: apt-get install rsync" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gsync-bwlimit.XXXXXX")
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

while :; do
	port=$((20000 + RANDOM % 40000))
	(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || break
done
mkdir -p "$work/mod" "$work/src"
cat >"$work/rsyncd.conf" <<CONF
pid file = $work/rsyncd.pid
log file = $work/rsyncd.log
use chroot = no
[m]
path = $work/mod
read only = no
uid = $(id -u)
gid = $(id -g)
CONF
rsync --daemon --no-detach --config="$work/rsyncd.conf" --port="$port" --address=127.0.0.1 &
dpid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
url="rsync://127.0.0.1:$port/m/"
head -c $((mib << 20)) /dev/urandom >"$work/src/one.bin"
# The rate asked for, in bytes per second, as rsync rounds it (whole KiB).
want=$(awk -v r="$rate" 'BEGIN {
	n = r + 0; s = tolower(substr(r, length(r)))
	m = (s == "m") ? 1024 * 1024 : (s == "g") ? 1024 * 1024 * 1024 : 1024
	print int((n * m + 512) / 1024) * 1024
}')

# timed CMD...: the wall time of CMD in seconds.
timed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

results="bench/results/bwlimit-$(date -u +%Y-%m-%d).md"
{
	echo "# --bwlimit=$rate: the rate of one $mib MiB push"
	echo
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) cores, $(uname -sr); $(rsync --version | head -1); gsync $("$gsync" --version | cut -d' ' -f3-)"
	echo "rate = file bytes / wall time; asked: $want bytes/s"
	echo
	echo "| tool | target | wall s | rate MiB/s | rate / asked |"
	echo "|---|---|---|---|---|"
} | tee "$results"
row() { # tool target wall
	awk -v t="$1" -v g="$2" -v w="$3" -v b=$((mib << 20)) -v want="$want" 'BEGIN {
		printf "| %s | %s | %s | %.3f | %.3f |\n", t, g, w, b / w / 1048576, b / w / want
	}'
}
{
	rm -rf "$work/mod"/*
	row "rsync -a --bwlimit=$rate" daemon "$(timed rsync -a --bwlimit="$rate" "$work/src/" "$url")"
	rm -rf "$work/mod"/*
	row "gsync --once --bwlimit=$rate" daemon "$(timed "$gsync" --once --log-level warn --bwlimit="$rate" "$work/src" "$url")"
	row "gsync --once --bwlimit=$rate" local "$(timed "$gsync" --once --log-level warn --bwlimit="$rate" "$work/src" "$work/local")"
} | tee -a "$results"
echo
echo "written to $results"

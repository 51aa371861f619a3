#!/usr/bin/env bash
# Benchmark: gsync's native sender against C rsync, pushing to the same
# rsync daemon on 127.0.0.1 in the same run.
#
#   bench/daemon.sh [GSYNC_BINARY]
#
# Scenarios: initial sync of 20,000 small files, initial sync of five
# 50 MB files, initial sync of one 1 GiB file, a 1-byte change in that 1 GiB file (delta transfer), and a 100 MB
# compressible text tree pushed with -z --zc=zstd and --zc=zlib (wire bytes also as the
# daemon logs them, and the CPU ratio). For each
# tool: wall time, CPU (user+sys, from /usr/bin/time) and bytes on the wire
# (loopback interface counters, both directions, TCP/IP headers included,
# measured the same way for both tools). Each figure is the median of RUNS
# runs (default 3). Results go to stdout and bench/results/.
#
# ROWS=compress runs only the 100 MB text rows, for every codec (CODECS,
# default "zstd zlib lz4 zlibx"; RUNS default 9 then): the
# compressed pushes, each run of gsync right after one of rsync so that
# both meet the same load, the CPU ratio as the median of the per-run
# ratios, and the uncompressed push of the same tree by both tools (what
# the sender costs besides the codec). Its results go to
# bench/results/daemon-DATE-compress.md.
set -euo pipefail
cd "$(dirname "$0")/.."
gsync=$(readlink -f "${1:-bin/gsync}")
rows=${ROWS:-all}
case $rows in
all) runs=${RUNS:-3} ;;
compress) runs=${RUNS:-9} ;;
*) echo "ROWS=$rows: want all or compress" >&2; exit 1 ;;
esac
command -v rsync >/dev/null || { echo "rsync is not installed: apt-get install rsync" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing: apt-get install time" >&2; exit 1; }

# The trees and the module live on a tmpfs when one is there (/dev/shm with
# 4 GiB free): on a disk, writeback of the previous run makes wall times
# swing by 2-3x on a shared machine. TMPDIR overrides.
base=${TMPDIR:-}
if [ -z "$base" ]; then
	base=/tmp
	if [ -w /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2 {print $4}')" -ge $((4 << 20)) ]; then
		base=/dev/shm
	fi
fi
work=$(mktemp -d "$base/gsync-bench.XXXXXX")
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# A free port: a random one nothing answers on.
while :; do
	port=$((20000 + RANDOM % 40000))
	(exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || break
done
mkdir -p "$work/mod"
cat >"$work/rsyncd.conf" <<CONF
pid file = $work/rsyncd.pid
log file = $work/rsyncd.log
use chroot = no
munge symlinks = no
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

lo_bytes() { echo $(( $(cat /sys/class/net/lo/statistics/rx_bytes) )); }

# measure NAME SETUP CMD...: run SETUP then CMD $runs times; prints
# "median_wall median_cpu median_bytes".
measure() {
	local setup=$1; shift
	local walls=() cpus=() bytes=()
	for _ in $(seq "$runs"); do
		eval "$setup"
		sync
		local before after
		before=$(lo_bytes)
		/usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
		after=$(lo_bytes)
		read -r wall usr sys <"$work/time"
		walls+=("$wall")
		cpus+=("$(awk "BEGIN{print $usr + $sys}")")
		bytes+=("$((after - before))")
	done
	printf '%s %s %s\n' \
		"$(printf '%s\n' "${walls[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")" \
		"$(printf '%s\n' "${cpus[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")" \
		"$(printf '%s\n' "${bytes[@]}" | sort -g | sed -n "$(( (runs + 1) / 2 ))p")"
}

echo "preparing trees in $work"
attrs=0
if [ "$rows" = all ]; then
	mkdir -p "$work/small"
	for d in $(seq -w 0 199); do
		mkdir "$work/small/d$d"
		for f in $(seq -w 0 99); do printf 'file %s/%s\n%0200d\n' "$d" "$f" 0 >"$work/small/d$d/f$f"; done
	done
	# The same tree with an ACL and an xattr on every file and directory, for
	# the -A -X push (issue: attributes cost at most 1.2x gsync's own push).
	if command -v setfacl >/dev/null && command -v setfattr >/dev/null; then
		cp -a "$work/small" "$work/small-ax"
		setfacl -R -m u:nobody:r,g:nogroup:rw "$work/small-ax"
		find "$work/small-ax" -exec setfattr -n user.origin -v "bench tree, $(date -u +%F)" {} +
		attrs=1
	fi
	mkdir -p "$work/five"
	for i in 1 2 3 4 5; do head -c $((50 << 20)) /dev/urandom >"$work/five/f$i.bin"; done
	mkdir -p "$work/big"
	head -c $((1 << 30)) /dev/urandom >"$work/big/one.bin"
	cp -a "$work/big" "$work/big-changed"
	printf 'X' | dd of="$work/big-changed/one.bin" bs=1 seek=$((512 << 20)) conv=notrunc status=none
	# A later mtime, whole seconds later: with the same second rsync's quick
	# check (size + mtime) would skip the file and no delta would be measured.
	touch -d "@$(( $(stat -c %Y "$work/big/one.bin") + 10 ))" "$work/big-changed/one.bin"
fi

# 100 MB of text (200 files of 512 KiB, lines of words from a small
# vocabulary) for the compressed push.
mkdir -p "$work/text"
awk -v dir="$work/text" 'BEGIN {
	srand(42)
	n = split("the quick brown fox jumps over a lazy dog while rsync sends deltas of blocks to its receiver and gsync mirrors every change it sees", w, " ")
	for (f = 0; f < 200; f++) {
		file = sprintf("%s/t%03d.txt", dir, f)
		size = 0
		while (size < 524288) {
			line = sprintf("%06d", int(rand() * 1000000))
			for (i = 0; i < 12; i++) line = line " " w[int(rand() * n) + 1]
			print line > file
			size += length(line) + 1
		}
		close(file)
	}
}'

empty='rm -rf "$work/mod"/* "$work/mod"/.[!.]* 2>/dev/null || true'
stale='rm -rf "$work/mod"/*; cp -a "$work/big/one.bin" "$work/mod/one.bin"'

results="bench/results/daemon-$(date -u +%Y-%m-%d).md"
[ "$rows" = compress ] && results="bench/results/daemon-$(date -u +%Y-%m-%d)-compress.md"
{
	echo "# gsync vs C rsync, push to an rsync daemon on 127.0.0.1"
	echo
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ); machine: $(nproc) cores, $(uname -sr); $(rsync --version | head -1); gsync $("$gsync" --version | cut -d' ' -f3-)"
	echo "each figure: median of $runs runs; wire = loopback bytes, both directions; trees and module in $base"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| scenario | tool | wall s | cpu s | wire MB | time ratio | wire ratio |"
	echo "|---|---|---|---|---|---|---|"
} | tee "$results"

row() { # scenario setup src
	local name=$1 setup=$2 src=$3
	read -r rw rc rb <<<"$(measure "$setup" rsync -a "$src/" "$url")"
	read -r gw gc gb <<<"$(measure "$setup" "$gsync" --once --log-level warn "$src" "$url")"
	awk -v n="$name" -v rw="$rw" -v rc="$rc" -v rb="$rb" -v gw="$gw" -v gc="$gc" -v gb="$gb" 'BEGIN {
		printf "| %s | rsync -a | %s | %s | %.1f | 1.00 | 1.00 |\n", n, rw, rc, rb / 1e6
		printf "| %s | gsync --once | %s | %s | %.1f | %.2f | %.2f |\n", n, gw, gc, gb / 1e6, gw / rw, gb / rb
	}'
}
# row_ax: -A -X against rsync -aAX, and against gsync's own push of the
# same tree without them.
row_ax() { # scenario setup src
	local name=$1 setup=$2 src=$3
	read -r rw rc rb <<<"$(measure "$setup" rsync -aAX "$src/" "$url")"
	read -r gw gc gb <<<"$(measure "$setup" "$gsync" --once -A -X --log-level warn "$src" "$url")"
	read -r pw pc pb <<<"$(measure "$setup" "$gsync" --once --log-level warn "$src" "$url")"
	awk -v n="$name" -v rw="$rw" -v rc="$rc" -v rb="$rb" -v gw="$gw" -v gc="$gc" -v gb="$gb" -v pw="$pw" -v pc="$pc" -v pb="$pb" 'BEGIN {
		printf "| %s | rsync -aAX | %s | %s | %.1f | 1.00 | 1.00 |\n", n, rw, rc, rb / 1e6
		printf "| %s | gsync --once -A -X | %s | %s | %.1f | %.2f | %.2f |\n", n, gw, gc, gb / 1e6, gw / rw, gb / rb
		printf "| %s | gsync --once (no -A -X) | %s | %s | %.1f | %.2f | %.2f |\n", n, pw, pc, pb / 1e6, pw / rw, pb / rb
		printf "| %s | gsync -A -X / gsync plain | | | | %.2f | %.2f |\n", n, gw / pw, gb / pb
	}'
}
# daemon_received: the bytes the daemon logged as received in its last
# session ("sent N bytes  received M bytes  total size T").
daemon_received() {
	{ grep -o 'received [0-9,.]* bytes' "$work/rsyncd.log" || true; } | tail -1 | tr -dc '0-9'
}
# daemon_sessions: how many sessions the daemon has logged so far.
daemon_sessions() {
	{ grep -c 'received [0-9,.]* bytes' "$work/rsyncd.log" || true; } | tail -1
}
# wait_logged N: wait (at most 5 s) until the daemon logged N sessions:
# it writes the line when its side ends, which can be after the client.
wait_logged() {
	for _ in $(seq 50); do
		[ "$(daemon_sessions)" -ge "$1" ] && return 0
		sleep 0.1
	done
	echo "the daemon did not log session $1" >&2
	exit 1
}
# once SETUP CMD...: one timed run; prints "wall cpu bytes logged" (the
# loopback bytes and the bytes the daemon logged as received).
once() {
	local setup=$1; shift
	eval "$setup"
	sync
	local before after n
	n=$(daemon_sessions)
	before=$(lo_bytes)
	/usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
	after=$(lo_bytes)
	wait_logged $((n + 1))
	read -r wall usr sys <"$work/time"
	printf '%s %s %s %s\n' "$wall" "$(awk "BEGIN{print $usr + $sys}")" "$((after - before))" "$(daemon_received)"
}
median() { sort -g | sed -n "$(( (runs + 1) / 2 ))p"; }
# row_z: gsync -z --zc=CODEC against rsync -az --zc=CODEC (same codec, the
# default level of each), each gsync run right after an rsync run; the
# last line has the median of the per-run CPU ratios (the issue's bound:
# 1.3) and the median bytes the daemon logged as received (bound: 1.05).
# With a fourth argument, the same tree pushed uncompressed by both tools
# too: the sender's cost besides the codec.
row_z() { # scenario setup src codec [plain]
	local name=$1 setup=$2 src=$3 codec=$4 plain=${5:-}
	local f="$work/pairs"
	: >"$f.r"
	: >"$f.g"
	for _ in $(seq "$runs"); do
		once "$setup" rsync -az --zc="$codec" "$src/" "$url" >>"$f.r"
		once "$setup" "$gsync" --once -z --zc="$codec" --log-level warn "$src" "$url" >>"$f.g"
	done
	paste -d' ' "$f.r" "$f.g" >"$f"
	local rw rc rb rl gw gc gb gl ratio
	rw=$(awk '{print $1}' "$f" | median); rc=$(awk '{print $2}' "$f" | median)
	rb=$(awk '{print $3}' "$f" | median); rl=$(awk '{print $4}' "$f" | median)
	gw=$(awk '{print $5}' "$f" | median); gc=$(awk '{print $6}' "$f" | median)
	gb=$(awk '{print $7}' "$f" | median); gl=$(awk '{print $8}' "$f" | median)
	ratio=$(awk '$2 > 0 {print $6 / $2}' "$f" | median)
	awk -v n="$name" -v z="$codec" -v rw="$rw" -v rc="$rc" -v rb="$rb" -v gw="$gw" -v gc="$gc" -v gb="$gb" -v rl="$rl" -v gl="$gl" -v q="$ratio" 'BEGIN {
		printf "| %s | rsync -az --zc=%s | %s | %s | %.1f | 1.00 | 1.00 |\n", n, z, rw, rc, rb / 1e6
		printf "| %s | gsync --once -z --zc=%s | %s | %s | %.1f | %.2f | %.2f |\n", n, z, gw, gc, gb / 1e6, gw / rw, gb / rb
		printf "| %s | gsync / rsync: cpu %.2f (median of the per-run ratios); daemon-logged bytes received %d / %d = %.3f | | | | | |\n", n, q, gl, rl, (rl > 0 ? gl / rl : 0)
	}'
	[ -n "$plain" ] || return 0
	: >"$f.r"
	: >"$f.g"
	for _ in $(seq "$runs"); do
		once "$setup" rsync -a "$src/" "$url" >>"$f.r"
		once "$setup" "$gsync" --once --log-level warn "$src" "$url" >>"$f.g"
	done
	paste -d' ' "$f.r" "$f.g" >"$f"
	rw=$(awk '{print $1}' "$f" | median); rc=$(awk '{print $2}' "$f" | median); rb=$(awk '{print $3}' "$f" | median)
	gw=$(awk '{print $5}' "$f" | median); gc=$(awk '{print $6}' "$f" | median); gb=$(awk '{print $7}' "$f" | median)
	awk -v n="${name%, compressed}, uncompressed" -v rw="$rw" -v rc="$rc" -v rb="$rb" -v gw="$gw" -v gc="$gc" -v gb="$gb" 'BEGIN {
		printf "| %s | rsync -a | %s | %s | %.1f | 1.00 | 1.00 |\n", n, rw, rc, rb / 1e6
		printf "| %s | gsync --once | %s | %s | %.1f | %.2f | %.2f |\n", n, gw, gc, gb / 1e6, gw / rw, gb / rb
	}'
}
{
	if [ "$rows" = all ]; then
		row "20,000 small files, initial" "$empty" "$work/small"
		if [ "$attrs" = 1 ]; then
			row_ax "20,000 small files with ACLs and xattrs, initial" "$empty" "$work/small-ax"
		fi
		row "5 x 50 MB files, initial" "$empty" "$work/five"
		row "1 GiB file, initial" "$empty" "$work/big"
		row "1 GiB file, 1-byte change" "$stale" "$work/big-changed"
		row_z "100 MB text, initial, compressed" "$empty" "$work/text" zstd
		row_z "100 MB text, initial, compressed" "$empty" "$work/text" zlib
	else
		plain=plain
		for codec in ${CODECS:-zstd zlib lz4 zlibx}; do
			row_z "100 MB text, initial, compressed" "$empty" "$work/text" "$codec" $plain
			plain=
		done
	fi
	echo
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$results"
echo
echo "written to $results"

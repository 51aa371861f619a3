#!/usr/bin/env bash
# make demo: live-mirror a sample tree into the pure-Go rsync daemon
# (gokrazy/rsync, started here on 127.0.0.1), make a few changes and show that
# each one arrives. Needs only Go: no rsync, no ssh.
set -euo pipefail
bin=$(readlink -f "${1:-bin/gsync}")
work=$(mktemp -d "${TMPDIR:-/tmp}/gsync-demo.XXXXXX")
src="$work/src" dst="$work/mirror"
pid= dpid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then kill "$dpid"; wait "$dpid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# wait_for DESCRIPTION COMMAND...: poll until COMMAND succeeds (at most 10 s).
wait_for() {
	local what=$1; shift
	for _ in $(seq 100); do
		if "$@" 2>/dev/null; then echo "   ok: $what"; return 0; fi
		sleep 0.1
	done
	echo "   FAILED: $what did not arrive in 10 s" >&2
	exit 1
}

say "sample tree in $src"
mkdir -p "$src/docs" "$src/src/pkg"
echo "hello" >"$src/README"
echo "package pkg" >"$src/src/pkg/pkg.go"
printf 'line %s\n' $(seq 1 1000) >"$src/docs/manual.txt"
ln -s docs/manual.txt "$src/manual"

say "pure-Go rsync daemon serving $dst"
go build -o "$work/demod" ./internal/demod
"$work/demod" "$dst" >"$work/url" 2>"$work/demod.log" &
dpid=$!
for _ in $(seq 100); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(cat "$work/url")
echo "   listening: $url"

say "gsync --delay 0 $src $url"
"$bin" --delay 0 --log-level info "$src" "$url" &
pid=$!
wait_for "startup full sync" cmp -s "$src/docs/manual.txt" "$dst/docs/manual.txt"
wait_for "symlink" test "$(readlink "$dst/manual")" = docs/manual.txt

say "create a file"
echo "new file" >"$src/notes.txt"
wait_for "notes.txt" cmp -s "$src/notes.txt" "$dst/notes.txt"

say "modify a file"
echo "more" >>"$src/README"
wait_for "README change" cmp -s "$src/README" "$dst/README"

say "rename a directory"
mv "$src/src" "$src/source"
wait_for "rename src -> source" test -f "$dst/source/pkg/pkg.go" -a ! -e "$dst/src"

say "delete a file"
rm "$src/notes.txt"
wait_for "notes.txt deleted" test ! -e "$dst/notes.txt"

say "mkdir -p and write at once"
mkdir -p "$src/a/b/c" && echo deep >"$src/a/b/c/file"
wait_for "a/b/c/file" cmp -s "$src/a/b/c/file" "$dst/a/b/c/file"

say "stop gsync (SIGTERM)"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
echo "   gsync exited with $rc (128+SIGTERM = 143 expected)"
[ "$rc" -eq 143 ]
diff -r "$src" "$dst" >/dev/null && echo "   mirror equals source"
say "demo passed"

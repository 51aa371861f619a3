# hook.sh OUT [GATE]: appends "KIND FILES" and its stdin to OUT; with GATE,
# then waits (at most 20 s) until the file GATE exists.
{ echo "$GSYNC_KIND $GSYNC_FILES $GSYNC_TARGET"; cat; } >>"$1"
[ -z "$2" ] && exit 0
i=0
while [ ! -e "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done

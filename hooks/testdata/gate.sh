# gate.sh OUT GATE: appends its GSYNC_MERGED and stdin to OUT, then waits
# (at most 20 s) until the file GATE exists.
{ echo "merged=$GSYNC_MERGED files=$GSYNC_FILES"; cat; } >>"$1"
i=0
while [ ! -e "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done

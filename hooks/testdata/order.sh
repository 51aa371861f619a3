# order.sh OUT NAME: appends "start NAME", waits a little, appends
# "end NAME": interleaved lines would show two runs at once.
echo "start $2 $GSYNC_FILES" >>"$1"
sleep 0.05
echo "end $2" >>"$1"

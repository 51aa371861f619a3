# hang.sh PIDFILE: starts a child that would run for a minute, writes its
# pid to PIDFILE, prints a line and waits: only a kill of the whole process
# group ends both in time.
sleep 60 &
echo $! >"$1.tmp" && mv "$1.tmp" "$1"
echo "hanging"
wait

# fail.sh CODE: prints to stdout and stderr, then exits CODE.
echo "to stdout"
echo "to stderr" >&2
exit "$1"

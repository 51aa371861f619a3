# record.sh OUT [ARG...]: appends one record of this hook run to OUT: its
# arguments, its GSYNC_ environment, its working directory and its stdin.
out=$1
shift
{
	echo "=== run"
	for a in "$@"; do printf 'arg=%s\n' "$a"; done
	env | grep '^GSYNC_' | sort
	printf 'pwd=%s\n' "$(pwd -P)"
	echo "--- stdin"
	cat
} >>"$out"

// Package bench holds gsync's side-by-side benchmarks against lsyncd +
// rsync (BenchmarkCompare, run by `make bench`) and bench/daemon.sh. It has
// no code of its own outside its tests.
package bench

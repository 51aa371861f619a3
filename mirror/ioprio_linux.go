package mirror

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// lowIOPriority puts the calling goroutine on a thread of its own in
// the idle I/O scheduling class (ioprio_set(2), IOPRIO_CLASS_IDLE): the
// walk and reads of a periodic verify yield to every other I/O of the
// machine. The thread is not unlocked: it ends with the goroutine, so
// no other goroutine inherits the priority. Goroutines the compare
// starts itself run at the normal priority.
func lowIOPriority() (restore func()) {
	runtime.LockOSThread()
	const (
		whoProcess = 1 // IOPRIO_WHO_PROCESS: 0 is the calling thread
		classIdle  = 3 // IOPRIO_CLASS_IDLE
		classShift = 13
	)
	unix.Syscall(unix.SYS_IOPRIO_SET, whoProcess, 0, classIdle<<classShift) // best effort
	return func() {}
}

package mirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/gsync/gsync/transport"
)

// ConfigError marks an error in the configuration of a mirror (a bad
// option, a source or target that cannot be used): the caller's exit
// code for a usage error.
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, a ...any) error { return ConfigError{fmt.Errorf(format, a...)} }

// StartupError is a startup full sync that failed without Insist: it
// ends the mirror, and like lsyncd the caller ends every other one.
type StartupError struct{ Err error }

func (e StartupError) Error() string { return e.Err.Error() }
func (e StartupError) Unwrap() error { return e.Err }

// refusal is a sync, or the deletions of a sync, that a safety guard held
// back. It is not retried: the reason must be fixed (or the guard
// lifted) first. With Once it makes the run fail.
type refusal struct {
	reason string
	err    error // what kind of refusal (ErrMaxDelete), or nil
}

func (r *refusal) Error() string { return r.reason }
func (r *refusal) Unwrap() error { return r.err }

// ErrMaxDelete marks a sync whose deletions --max-delete held back.
var ErrMaxDelete = errors.New("deletions held back at --max-delete")

// IsDeleteLimit reports whether err is a sync whose deletions a
// --max-delete limit stopped: gsync's own guard, or a receiver at
// rsync's.
func IsDeleteLimit(err error) bool {
	return errors.Is(err, ErrMaxDelete) || errors.Is(err, transport.ErrDeleteLimit)
}

// IsRefusal reports whether err is a guard's refusal, or a receiver
// that stopped deleting at rsync's own --max-delete.
func IsRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r) || errors.Is(err, transport.ErrDeleteLimit)
}

// ErrorClass names the kind of a push error for metrics: "refused",
// "canceled", "transient" or "fatal" ("" for nil).
func ErrorClass(err error) string {
	switch {
	case err == nil:
		return ""
	case IsRefusal(err):
		return "refused"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case transport.IsTransient(err):
		return "transient"
	}
	return "fatal"
}

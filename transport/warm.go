package transport

import "context"

// Warmer is a Target that connects ahead of its first push when asked
// (a target that connects in its constructor needs no Warm). The engine
// warms the extra instances of a target that runs several pushes at
// once (mirror.Target.MaxProcesses) while its startup sync runs, so that
// the first batch split across them does not wait for their handshakes.
type Warmer interface {
	Warm(ctx context.Context) error
}

var _ Warmer = (*SSH)(nil)

// Warm connects, resolves and creates the remote directory and starts
// the standby sessions, as the first push would.
func (t *SSH) Warm(ctx context.Context) error {
	if err := t.ensure(ctx); err != nil {
		return t.classify("connect to", err)
	}
	return nil
}

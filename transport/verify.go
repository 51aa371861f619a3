package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gsync/gsync/rsyncproto"
)

// VerifyOptions ask a target for a compare with its source.
type VerifyOptions struct {
	// Checksum compares the content of regular files (rsync -c), not
	// their size and mtime.
	Checksum bool
}

// VerifyResult is what a compare of a target with its source found.
type VerifyResult struct {
	// Items are the entries a full sync would change, and the ones it
	// would delete (only when the delete mode deletes in full syncs), as
	// rsync -i itemizes them; excluded entries are never among them.
	Items []rsyncproto.Item
	// Sending: the items are a sender's ('<' for a transfer, a remote
	// target), else a local copy's ('>').
	Sending bool
	// Unchecked names attributes the target keeps that this compare
	// did not look at.
	Unchecked []string
}

// Verifier is a target that can compare itself with the source without
// changing anything (gsync verify, --verify-every).
type Verifier interface {
	Verify(ctx context.Context, o VerifyOptions) (VerifyResult, error)
}

var (
	_ Verifier = (*Local)(nil)
	_ Verifier = (*Daemon)(nil)
	_ Verifier = (*SSH)(nil)
)

// errVerifyProtocol refuses a compare with a receiver that cannot
// itemize (generator.c:itemize reports to the sender from protocol 29).
var errVerifyProtocol = errors.New("verify needs a receiver speaking rsync protocol 29 or newer (rsync >= 2.6.4; not gokrazy/rsync)")

// itemCollector gathers the items of one dry run (Itemize is called from
// two goroutines).
type itemCollector struct {
	mu    sync.Mutex
	items []rsyncproto.Item
}

func (c *itemCollector) add(it rsyncproto.Item) {
	c.mu.Lock()
	c.items = append(c.items, it)
	c.mu.Unlock()
}

func (c *itemCollector) result() VerifyResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return VerifyResult{Items: append([]rsyncproto.Item(nil), c.items...), Sending: true}
}

// verifyOptions turns the options of a full sync into those of its dry
// run, itemized into c.
func verifyOptions(o *rsyncproto.Options, vo VerifyOptions, c *itemCollector) {
	o.DryRun, o.Checksum, o.Progress = true, vo.Checksum, nil
	o.Itemize = c.add
}

// Verify compares the daemon module with the source: a dry run of a full
// sync whose receiver itemizes what it would change and delete (rsync
// -ani).
func (d *Daemon) Verify(ctx context.Context, vo VerifyOptions) (VerifyResult, error) {
	if d.opts.Attrs.HardLinks {
		d.links.reset()
		d.links.scan(d.opts.Source, ".", d.opts.Exclude)
	}
	req := d.request(".", []rsyncproto.Path{{Name: ".", Recursive: true}}, d.opts.Delete.Full(), false)
	var c itemCollector
	verifyOptions(&req.Options, vo, &c)
	st, err := d.run(ctx, req, "")
	if err != nil {
		return VerifyResult{}, d.classify("verify", err)
	}
	if d.peerProto < 29 {
		return VerifyResult{}, Fatal(fmt.Errorf("verify %s: %w", d.url, errVerifyProtocol))
	}
	if len(st.Failed) > 0 {
		return c.result(), fmt.Errorf("verify %s: %d path(s) could not be compared, first: %v", d.url, len(st.Failed), st.Failed[0])
	}
	return c.result(), nil
}

// Verify compares the remote directory with the source: a dry run of a
// full sync whose receiver (rsync --server) itemizes what it would
// change and delete (rsync -ani).
func (t *SSH) Verify(ctx context.Context, vo VerifyOptions) (VerifyResult, error) {
	if t.deleteVia() != deletesByRsync {
		return VerifyResult{}, Fatal(fmt.Errorf("verify %s: %w", t.name, errVerifyProtocol))
	}
	if err := t.ensure(ctx); err != nil {
		return VerifyResult{}, t.classify("verify", err)
	}
	if t.opts.Attrs.HardLinks {
		t.links.reset()
		t.links.scan(t.opts.Source, ".", t.opts.Exclude)
	}
	o := t.rsyncOptions(false, t.opts.Delete.Full())
	var c itemCollector
	verifyOptions(&o, vo, &c)
	sess, err := t.client.ExecCommand(ctx, t.command(o))
	if err != nil {
		return VerifyResult{}, t.classify("verify", err)
	}
	st, err := t.runRsync(ctx, sess, rsyncproto.Request{Root: t.opts.Source, Dest: t.dir,
		Paths: []rsyncproto.Path{{Name: ".", Recursive: true}}, Options: o})
	if err != nil {
		return VerifyResult{}, t.classify("verify", err)
	}
	if len(st.Failed) > 0 {
		return c.result(), fmt.Errorf("verify %s: %d path(s) could not be compared, first: %v", t.name, len(st.Failed), st.Failed[0])
	}
	return c.result(), nil
}

package lsyncdconf

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gsync/gsync/rsyncopts"
)

// receiverKeys are lsyncd's rsync keys for receiver-side options, in
// the order lsyncd writes them (default-rsync.lua: rsync._computed puts
// the short flags first, then the long ones, then the valued ones), each
// with its rsync option.
var receiverKeys = []struct{ key, opt string }{
	{"backup", "backup"}, {"keep_dirlinks", "keep-dirlinks"}, {"omit_dir_times", "omit-dir-times"}, {"omit_link_times", "omit-link-times"},
	{"prune_empty_dirs", "prune-empty-dirs"}, {"update", "update"},
	{"append", "append"}, {"append_verify", "append-verify"}, {"existing", "existing"}, {"inplace", "inplace"},
	{"backup_dir", "backup-dir"}, {"suffix", "suffix"}, {"temp_dir", "temp-dir"},
}

// IsReceiverKey reports whether k is one of the rsync keys Receiver
// honours.
func IsReceiverKey(k string) bool {
	return slices.ContainsFunc(receiverKeys, func(e struct{ key, opt string }) bool { return e.key == k })
}

// Receiver turns the receiver-side keys of a sync's rsync = {...} table
// (backup, backup_dir, suffix, temp_dir, update, inplace, append,
// append_verify, existing, keep_dirlinks, omit_dir_times,
// omit_link_times, prune_empty_dirs) into rsync's options, through the one parser
// (rsyncopts.Parse and Receiver.Set). _extra's receiver options are the
// caller's: Attrs returns them with the other settings, to be applied
// after these, as rsync reads _extra after lsyncd's own words.
func (r RsyncOpts) Receiver() (rsyncopts.Receiver, error) {
	var words []string
	for _, e := range receiverKeys {
		if v, ok := r.Str[e.key]; ok {
			words = append(words, "--"+e.opt+"="+v)
		} else if r.On(e.key) {
			words = append(words, "--"+e.opt)
		}
	}
	var rv rsyncopts.Receiver
	opts, err := rsyncopts.Parse(words)
	if err != nil {
		return rv, fmt.Errorf("rsync: %w", err)
	}
	for _, o := range opts {
		if err := rv.Set(o); err != nil {
			return rv, fmt.Errorf("rsync.%s: %w", strings.ReplaceAll(o.Name, "-", "_"), err)
		}
	}
	return rv, nil
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/mirror"
	"github.com/gsync/gsync/transport"
)

// openTarget parses the TARGET argument and opens the matching
// transport. localDir is the absolute directory of a local target ("" for
// remote ones).
func openTarget(cfg *config, spec string, rules *filter.Set, opts transport.Options) (t transport.Target, localDir string, err error) {
	opts.Attrs = cfg.attrs
	opts.Compress = cfg.compress
	opts.Receiver = cfg.receiver
	opts.Sender = cfg.sender
	dc, isDaemon, err := transport.ParseDaemonTarget(spec)
	if err != nil {
		return nil, "", usageError{Err: err}
	}
	if isDaemon {
		t, err := openDaemon(cfg, spec, dc, rules, opts)
		return t, "", err
	}
	if i := strings.IndexByte(spec, ':'); cfg.ssh.force || (i > 0 && !strings.ContainsRune(spec[:i], '/')) {
		t, err := openSSHTarget(cfg, spec, rules, opts) // a local path containing ':' is written ./a:b
		return t, "", err
	}
	abs, err := filepath.Abs(spec)
	if err != nil {
		return nil, "", usagef("target %q: %v", spec, err)
	}
	if err := mirror.CheckTargetApart(opts.Source, abs); err != nil {
		return nil, "", err
	}
	if t, err = transport.NewLocal(abs, opts); err != nil {
		return nil, "", usageError{Err: fmt.Errorf("open target %s: %w", spec, err)}
	}
	return t, abs, nil
}

// openDaemon completes a parsed daemon target from the flags and opens it.
func openDaemon(cfg *config, spec string, dc transport.DaemonConfig, rules *filter.Set, opts transport.Options) (transport.Target, error) {
	if cfg.port != 0 {
		dc.Port = cfg.port // validated by targetOptions.validate
	}
	dc.Protocol = cfg.protocol
	dc.Timeout = cfg.timeout
	pw, err := daemonPassword(cfg.passwordFile)
	if err != nil {
		return nil, usageError{Err: err}
	}
	dc.Password = pw
	dc.ExcludeRules = rules.RsyncRules()
	if rules.Empty() {
		// No patterns: opts.Exclude excludes nothing, and the daemon
		// target may delete freely.
		opts.Exclude = nil
	}
	if daemonOverSSH(cfg) {
		sc, err := sshClientConfig(cfg, dc.Host, dc.User, true, opts)
		if err != nil {
			return nil, err
		}
		t, err := transport.NewDaemonOverSSH(dc, sc, cfg.ssh.rsyncPath, opts)
		if err != nil {
			return nil, usageError{Err: fmt.Errorf("open target %s: %w", spec, err)}
		}
		return t, nil
	}
	t, err := transport.NewDaemon(dc, opts)
	if err != nil {
		return nil, usageError{Err: fmt.Errorf("open target %s: %w", spec, err)}
	}
	return t, nil
}

// daemonPassword is the rsync daemon password: the first line of the
// password file, else $RSYNC_PASSWORD.
func daemonPassword(file string) (string, error) {
	if file == "" {
		return os.Getenv("RSYNC_PASSWORD"), nil
	}
	return transport.ReadPasswordFile(file)
}

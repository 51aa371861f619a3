package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"github.com/gsync/gsync/filter"
	"github.com/gsync/gsync/sshx"
	"github.com/gsync/gsync/transport"
)

// sshOptions are the flags of ssh targets.
type sshOptions struct {
	force        bool     // --ssh: TARGET is [user@]host:dir
	rsh          string   // -e/--rsh "ssh -p 2222 -i key -o K=V -l user"
	rshArgs      []string // more ssh arguments after rsh's, as words (lsyncd's ssh={...})
	configFile   string   // --ssh-config
	knownHosts   []string // --known-hosts
	hostKeyCheck string   // --host-key-check
	rsyncPath    string   // --rsync-path
	passwordFile string   // --ssh-password-file
}

// registerSSHFlags adds the ssh target flags to f.
func registerSSHFlags(f *pflag.FlagSet, o *sshOptions) {
	f.BoolVar(&o.force, "ssh", false, "TARGET is [user@]host:dir on an ssh server (implied by host:dir)")
	f.StringVarP(&o.rsh, "rsh", "e", "", "ssh options as an rsync-style `COMMAND`, e.g. \"ssh -p 2222 -i key -l user -o Key=Value\" (parsed, never run)")
	f.StringVar(&o.configFile, "ssh-config", "", "read ssh settings from `FILE` (default ~/.ssh/config; \"none\" for none)")
	f.StringArrayVar(&o.knownHosts, "known-hosts", nil, "check host keys against `FILE` too, and add accepted keys to it (repeatable)")
	f.StringVar(&o.hostKeyCheck, "host-key-check", "", "unknown host keys: strict (refuse; the default), accept-new (add to known_hosts) or off; changed keys are always refused")
	f.StringVar(&o.rsyncPath, "rsync-path", "", "remote rsync `COMMAND` (default rsync)")
	f.StringVar(&o.passwordFile, "ssh-password-file", "", "log in over ssh with the password on the first line of `FILE` (mode 0600; else $SSHPASS), after the keys")
}

// sshPassword is the password for ssh logins: --ssh-password-file, else
// an sshpass in --rsh (-p, -f FILE, -e), else $SSHPASS.
func sshPassword(flagFile string, rsh sshx.Rsh) (sshx.Secret, error) {
	switch {
	case flagFile != "":
		return sshx.ReadPasswordFile(flagFile)
	case !rsh.Password.IsZero():
		return rsh.Password, nil
	case rsh.PasswordFile != "":
		return sshx.ReadPasswordFile(rsh.PasswordFile)
	}
	pw := sshx.NewSecret(os.Getenv("SSHPASS"))
	if pw.IsZero() && rsh.PasswordEnv {
		return pw, errors.New("--rsh uses sshpass -e but $SSHPASS is not set")
	}
	return pw, nil
}

// openSSHTarget opens a [user@]host:dir target.
func openSSHTarget(cfg *config, spec string, rules *filter.Set, opts transport.Options) (transport.Target, error) {
	user, host, dir, ok := transport.ParseSSHTarget(spec)
	if !ok {
		return nil, usagef("target %s: want [user@]host:dir for an ssh target", spec)
	}
	// user@host wins over -l for an ssh target.
	sc, err := sshClientConfig(cfg, host, user, false, opts)
	if err != nil {
		return nil, err
	}
	if rules.Empty() {
		// Nothing is excluded: the remote rsync may do the deletes.
		opts.Exclude = nil
	}
	t, err := transport.NewSSH(transport.SSHConfig{
		SSH:       sc,
		Dir:       dir,
		RsyncPath: cfg.ssh.rsyncPath,
		Timeout:   cfg.timeout,
		Protocol:  cfg.protocol,
		// The remote rsync scopes deletes and protects excluded paths.
		ExcludeRules: rules.RsyncRules(),
	}, opts)
	if err != nil {
		return nil, usageError{Err: fmt.Errorf("open target %s: %w", spec, err)}
	}
	return t, nil
}

// daemonOverSSH reports whether a daemon target is reached through ssh:
// an -e/--rsh or lsyncd's ssh = {...} was given (rsync then runs a
// single-use daemon over the remote shell instead of connecting to port
// 873).
func daemonOverSSH(cfg *config) bool { return cfg.ssh.rsh != "" || len(cfg.ssh.rshArgs) > 0 }

// sshClientConfig builds the ssh settings for host from the ssh flags.
// user is the user of the target argument; with rshFirst an -l in --rsh
// wins over it (rsync's daemon over ssh, where user@ is the module's
// user), else it wins over -l.
func sshClientConfig(cfg *config, host, user string, rshFirst bool, opts transport.Options) (sshx.Config, error) {
	o := cfg.ssh
	rsh, err := sshx.ParseRsh(o.rsh, o.rshArgs...)
	if err != nil {
		return sshx.Config{}, usageError{Err: err}
	}
	if len(rsh.Ignored) > 0 && opts.Logger != nil {
		opts.Logger.Debug("ssh options without effect", slog.Any("ignored", rsh.Ignored))
	}
	if opts.Logger != nil {
		for _, k := range sshx.UnusedOptions(rsh.Options) {
			opts.Logger.Warn("ssh -o option not supported by gsync; it has no effect", "option", k)
		}
	}
	check, err := sshx.ParseHostKeyCheck(o.hostKeyCheck)
	if err != nil {
		return sshx.Config{}, usagef("invalid --host-key-check: %v", err)
	}
	if user == "" || rshFirst && rsh.User != "" {
		user = rsh.User
	}
	pw, err := sshPassword(o.passwordFile, rsh)
	if err != nil {
		return sshx.Config{}, usageError{Err: err}
	}
	sc := sshx.Config{
		Host:            host,
		Port:            rsh.Port,
		User:            user,
		IdentityFiles:   rsh.IdentityFiles,
		Options:         rsh.Options,
		ConfigFile:      rsh.ConfigFile,
		KnownHostsFiles: o.knownHosts,
		HostKeyCheck:    check,
		Password:        pw,
		Logger:          opts.Logger,
	}
	if o.configFile != "" {
		sc.ConfigFile = o.configFile
	}
	return sc, nil
}

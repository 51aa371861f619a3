package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/gsync/gsync/integration"
)

// peers are the receivers the tools push to, shared by both tools.
type peers struct {
	work   string
	daemon *integration.RsyncDaemon
	sshd   *integration.SSHD // nil when sshd cannot run here
	// sshOwner is the ssh account when it is not the current user.
	sshOwner *owner
}

// target is where one run pushes to: a daemon module or a directory over
// ssh; dir is where the pushed files land on this machine.
type target struct {
	ssh    bool
	module string
	dir    string
}

// tool starts one mirror tool with --delay 0 (lsyncd: delay = 0).
type tool struct {
	name string
	// watched and synced are substrings of the lines the tool prints
	// when its watches are set up and when its startup sync is done.
	watched, synced string
	command         func(pe *peers, src string, tg target) (*exec.Cmd, error)
}

// verifyTool names gsync run with --verify-every in the results.
const verifyTool = "gsync-verify"

func gsyncTool(name, bin string) tool {
	return tool{
		name:    name,
		watched: `"msg":"watching"`,
		synced:  `"msg":"full sync done"`,
		command: func(pe *peers, src string, tg target) (*exec.Cmd, error) {
			args := []string{"--delay", "0", "--log-format", "json", "--log-level", "info"}
			if tg.ssh {
				args = append(args, "--ssh-config", "none", "--known-hosts", pe.sshd.KnownHostsFile,
					"-e", fmt.Sprintf("ssh -p %d -i %s -l %s", pe.sshd.Port, pe.sshd.UserKeyPath, pe.sshd.User),
					src, "127.0.0.1:"+tg.dir)
			} else {
				args = append(args, src, pe.daemon.URL(tg.module))
			}
			return exec.Command(bin, args...), nil
		},
	}
}

func lsyncdTool(bin string) tool {
	return tool{
		name:    "lsyncd",
		watched: "recursive startup rsync",
		synced:  "Startup of",
		command: func(pe *peers, src string, tg target) (*exec.Cmd, error) {
			var sync string
			if tg.ssh {
				sync = fmt.Sprintf(`sync { default.rsyncssh, source = %s, host = %s, targetdir = %s, delay = 0,
	ssh = { port = %d, identityFile = %s,
		options = { UserKnownHostsFile = %s, StrictHostKeyChecking = "yes", User = %s } } }`,
					lua(src), lua("127.0.0.1"), lua(tg.dir), pe.sshd.Port, lua(pe.sshd.UserKeyPath),
					lua(pe.sshd.KnownHostsFile), lua(pe.sshd.User))
			} else {
				sync = fmt.Sprintf(`sync { default.rsync, source = %s, target = %s, delay = 0 }`,
					lua(src), lua(pe.daemon.URL(tg.module)))
			}
			conf := filepath.Join(pe.work, fmt.Sprintf("lsyncd-%s-%t.lua", tg.module, tg.ssh))
			text := "settings { nodaemon = true }\n" + sync + "\n"
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				return nil, fmt.Errorf("write lsyncd config: %w", err)
			}
			return exec.Command(bin, conf), nil
		},
	}
}

// lua quotes s as a Lua string literal.
func lua(s string) string { return strconv.Quote(s) }

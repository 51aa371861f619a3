-- kinds: ssh
-- default.rsyncssh with rsync.binary naming a wrapper: the wrapper gets
-- lsyncd's --rsh=ssh -i KEY -o ... -p PORT built from ssh = {...}.
local _ = {{exe "rsync-then-mark" "#!/bin/sh\nrsync \"$@\"\nrc=$?\ntouch \"$(dirname \"$0\")/post-ran\"\nexit $rc\n"}}
local here = debug.getinfo(1).source:match("^@(.*/)")
sync {
	default.rsyncssh,
	source    = {{src "c"}},
	host      = {{host}},
	targetdir = {{targetdir "c"}},
	rsync     = { binary = here .. "rsync-then-mark", archive = true },
	ssh       = {
		port         = {{sshPort}},
		identityFile = {{sshKey}},
		options      = { UserKnownHostsFile = {{knownHosts}}, StrictHostKeyChecking = "yes", BatchMode = "yes" },
	},
}

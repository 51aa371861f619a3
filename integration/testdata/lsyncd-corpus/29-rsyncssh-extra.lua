-- kinds: ssh
-- default.rsyncssh with ssh._extra and an exclude list, delay 5.
sync {
	default.rsyncssh,
	source    = {{src "b"}},
	host      = {{host}},
	targetdir = {{targetdir "b"}},
	delay     = 5,
	exclude   = { "*.o", "/cache/" },
	ssh       = {
		port         = {{sshPort}},
		identityFile = {{sshKey}},
		options      = { UserKnownHostsFile = {{knownHosts}} },
		_extra       = { "-o", "ConnectTimeout=10" },
	},
}

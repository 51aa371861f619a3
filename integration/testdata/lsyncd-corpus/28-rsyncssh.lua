-- kinds: ssh
-- default.rsyncssh with ssh = { port, identityFile, options } (the manual's example).
sync {
	default.rsyncssh,
	source    = {{src "a"}},
	host      = {{host}},
	targetdir = {{targetdir "a"}},
	rsync     = { archive = true, compress = true },
	ssh       = {
		port         = {{sshPort}},
		identityFile = {{sshKey}},
		options      = { UserKnownHostsFile = {{knownHosts}}, StrictHostKeyChecking = "yes", BatchMode = "yes" },
	},
}

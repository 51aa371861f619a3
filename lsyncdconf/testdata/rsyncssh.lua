-- default.rsyncssh with ssh options, an exclude file and runtime-only deletes.
settings {
	logfile    = "/var/log/lsyncd.log",
	statusFile = "/var/run/lsyncd.status",
}

sync {
	default.rsyncssh,
	source      = "/var/www",
	host        = "deploy@web1.example.com",
	targetdir   = "/var/www",
	excludeFrom = "/etc/lsyncd/exclude.list",
	delete      = 'running',
	delay       = 2,
	rsync = {
		archive  = true,
		compress = false,
		binary   = "/usr/local/bin/rsync",
	},
	ssh = {
		port         = 2222,
		identityFile = "/etc/lsyncd/id_ed25519",
		options      = {
			UserKnownHostsFile    = "/etc/lsyncd/known_hosts",
			StrictHostKeyChecking = "yes",
		},
	},
}

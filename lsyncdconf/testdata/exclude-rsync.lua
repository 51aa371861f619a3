-- The config of lsyncd's tests/exclude-rsync.lua.
settings {
	logfile = "/tmp/lsyncd-test.log",
	nodaemon = true,
}

sync {
	default.rsync,
	source = "/tmp/ltest/src",
	target = "/tmp/ltest/trg",
	delay = 3,
	exclude = {
		"erf",
		"/eaf",
		"erd/",
		"/ead/",
	},
}

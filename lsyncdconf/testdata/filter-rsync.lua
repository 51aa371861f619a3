-- The config of lsyncd's tests/filter-rsync.lua.
settings {
	logfile = "/tmp/lsyncd-test.log",
	nodaemon = true,
}

sync {
	default.rsync,
	source = "/tmp/ltest/src",
	target = "/tmp/ltest/trg",
	delay = 3,
	filter = {
		'- /ab**',
		'+ /a**',
		'- /**',
	},
}

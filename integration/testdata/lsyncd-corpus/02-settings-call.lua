-- kinds: local daemon ssh
-- lsyncd
-- settings{} as a call (lsyncd 2.2 style) with a log file and a status file.
settings {
	logfile        = {{dir}} .. "/lsyncd.log",
	statusFile     = {{dir}} .. "/lsyncd.status",
	statusInterval = 1,
	nodaemon       = true,
}

sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "www"}},
	delay  = 5,
	rsync  = {
		archive = true,
		rsh     = {{rsh}},
	},
}

-- kinds: local daemon ssh
-- lsyncd
-- Several sync{} blocks, each its own source and target, different options.
settings { nodaemon = true, statusFile = {{dir}} .. "/status" }

sync {
	default.rsync,
	source  = {{src "a"}},
	target  = {{target "site"}},
	exclude = { "*.tmp", "*.o" },
	rsync   = { archive = true, compress = true, rsh = {{rsh}} },
}

sync {
	default.rsync,
	source = {{src "b"}},
	target = {{target "data"}},
	delay  = 2,
	rsync  = { perms = true, times = true, rsh = {{rsh}} },
}

sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "conf"}},
	delete = false,
	rsync  = { rsh = {{rsh}} },
}

-- kinds: local daemon ssh
-- lsyncd 2.0 style: settings = { ... } (lsyncd 2.2 refuses it; gsync reads it with a warning).
settings = {
	logfile    = {{dir}} .. "/old-style.log",
	statusFile = {{dir}} .. "/old-style.status",
	nodaemon   = true,
}

sync { default.rsync, source = {{src "a"}}, target = {{target "old"}}, rsync = { archive = true, rsh = {{rsh}} } }

-- kinds: local daemon ssh
-- lsyncd
-- Booleans as people type them: strings and numbers are true to Lua.
settings { nodaemon = "true", insist = 1 }

sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	rsync  = { archive = "yes", compress = 1, rsh = {{rsh}} },
}

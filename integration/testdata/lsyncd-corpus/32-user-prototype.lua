-- kinds: local daemon ssh
-- A prototype of one's own inheriting default.rsync, used by two syncs.
local fast = {
	default.rsync,
	delay = 1,
	rsync = { archive = true, compress = true, rsh = {{rsh}} },
}

sync { fast, source = {{src "a"}}, target = {{target "a"}} }
sync { fast, source = {{src "b"}}, target = {{target "b"}}, exclude = { "*.o" } }

-- kinds: local daemon ssh
-- init = false: no startup sync (with -onepass nothing is done); changes
-- made while running are pushed.
sync {
	default.rsync,
	source = {{src "d"}},
	target = {{target "d"}},
	init   = false,
	rsync  = { archive = true, rsh = {{rsh}} },
}

-- kinds: local daemon ssh
-- usermap and groupmap (owner and group kept, one id mapped).
sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	rsync  = { archive = true, usermap = "1234:4321", groupmap = "5678:8765", rsh = {{rsh}} },
}

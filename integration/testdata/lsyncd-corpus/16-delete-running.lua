-- kinds: local daemon ssh
-- delete = "running": deletions only while running.
sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	delete = "running",
	rsync  = { archive = true, rsh = {{rsh}} },
}

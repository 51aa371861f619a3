-- kinds: local daemon ssh
-- delete = "startup": deletions only in the startup sync.
sync {
	default.rsync,
	source = {{src "b"}},
	target = {{target "b"}},
	delete = "startup",
	rsync  = { archive = true, rsh = {{rsh}} },
}

-- kinds: local daemon ssh
-- Attributes one by one instead of archive.
sync {
	default.rsync,
	source = {{src "b"}},
	target = {{target "b"}},
	rsync  = { perms = true, owner = true, group = true, times = true, links = true, rsh = {{rsh}} },
}

-- kinds: local daemon ssh
-- rsync's --existing (lsyncd's existing key): nothing new is created on the
-- target, so it stays an empty directory, as C rsync leaves it.
sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	rsync  = {
		archive  = true,
		existing = true,
		rsh      = {{rsh}},
	},
}

-- kinds: local daemon ssh
-- lsyncd
-- archive, compress and verbose, the most common rsync table.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "a"}},
	rsync  = {
		archive  = true,
		compress = true,
		verbose  = true,
		rsh      = {{rsh}},
	},
}

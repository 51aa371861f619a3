-- kinds: local daemon ssh
-- _extra: options lsyncd has no key for, passed verbatim.
sync {
	default.rsync,
	source = {{src "d"}},
	target = {{target "d"}},
	rsync  = {
		archive = true,
		rsh     = {{rsh}},
		_extra  = { "--numeric-ids", "-v", "--no-g" },
	},
}

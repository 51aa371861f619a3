-- kinds: local daemon ssh
-- lsyncd
-- The smallest config the manual shows: one default.rsync sync.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "a"}},
	rsync  = { rsh = {{rsh}} },
}

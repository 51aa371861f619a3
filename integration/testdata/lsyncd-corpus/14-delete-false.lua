-- kinds: local daemon ssh
-- lsyncd
-- delete = false: an archive that keeps what the source deleted.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "archive"}},
	delete = false,
	rsync  = { archive = true, rsh = {{rsh}} },
}

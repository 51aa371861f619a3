-- kinds: local daemon ssh
-- links and times switched off (symlinks are skipped, mtimes not kept).
sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	rsync  = { links = false, times = false, perms = true, rsh = {{rsh}} },
}

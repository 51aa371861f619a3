-- kinds: local daemon ssh
-- chmod on the target: group-writable directories, read-only files.
sync {
	default.rsync,
	source = {{src "b"}},
	target = {{target "b"}},
	rsync  = { archive = true, chmod = "D2775,F444", rsh = {{rsh}} },
}

-- kinds: local daemon ssh
-- archive plus ACLs, xattrs and hard links.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "a"}},
	rsync  = { archive = true, acls = true, xattrs = true, hard_links = true, rsh = {{rsh}} },
}

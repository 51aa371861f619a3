-- kinds: local daemon ssh
-- lsyncd
-- The exclude list every user has: build products, VCS, caches.
sync {
	default.rsync,
	source  = {{src "b"}},
	target  = {{target "b"}},
	exclude = { "*.o", "*.tmp", ".git", "/cache/", "empty/" },
	rsync   = { archive = true, rsh = {{rsh}} },
}

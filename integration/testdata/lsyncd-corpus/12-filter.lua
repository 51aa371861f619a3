-- kinds: local daemon ssh
-- filter rules (first match wins): keep sub/, drop objects and the cache.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "filtered"}},
	filter = { "- *.o", "+ sub/", "- /cache/", "- .git/" },
	rsync  = { archive = true, rsh = {{rsh}} },
}

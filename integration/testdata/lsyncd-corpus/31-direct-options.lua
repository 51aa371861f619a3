-- kinds: local
-- default.direct with archive, excludes and delete = false.
sync {
	default.direct,
	source  = {{src "b"}},
	target  = {{target "b"}},
	delete  = false,
	exclude = { "*.tmp" },
	rsync   = { archive = true },
}

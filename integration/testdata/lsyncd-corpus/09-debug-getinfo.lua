-- kinds: local daemon ssh
-- lsyncd
-- A config that finds its own directory with debug.getinfo and reads an
-- exclude file next to it.
local _ = {{file "exclude.list" "*.o\n*.tmp\n/cache/"}}
local here = debug.getinfo(1).source:match("^@(.*/)")
log("Normal", "config directory: ", here)

sync {
	default.rsync,
	source      = {{src "a"}},
	target      = {{target "a"}},
	excludeFrom = here .. "exclude.list",
	rsync       = { archive = true, rsh = {{rsh}} },
}

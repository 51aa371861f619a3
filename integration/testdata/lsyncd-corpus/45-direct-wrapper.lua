-- kinds: local
-- default.direct with rsync.binary naming a wrapper: lsyncd runs it for the
-- startup sync only (its events are cp, rm and mv), and so does gsync.
-- (Not run side by side: lsyncd's default.direct ignores Attrib events, so
-- a chmod with archive = true never reaches its target.)
local _ = {{exe "startup-rsync" "#!/bin/sh\nexec rsync \"$@\"\n"}}
local here = debug.getinfo(1).source:match("^@(.*/)")
sync {
	default.direct,
	source = {{src "b"}},
	target = {{target "direct-wrapped"}},
	rsync  = { binary = here .. "startup-rsync", archive = true },
}

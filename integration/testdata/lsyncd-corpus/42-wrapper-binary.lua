-- kinds: local daemon ssh
-- lsyncd
-- rsync.binary naming a wrapper (lsyncd's FAQ: run a command after each
-- sync). Here the wrapper is rsync itself under another name.
local _ = {{exe "rsync-wrapper" "#!/bin/sh\nexec rsync \"$@\"\n"}}
local here = debug.getinfo(1).source:match("^@(.*/)")
sync {
	default.rsync,
	source = {{src "d"}},
	target = {{target "wrapped"}},
	rsync  = { binary = here .. "rsync-wrapper", archive = true, rsh = {{rsh}} },
}

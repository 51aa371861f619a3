-- kinds: local daemon ssh
-- maxDelays and maxProcesses, globally and per sync; os.getenv for a default.
settings { maxDelays = 50, maxProcesses = 1, nodaemon = true }

local user = os.getenv("USER") or "root"
log("Normal", "starting for ", user, " at ", os.date("%Y-%m-%d"))

sync {
	default.rsync,
	source       = {{src "a"}},
	target       = {{target "a"}},
	maxDelays    = 5,
	maxProcesses = 1,
	rsync        = { archive = true, rsh = {{rsh}} },
}

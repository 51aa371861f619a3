-- Plain Lua: one sync per web server, built in a loop.
local servers = { "web1", "web2", "web3" }
local common  = { "*.log", "/tmp/" }

for i, host in ipairs(servers) do
	sync {
		default.rsync,
		source  = "/srv/site",
		target  = host .. "::site",
		delay   = i,
		exclude = common,
	}
end

-- A user prototype inheriting default.rsync.
local fast = { default.rsync, delay = 0, rsync = { checksum = true } }
sync { fast, source = "/srv/conf", target = "/mnt/conf", rsync = { perms = true } }

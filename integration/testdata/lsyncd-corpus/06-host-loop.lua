-- kinds: local daemon ssh
-- One sync per mirror host, built in a loop over a table (the shape users post
-- for pushing one web root to several servers).
local mirrors = { "web1", "web2", "web3" }

for _, host in ipairs(mirrors) do
	sync {
		default.rsync,
		source  = {{src "a"}},
		target  = {{targetBase}} .. host,
		exclude = { ".git", "cache/" },
		rsync   = { archive = true, rsh = {{rsh}} },
	}
end

-- kinds: local daemon ssh
-- A table of source -> target pairs, walked with pairs() and string functions.
local trees = {
	a = "alpha",
	b = "beta",
	c = "gamma",
}

local base = {{srcRoot}}
for dir, name in pairs(trees) do
	sync {
		default.rsync,
		source = base .. dir,
		target = {{targetBase}} .. string.upper(name:sub(1, 1)) .. name:sub(2),
		rsync  = { links = true, times = true, perms = true, rsh = {{rsh}} },
	}
end

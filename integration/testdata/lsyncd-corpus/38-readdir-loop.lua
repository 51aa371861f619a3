-- kinds: local daemon ssh
-- One sync per directory of a parent, found with readdir().
local root = {{srcRoot}}
local names = {}
for name, isdir in pairs(readdir(root)) do
	if isdir and string.starts(name, "a") or name == "c" then
		table.insert(names, name)
	end
end
table.sort(names)
for _, name in ipairs(names) do
	sync { default.rsync, source = root .. name, target = {{targetBase}} .. "tree-" .. name, rsync = { archive = true, rsh = {{rsh}} } }
end

-- kinds: local daemon ssh
-- Locals and string functions: format, gsub, rep, concatenation.
local project = "Shop-Frontend"
local slug    = project:lower():gsub("[^%w]+", "_")
local dest    = string.format("%s%s-%d", {{targetBase}}, slug, 2)
local excludes = {}
for _, ext in ipairs({ "tmp", "o" }) do
	table.insert(excludes, "*." .. ext)
end

sync {
	default.rsync,
	source  = {{src "d"}},
	target  = dest,
	exclude = excludes,
	rsync   = { archive = true, rsh = {{rsh}} },
}

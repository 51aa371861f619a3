-- kinds: local daemon ssh
-- settings{} listing names (each set to true), and settings("key") to read one back.
settings { "nodaemon", "insist", statusInterval = 2 }

if settings("insist") then
	log("Normal", "insist is on, statusInterval ", settings("statusInterval"))
end

sync { default.rsync, source = {{src "b"}}, target = {{target "b"}}, rsync = { rsh = {{rsh}}, perms = true } }

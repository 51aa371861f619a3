-- kinds: local daemon ssh
-- A sync into a subdirectory of another sync's target, with the same content.
sync { default.rsync, source = {{src "b"}}, target = {{target "outer"}}, rsync = { archive = true, rsh = {{rsh}} } }
sync { default.rsync, source = {{src "b/sub"}}, target = {{target "outer/sub"}}, rsync = { archive = true, rsh = {{rsh}} } }

-- kinds: local daemon ssh
-- The same sync{} pasted twice (lsyncd runs both): pushes must not race.
sync { default.rsync, source = {{src "a"}}, target = {{target "same"}}, rsync = { archive = true, rsh = {{rsh}} } }
sync { default.rsync, source = {{src "a"}}, target = {{target "same"}}, rsync = { archive = true, rsh = {{rsh}} } }

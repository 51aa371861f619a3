-- kinds: local daemon ssh
-- exclude given as one string, not a list.
sync { default.rsync, source = {{src "c"}}, target = {{target "c"}}, exclude = "*.tmp", rsync = { rsh = {{rsh}} } }

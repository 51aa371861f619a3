-- kinds: local daemon ssh
-- Keys set on default.rsync itself apply to every sync built on it.
default.rsync.delay = 3
default.rsync.exclude = { "*.tmp" }

sync { default.rsync, source = {{src "c"}}, target = {{target "c"}}, rsync = { archive = true, rsh = {{rsh}} } }

-- kinds: local daemon ssh
-- dry_run: nothing is written.
sync { default.rsync, source = {{src "b"}}, target = {{target "nothing"}}, rsync = { dry_run = true, rsh = {{rsh}} } }

-- kinds: local daemon ssh
-- pending: local: gsync's local target creates its root directory under dry_run (rsync -n creates nothing); transport/local.go, not this issue's area
-- dry_run: nothing is written.
sync { default.rsync, source = {{src "b"}}, target = {{target "nothing"}}, rsync = { dry_run = true, rsh = {{rsh}} } }

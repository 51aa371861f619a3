-- kinds: local daemon ssh
-- The rsync keys whose result differs from rsync -a's (existing, which
-- would leave this target empty, is 46-rsync-existing.lua).
-- stale: link: with copy_links the link is copied as its referent (sub/dir/deep.txt), whose chmod is pushed live on its own path only; the link's copy follows at the next full sync (lsyncd + rsync, which rsync only the changed paths, leave it stale the same way)
sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	rsync  = {
		archive          = true,
		copy_links       = true,
		cvs_exclude      = true,
		prune_empty_dirs = true,
		backup           = true,
		backup_dir       = "backups",
		suffix           = ".old",
		omit_dir_times   = true,
		executability    = true,
		append_verify    = true,
		append           = true,
		rsh              = {{rsh}},
	},
}

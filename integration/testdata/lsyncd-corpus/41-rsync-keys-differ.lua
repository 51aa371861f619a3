-- kinds: local daemon ssh
-- pending: local: gsync does not implement these rsync keys yet (it names them in a startup warning; the transfer-options issue): copy_links, prune_empty_dirs, backup, backup_dir, suffix, omit_dir_times, existing, executability, append, append_verify
-- pending: daemon: as for local
-- pending: ssh: as for local
-- The rsync keys whose result differs from rsync -a's.
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
		backup_dir       = "../backups",
		suffix           = ".old",
		omit_dir_times   = true,
		executability    = true,
		append_verify    = true,
		append           = true,
		existing         = true,
		rsh              = {{rsh}},
	},
}

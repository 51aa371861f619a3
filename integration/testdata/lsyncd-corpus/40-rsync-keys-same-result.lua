-- kinds: local daemon ssh
-- rsync keys lsyncd 2.2.3 knows whose result on a fresh target is rsync -a's:
-- update, ignore_times, omit_link_times, keep_dirlinks,
-- copy_dirlinks, one_file_system, checksum, whole_file (gsync names the ones
-- it does not act on in a warning). temp_dir is proven by TestReceiverOptions:
-- here it would have to lie inside the destination (a daemon module has no
-- /tmp), where C rsync's renames out of it leave that directory's mtime to
-- chance.
sync {
	default.rsync,
	source = {{src "b"}},
	target = {{target "b"}},
	rsync  = {
		archive         = true,
		update          = true,
		ignore_times    = true,
		omit_link_times = true,
		keep_dirlinks   = true,
		copy_dirlinks   = true,
		one_file_system = true,
		rsh             = {{rsh}},
	},
}

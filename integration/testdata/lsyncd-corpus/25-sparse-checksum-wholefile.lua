-- kinds: local daemon ssh
-- Transfer tuning that leaves the same target: sparse, checksum, whole_file, inplace.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "a"}},
	rsync  = { archive = true, sparse = true, checksum = true, whole_file = true, inplace = true, rsh = {{rsh}} },
}

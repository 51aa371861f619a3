-- kinds: local daemon ssh
-- The remaining connection keys: password_file (a daemon's secret; others
-- ignore it), rsync_path (the remote rsync over ssh), ipv6, and chown.
sync {
	default.rsync,
	source = {{src "a"}},
	target = {{target "a"}},
	rsync  = {
		archive       = true,
		password_file = {{secret "rsync.secret" "not-asked-for"}},
		rsync_path    = "rsync",
		ipv6          = true,
		chown         = "4321:8765",
		rsh           = {{rsh}},
	},
}

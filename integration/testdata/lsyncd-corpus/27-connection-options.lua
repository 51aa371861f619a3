-- kinds: local daemon ssh
-- Connection options: timeout, bwlimit, ipv4, protect_args, quiet.
sync {
	default.rsync,
	source = {{src "c"}},
	target = {{target "c"}},
	rsync  = {
		archive      = true,
		timeout      = 30,
		bwlimit      = 10000,
		ipv4         = true,
		protect_args = true,
		quiet        = true,
		rsh          = {{rsh}},
	},
}

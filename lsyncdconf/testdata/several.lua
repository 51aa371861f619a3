-- Several syncs in one config (lsyncd manual, "Config File" examples).
settings {
	logfile        = "/var/log/lsyncd/lsyncd.log",
	statusFile     = "/var/log/lsyncd/lsyncd.status",
	statusInterval = 20,
	nodaemon       = true,
	insist         = true,
	maxProcesses   = 1,
}

sync {
	default.rsync,
	source  = "/srv/www",
	target  = "backup.example.com::www",
	delay   = 5,
	exclude = { "*.tmp", "/cache/", ".git" },
	rsync   = {
		archive       = true,
		compress      = true,
		password_file = "/etc/lsyncd/rsync.secret",
		_extra        = { "--omit-dir-times" },
	},
}

sync {
	default.direct,
	source = "/srv/data",
	target = "/mnt/backup/data",
	delete = false,
}

sync {
	default.rsync,
	source = "/home",
	target = "mirror@backup.example.com:/backup/home",
	init   = false,
	filter = { "- /*/.cache/", "+ /*/", "- *.swp" },
	rsync  = { rsh = "/usr/bin/ssh -p 2222 -o StrictHostKeyChecking=yes", timeout = 30 },
}

-- kinds: local daemon ssh
-- pending: ssh: gsync's ssh target renames (SFTP) and deletes while running although delete = "startup" (rsync and lsyncd keep the old names); transport/ssh.go, owned by another issue
-- delete = "startup": deletions only in the startup sync.
sync {
	default.rsync,
	source = {{src "b"}},
	target = {{target "b"}},
	delete = "startup",
	rsync  = { archive = true, rsh = {{rsh}} },
}

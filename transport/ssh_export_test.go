package transport

// SSHStandbyUsed counts the pushes of t that ran on a standby session.
func SSHStandbyUsed(t *SSH) int64 { return t.standbyUsed.Load() }

// SSHStandbySessions is how many sessions an ssh target keeps ready.
const SSHStandbySessions = sshStandbySessions

// SSHDeleteVia says how deletes reach the target now: "rsync", "sftp" or
// "parent push".
func SSHDeleteVia(t *SSH) string { return t.deleteVia().String() }

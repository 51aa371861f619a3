package sshx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keys are the credentials for one login attempt.
type keys struct {
	signers   []ssh.Signer
	tried     []string // descriptions, for error messages
	encrypted []string // encrypted identity files the agent does not hold
	unsafe    []string // identity files refused because others may read them
	agentConn net.Conn // closed after the handshake
}

func (k *keys) close() {
	if k.agentConn != nil {
		k.agentConn.Close()
	}
}

// loadKeys collects the agent's keys and the identity files of s: explicit
// ones (-i) first, then the agent, then ssh_config's or the default files.
func loadKeys(s *settings, noAgent bool, log *slog.Logger) *keys {
	k := &keys{}
	var agentKeys []ssh.Signer
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && !noAgent {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			log.Debug("ssh-agent not reachable", "socket", sock, "err", err)
		} else {
			k.agentConn = conn
			ag := agent.NewClient(conn)
			if signers, err := ag.Signers(); err != nil {
				log.Debug("list ssh-agent keys", "err", err)
			} else {
				agentKeys = signers
			}
		}
	}
	inAgent := func(pub ssh.PublicKey) bool {
		for _, s := range agentKeys {
			if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
				return true
			}
		}
		return false
	}
	var explicit, others []ssh.Signer
	for i, f := range s.idFiles {
		given := i < s.idGiven
		data, err := readPrivateKey(f)
		var pe *keyPermError
		switch {
		case errors.As(err, &pe):
			log.Warn("identity file ignored", "file", f, "err", err)
			k.unsafe = append(k.unsafe, f)
			continue
		case err != nil:
			if given || !errors.Is(err, fs.ErrNotExist) {
				log.Warn("cannot read identity file", "file", f, "err", err)
			}
			continue
		}
		signer, err := ssh.ParsePrivateKey(data)
		var pm *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pm):
			if pm.PublicKey != nil && inAgent(pm.PublicKey) {
				continue // the agent signs with it
			}
			if pub := readPublicKey(f + ".pub"); pub != nil && inAgent(pub) {
				continue
			}
			k.encrypted = append(k.encrypted, f)
			continue
		case err != nil:
			log.Warn("cannot use identity file", "file", f, "err", err)
			continue
		}
		k.tried = append(k.tried, f)
		if given {
			explicit = append(explicit, signer)
		} else {
			others = append(others, signer)
		}
	}
	if len(agentKeys) > 0 {
		k.tried = append(k.tried, fmt.Sprintf("%d key(s) of the ssh-agent", len(agentKeys)))
	}
	k.signers = append(append(explicit, agentKeys...), others...)
	return k
}

func readPublicKey(f string) ssh.PublicKey {
	data, err := os.ReadFile(f)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	if err != nil {
		return nil
	}
	return pub
}

// keyPermError refuses a private key file that its owner lets others read.
type keyPermError struct {
	file string
	perm fs.FileMode
}

func (e *keyPermError) Error() string {
	return fmt.Sprintf("identity file %s has mode %04o: a private key must not be accessible by group or others (chmod 600 %s)",
		e.file, uint32(e.perm), ShellQuote(e.file))
}

// readPrivateKey reads an identity file, refusing it when it belongs to us
// and group or others may access it, like OpenSSH (authfile.c:sshkey_perm_ok
// checks st_uid == getuid() && (st_mode & 077) != 0). Files owned by
// someone else (a read-only mount in a container, say) are not checked,
// nor are files on a read-only file system, whose mode cannot be fixed:
// a Kubernetes Secret volume (read-only since Kubernetes 1.10) holds
// root's files with the Secret's defaultMode, 0644 unless set.
func readPrivateKey(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if uid, ok := fileOwner(fi); ok && uid == os.Getuid() && fi.Mode().Perm()&0o077 != 0 && !readOnlyFS(file) {
		return nil, &keyPermError{file: file, perm: fi.Mode().Perm()}
	}
	return io.ReadAll(f)
}

// encryptedHint explains what to do about encrypted identity files and
// identity files refused for their permissions.
func (k *keys) encryptedHint() string {
	var hint string
	for _, f := range k.unsafe {
		hint += fmt.Sprintf("; identity file %s was ignored because group or others can read it (chmod 600 %s)", f, ShellQuote(f))
	}
	if len(k.encrypted) == 0 {
		return hint
	}
	q := make([]string, len(k.encrypted))
	for i, f := range k.encrypted {
		q[i] = ShellQuote(f)
	}
	return hint + fmt.Sprintf("; %s is encrypted and gsync cannot ask for passphrases: load it into the ssh-agent (`ssh-add %s`) and make sure SSH_AUTH_SOCK is set",
		strings.Join(k.encrypted, ", "), strings.Join(q, " "))
}

// noKeysError is returned when there is nothing to log in with.
func (k *keys) noKeysError(who string) error {
	msg := "no ssh key to log in as " + who + " with"
	if os.Getenv("SSH_AUTH_SOCK") == "" {
		msg += " (no ssh-agent: SSH_AUTH_SOCK is not set"
	} else {
		msg += " (the ssh-agent holds no usable key"
	}
	msg += "; give a key with -e 'ssh -i KEY' or IdentityFile in the ssh config)"
	return &AuthError{msg: msg + k.encryptedHint()}
}

// refusedError is returned when the server accepted none of the keys.
func (k *keys) refusedError(who string, err error) error {
	return &AuthError{msg: fmt.Sprintf("login as %s refused (tried %s): %v%s", who, strings.Join(k.tried, ", "), err, k.encryptedHint())}
}

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
	"slices"
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
// Each key's certificates (CertificateFile, and FILE-cert.pub beside an
// identity file, as OpenSSH loads them) are offered before the key. With
// IdentitiesOnly, the agent's keys count only when they are those of the
// identity files; PubkeyAcceptedAlgorithms limits what each key may sign
// with.
func loadKeys(s *settings, log *slog.Logger) *keys {
	k := &keys{}
	var agentKeys []ssh.Signer
	if sock := s.agentSock; sock != "" {
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
	certs := loadCerts(s, log)
	fileKeys := map[string]bool{} // public keys of the identity files
	var explicit, others []ssh.Signer
	for i, f := range s.idFiles {
		given := i < s.idGiven
		if pub := readPublicKey(f + ".pub"); pub != nil {
			fileKeys[string(pub.Marshal())] = true
		}
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
			if pm.PublicKey != nil {
				fileKeys[string(pm.PublicKey.Marshal())] = true
				if inAgent(pm.PublicKey) {
					continue // the agent signs with it
				}
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
		fileKeys[string(signer.PublicKey().Marshal())] = true
		k.tried = append(k.tried, f)
		if given {
			explicit = append(explicit, signer)
		} else {
			others = append(others, signer)
		}
	}
	if s.idOnly {
		agentKeys = slices.DeleteFunc(agentKeys, func(a ssh.Signer) bool {
			pub := a.PublicKey()
			if c, ok := pub.(*ssh.Certificate); ok {
				pub = c.Key
			}
			return !fileKeys[string(pub.Marshal())]
		})
	}
	if len(agentKeys) > 0 {
		k.tried = append(k.tried, fmt.Sprintf("%d key(s) of the ssh-agent", len(agentKeys)))
	}
	for _, signer := range slices.Concat(explicit, agentKeys, others) {
		for _, c := range certs[string(signer.PublicKey().Marshal())] {
			cs, err := ssh.NewCertSigner(c.cert, signer)
			if err != nil {
				log.Warn("cannot use certificate", "file", c.file, "err", err)
				continue
			}
			c.used = true
			k.add(cs, s.pubkeyAlgos)
			k.tried = append(k.tried, "certificate "+c.file)
		}
		k.add(signer, s.pubkeyAlgos)
	}
	for _, list := range certs {
		for _, c := range list {
			if !c.used && c.given {
				log.Warn("certificate file has no private key to sign with (give it with -i or IdentityFile, or load it into the ssh-agent)", "file", c.file)
			}
		}
	}
	return k
}

// add offers signer, restricted to the accepted algorithms (nil: all).
func (k *keys) add(signer ssh.Signer, accepted []string) {
	if r, ok := restrictSigner(signer, accepted); ok {
		k.signers = append(k.signers, r)
	}
}

// certFile is a user certificate read from a file.
type certFile struct {
	file  string
	cert  *ssh.Certificate
	given bool // CertificateFile (else FILE-cert.pub beside an identity file)
	used  bool
}

// loadCerts reads CertificateFile entries and the FILE-cert.pub files
// beside the identity files, by the public key they certify.
func loadCerts(s *settings, log *slog.Logger) map[string][]*certFile {
	out := map[string][]*certFile{}
	read := func(f string, given bool) {
		data, err := os.ReadFile(f)
		if err != nil {
			if given || !errors.Is(err, fs.ErrNotExist) {
				log.Warn("cannot read certificate file", "file", f, "err", err)
			}
			return
		}
		pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
		c, ok := pub.(*ssh.Certificate)
		if err != nil || !ok || c.CertType != ssh.UserCert {
			log.Warn("not a user certificate", "file", f, "err", err)
			return
		}
		key := string(c.Key.Marshal())
		for _, have := range out[key] {
			if bytes.Equal(have.cert.Marshal(), c.Marshal()) {
				return
			}
		}
		out[key] = append(out[key], &certFile{file: f, cert: c, given: given})
	}
	for _, f := range s.certs {
		read(f, true)
	}
	for _, f := range s.idFiles {
		read(f+"-cert.pub", false)
	}
	return out
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
func (k *keys) noKeysError(who, agentSock string) error {
	msg := "no ssh key to log in as " + who + " with"
	if agentSock == "" {
		msg += " (no ssh-agent: SSH_AUTH_SOCK is not set, or IdentityAgent is none"
	} else {
		msg += " (the ssh-agent holds no usable key"
	}
	msg += "; give a key with -e 'ssh -i KEY' or IdentityFile in the ssh config, or a password with --ssh-password-file)"
	return &AuthError{msg: msg + k.encryptedHint()}
}

// refusedError is returned when the server accepted none of the keys.
func (k *keys) refusedError(who string, err error) error {
	return &AuthError{msg: fmt.Sprintf("login as %s refused (tried %s): %v%s", who, strings.Join(k.tried, ", "), err, k.encryptedHint())}
}

package sshx

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a refused host key. It is never worth retrying.
type HostKeyError struct {
	Host        string // as in known_hosts: "host" or "[host]:port"
	Fingerprint string // SHA256 fingerprint of the offered key
	KeyType     string
	// Changed: known_hosts holds a different key for the host (else the
	// host is unknown).
	Changed bool
	// Known lists "file:line" of the known keys for a changed key.
	Known []string
	msg   string
}

func (e *HostKeyError) Error() string { return e.msg }

// AuthError is a failed login (no usable key, all keys refused). It is
// never worth retrying.
type AuthError struct{ msg string }

func (e *AuthError) Error() string { return e.msg }

// hostKeys verifies host keys against known_hosts in the mode of s.
type hostKeys struct {
	s   *settings
	log *slog.Logger
	mu  sync.Mutex // serialises appends to known_hosts
}

// existing returns the known_hosts files that exist.
func (h *hostKeys) existing() []string {
	var out []string
	for _, f := range h.s.known {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

// db loads the known_hosts files (nil when there are none).
func (h *hostKeys) db() (*knownhosts.HostKeyDB, error) {
	files := h.existing()
	if len(files) == 0 {
		return nil, nil
	}
	db, err := knownhosts.NewDB(files...)
	if err != nil {
		return nil, fmt.Errorf("read known hosts: %w", err)
	}
	return db, nil
}

// algorithms returns the host key algorithms known_hosts has for addr, so
// that the server offers the key we can verify (nil: the default order).
func (h *hostKeys) algorithms(addr string) []string {
	if h.s.check == Off {
		return nil
	}
	db, err := h.db()
	if err != nil || db == nil {
		return nil
	}
	return db.HostKeyAlgorithms(addr)
}

// callback verifies the key the server at addr offers.
func (h *hostKeys) callback() ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if h.s.check == Off {
			h.log.Warn("host key not verified (--host-key-check=off)", "host", knownhosts.Normalize(hostname), "key", ssh.FingerprintSHA256(key))
			return nil
		}
		db, err := h.db()
		if err != nil {
			return err
		}
		var kerr error = &xknownhosts.KeyError{}
		if db != nil {
			kerr = db.HostKeyCallback()(hostname, remote, key)
		}
		if kerr == nil {
			return nil
		}
		name := knownhosts.Normalize(hostname)
		fp := ssh.FingerprintSHA256(key)
		var ke *xknownhosts.KeyError
		if !errors.As(kerr, &ke) {
			var re *xknownhosts.RevokedError
			if errors.As(kerr, &re) {
				return &HostKeyError{Host: name, Fingerprint: fp, KeyType: key.Type(),
					msg: fmt.Sprintf("host key %s %s for %s is marked revoked in %s:%d", key.Type(), fp, name, re.Revoked.Filename, re.Revoked.Line)}
			}
			return fmt.Errorf("verify host key of %s: %w", name, kerr)
		}
		if len(ke.Want) > 0 {
			var known []string
			for _, w := range ke.Want {
				known = append(known, w.Filename+":"+strconv.Itoa(w.Line))
			}
			return &HostKeyError{Host: name, Fingerprint: fp, KeyType: key.Type(), Changed: true, Known: known,
				msg: fmt.Sprintf("HOST KEY FOR %s HAS CHANGED: the server offered %s %s, which does not match %s; "+
					"someone may be intercepting the connection (or the host was reinstalled). "+
					"gsync never accepts a changed key; if the change is expected, remove the old key with "+
					"`ssh-keygen -R '%s'` and verify the new one", name, key.Type(), fp, strings.Join(known, ", "), name)}
		}
		if h.s.check == AcceptNew {
			file, err := h.add(hostname, remote, key)
			if err != nil {
				return fmt.Errorf("add host key of %s to known hosts: %w", name, err)
			}
			h.log.Warn("permanently added host key to known hosts", "host", name, "key", key.Type()+" "+fp, "file", file)
			return nil
		}
		return &HostKeyError{Host: name, Fingerprint: fp, KeyType: key.Type(), msg: h.unknownMessage(name, key)}
	}
}

// unknownMessage tells how to trust an unknown host.
func (h *hostKeys) unknownMessage(name string, key ssh.PublicKey) string {
	host, port := h.s.hostname, h.s.port
	scan := "ssh-keyscan " + ShellQuote(host)
	if port != 22 {
		scan = "ssh-keyscan -p " + strconv.Itoa(port) + " " + ShellQuote(host)
	}
	file := h.writeFile()
	if file == "" || file == "/dev/null" {
		file = "~/.ssh/known_hosts"
	}
	return fmt.Sprintf("host key for %s is unknown (the server offered %s %s); verify it and add it to %s (%s >> %s) "+
		"or run once with --host-key-check=accept-new", name, key.Type(), ssh.FingerprintSHA256(key), file, scan, ShellQuote(file))
}

// writeFile is the known_hosts file new keys are added to.
func (h *hostKeys) writeFile() string { return h.s.knownWrite }

// add appends a line for hostname's key to the first known_hosts file,
// creating it (0600) and its directory (0700) when missing.
func (h *hostKeys) add(hostname string, remote net.Addr, key ssh.PublicKey) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	file := h.writeFile()
	switch file {
	case "":
		return "", errors.New("no known hosts file (no home directory; use --known-hosts)")
	case "/dev/null":
		return file, nil // UserKnownHostsFile=/dev/null: accepted, not stored
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	name := knownhosts.Normalize(hostname)
	var line string
	if h.s.hash {
		line = xknownhosts.Line([]string{xknownhosts.HashHostname(name)}, key)
	} else {
		line = knownhosts.Line([]string{name}, key)
	}
	// Start on a fresh line even when the file lacks a final newline.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		if last, err := lastByte(file); err == nil && last != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return file, err
}

func lastByte(file string) (byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() == 0 {
		return '\n', nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], fi.Size()-1); err != nil {
		return 0, err
	}
	return b[0], nil
}

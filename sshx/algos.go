package sshx

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// algoSet is one kind of algorithm list ssh_config can set: the list
// gsync uses by default and every name golang.org/x/crypto/ssh speaks.
type algoSet struct {
	keyword  string // the ssh_config keyword, for messages
	defaults []string
	all      []string
}

// algoSets returns the algorithm lists of golang.org/x/crypto/ssh: its
// recommended ones are the defaults, its insecure ones (aes128-cbc,
// diffie-hellman-group14-sha1, ssh-rsa, hmac-sha1-96, ...) can be added.
func algoSets() (ciphers, kex, macs, hostKeys, pubkeys algoSet) {
	sup, ins := ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()
	mk := func(kw string, def, extra []string) algoSet {
		return algoSet{keyword: kw, defaults: def, all: dedup(slices.Concat(def, extra))}
	}
	// Certificates are offered by their own names (OpenSSH's
	// PubkeyAcceptedAlgorithms holds them); they are the host key
	// certificate algorithms.
	var certs, insCerts []string
	for _, a := range sup.HostKeys {
		if strings.Contains(a, "-cert-") {
			certs = append(certs, a)
		}
	}
	for _, a := range ins.HostKeys {
		if strings.Contains(a, "-cert-") {
			insCerts = append(insCerts, a)
		}
	}
	return mk("Ciphers", sup.Ciphers, ins.Ciphers),
		mk("KexAlgorithms", sup.KeyExchanges, ins.KeyExchanges),
		mk("MACs", sup.MACs, ins.MACs),
		mk("HostKeyAlgorithms", sup.HostKeys, ins.HostKeys),
		mk("PubkeyAcceptedAlgorithms", slices.Concat(certs, sup.PublicKeyAuths), slices.Concat(insCerts, ins.PublicKeyAuths))
}

func dedup(l []string) []string {
	var out []string
	for _, s := range l {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// edit applies an ssh_config algorithm list to the set, as OpenSSH's
// kex.c kex_assemble_names does: "+list" appends to the defaults, "-list"
// removes from them, "^list" puts in front of them, a plain list replaces
// them. Patterns with * and ? select among the known names; a plain name
// that golang.org/x/crypto/ssh does not implement is an error naming it.
// "" gives nil (the library's own defaults).
func (a algoSet) edit(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	op := spec[0]
	if op == '+' || op == '-' || op == '^' {
		spec = spec[1:]
	} else {
		op = 0
	}
	var pats []string
	for _, p := range strings.Split(spec, ",") {
		if p = strings.TrimSpace(p); p != "" {
			pats = append(pats, p)
		}
	}
	if op == '-' {
		out := slices.DeleteFunc(slices.Clone(a.defaults), func(name string) bool { return matchAny(name, pats) })
		if len(out) == 0 {
			return nil, fmt.Errorf("bad %s %q: no algorithm left", a.keyword, spec)
		}
		return out, nil
	}
	var listed []string
	for _, p := range pats {
		if !strings.ContainsAny(p, "*?") {
			if !slices.Contains(a.all, p) {
				return nil, fmt.Errorf("bad %s %q: %s is not supported by gsync (supported: %s)", a.keyword, spec, p, strings.Join(a.all, ","))
			}
			listed = append(listed, p)
			continue
		}
		for _, name := range a.all {
			if ok, _ := path.Match(globQuote(p), name); ok {
				listed = append(listed, name)
			}
		}
	}
	var out []string
	switch op {
	case '+':
		out = dedup(slices.Concat(a.defaults, listed))
	case '^':
		out = dedup(slices.Concat(listed, a.defaults))
	default:
		out = dedup(listed)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bad %s %q: no algorithm left", a.keyword, spec)
	}
	return out, nil
}

func matchAny(name string, pats []string) bool {
	for _, p := range pats {
		if ok, _ := path.Match(globQuote(p), name); ok {
			return true
		}
	}
	return false
}

// certSuffix ends the names of OpenSSH certificate algorithms.
const certSuffix = "-cert-v01@openssh.com"

// keyAlgorithms lists the signature algorithms a key of type keyType can
// log in with, by the names PubkeyAcceptedAlgorithms uses: an RSA key
// signs with rsa-sha2-256, rsa-sha2-512 or ssh-rsa, any other key only
// with its own type. A certificate's names are the certificate forms.
func keyAlgorithms(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

// plainAlgorithm is the signature algorithm under a certificate algorithm
// name ("rsa-sha2-256-cert-v01@openssh.com" signs with "rsa-sha2-256").
func plainAlgorithm(name string) string {
	base, ok := strings.CutSuffix(name, certSuffix)
	if !ok {
		return name
	}
	if base == "ssh-rsa" {
		return ssh.KeyAlgoRSA
	}
	if strings.HasPrefix(base, "sk-") {
		return base + "@openssh.com"
	}
	return base
}

// restrictSigner limits signer to the algorithms in accepted (nil: no
// limit); ok is false when none of them fits its key.
func restrictSigner(signer ssh.Signer, accepted []string) (ssh.Signer, bool) {
	if accepted == nil {
		return signer, true
	}
	var algos []string
	for _, a := range keyAlgorithms(signer.PublicKey().Type()) {
		if slices.Contains(accepted, a) {
			algos = append(algos, plainAlgorithm(a))
		}
	}
	if len(algos) == 0 {
		return nil, false
	}
	as, isAlgo := signer.(ssh.AlgorithmSigner)
	if !isAlgo || len(algos) == len(keyAlgorithms(signer.PublicKey().Type())) {
		return signer, true
	}
	r, err := ssh.NewSignerWithAlgorithms(as, algos)
	if err != nil {
		return nil, false
	}
	return r, true
}

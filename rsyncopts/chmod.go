package rsyncopts

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// chmodBits are the bits --chmod may change: the permission bits and
// setuid, setgid and sticky (rsync.h:CHMOD_BITS).
const chmodBits = 0o7777

// sIFDIR is the directory type bit of a st_mode (S_IFDIR).
const sIFDIR, sIFMT = 0o040000, 0o170000

// The operators of one --chmod clause (chmod.c: CHMOD_ADD ... CHMOD_SET).
const (
	chmodAdd = iota + 1
	chmodSub
	chmodEq
	chmodSet
)

// Flags of one clause (chmod.c: FLAG_X_KEEP, FLAG_DIRS_ONLY,
// FLAG_FILES_ONLY).
const (
	flagXKeep = 1 << iota
	flagDirsOnly
	flagFilesOnly
)

// Chmod is a parsed rsync --chmod value: clauses applied in order to the
// modes of the source's entries (not symlinks). The zero value changes
// nothing.
type Chmod struct {
	clauses []chmodClause
}

// chmodClause is one comma-separated part, compiled to AND/OR masks as
// chmod.c:parse_chmod does (struct chmod_mode_struct).
type chmodClause struct {
	and, or                    int
	copySrc, copyDst, copyMask int
	op                         int
	flags                      int
}

// IsZero reports whether c changes nothing (no --chmod).
func (c Chmod) IsZero() bool { return len(c.clauses) == 0 }

// ParseChmod parses rsync's --chmod syntax: comma-separated clauses, each
// either [D|F][ugoa...](+|-|=)[rwxXst...|u|g|o] or [D|F]octal, as rsync
// does (chmod.c:parse_chmod). A clause without u, g, o or a is masked by
// the process umask, as in chmod(1). "" is no --chmod.
func ParseChmod(s string) (Chmod, error) {
	return parseChmod(s, ProcessUmask())
}

// parseChmod parses s with the given umask.
func parseChmod(s string, umask int) (Chmod, error) {
	var c Chmod
	if s == "" {
		return c, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		cl, err := parseChmodClause(part, umask)
		if err != nil {
			return Chmod{}, fmt.Errorf("invalid --chmod %q: %q: %w", s, part, err)
		}
		c.clauses = append(c.clauses, cl)
	}
	return c, nil
}

// chmodParse is the state of parsing one clause.
type chmodParse struct {
	where, what, op, topBits, topOct, flags, copyBits int
}

// parseChmodClause compiles one clause (chmod.c:parse_chmod, one pass of
// its state machine up to a comma).
func parseChmodClause(part string, umask int) (chmodClause, error) {
	var p chmodParse
	i := 0
	// First half: D/F, who, and the operator (or an octal number).
first:
	for ; i < len(part); i++ {
		ch := part[i]
		switch ch {
		case 'D', 'F':
			if err := p.setKind(ch); err != nil {
				return chmodClause{}, err
			}
		case 'u':
			p.where |= 0o100
			p.topBits |= 0o4000
		case 'g':
			p.where |= 0o010
			p.topBits |= 0o2000
		case 'o':
			p.where |= 0o001
		case 'a':
			p.where |= 0o111
			p.topBits |= 0o6000 // a+s sets both setuid and setgid
		case '+', '-', '=':
			p.op = map[byte]int{'+': chmodAdd, '-': chmodSub, '=': chmodEq}[ch]
			i++
			break first
		default:
			if ch < '0' || ch > '7' || p.where != 0 {
				return chmodClause{}, fmt.Errorf("unexpected %q", ch)
			}
			return p.octal(part[i:])
		}
	}
	if p.op == 0 {
		return chmodClause{}, fmt.Errorf("no operator (+, - or =) or octal mode")
	}
	// Second half: the permissions.
	for ; i < len(part); i++ {
		if err := p.perm(part[i]); err != nil {
			return chmodClause{}, err
		}
	}
	return p.compile(umask), nil
}

// setKind records a D (directories only) or F (files only) prefix.
func (p *chmodParse) setKind(ch byte) error {
	if ch == 'D' {
		if p.flags&flagFilesOnly != 0 {
			return fmt.Errorf("both D and F")
		}
		p.flags |= flagDirsOnly
		return nil
	}
	if p.flags&flagDirsOnly != 0 {
		return fmt.Errorf("both D and F")
	}
	p.flags |= flagFilesOnly
	return nil
}

// perm takes one letter after the operator.
func (p *chmodParse) perm(ch byte) error {
	if p.copyBits != 0 {
		return fmt.Errorf("unexpected %q after u, g or o", ch)
	}
	switch ch {
	case 'r':
		p.what |= 4
	case 'w':
		p.what |= 2
	case 'X':
		p.flags |= flagXKeep
		p.what |= 1
	case 'x':
		p.what |= 1
	case 's':
		if p.topBits != 0 {
			p.topOct |= p.topBits
		} else {
			p.topOct = 0o4000
		}
	case 't':
		p.topOct |= 0o1000
	case 'u', 'g', 'o':
		if p.what != 0 || p.topOct != 0 {
			return fmt.Errorf("unexpected %q after permissions", ch)
		}
		p.copyBits = map[byte]int{'u': 0o100, 'g': 0o010, 'o': 0o001}[ch]
	default:
		return fmt.Errorf("unexpected %q", ch)
	}
	return nil
}

// octal compiles an absolute octal mode (chmod.c: STATE_OCTAL_NUM).
func (p *chmodParse) octal(digits string) (chmodClause, error) {
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil || v > chmodBits {
		return chmodClause{}, fmt.Errorf("bad octal mode %q", digits)
	}
	return chmodClause{and: 0, or: int(v), copyMask: chmodBits, op: chmodSet, flags: p.flags}, nil
}

// compile turns a parsed symbolic clause into masks, as parse_chmod does
// at the end of each clause.
func (p *chmodParse) compile(umask int) chmodClause {
	where, bits, copyMask := p.where, 0, chmodBits
	if where != 0 {
		bits = where * p.what
	} else {
		where = 0o111
		bits = (where * p.what) &^ umask
		copyMask = ^umask
	}
	c := chmodClause{copySrc: p.copyBits, copyDst: where, copyMask: copyMask, op: p.op, flags: p.flags}
	switch p.op {
	case chmodAdd:
		c.and, c.or = chmodBits, bits+p.topOct
	case chmodSub:
		c.and = chmodBits - bits - p.topOct
	case chmodEq:
		c.and = chmodBits - where*7
		if p.topOct != 0 {
			c.and -= p.topBits
		}
		if p.copyBits != 0 {
			c.and -= specialBits(where)
		}
		c.or = bits + p.topOct
	}
	return c
}

// specialBits are the setuid/setgid/sticky bits that belong to the who
// mask (chmod.c:mode_dest_special_bits).
func specialBits(where int) int {
	bits := 0
	if where&0o100 != 0 {
		bits |= 0o4000
	}
	if where&0o010 != 0 {
		bits |= 0o2000
	}
	if where&0o001 != 0 {
		bits |= 0o1000
	}
	return bits
}

// copyBits computes the bits a u/g/o source copies into the who mask
// (chmod.c:mode_copy_bits).
func (cl chmodClause) copyBits(mode int) int {
	b := 0
	if cl.copySrc&0o100 != 0 {
		b |= mode >> 6 & 7
	}
	if cl.copySrc&0o010 != 0 {
		b |= mode >> 3 & 7
	}
	if cl.copySrc&0o001 != 0 {
		b |= mode & 7
	}
	return cl.copyDst * b & cl.copyMask
}

// Apply returns the st_mode mode (type bits included) changed by c, as
// rsync's sender does (chmod.c:tweak_mode). Callers skip symlinks.
func (c Chmod) Apply(mode uint32) uint32 {
	m := int(mode)
	isX := m&0o111 != 0
	nonPerm := m &^ chmodBits
	isDir := nonPerm&sIFMT == sIFDIR
	for _, cl := range c.clauses {
		if cl.flags&flagDirsOnly != 0 && !isDir || cl.flags&flagFilesOnly != 0 && isDir {
			continue
		}
		cb := cl.copyBits(m)
		m &= cl.and
		if cl.flags&flagXKeep != 0 && !isX && !isDir {
			m |= cl.or &^ 0o111
		} else {
			m |= cl.or
		}
		if cl.op == chmodSub {
			m &= chmodBits - cb
		} else {
			m |= cb
		}
	}
	return uint32(m | nonPerm)
}

// ProcessUmask returns the umask of this process, without changing it
// where the system can tell (Linux: /proc/self/status).
func ProcessUmask() int {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
				if u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return int(u)
				}
			}
		}
	}
	// Elsewhere the only way to read it is to set it (main.c does the
	// same: umask(orig_umask = umask(0))).
	u := syscall.Umask(0o022)
	syscall.Umask(u)
	return u
}

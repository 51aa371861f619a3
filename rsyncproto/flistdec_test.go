package rsyncproto

import (
	"encoding/binary"
	"fmt"
)

// flistDecoder reads file-list entries as a receiver would
// (flist.c:recv_file_entry): the tests decode what our encoder wrote,
// the fuzzer feeds it arbitrary bytes, and the hostile peers read our
// file list with it.
type flistDecoder struct {
	o        flistOpts
	lastName string
	mode     uint32
	mtime    int64
	uid, gid uint32
	rdevMaj  uint32
	dev      uint64
	list     []*entry
}

// next decodes one entry; it returns nil at the end of the list.
func (d *flistDecoder) next(r *wireReader) (*entry, error) {
	o := &d.o
	var xflags uint32
	switch {
	case o.varint:
		xflags = uint32(r.varint())
	case o.proto >= 28:
		xflags = uint32(r.byte())
		if xflags&xmitExtendedFlags != 0 {
			xflags |= uint32(r.byte()) << 8
		}
	default:
		xflags = uint32(r.byte())
	}
	if r.err != nil {
		return nil, r.err
	}
	if xflags == 0 {
		return nil, nil
	}
	if o.varint && xflags == xmitExtendedFlags {
		xflags = 0
	}
	l1 := 0
	if xflags&xmitSameName != 0 {
		l1 = int(r.byte())
	}
	var l2 int
	if xflags&xmitLongName != 0 {
		if o.proto >= 30 {
			l2 = int(r.varint())
		} else {
			l2 = int(r.int32())
		}
	} else {
		l2 = int(r.byte())
	}
	if l1 > len(d.lastName) || l2 < 0 || l1+l2 > 4096 {
		return nil, fmt.Errorf("name lengths %d+%d: %w", l1, l2, errProtocol)
	}
	suffix := r.bytes(l2)
	if r.err != nil {
		return nil, r.err
	}
	e := &entry{name: d.lastName[:l1] + string(suffix)}
	d.lastName = e.name
	if o.hardLinks && o.proto >= 30 && xflags&xmitHlinked != 0 && xflags&xmitHlinkFirst == 0 {
		e.hlinked = true
		lead := r.varint()
		e.ext().hlinkLead = lead
		if r.err != nil {
			return nil, r.err
		}
		if lead < 0 || int(lead) >= len(d.list) {
			return nil, fmt.Errorf("hard-link index %d: %w", lead, errProtocol)
		}
		l := d.list[lead]
		e.mode, e.size, e.mtime, e.nsec, e.uid, e.gid = l.mode, l.size, l.mtime, l.nsec, l.uid, l.gid
		// The receiver's "previous" state follows the leader (flist.c:recv_file_entry).
		d.mode, d.mtime, d.uid, d.gid = l.mode, l.mtime, l.uid, l.gid
		d.list = append(d.list, e)
		return e, nil
	}
	if o.proto >= 30 {
		e.size = r.varlong(3)
	} else {
		e.size = r.longint()
	}
	if xflags&xmitSameTime == 0 {
		if o.proto >= 30 {
			d.mtime = r.varlong(4)
		} else {
			d.mtime = int64(uint32(r.int32()))
		}
	}
	e.mtime = d.mtime
	if xflags&xmitModNsec != 0 {
		e.nsec = r.varint()
	}
	if xflags&xmitSameMode == 0 {
		d.mode = uint32(r.int32())
	}
	e.mode = d.mode
	if o.owner && xflags&xmitSameUID == 0 {
		if o.proto < 30 {
			d.uid = uint32(r.int32())
		} else {
			d.uid = uint32(r.varint())
		}
	}
	e.uid = d.uid
	if o.group && xflags&xmitSameGID == 0 {
		if o.proto < 30 {
			d.gid = uint32(r.int32())
		} else {
			d.gid = uint32(r.varint())
		}
	}
	e.gid = d.gid
	isDev := e.isDev()
	if (o.devices && isDev) || (o.specials && e.isSpecial() && o.proto < 31) {
		if o.proto < 28 {
			if xflags&xmitSameRdevPre28 == 0 {
				e.ext().rdevRaw = uint32(r.int32())
			}
		} else {
			if xflags&xmitSameRdevMajor == 0 {
				if o.proto >= 30 {
					d.rdevMaj = uint32(r.varint())
				} else {
					d.rdevMaj = uint32(r.int32())
				}
			}
			x := e.ext()
			x.rdevMaj = d.rdevMaj
			switch {
			case o.proto >= 30:
				x.rdevMin = uint32(r.varint())
			case xflags&xmitRdevMinor8Pre30 != 0:
				x.rdevMin = uint32(r.byte())
			default:
				x.rdevMin = uint32(r.int32())
			}
		}
	}
	if e.isLink() && !o.noLinks {
		var n int
		if o.proto >= 30 {
			n = int(r.varint())
		} else {
			n = int(r.int32())
		}
		if n < 0 || n > 4096 {
			return nil, fmt.Errorf("symlink length %d: %w", n, errProtocol)
		}
		e.ext().link = string(r.bytes(n))
	}
	if o.hardLinks && o.proto < 30 && (xflags&xmitHlinked != 0 || (o.proto < 28 && e.isReg())) {
		e.hlinked = true
		if o.proto < 28 || xflags&xmitSameDevPre30 == 0 {
			d.dev = uint64(r.longint() - 1)
		}
		e.dev = d.dev
		e.ino = uint64(r.longint())
	}
	if o.checksum && (e.isReg() || o.proto < 28) {
		e.ext().sum = r.bytes(o.csumLen)
	}
	e.topDir = e.isDir() && xflags&xmitTopDir != 0
	e.noContent = e.isDir() && o.proto >= 30 && xflags&xmitNoContentDir != 0
	if r.err != nil {
		return nil, r.err
	}
	d.list = append(d.list, e)
	return e, nil
}

// decodeFlist decodes a whole list up to and including the end marker's
// io_error (varint form) and returns the entries.
func decodeFlist(r *wireReader, o flistOpts) ([]*entry, error) {
	d := &flistDecoder{o: o}
	for i := 0; i < 1<<20; i++ {
		e, err := d.next(r)
		if err != nil {
			return d.list, err
		}
		if e == nil {
			if o.varint {
				r.varint()
			}
			return d.list, r.err
		}
	}
	return d.list, fmt.Errorf("list too long: %w", errProtocol)
}

// The readers of longint and varlong: only file lists carry them, and
// the sender only writes file lists, so only the tests read them.

func (r *wireReader) longint() int64 {
	v := r.int32()
	if v != -1 {
		return int64(v)
	}
	if !r.read(r.buf[:8]) {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(r.buf[:8]))
}

// varlong decodes io.c:read_varlong.
func (r *wireReader) varlong(minBytes int) int64 {
	var pre [9]byte
	if !r.read(pre[:minBytes]) {
		return 0
	}
	ch := pre[0]
	n := extraBytes(ch)
	if minBytes-1+n > 8 {
		r.fail(fmt.Errorf("read varlong: prefix %#x: %w", ch, errProtocol))
		return 0
	}
	var x [9]byte
	copy(x[:], pre[1:minBytes])
	if n > 0 && !r.read(x[minBytes-1:minBytes-1+n]) {
		return 0
	}
	if minBytes-1+n < 8 {
		x[minBytes-1+n] = ch & (1<<(8-n) - 1)
	}
	return int64(binary.LittleEndian.Uint64(x[:8]))
}

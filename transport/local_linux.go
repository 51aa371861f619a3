package transport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errNotDir is returned for a path whose parent is not a directory.
var errNotDir = unix.ENOTDIR

// setMtime sets the mtime of p to the nanosecond, without following a
// symlink, leaving the atime alone.
func setMtime(p string, t time.Time) error {
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(t.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", &os.PathError{Op: "utimensat", Path: p, Err: err})
	}
	return nil
}

func statOf(fi fs.FileInfo) *syscall.Stat_t {
	st, _ := fi.Sys().(*syscall.Stat_t)
	return st
}

// wantOwner returns the owner and group the target entry of the source
// entry sfi gets, -1 for "leave as it is": as root the source's (through
// --usermap/--groupmap), unless --no-owner/--no-group; otherwise none
// (rsync.c:set_file_attrs changes neither, so new entries belong to the
// running user).
func (r *run) wantOwner(sfi fs.FileInfo) (uid, gid int) {
	st := statOf(sfi)
	if st == nil || os.Geteuid() != 0 {
		return -1, -1
	}
	uid, gid = -1, -1
	if !r.l.attrs.NoOwner {
		uid = int(r.mapID(st.Uid, true))
	}
	if !r.l.attrs.NoGroup {
		gid = int(r.mapID(st.Gid, false))
	}
	return uid, gid
}

// mapID maps a source owner (user) or group through --usermap or
// --groupmap as rsync's receiver does (uidlist.c:recv_add_id), by the
// sender's name unless --numeric-ids. Without a map a local copy keeps
// the id: its name names the same id on this system.
func (r *run) mapID(id uint32, user bool) uint32 {
	m, cache, opt := r.l.attrs.gmap, r.gids, "--groupmap"
	if user {
		m, cache, opt = r.l.attrs.umap, r.uids, "--usermap"
	}
	if m.IsZero() {
		return id
	}
	if v, ok := cache[id]; ok {
		return v
	}
	name := ""
	if !r.l.attrs.NumericIDs {
		name = idName(id, user)
	}
	var v uint32
	var errs []error
	if user {
		v, errs = m.MapUser(id, name)
	} else {
		v, errs = m.MapGroup(id, name)
	}
	if len(errs) > 0 {
		if _, done := r.warned[opt]; !done {
			r.warned[opt] = struct{}{}
			r.l.log.Warn("ignoring "+opt+" rules", "err", errors.Join(errs...))
		}
	}
	cache[id] = v
	return v
}

// idName returns the name of a user or group id, "" when it has none.
func idName(id uint32, isUser bool) string {
	s := strconv.FormatUint(uint64(id), 10)
	if isUser {
		if u, err := user.LookupId(s); err == nil {
			return u.Username
		}
		return ""
	}
	if g, err := user.LookupGroupId(s); err == nil {
		return g.Name
	}
	return ""
}

// setOwner sets the owner and group of p (-1: unchanged), without
// following a symlink.
func setOwner(p string, uid, gid int) error {
	if uid < 0 && gid < 0 {
		return nil
	}
	if err := os.Lchown(p, uid, gid); err != nil {
		return fmt.Errorf("set owner: %w", err)
	}
	return nil
}

// ownerDiffers reports whether the entry tfi has another owner or group
// than uid and gid (-1: any).
func ownerDiffers(tfi fs.FileInfo, uid, gid int) bool {
	t := statOf(tfi)
	if t == nil {
		return false
	}
	return uid >= 0 && uint32(uid) != t.Uid || gid >= 0 && uint32(gid) != t.Gid
}

func sameDevice(sfi, tfi fs.FileInfo) bool {
	s, t := statOf(sfi), statOf(tfi)
	return s != nil && t != nil && s.Rdev == t.Rdev
}

// mknod creates a fifo, socket or device node like the source entry.
func mknod(p string, sfi fs.FileInfo) error {
	st := statOf(sfi)
	if st == nil {
		return fmt.Errorf("create special file: %w", errors.ErrUnsupported)
	}
	mode := st.Mode&unix.S_IFMT | 0o600
	if err := unix.Mknod(p, mode, int(st.Rdev)); err != nil {
		return fmt.Errorf("create special file: %w", &os.PathError{Op: "mknod", Path: p, Err: err})
	}
	return nil
}

// nlinkOf returns the link count of an entry.
func nlinkOf(fi fs.FileInfo) uint64 {
	if st := statOf(fi); st != nil {
		return uint64(st.Nlink)
	}
	return 1
}

// ownerOf returns the owner and group of the entry fi.
func ownerOf(fi fs.FileInfo) (uid, gid int, ok bool) {
	st := statOf(fi)
	if st == nil {
		return -1, -1, false
	}
	return int(st.Uid), int(st.Gid), true
}

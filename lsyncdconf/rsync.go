package lsyncdconf

import (
	"fmt"
	"sort"
)

// RsyncOpts is a sync's rsync={...} table after lsyncd's defaults
// (links, times, protect_args) were merged in and archive was expanded
// (default-rsync.lua: rsync.prepare).
type RsyncOpts struct {
	// Bool holds every boolean option that was set, by lsyncd key
	// ("links", "compress", ...), after archive expansion.
	Bool map[string]bool
	// Str holds the valued options by lsyncd key ("password_file",
	// "rsh", "timeout", ...), numbers converted to strings.
	Str map[string]string
	// Extra is _extra, verbatim.
	Extra []string
	// Binary is the rsync binary lsyncd would run (gsync does not run it).
	Binary string
}

// On reports whether the boolean option key is set to true.
func (o RsyncOpts) On(key string) bool { return o.Bool[key] }

// rsyncShort lists lsyncd's boolean rsync keys that lsyncd passes as
// short flags (default-rsync.lua: rsync._computed), with the flag.
var rsyncShort = []struct{ key, flag string }{
	{"links", "l"}, {"perms", "p"}, {"times", "t"}, {"group", "g"}, {"owner", "o"},
	{"acls", "A"}, {"backup", "b"}, {"checksum", "c"}, {"compress", "z"},
	{"copy_dirlinks", "k"}, {"copy_links", "L"}, {"cvs_exclude", "C"}, {"dry_run", "n"},
	{"executability", "E"}, {"hard_links", "H"}, {"ignore_times", "I"}, {"ipv4", "4"},
	{"ipv6", "6"}, {"keep_dirlinks", "K"}, {"one_file_system", "x"}, {"omit_dir_times", "O"},
	{"omit_link_times", "J"}, {"protect_args", "s"}, {"prune_empty_dirs", "m"}, {"quiet", "q"},
	{"sparse", "S"}, {"update", "u"}, {"verbose", "v"}, {"whole_file", "W"}, {"xattrs", "X"},
}

// rsyncLongBool are boolean keys that become long options.
var rsyncLongBool = []struct{ key, flag string }{
	{"devices", "--devices"}, {"specials", "--specials"}, {"append", "--append"},
	{"append_verify", "--append-verify"}, {"existing", "--existing"}, {"inplace", "--inplace"},
	{"copy_unsafe_links", "--copy-unsafe-links"}, {"delete_excluded", "--delete-excluded"},
}

// rsyncLongValue are valued keys, in lsyncd's fixed output order.
var rsyncLongValue = []struct{ key, flag string }{
	{"backup_dir", "--backup-dir"}, {"bwlimit", "--bwlimit"}, {"chmod", "--chmod"},
	{"chown", "--chown"}, {"groupmap", "--groupmap"}, {"password_file", "--password-file"},
	{"rsh", "--rsh"}, {"rsync_path", "--rsync-path"}, {"suffix", "--suffix"},
	{"temp_dir", "--temp-dir"}, {"timeout", "--timeout"}, {"usermap", "--usermap"},
}

// rsyncKeyKind returns "bool", "value", "binary", "extra" or "" (unknown).
func rsyncKeyKind(key string) string {
	switch key {
	case "binary":
		return "binary"
	case "_extra":
		return "extra"
	case "archive":
		return "bool"
	}
	for _, e := range rsyncShort {
		if e.key == key {
			return "bool"
		}
	}
	for _, e := range rsyncLongBool {
		if e.key == key {
			return "bool"
		}
	}
	for _, e := range rsyncLongValue {
		if e.key == key {
			return "value"
		}
	}
	return ""
}

// defaultRsync is default.rsync's rsync table (default-rsync.lua).
func defaultRsync() RsyncOpts {
	return RsyncOpts{
		Bool:   map[string]bool{"links": true, "times": true, "protect_args": true},
		Str:    map[string]string{},
		Binary: "/usr/bin/rsync",
	}
}

// set records one key of rsync={...}; it is called for the user's keys.
func (o *RsyncOpts) set(key string, v any) error {
	switch rsyncKeyKind(key) {
	case "bool":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("rsync.%s must be true or false, got %v", key, v)
		}
		o.Bool[key] = b
	case "value":
		switch x := v.(type) {
		case string:
			o.Str[key] = x
		case float64:
			o.Str[key] = formatNumber(x)
		default:
			return fmt.Errorf("rsync.%s must be a string or a number, got %v", key, v)
		}
	case "binary":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("rsync.binary must be a string, got %v", v)
		}
		o.Binary = s
	case "extra":
		list, ok := v.([]string)
		if !ok {
			return fmt.Errorf("rsync._extra must be a list of strings")
		}
		o.Extra = list
	default:
		return fmt.Errorf("rsync.%s: unknown rsync option", key)
	}
	return nil
}

// finish expands archive: links, perms, times, group, owner, devices and
// specials become true unless set explicitly (default-rsync.lua:
// rsync.prepare).
func (o *RsyncOpts) finish() {
	if o.Bool == nil {
		*o = defaultRsync()
	}
	if !o.Bool["archive"] {
		return
	}
	for _, k := range []string{"links", "perms", "times", "group", "owner", "devices", "specials"} {
		if _, set := o.Bool[k]; !set {
			o.Bool[k] = true
		}
	}
}

// SetKeys returns the names of all boolean options that are true and all
// valued options, sorted, for "has no effect" diagnostics.
func (o RsyncOpts) SetKeys() []string {
	var out []string
	for k, v := range o.Bool {
		if v {
			out = append(out, k)
		}
	}
	for k := range o.Str {
		out = append(out, k)
	}
	if len(o.Extra) > 0 {
		out = append(out, "_extra")
	}
	sort.Strings(out)
	return out
}

// formatNumber prints a Lua number without a trailing ".0" for integers.
func formatNumber(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprint(int64(f))
	}
	return fmt.Sprint(f)
}

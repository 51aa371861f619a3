package lsyncdconf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// argOptions are lsyncd's options and how many values each takes
// (lsyncd.lua: runner.configure; lsyncd.c: main1).
var argOptions = map[string]int{
	"rsync": 2, "rsyncssh": 3, "direct": 2, "delay": 1, "insist": 0, "log": 1,
	"logfile": 1, "nodaemon": 0, "pidfile": 1, "onepass": 0, "version": 0, "help": 0,
	"sshopts": 1,
}

// unsupportedArgs are lsyncd options gsync refuses.
var unsupportedArgs = map[string]string{
	"runner":  "gsync has no Lua runner",
	"script":  "gsync runs no Lua scripts besides the config file",
	"monitor": "gsync always uses inotify",
}

// IsLsyncdArgs reports whether argv is an lsyncd command line rather than
// gsync's native one: it uses one of lsyncd's single-dash options
// (-rsync, -delay, -nodaemon, ...), or it is a single argument that is not
// an option (lsyncd CONFIGFILE).
func IsLsyncdArgs(argv []string) bool {
	for _, a := range argv {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") {
			name := a[1:]
			if _, ok := argOptions[name]; ok {
				return true
			}
			if _, ok := unsupportedArgs[name]; ok {
				return true
			}
		}
	}
	return len(argv) == 1 && !strings.HasPrefix(argv[0], "-")
}

// ParseArgs parses an lsyncd command line (without the program name).
// handled is false when argv is not an lsyncd command line (see
// IsLsyncdArgs); then cfg and err are nil. configFile is the config file
// argument, if any: the caller loads it with LoadFile and applies the
// command line to it with Config.Override. Options take one or two dashes,
// like lsyncd's.
func ParseArgs(argv []string) (cfg *Config, configFile string, handled bool, err error) {
	if !IsLsyncdArgs(argv) {
		return nil, "", false, nil
	}
	cfg = &Config{Settings: Settings{StatusInterval: 10 * time.Second}}
	var sshopts []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if configFile != "" {
				return nil, "", true, fmt.Errorf("more than one config file: %s and %s", configFile, a)
			}
			configFile = a
			continue
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if why, ok := unsupportedArgs[name]; ok {
			return nil, "", true, fmt.Errorf("option %s is not supported: %s", a, why)
		}
		n, ok := argOptions[name]
		if !ok {
			return nil, "", true, fmt.Errorf("unknown option %s (lsyncd options: %s)", a, strings.Join(argNames(), ", "))
		}
		if i+n >= len(argv) && n > 0 {
			return nil, "", true, fmt.Errorf("option %s needs %d argument(s)", a, n)
		}
		vals := argv[i+1 : i+1+n]
		i += n
		st := &cfg.Settings
		switch name {
		case "rsync", "direct":
			s := newSync(name)
			s.Source, s.Target = vals[0], vals[1]
			cfg.Syncs = append(cfg.Syncs, s)
		case "rsyncssh":
			s := newSync(KindRsyncSSH)
			s.Source, s.Host, s.TargetDir = vals[0], vals[1], vals[2]
			cfg.Syncs = append(cfg.Syncs, s)
		case "delay":
			f, err := strconv.ParseFloat(vals[0], 64)
			if err != nil || f < 0 {
				return nil, "", true, fmt.Errorf("option %s %q: want a number of seconds >= 0", a, vals[0])
			}
			d := seconds(f)
			st.Delay = &d
		case "insist":
			st.Insist = true
		case "log":
			st.Log = append(st.Log, vals[0])
		case "logfile":
			st.LogFile = vals[0]
		case "nodaemon":
			st.NoDaemon = true
		case "pidfile":
			st.PidFile = vals[0]
		case "onepass":
			st.OnePass = true
		case "version":
			st.Version = true
		case "help":
			st.Help = true
		case "sshopts":
			sshopts = strings.Fields(vals[0])
		}
	}
	if st := cfg.Settings; st.Version || st.Help {
		return cfg, configFile, true, nil
	}
	if configFile != "" && len(cfg.Syncs) > 0 {
		return nil, "", true, fmt.Errorf("there cannot be command line syncs and a config file together")
	}
	if configFile == "" && len(cfg.Syncs) == 0 {
		return nil, "", true, fmt.Errorf("nothing to do: give a config file or -rsync SRC TARGET, -rsyncssh SRC HOST TARGETDIR or -direct SRC TARGETDIR")
	}
	for i := range cfg.Syncs {
		s := &cfg.Syncs[i]
		if s.Kind == KindRsyncSSH {
			s.SSH.Extra = sshopts
		}
		if err := s.finish(); err != nil {
			return nil, "", true, fmt.Errorf("-%s %s: %w", s.Kind, s.Source, err)
		}
	}
	if d := cfg.Settings.Delay; d != nil {
		for i := range cfg.Syncs {
			dd := *d
			cfg.Syncs[i].Delay = &dd
		}
	}
	return cfg, configFile, true, nil
}

// Override applies command-line settings cl to c: values given on the
// command line win over the config file, and -delay replaces the delay of
// every sync, also an explicit one (lsyncd.lua: Syncs.add, inheritSettings).
func (c *Config) Override(cl Settings) {
	s := &c.Settings
	if cl.LogFile != "" {
		s.LogFile = cl.LogFile
	}
	if cl.PidFile != "" {
		s.PidFile = cl.PidFile
	}
	s.NoDaemon = s.NoDaemon || cl.NoDaemon
	s.Insist = s.Insist || cl.Insist
	s.OnePass = s.OnePass || cl.OnePass
	s.Log = append(s.Log, cl.Log...)
	if cl.Delay != nil {
		d := *cl.Delay
		s.Delay = &d
		for i := range c.Syncs {
			dd := d
			c.Syncs[i].Delay = &dd
		}
	}
}

func argNames() []string {
	var out []string
	for _, k := range sortedKeys(argOptions) {
		out = append(out, "-"+k)
	}
	return out
}

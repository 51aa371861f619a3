-- kinds: local daemon ssh
-- filterFrom: the rules in a file, with comments and blank lines.
sync {
	default.rsync,
	source     = {{src "b"}},
	target     = {{target "b"}},
	filterFrom = {{file "filters" "# generated\n\n- *.tmp\n- /build/\n+ *\n"}},
	rsync      = { archive = true, rsh = {{rsh}} },
}

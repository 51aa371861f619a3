----
-- User configuration file for lsyncd.
--
-- While this works, it is not recommended to use Layer 2 or 3 ... (rsyncssh example)
--
settings {
	statusFile = "/tmp/lsyncd.stat",
	statusInterval = 1,
}

sync {
	default.rsyncssh,
	source="src",
	host="localhost",
	targetdir="dst/",
}

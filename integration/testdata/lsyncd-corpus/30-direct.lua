-- kinds: local
-- lsyncd
-- default.direct: a local copy (a backup disk).
sync { default.direct, source = {{src "a"}}, target = {{target "backup"}} }

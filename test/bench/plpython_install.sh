#!/usr/bin/env bash
# Makes plpython3u available to the cluster the PG* environment names, for
# the PL/Python + torch peers of the benchmarks (test/bench/cnn_plpython.sql).
# When the server does not list plpython3u among its available extensions,
# Debian's postgresql-plpython3-MAJOR of the server's major version is
# fetched with apt-get download and unpacked (dpkg -x, nothing installed
# system-wide by this script) into the server's own PKGLIBDIR and
# SHAREDIR/extension, as its pg_config view reports them, for the private
# copy of a test cluster; a cluster on the system install gets the package
# installed with apt-get instead.
# Needs a superuser connection (the pg_config view) and write access there.
# Then CREATE EXTENSION IF NOT EXISTS plpython3u in the current database.
#
#   test/bench/plpython_install.sh
set -euo pipefail
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
if [ "$(q "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpython3u'")" = 0 ]; then
	lib=$(q "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'")
	share=$(q "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")
	major=$(q "SELECT current_setting('server_version_num')::int / 10000")
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	chmod 755 "$tmp"
	pkg=postgresql-plpython3-$major
	if [ "$lib" = "/usr/lib/postgresql/$major/lib" ]; then
		# the system install: Debian's package, installed as a package
		as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
		as_root apt-get install -y -qq "$pkg" >/dev/null ||
			{ as_root apt-get update -qq && as_root apt-get install -y -qq "$pkg" >/dev/null; }
		echo "plpython3u: $pkg installed"
		q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS plpython3u"
		exit 0
	fi
	(cd "$tmp" && { apt-get download -q "$pkg" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get download -q "$pkg" >/dev/null; }; })
	dpkg -x "$tmp"/"$pkg"_*.deb "$tmp/x"
	cp "$tmp/x/usr/lib/postgresql/$major/lib/plpython3.so" "$lib/"
	cp "$tmp/x/usr/share/postgresql/$major/extension/"plpython3u* "$share/extension/"
	echo "plpython3u: $pkg unpacked into $lib"
fi
q "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS plpython3u"

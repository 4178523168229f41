#!/bin/sh
# test/onnx/bench_sql.sh FILE [ROUNDS]
#		The ONNX import through SQL against reading the file's bytes, in
#		interleaved rounds on one connection (psql's environment: PGHOST,
#		PGPORT, PGUSER, PGDATABASE; maas installed, FILE readable by the
#		server).  Each round times:
#		  read      SELECT length(pg_read_binary_file(FILE))
#		  sha256    the same bytes hashed (what maas_register hashes once)
#		  store     the same bytes inserted as one value into a bytea
#		            column stored EXTERNAL (PostgreSQL's own cost of keeping
#		            them as a value: TOAST and WAL; maas.weight_chunk keeps
#		            them as rows of 8120 bytes in line instead, doc/onnx.md)
#		  register  maas_register(..., 'onnx', pg_read_binary_file(FILE))
#		and prints the best and median of each, and their ratios to read.
#		The model is dropped at the end; the scratch table is a temp table.
set -eu
file=$(readlink -f "$1")
rounds=${2:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

{
	printf "%s\n" "CREATE TEMP TABLE bench_store (data bytea);"
	printf "%s\n" "ALTER TABLE bench_store ALTER COLUMN data SET STORAGE EXTERNAL;"
	printf "%s\n" "SELECT length(pg_read_binary_file('$file'));"	# into the page cache
	printf "%s\n" "\timing on"
	i=0
	while [ "$i" -lt "$rounds" ]; do
		printf "%s\n" "\echo read"
		printf "%s\n" "SELECT length(pg_read_binary_file('$file'));"
		printf "%s\n" "\echo sha256"
		printf "%s\n" "SELECT length(sha256(pg_read_binary_file('$file')));"
		printf "%s\n" "\echo store"
		printf "%s\n" "INSERT INTO bench_store SELECT pg_read_binary_file('$file');"
		printf "%s\n" "\echo register"
		printf "%s\n" "SELECT maas_register('bench_onnx_sql', 'onnx', pg_read_binary_file('$file')) > 0;"
		printf "%s\n" "\timing off"
		printf "%s\n" "TRUNCATE bench_store;"
		printf "%s\n" "SELECT maas_drop('bench_onnx_sql');"
		printf "%s\n" "\timing on"
		i=$((i + 1))
	done
} | psql -X -q -v ON_ERROR_STOP=1 -At >"$out"

awk '
/^(read|sha256|store|register)$/ { what = $1; next }
/^Time: / && what != "" { t[what, ++n[what]] = $2; what = ""; next }
function stat(w, k, a, i, j, x) {
	for (i = 1; i <= n[w]; i++) a[i] = t[w, i] + 0;
	for (i = 2; i <= n[w]; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x; }
	return k == "best" ? a[1] : a[int((n[w] + 1) / 2)];
}
END {
	rb = stat("read", "best"); rm = stat("read", "median");
	split("read sha256 store register", ws, " ");
	for (i = 1; i <= 4; i++) {
		w = ws[i]; b = stat(w, "best"); m = stat(w, "median");
		printf "%-9s best %8.1f ms (median %8.1f ms)  %5.2fx the read (median %5.2fx)\n", w, b, m, b / rb, m / rm;
	}
}' "$out"

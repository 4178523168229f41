# Windowed serving statistics across restarts (issue 17): the hourly
# windows of maas.stats_window and maas.drift_window survive a clean
# restart and are reset by a crash, like maas.stats; maas.stats_window_hours
# applies at a reload.  Time moves with maas.stats_window_test_offset.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';

# a 2-feature linear regression y = x1 + x2, as safetensors built in SQL
my $setup = <<'SQL';
CREATE EXTENSION maas;
CREATE FUNCTION le4(r real) RETURNS bytea LANGUAGE sql AS $$
	SELECT substr(float4send(r), 4, 1) || substr(float4send(r), 3, 1) ||
		   substr(float4send(r), 2, 1) || substr(float4send(r), 1, 1) $$;
CREATE FUNCTION st() RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	header bytea := convert_to('{"w":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},'
							   '"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 'UTF8');
BEGIN
	header := header || convert_to(repeat(' ', (8 - length(header) % 8) % 8), 'UTF8');
	RETURN substr(int8send(length(header)::bigint), 8, 1) || '\x00000000000000'::bytea
		   || header || le4(1) || le4(1) || le4(0);
END $$;
SELECT maas_register('win', 'linear', st(),
	'{"task": "regression", "n_features": 2,
	  "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_deploy('win', 1);
SQL

# 40 calls in this hour (its middle, so that the test stays in it), 20 in the next
my $score = <<'SQL';
SELECT set_config('maas.stats_window_test_offset',
				  (1800 - floor(extract(epoch FROM clock_timestamp()))::bigint % 3600)::text, false);
SELECT count(maas_predict('win', ARRAY[g, 1]::real[])) FROM generate_series(1, 40) g;
SELECT set_config('maas.stats_window_test_offset',
				  (5400 - floor(extract(epoch FROM clock_timestamp()))::bigint % 3600)::text, false);
SELECT count(maas_predict('win', ARRAY[g, 2]::real[])) FROM generate_series(1, 20) g;
SQL

my $windows_sql =
  "SELECT coalesce(string_agg(calls || '/' || rows, ',' ORDER BY window_start), 'none') "
  . "FROM maas.stats_window WHERE model = 'win'";
my $drift_sql =
  "SELECT coalesce(string_agg(serve_mean::numeric(10,3)::text, ',' ORDER BY window_start), 'none') "
  . "FROM maas.drift_window WHERE model = 'win' AND kind = 'feature' AND feature = 2";
my $next_hour_sql =
  "SET maas.stats_window_test_offset = 3600; $windows_sql";

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;
$node->safe_psql($db, $setup);
$node->safe_psql($db, $score);

is($node->safe_psql($db, $windows_sql), '40/40,20/20', 'two hourly windows');
is($node->safe_psql($db, $drift_sql), '1.000,2.000', 'each window has its own feature means');

# --- clean restart: windows kept --------------------------------------------
$node->restart;
is($node->safe_psql($db, $windows_sql), '40/40,20/20', 'windows survive a clean restart');
is($node->safe_psql($db, $drift_sql), '1.000,2.000', 'and their feature moments');

# --- maas.stats_window_hours at a reload --------------------------------------
$node->safe_psql($db, "ALTER SYSTEM SET maas.stats_window_hours = 1; SELECT pg_reload_conf()");
is($node->poll_query_until($db, "SELECT current_setting('maas.stats_window_hours') = '1'"),
	1, 'the reload is seen');
is($node->safe_psql($db, $next_hour_sql), '20/20',
	'an hour later, with one hour kept, only the last window is shown');
$node->safe_psql($db, "ALTER SYSTEM RESET maas.stats_window_hours; SELECT pg_reload_conf()");
$node->poll_query_until($db, "SELECT current_setting('maas.stats_window_hours') = '24'");
is($node->safe_psql($db, $windows_sql), '40/40,20/20', 'nothing was dropped by looking');

# --- a hot standby keeps its own windows -------------------------------------
my $primary_windows = $node->safe_psql($db, $windows_sql);
$node->stop;
$node->set_replication_conf;
$node->append_conf('postgresql.conf', "wal_level = replica\nmax_wal_senders = 4\n");
$node->start;
$node->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'bk', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
is($standby->safe_psql($db, $windows_sql), 'none', 'a standby starts with no windows');
is($standby->safe_psql($db, "SELECT count(maas_predict('win', ARRAY[g, 3]::real[])) FROM generate_series(1, 7) g"),
	'7', 'the standby serves');
is($standby->safe_psql($db, $windows_sql), '7/7', 'and counts its own calls in its windows');
is($node->safe_psql($db, $windows_sql), $primary_windows, 'the primary\'s are its own');
$standby->stop;

# --- crash: windows reset -----------------------------------------------------
$node->stop('immediate');
$node->start;
is($node->safe_psql($db, $windows_sql), 'none', 'a crash resets the windows');
is($node->safe_psql($db, "SELECT count(maas_predict('win', ARRAY[1, 1]::real[]))"), '1',
	'serving goes on');
is($node->safe_psql($db, $windows_sql), '1/1', 'and is counted in a new window');

# --- without windows ---------------------------------------------------------
$node->append_conf('postgresql.conf', "maas.stats_window_max = 0\n");
$node->restart;
my ($ret, $out, $err) = $node->psql($db, 'SELECT * FROM maas.stats_window');
like($err, qr/ERROR:  windowed serving statistics are not enabled\nDETAIL:  maas.stats_window_max is 0\./,
	'maas.stats_window_max = 0 turns windows off, with an error that says so');
is($node->safe_psql($db, "SELECT count(maas_predict('win', ARRAY[1, 1]::real[]))"), '1',
	'serving works without windows');
is($node->safe_psql($db, "SELECT calls FROM maas.stats WHERE model = 'win'"), '2',
	'and maas.stats still counts');

$node->stop;
done_testing();

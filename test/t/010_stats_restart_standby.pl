# Serving statistics across a clean restart (kept) and a crash (reset), on
# a hot standby (its own traffic), and without shared_preload_libraries
# (predictions work, the views say how to enable them).

use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $fixtures = "$FindBin::Bin/../fixtures";

# SQL registering the diabetes linear model as 'diab' and deploying it
sub register_sql
{
	my $w = unpack('H*', slurp_file("$fixtures/diabetes_linear.safetensors"));
	my $c = slurp_file("$fixtures/diabetes_linear.json");
	$c =~ s/'/''/g;
	return "SELECT maas_register('diab', 'linear', '\\x$w'::bytea, '$c'::jsonb); "
	  . "SELECT maas_deploy('diab', 1);";
}

# n predictions, one call each
sub predict_sql
{
	my ($n) = @_;
	return "SELECT count(maas_predict('diab', array_fill(0.01::real, ARRAY[10]))) "
	  . "FROM generate_series(1, $n)";
}

my $stats_sql =
  "SELECT coalesce(string_agg(format('%s v%s calls=%s rows=%s errors=%s', model, version, calls, rows, errors), ';'), 'none') FROM maas.stats";

# --- primary -------------------------------------------------------------
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\nrestart_after_crash = on\n");
$primary->start;
$primary->safe_psql($db, 'CREATE EXTENSION maas');
$primary->safe_psql($db, register_sql());

is($primary->safe_psql($db, predict_sql(40)), '40', 'primary predicts');
$primary->psql($db, "SELECT maas_predict('diab', ARRAY[1]::real[])");
is($primary->safe_psql($db, $stats_sql),
	'diab v1 calls=40 rows=40 errors=1', 'calls and errors counted');
my $reset_before = $primary->safe_psql($db, 'SELECT stats_reset FROM maas.stats_info');
my $since_before = $primary->safe_psql($db, 'SELECT stats_since FROM maas.stats');

# --- clean restart: kept -------------------------------------------------
$primary->restart;
is($primary->safe_psql($db, $stats_sql),
	'diab v1 calls=40 rows=40 errors=1', 'counters survive a clean restart');
is($primary->safe_psql($db, 'SELECT stats_reset FROM maas.stats_info'),
	$reset_before, 'the reset time survives a clean restart');
is($primary->safe_psql($db, 'SELECT stats_since FROM maas.stats'),
	$since_before, 'the entry keeps its start time');
ok(!-e $primary->data_dir . '/pg_stat/maas_stats.stat',
	'the saved file is removed once read');
is($primary->safe_psql($db, predict_sql(5)), '5', 'primary predicts after restart');
is($primary->safe_psql($db, $stats_sql),
	'diab v1 calls=45 rows=45 errors=1', 'counting goes on from the saved counters');

# drift statistics are saved too (the feature means)
my $drift_sql =
  "SELECT string_agg(round(serve_mean::numeric, 4)::text, ',' ORDER BY feature) FROM maas.drift WHERE kind = 'feature'";
my $drift_before = $primary->safe_psql($db, $drift_sql);
is($drift_before, join(',', ('0.0100') x 10), 'feature means served');

# maas.stats_save = off: nothing is written
$primary->append_conf('postgresql.conf', "maas.stats_save = off\n");
$primary->reload;
$primary->restart;
is($primary->safe_psql($db, $stats_sql), 'none',
	'with maas.stats_save off a restart forgets');
$primary->append_conf('postgresql.conf', "maas.stats_save = on\n");
$primary->reload;
is($primary->safe_psql($db, predict_sql(45)), '45', 'primary predicts again');
$primary->restart;
is($primary->safe_psql($db, $drift_sql), $drift_before,
	'feature statistics survive a clean restart');

# --- crash: reset --------------------------------------------------------
# an immediate shutdown, after which the server recovers from a crash
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql($db, $stats_sql), 'none',
	'counters are reset after an immediate shutdown');
isnt($primary->safe_psql($db, 'SELECT stats_reset FROM maas.stats_info'),
	$reset_before, 'and the reset time is the new start');

# a server process that dies (SIGKILL): the postmaster restarts them all
# and reinitializes shared memory
is($primary->safe_psql($db, predict_sql(6)), '6', 'primary predicts 6 rows');
is($primary->safe_psql($db, $stats_sql), 'diab v1 calls=6 rows=6 errors=0',
	'counted before the crash');
my $vpid = $primary->safe_psql($db,
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'");
kill 'KILL', $vpid;
$primary->poll_query_until($db, "SELECT 1", '1');
$primary->poll_query_until($db, "SELECT pg_is_in_recovery() = false", 't');
is($primary->safe_psql($db, $stats_sql), 'none', 'a crash resets the counters');

# --- hot standby ---------------------------------------------------------
is($primary->safe_psql($db, predict_sql(3)), '3', 'primary predicts 3 rows');
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql($db, $stats_sql), 'none',
	'a standby starts with its own empty counters');
is($standby->safe_psql($db, predict_sql(7)), '7', 'standby predicts');
$standby->psql($db, "SELECT maas_predict('diab', array_fill('NaN'::real, ARRAY[10]))");
is($standby->safe_psql($db, $stats_sql),
	'diab v1 calls=7 rows=7 errors=1', 'the standby counts its own traffic');
is($primary->safe_psql($db, $stats_sql),
	'diab v1 calls=3 rows=3 errors=0', 'the primary does not see it');
is( $standby->safe_psql(
		$db,
		"SELECT kind || ' ' || rows_seen || ' ' || coalesce(note, '') FROM maas.drift WHERE kind = 'model'"),
	'model 7 no training statistics for this version',
	'drift works on the standby');
$standby->restart;
is($standby->safe_psql($db, $stats_sql),
	'diab v1 calls=7 rows=7 errors=1', 'the standby keeps its counters across a clean restart');
# a reset on the standby (a superuser here)
$standby->safe_psql($db, 'SELECT maas_stats_reset()');
is($standby->safe_psql($db, $stats_sql), 'none', 'a standby can reset its counters');
$standby->stop;

# --- not preloaded -------------------------------------------------------
my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;
$plain->safe_psql($db, 'CREATE EXTENSION maas');
$plain->safe_psql($db, register_sql());
is($plain->safe_psql($db, predict_sql(4)), '4',
	'without shared_preload_libraries predictions work');
my ($rc, $out, $err) = $plain->psql($db, 'SELECT * FROM maas.stats');
isnt($rc, 0, 'maas.stats fails without shared_preload_libraries');
like($err, qr/ERROR:  serving statistics are not enabled/, 'with a clear message');
like($err, qr/HINT:  Add maas to shared_preload_libraries in postgresql.conf and restart the server\./,
	'and a hint');
($rc, $out, $err) = $plain->psql($db, 'SELECT * FROM maas.drift');
like($err, qr/serving statistics are not enabled/, 'maas.drift says so too');
($rc, $out, $err) = $plain->psql($db, 'SELECT maas_stats_reset()');
like($err, qr/serving statistics are not enabled/, 'and the reset');
is($plain->safe_psql($db, predict_sql(1) . '; SHOW maas.stats_track'), "1\non",
	'the session settings exist without preloading');
$plain->stop;

# --- a damaged stats file is ignored, never trusted ------------------------
# Garble every entry byte of a saved file (keeping its header), and cut
# another short: the server starts, the views work, the counters start over.
my $stat_file = $primary->data_dir . '/pg_stat/maas_stats.stat';
is($primary->safe_psql($db, predict_sql(3)), '3', 'primary predicts before the damage');
foreach my $damage ('garble', 'truncate')
{
	$primary->stop;
	ok(-e $stat_file, "a clean stop saves the file ($damage)");
	my $bytes = slurp_file($stat_file);
	if ($damage eq 'garble')
	{
		my $seed = 7;
		for my $i (32 .. length($bytes) - 1)
		{
			$seed = ($seed * 1103515245 + 12345) % 2147483648;
			substr($bytes, $i, 1) = chr(($seed >> 16) & 255);
		}
	}
	else
	{
		$bytes = substr($bytes, 0, 40 + length($bytes) / 3);
	}
	open(my $fh, '>', $stat_file) or die "cannot write $stat_file: $!";
	binmode $fh;
	print $fh $bytes;
	close $fh;
	$primary->start;
	is($primary->safe_psql($db, $stats_sql), 'none', "a $damage" . 'd file is ignored');
	is($primary->safe_psql($db, 'SELECT count(*) >= 0 FROM maas.drift'), 't',
		"maas.drift works after a $damage" . 'd file');
	is($primary->safe_psql($db, predict_sql(2)), '2', "predictions work after a $damage" . 'd file');
}

$primary->stop;
done_testing();

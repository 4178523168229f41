# A pipelined maas_predict_batch (maas.batch_pipeline: a worker thread runs
# batch k's forward pass while the backend reads batch k + 1) stopped in the
# middle -- by a cancel, by statement_timeout, by pg_terminate_backend --
# stops with the usual error, crashes nothing, and the next call in the same
# session answers as the serial path does.  With two BLAS threads on oneDNN
# the backend's thread joins the products of the batch in flight once it has
# read the next batch (maas.batch_join, on by default), so most cancels land
# while it computes blocks; a third of the cancels run with the join off.  Pass or fail never depends on
# how long anything took.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('batch_pipeline_cancel');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

# a wide MLP (784-1024-1024-10): a batch of 256 rows is about half a
# billion multiply-adds, so a batch is always in flight
$node->safe_psql('postgres', q{
	CREATE EXTENSION maas;
	CREATE TABLE train AS
	  SELECT ARRAY(SELECT ((i * 7 + j * 13) % 255) / 255.0 FROM generate_series(1, 784) j)::real[] AS f,
	         i % 10 AS label
	    FROM generate_series(1, 200) i;
	SELECT maas_train('wide', 'SELECT f, label FROM train', 'label', 'mlp',
	                  '{"hidden": [1024, 1024], "epochs": 1, "seed": 1}');
	CREATE TABLE rows AS
	  SELECT i AS id, ARRAY(SELECT ((i * 3 + j) % 255) / 255.0 FROM generate_series(1, 784) j)::real[] AS f
	    FROM generate_series(1, 600) i;
});
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# the serial answers of 600 rows (batches of 64: a partial last batch)
my $answers_sql =
  "SELECT md5(string_agg(format('%s %s %s', id, prediction, proba), ',' ORDER BY id)) "
  . "FROM maas_predict_proba_batch('wide', 'SELECT id, f FROM rows', 64)";
my $serial = $node->safe_psql('postgres', "SET maas.batch_pipeline = off; $answers_sql");
is($node->safe_psql('postgres',
		"SET maas.blas_threads = 2; SET maas.batch_pipeline = on; $answers_sql"),
	$serial, 'pipelined answers are the serial ones');
is($node->safe_psql('postgres',
		"SET maas.blas_threads = 2; SET maas.batch_pipeline = on; SET maas.batch_join = off; $answers_sql"),
	$serial, 'pipelined answers, not joined, are the serial ones');

# minutes of work: the same 784 features, a million rows, made by the query
my $long_sql =
  "SELECT count(*) FROM maas_predict_batch('wide', "
  . "'SELECT i, f FROM generate_series(1, 1000000) i, (SELECT f FROM rows WHERE id = 1) r', 256)";

# a session that runs the long batch, then (if it survives) the answers
sub start_long
{
	my ($setting, $pre) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'),
			'-c', "SET maas.blas_threads = 2; SET maas.batch_pipeline = $setting; $pre",
			'-c', "SET application_name = 'long'; $long_sql",
			'-c', "SET maas.blas_threads = 2; SET maas.batch_pipeline = $setting; $answers_sql"
		],
		'<', \undef, '>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'long' "
		  . "AND state = 'active' AND query LIKE '%generate_series(1, 1000000)%'")
	  or die "the long batch did not start";
	return ($h, \$out, \$err);
}

sub long_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE application_name = 'long' AND state = 'active'");
}

# cancels at several points of the run (a batch is read while one runs)
for my $i (1 .. 6)
{
	my $setting = $i % 2 ? 'on' : 'auto';
	my $pre = $i % 3 == 0 ? 'SET maas.batch_join = off;' : '';
	$setting .= ', not joined' if $pre;
	my ($h, $out, $err) = start_long($i % 2 ? 'on' : 'auto', $pre);
	select(undef, undef, undef, 0.05 + 0.15 * $i);
	my $pid = long_pid();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)") if $pid ne '';
	$h->finish;
	like($$err, qr/canceling statement due to user request/, "cancel $i ($setting): cancelled");
	is((split /\n/, $$out)[-1], $serial, "cancel $i ($setting): the next call in the session answers");
}

# statement_timeout
for my $ms (300, 1100)
{
	my ($h, $out, $err) = start_long('on', "SET statement_timeout = '${ms}ms';");
	$h->finish;
	like($$err, qr/canceling statement due to statement timeout/,
		"statement_timeout ${ms}ms: stopped");
	is((split /\n/, $$out)[-1], $serial, "statement_timeout ${ms}ms: the next call answers");
}

# a backend terminated mid-batch exits once its worker is done
{
	my ($h, $out, $err) = start_long('on', '');
	select(undef, undef, undef, 0.5);
	my $pid = long_pid();
	$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") if $pid ne '';
	$h->finish;
	like($$err, qr/terminating connection due to administrator command/,
		'terminate: the backend exits');
}

is($node->safe_psql('postgres', "SET maas.batch_pipeline = on; $answers_sql"),
	$serial, 'a new session answers as before');
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
	'the server never restarted');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC|TRAP:/, 'no backend crashed');

done_testing();

# A cnn training (maas_train(..., 'cnn', ...)) stops promptly on a cancel
# and on statement_timeout, and leaves nothing behind: no version, no
# training run, no progress entry.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('cnn_cancel');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

# 28x28 images of noise, as real[1][28][28]
$node->safe_psql('postgres', q{
	CREATE EXTENSION maas;
	CREATE TABLE images AS
	  SELECT i AS id,
	         array_fill(0, ARRAY[1, 28, 28])::real[] AS blank,
	         i % 10 AS label
	    FROM generate_series(1, 3000) i;
	UPDATE images SET blank[1][1 + id % 28][1 + id % 27] = id % 255;
	SELECT maas_train('small', 'SELECT blank, label FROM images LIMIT 200', 'label', 'cnn',
	                  '{"input_shape": [1, 28, 28], "conv": [{"filters": 2, "kernel": 5}],
	                    "pool": 4, "hidden": [8], "epochs": 1}');
});
my $registry_sql =
  "SELECT string_agg(format('%s v%s %s %s', model, version, sha256, deployed), ',' ORDER BY model, version) FROM maas.versions";
my $runs_sql = "SELECT count(*) FROM maas.training_runs";
my $registry = $node->safe_psql('postgres', $registry_sql);
my $runs = $node->safe_psql('postgres', $runs_sql);
is($registry =~ tr/,//, 0, 'one small cnn version to begin with');

# the classic MNIST CNN for many epochs: minutes of work
my $long_train =
  "SET maas.training_notices = off; SELECT maas_train('long', 'SELECT blank, label FROM images', 'label', 'cnn', "
  . "'{\"input_shape\": [1, 28, 28], \"conv\": [{\"filters\": 32, \"kernel\": 3}, {\"filters\": 64, \"kernel\": 3}], "
  . "\"pool\": 2, \"hidden\": [128], \"epochs\": 10000, \"batch_size\": 64}');";

sub start_training
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $long_train ],
		'<', \undef, '>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM maas.training_progress WHERE phase = 'training'")
	  or die "the training did not start";
	# well into the mini-batches of the first epoch
	sleep(1);
	return ($h, \$out, \$err);
}

# --- pg_cancel_backend -------------------------------------------------------
my ($h, $out, $err) = start_training();
my $pid = $node->safe_psql('postgres', "SELECT pid FROM maas.training_progress");
is($node->safe_psql('postgres',
		"SELECT model, algorithm, phase, epochs, rows FROM maas.training_progress"),
	"long|cnn|training|10000|3000",
	'the progress view shows the cnn training');
my $t0 = time();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
my $elapsed = time() - $t0;
like($$err, qr/canceling statement due to user request/, 'cancel: the training was cancelled');
cmp_ok($elapsed, '<', 1.0, "cancel: stopped within a second ($elapsed s)");
is($node->safe_psql('postgres', $registry_sql), $registry, 'cancel: registry unchanged');
is($node->safe_psql('postgres', $runs_sql), $runs, 'cancel: no training run recorded');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.training_progress"),
	'0', 'cancel: nothing in flight');

# --- statement_timeout -------------------------------------------------------
$t0 = time();
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '3s'; $long_train");
$elapsed = time() - $t0;
like($stderr, qr/canceling statement due to statement timeout/,
	'statement_timeout: the training was stopped');
cmp_ok($elapsed, '<', 4.0, "statement_timeout: stopped within a second of the timeout ($elapsed s)");
is($node->safe_psql('postgres', $registry_sql), $registry,
	'statement_timeout: registry unchanged');
is($node->safe_psql('postgres', $runs_sql), $runs, 'statement_timeout: no training run recorded');

# a cnn training still works afterwards
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('small', 'SELECT blank, label FROM images LIMIT 200', 'label', 'cnn', "
	. "'{\"input_shape\": [1, 28, 28], \"conv\": [{\"filters\": 2, \"kernel\": 5}], \"pool\": 4, "
	. "\"hidden\": [8], \"epochs\": 1, \"deploy\": \"never\"}')"),
	'2', 'a cnn training after the cancels makes the next version');

$node->stop;
done_testing();

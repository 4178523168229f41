# Boosted trees and k-means stop promptly on a cancel and on
# statement_timeout, with their worker threads running, and leave nothing
# behind: no version, no training run, no progress entry.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('gbdt_cancel');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION maas;
	CREATE TABLE big AS
	  SELECT i AS id,
	         ARRAY(SELECT random() + i * 0 FROM generate_series(1, 20))::real[] AS x,
	         i % 2 AS label
	    FROM generate_series(1, 100000) i;
	-- a model that is already there, which must stay as it is
	SELECT maas_train('small', 'SELECT x, label FROM big LIMIT 300', 'label', 'gbdt',
	                  '{"n_estimators": 5}');
});
my $registry_sql =
  "SELECT string_agg(format('%s v%s %s %s', model, version, sha256, deployed), ',' ORDER BY model, version) FROM maas.versions";
my $runs_sql = "SELECT count(*) FROM maas.training_runs";
my $registry = $node->safe_psql('postgres', $registry_sql);
my $runs = $node->safe_psql('postgres', $runs_sql);

# trainings that would take many minutes, on two threads
my %long = (
	gbdt => "SET maas.training_notices = off; SET maas.training_threads = 2; "
	  . "SELECT maas_train('long', 'SELECT x, label FROM big', 'label', 'gbdt', "
	  . "'{\"n_estimators\": 20000, \"max_depth\": 6, \"learning_rate\": 0.01}');",
	kmeans => "SET maas.training_notices = off; SET maas.training_threads = 2; "
	  . "SELECT maas_train('long', 'SELECT x FROM big', NULL, 'kmeans', "
	  . "'{\"k\": 200, \"max_iter\": 100000, \"tol\": 0, \"n_init\": 1000}');");

foreach my $alg ('gbdt', 'kmeans')
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $long{$alg} ],
		'<', \undef, '>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM maas.training_progress WHERE phase = 'training' AND epoch >= 1")
	  or die "the $alg training did not start";
	my $pid = $node->safe_psql('postgres', "SELECT pid FROM maas.training_progress");
	is($node->safe_psql('postgres', "SELECT model, algorithm, phase, rows FROM maas.training_progress"),
		"long|$alg|training|100000", "$alg: the progress view shows the training");
	my $t0 = time();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$h->finish;
	my $elapsed = time() - $t0;
	like($err, qr/canceling statement due to user request/, "$alg: the training was cancelled");
	cmp_ok($elapsed, '<', 1.0, "$alg: stopped within a second ($elapsed s)");
	is($node->safe_psql('postgres', $registry_sql), $registry, "$alg: registry unchanged");
	is($node->safe_psql('postgres', $runs_sql), $runs, "$alg: no training run recorded");
	is($node->safe_psql('postgres', "SELECT count(*) FROM maas.training_progress"),
		'0', "$alg: nothing in flight");

	$t0 = time();
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"SET statement_timeout = '3s'; $long{$alg}");
	$elapsed = time() - $t0;
	like($stderr, qr/canceling statement due to statement timeout/,
		"$alg: statement_timeout stopped the training");
	cmp_ok($elapsed, '<', 4.0, "$alg: within a second of the timeout ($elapsed s)");
	is($node->safe_psql('postgres', $registry_sql), $registry, "$alg: registry unchanged after the timeout");
}

# a training still works afterwards, in the same backends' server
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('small', 'SELECT x, label FROM big LIMIT 300', 'label', 'gbdt', '{\"n_estimators\": 5, \"deploy\": \"never\"}')"),
	'2', 'a training after the cancels makes the next version');

$node->stop;
done_testing();

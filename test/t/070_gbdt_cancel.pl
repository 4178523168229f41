# Boosted trees and k-means stop promptly on a cancel and on
# statement_timeout, with their worker threads running, and leave nothing
# behind: no version, no training run, no progress entry.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

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
	my ($h, $out, $err) = start_training($node, $long{$alg});
	is($node->safe_psql('postgres', "SELECT model, algorithm, phase, rows FROM maas.training_progress"),
		"long|$alg|training|100000", "$alg: the progress view shows the training");
	my %left = (registry_sql => $registry_sql, registry => $registry,
		runs_sql => $runs_sql, runs => $runs);
	check_training_cancel($node, $h, $err, $alg, \%left);
	check_training_timeout($node, $long{$alg}, "$alg statement_timeout",
		{ registry_sql => $registry_sql, registry => $registry });
}

# a training still works afterwards, in the same backends' server
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('small', 'SELECT x, label FROM big LIMIT 300', 'label', 'gbdt', '{\"n_estimators\": 5, \"deploy\": \"never\"}')"),
	'2', 'a training after the cancels makes the next version');

$node->stop;
done_testing();

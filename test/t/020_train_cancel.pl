# maas_train stops promptly on a cancel and on statement_timeout, and
# leaves nothing behind: no version, no training run, no progress entry.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $node = PostgreSQL::Test::Cluster->new('train_cancel');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION maas;
	CREATE TABLE big AS
	  SELECT i AS id,
	         ARRAY(SELECT random() + i * 0 FROM generate_series(1, 100))::real[] AS x,
	         i % 3 AS label
	    FROM generate_series(1, 20000) i;
	-- a model that is already there, which must stay as it is
	SELECT maas_train('small', 'SELECT x, label FROM big LIMIT 300', 'label', 'logistic',
	                  '{"epochs": 5}');
});
my $registry_sql =
  "SELECT string_agg(format('%s v%s %s %s', model, version, sha256, deployed), ',' ORDER BY model, version) FROM maas.versions";
my $runs_sql = "SELECT count(*) FROM maas.training_runs";
my $registry = $node->safe_psql('postgres', $registry_sql);
my $runs = $node->safe_psql('postgres', $runs_sql);

# a training that would take many minutes
my $long_train =
  "SET maas.training_notices = off; SELECT maas_train('long', 'SELECT x, label FROM big', 'label', 'mlp', '{\"hidden\": [512], \"epochs\": 10000}');";


# --- pg_cancel_backend -------------------------------------------------------
my ($h, $out, $err) = start_training($node, $long_train);
my $progress = $node->safe_psql('postgres',
	"SELECT model, algorithm, phase, epochs, rows FROM maas.training_progress");
is($progress, "long|mlp|training|10000|20000",
	'the progress view shows the training from another session');
# another role sees that a training runs, not what it trains (issue 9)
$node->safe_psql('postgres', 'CREATE ROLE progress_peer');
is( $node->safe_psql(
		'postgres', q{SET ROLE progress_peer;
		  SELECT pid IS NOT NULL, trained_by, model, algorithm, phase, epoch, rows, loss
		    FROM maas.training_progress}),
	"t|postgres||||||",
	'another role sees the training, not its model or progress');
my %left = (registry_sql => $registry_sql, registry => $registry,
	runs_sql => $runs_sql, runs => $runs);
check_training_cancel($node, $h, $err, 'cancel', \%left);

# --- statement_timeout -------------------------------------------------------
check_training_timeout($node, $long_train, 'statement_timeout', \%left);

# a training still works afterwards
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('small', 'SELECT x, label FROM big LIMIT 300', 'label', 'logistic', '{\"epochs\": 5, \"deploy\": \"never\"}')"),
	'2', 'a training after the cancels makes the next version');

$node->stop;
done_testing();

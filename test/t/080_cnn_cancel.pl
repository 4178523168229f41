# A cnn training (maas_train(..., 'cnn', ...)) stops promptly on a cancel
# and on statement_timeout, and leaves nothing behind: no version, no
# training run, no progress entry.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

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


# --- pg_cancel_backend -------------------------------------------------------
my ($h, $out, $err) = start_training($node, $long_train);
is($node->safe_psql('postgres',
		"SELECT model, algorithm, phase, epochs, rows FROM maas.training_progress"),
	"long|cnn|training|10000|3000",
	'the progress view shows the cnn training');
my %left = (registry_sql => $registry_sql, registry => $registry,
	runs_sql => $runs_sql, runs => $runs);
check_training_cancel($node, $h, $err, 'cancel', \%left);

# --- statement_timeout -------------------------------------------------------
check_training_timeout($node, $long_train, 'statement_timeout', \%left);

# a cnn training still works afterwards
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('small', 'SELECT blank, label FROM images LIMIT 200', 'label', 'cnn', "
	. "'{\"input_shape\": [1, 28, 28], \"conv\": [{\"filters\": 2, \"kernel\": 5}], \"pool\": 4, "
	. "\"hidden\": [8], \"epochs\": 1, \"deploy\": \"never\"}')"),
	'2', 'a cnn training after the cancels makes the next version');

$node->stop;
done_testing();

# A backend killed with SIGKILL in the middle of maas_train: the server
# restarts, and the registry is as it was before the training began.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('train_crash');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'maas'\nrestart_after_crash = on\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION maas;
	CREATE TABLE big AS
	  SELECT i AS id,
	         ARRAY(SELECT random() + i * 0 FROM generate_series(1, 100))::real[] AS x,
	         i % 3 AS label
	    FROM generate_series(1, 20000) i;
	SELECT maas_train('kept', 'SELECT x, label FROM big LIMIT 300', 'label', 'logistic',
	                  '{"epochs": 5}');
	SELECT maas_train('long', 'SELECT x, label FROM big LIMIT 300', 'label', 'logistic',
	                  '{"epochs": 5}');
});
my $registry_sql =
  "SELECT string_agg(format('%s v%s %s %s', model, version, sha256, deployed), ',' ORDER BY model, version) FROM maas.versions";
my $runs_sql = "SELECT string_agg(format('%s v%s', model, version), ',' ORDER BY id) FROM maas.training_runs";
my $predict_sql =
  "SELECT string_agg(maas_predict('kept', b)::text, ',' ORDER BY id) FROM big b WHERE id <= 20";
my $registry = $node->safe_psql('postgres', $registry_sql);
my $runs = $node->safe_psql('postgres', $runs_sql);
my $predictions = $node->safe_psql('postgres', $predict_sql);

my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
		"SET maas.training_notices = off; SELECT maas_train('long', 'SELECT x, label FROM big', 'label', 'mlp', '{\"hidden\": [512], \"epochs\": 10000, \"deploy\": \"always\"}');"
	],
	'<', \undef, '>', \$out, '2>', \$err);
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM maas.training_progress WHERE phase = 'training' AND epoch >= 1")
  or die "the training did not start";
my $pid = $node->safe_psql('postgres', "SELECT pid FROM maas.training_progress");
ok(kill('KILL', $pid), "SIGKILL sent to the training backend $pid");
$h->finish;
like($err, qr/server closed the connection|terminated abnormally|connection to server was lost/,
	'the training session died');

# the postmaster reinitialises after the crash
$node->poll_query_until('postgres', 'SELECT true') or die "the server did not come back";
is($node->safe_psql('postgres', $registry_sql), $registry, 'registry intact after recovery');
is($node->safe_psql('postgres', $runs_sql), $runs, 'training runs intact after recovery');
is($node->safe_psql('postgres', $predict_sql), $predictions, 'predictions unchanged');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.training_progress"), '0',
	'no stale training in the progress view');
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('long', 'SELECT x, label FROM big LIMIT 300', 'label', 'logistic', '{\"epochs\": 5}')"),
	'2', 'the next training takes the next version number');

$node->stop;
done_testing();

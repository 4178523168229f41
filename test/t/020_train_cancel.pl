# maas_train stops promptly on a cancel and on statement_timeout, and
# leaves nothing behind: no version, no training run, no progress entry.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

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

sub start_training
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $long_train ],
		'<', \undef, '>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM maas.training_progress WHERE phase = 'training' AND epoch >= 1")
	  or die "the training did not start";
	return ($h, \$out, \$err);
}

# --- pg_cancel_backend -------------------------------------------------------
my ($h, $out, $err) = start_training();
my $pid = $node->safe_psql('postgres', "SELECT pid FROM maas.training_progress");
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

# a training still works afterwards
is($node->safe_psql('postgres',
	"SELECT version FROM maas_train('small', 'SELECT x, label FROM big LIMIT 300', 'label', 'logistic', '{\"epochs\": 5, \"deploy\": \"never\"}')"),
	'2', 'a training after the cancels makes the next version');

$node->stop;
done_testing();

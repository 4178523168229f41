# maas on a streaming standby, and across restarts and a crash.
#
# A primary serves the digits MLP; a hot standby made from a base backup
# serves the same predictions; a deploy of version 2 on the primary reaches
# sessions already open on the standby at their next statement (and not
# inside a REPEATABLE READ transaction that began before); parallel workers
# on the standby serve it too; the standby refuses to change the registry;
# and the registry (versions, sha256, deployments, predictions) survives a
# clean restart and a crash, and the standby follows the primary through it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $db = 'postgres';

my $predict_sql =
  "SELECT string_agg(maas_predict('digits', features)::text, ',' ORDER BY id) FROM digits_test";
my $label_sql =
  "SELECT string_agg(maas_predict_label('digits', features), ',' ORDER BY id) FROM digits_test";
sub predict_version_sql
{
	my ($v) = @_;
	return "SELECT string_agg(maas_predict('digits', $v, features)::text, ',' ORDER BY id) FROM digits_test";
}
my $versions_sql =
  "SELECT string_agg(format('%s v%s %s %s %s deployed=%s', model, version, task, dtype, sha256, deployed), E'\\n' ORDER BY model, version) FROM maas.versions";
my $deployments_sql =
  "SELECT string_agg(format('%s %s %s->%s %s', id, model, previous_version, version, strategy), E'\\n' ORDER BY id) FROM maas.deployments";

# what the fixtures say the two versions predict
my $v1_classes = expected_column('digits_mlp_expected.csv', 'class');
my $v2_classes = expected_column('digits_mlp_v2_expected.csv', 'class');
my @v2_names = qw(zero one two three four five six seven eight nine);
my $v1_labels = $v1_classes;
my $v2_labels =
  expected_column('digits_mlp_v2_expected.csv', 'class', sub { $v2_names[ $_[0] ] });
isnt($v1_classes, $v2_classes,
	'fixtures: v1 and v2 predict different classes on some row');

# --- primary -------------------------------------------------------------
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$primary->start;

# the library is loaded at start: its settings exist before any maas call
is($primary->safe_psql($db, 'SHOW maas.cache_size'),
	'64MB', 'maas is preloaded on the primary');

$primary->safe_psql($db, 'CREATE EXTENSION maas');
is($primary->safe_psql($db, register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')),
	'1', 'digits_mlp registered as version 1');
is($primary->safe_psql($db, "SELECT maas_deploy('digits', 1)"),
	'1', 'version 1 deployed');
$primary->safe_psql($db, table_from_csv_sql('digits_test', 'digits_test.csv'));

is($primary->safe_psql($db, $predict_sql),
	$v1_classes, 'primary: predictions match digits_mlp_expected.csv');
is($primary->safe_psql($db, $label_sql),
	$v1_labels, 'primary: v1 labels are the digits');

# --- standby -------------------------------------------------------------
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# keep the primary from pruning rows a standby snapshot still needs
$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\n");
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql($db, 'SHOW maas.cache_size'),
	'64MB', 'maas is preloaded on the standby');
my $primary_v1 = $primary->safe_psql($db, $predict_sql);
my $standby_v1 = $standby->safe_psql($db, $predict_sql);
is($standby_v1, $primary_v1, 'standby: predictions equal the primary\'s');
is($standby_v1, $v1_classes, 'standby: predictions match digits_mlp_expected.csv');
is($standby->safe_psql($db, "SELECT model, deployed_version, latest_version, versions FROM maas.models"),
	'digits|1|1|1', 'standby: maas.models shows version 1 deployed');

# sessions opened on the standby before the deploy, with v1 in their cache:
# one in autocommit, one inside a REPEATABLE READ transaction
my $bg = $standby->background_psql($db);
is($bg->query_safe($predict_sql), $v1_classes, 'standby session: v1 before the deploy');
$bg->query_safe("PREPARE pred AS $predict_sql");
is($bg->query_safe('EXECUTE pred'), $v1_classes,
	'standby session: prepared statement gives v1 before the deploy');

my $rr = $standby->background_psql($db);
$rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($rr->query_safe($predict_sql), $v1_classes,
	'standby REPEATABLE READ transaction: v1 before the deploy');

# --- version 2 on the primary ---------------------------------------------
is($primary->safe_psql($db, register_sql('digits', 'mlp', 'digits_mlp_v2.safetensors', 'digits_mlp_v2.json')),
	'2', 'digits_mlp_v2 registered as version 2');
is($primary->safe_psql($db, "SELECT maas_deploy('digits', 2)"),
	'2', 'version 2 deployed');
is($primary->safe_psql($db, $predict_sql),
	$v2_classes, 'primary: predictions match digits_mlp_v2_expected.csv');
$primary->wait_for_catchup($standby);

is($standby->safe_psql($db, $predict_sql), $v2_classes,
	'standby, new session: v2 predictions after replay');
is($standby->safe_psql($db, $label_sql), $v2_labels,
	'standby, new session: v2 label texts after replay');
is($standby->safe_psql($db, predict_version_sql(1)), $v1_classes,
	'standby: version 1 still served when asked for by number');

# maas_predict is PARALLEL SAFE: a worker on the standby loads the model
# from the registry itself
my $parallel =
  'SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; ';
like($standby->safe_psql($db,
		"$parallel EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $predict_sql"),
	qr/Workers Launched: [1-9]/, 'standby: the predictions can run in a parallel worker');
is($standby->safe_psql($db, "$parallel $predict_sql"), $v2_classes,
	'standby: a parallel worker serves v2');

is($bg->query_safe($predict_sql), $v2_classes,
	'standby session with v1 cached: next statement serves v2');
is($bg->query_safe($label_sql), $v2_labels,
	'standby session with v1 cached: next statement gives v2 labels');
is($bg->query_safe('EXECUTE pred'), $v2_classes,
	'standby session: prepared statement serves v2 after the deploy');
$bg->quit;

is($rr->query_safe($predict_sql), $v1_classes,
	'standby REPEATABLE READ transaction: still v1 after the deploy is replayed');
$rr->query_safe('COMMIT');
is($rr->query_safe($predict_sql), $v2_classes,
	'standby REPEATABLE READ session: v2 once the transaction ended');
$rr->quit;

# --- a standby cannot change the registry ---------------------------------
my %writes = (
	'maas_register' => register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json'),
	'maas_register (new model)' => register_sql('other', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json'),
	'maas_deploy by number' => "SELECT maas_deploy('digits', 1)",
	'maas_deploy previous' => "SELECT maas_deploy('digits', 'previous')",
	'maas_drop' => "SELECT maas_drop('digits', 1)");
foreach my $what (sort keys %writes)
{
	my ($ret, $stdout, $stderr) = $standby->psql($db, $writes{$what});
	isnt($ret, 0, "standby: $what fails");
	like($stderr, qr/read-only/, "standby: $what fails as read-only");
}
is($standby->safe_psql($db, $versions_sql), $primary->safe_psql($db, $versions_sql),
	'standby: registry unchanged by the failed writes');

# --- clean restart of the primary ------------------------------------------
my $versions = $primary->safe_psql($db, $versions_sql);
my $sha_v1 = fixture_sha256('digits_mlp.safetensors');
my $sha_v2 = fixture_sha256('digits_mlp_v2.safetensors');
is($versions,
	"digits v1 classification F32 $sha_v1 deployed=f\n"
	  . "digits v2 classification F32 $sha_v2 deployed=t",
	'maas.versions: both versions, sha256 of the fixture files');
my $deployments = $primary->safe_psql($db, $deployments_sql);

$primary->restart;
is($primary->safe_psql($db, $versions_sql), $versions, 'after restart: same versions and sha256');
is($primary->safe_psql($db, $deployments_sql), $deployments, 'after restart: same deployments');
is($primary->safe_psql($db, $predict_sql), $v2_classes, 'after restart: v2 predictions');
is($primary->safe_psql($db, predict_version_sql(1)), $v1_classes,
	'after restart: v1 predictions by number');

# --- crash of the primary ---------------------------------------------------
# a version registered and deployed right before the crash exists only in
# WAL: version 3 is the F64 copy of v1 (stored as F32, predicts as v1)
is($primary->safe_psql($db, register_sql('digits', 'mlp', 'digits_mlp_f64.safetensors', 'digits_mlp.json')),
	'3', 'F64 copy of digits_mlp registered as version 3');
is($primary->safe_psql($db, "SELECT maas_deploy('digits', 'latest')"),
	'3', 'version 3 deployed with strategy latest');
$versions = $primary->safe_psql($db, $versions_sql);
$deployments = $primary->safe_psql($db, $deployments_sql);
my $before_crash = $primary->safe_psql($db, $predict_sql);
is($before_crash, $v1_classes, 'version 3 predicts as version 1');

$primary->stop('immediate');
$primary->start;
is($primary->safe_psql($db, $versions_sql), $versions, 'after crash: same versions and sha256');
is($primary->safe_psql($db, $deployments_sql), $deployments, 'after crash: same deployments');
is($primary->safe_psql($db, "SELECT deployed_version, latest_version, versions FROM maas.models WHERE model = 'digits'"),
	'3|3|3', 'after crash: version 3 deployed, 3 versions');
is($primary->safe_psql($db, $predict_sql), $before_crash, 'after crash: same predictions');
is($primary->safe_psql($db, predict_version_sql(2)), $v2_classes,
	'after crash: v2 predictions by number');

# the registry still works after recovery, and the standby follows
is($primary->safe_psql($db, "SELECT maas_deploy('digits', 'previous')"),
	'2', 'after crash: roll back to version 2');
is($primary->safe_psql($db, register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')),
	'4', 'after crash: version numbers continue at 4');
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, $versions_sql), $primary->safe_psql($db, $versions_sql),
	'standby after the primary\'s crash: same registry');
is($standby->safe_psql($db, $predict_sql), $v2_classes,
	'standby after the primary\'s crash: serves version 2');

$standby->stop;
$primary->stop;
done_testing();

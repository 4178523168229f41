# The registry survives pg_dump / pg_restore.
#
# maas.model, maas.version, maas.deployment and their sequences are
# extension configuration (pg_extension_config_dump): a dump carries every
# version (weights included), the deployment history and the counters, so a
# restored database serves the same predictions and goes on numbering
# versions where the original stopped.  Each model's type (its owner and
# grants, sql/install/10_owners.sql) is dumped as an object of its own,
# before the registry's rows that name it.  Secrets are not dumped, but
# their types are (sql/install/60_remote.sql): a restored secret has its
# name and owner, no value, until its owner sets it again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $predict_sql =
  "SELECT string_agg(maas_predict('digits', features)::text, ',' ORDER BY id) FROM digits_test";
my $predict_v1_sql =
  "SELECT string_agg(maas_predict('digits', 1, features)::text, ',' ORDER BY id) FROM digits_test";
my $versions_sql =
  "SELECT string_agg(format('%s v%s %s %s %s %s %s deployed=%s', model, version, algorithm, task, n_features, bytes, sha256, deployed), E'\\n' ORDER BY model, version) FROM maas.versions";
my $deployments_sql =
  "SELECT string_agg(format('%s %s %s->%s %s %s', id, model, previous_version, version, strategy, deployed_at), E'\\n' ORDER BY id) FROM maas.deployments";
my $models_sql =
  "SELECT string_agg(format('%s %s %s %s %s %s', model, owner, deployed_version, latest_version, versions, bytes), E'\\n' ORDER BY model) FROM maas.models";

my $v1_classes = expected_column('digits_mlp_expected.csv', 'class');
my $v2_classes = expected_column('digits_mlp_v2_expected.csv', 'class');

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION maas');
$node->safe_psql('src', table_from_csv_sql('digits_test', 'digits_test.csv'));
is($node->safe_psql('src', register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')),
	'1', 'digits v1 registered');
is($node->safe_psql('src', register_sql('digits', 'mlp', 'digits_mlp_v2.safetensors', 'digits_mlp_v2.json')),
	'2', 'digits v2 registered');
# a dropped version: numbering must go on after it, not reuse it
is($node->safe_psql('src', register_sql('digits', 'mlp', 'digits_mlp_f16.safetensors', 'digits_mlp.json')),
	'3', 'digits v3 (F16 copy of v1) registered');
is($node->safe_psql('src', register_sql('cancer', 'logreg', 'cancer_logreg.safetensors', 'cancer_logreg.json')),
	'1', 'cancer v1 registered');
$node->safe_psql('src', "SELECT maas_deploy('digits', 1); SELECT maas_deploy('digits', 2); SELECT maas_drop('digits', 3)");
# a model of another role, granted to a third
$node->safe_psql('src', q{
	CREATE ROLE dump_owner;
	CREATE ROLE dump_app;
	GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb) TO dump_owner;
	SET ROLE dump_owner;
} . register_sql('owned', 'linear', 'diabetes_linear.safetensors', 'diabetes_linear.json') . q{;
	RESET ROLE;
	SELECT maas_grant('owned', 'dump_app');
	GRANT EXECUTE ON FUNCTION maas_secret_set(text, text) TO dump_owner, dump_app;
	SET ROLE dump_owner;
	SELECT maas_secret_set('dump_key', 'sk-dump-0123456789');
	RESET ROLE;
});
my $rights_sql =
  "SELECT string_agg(format('%s %s %s', model, owner, acl), E'\\n' ORDER BY model) FROM maas.models";
is($node->safe_psql('src', $predict_sql), $v2_classes, 'source: v2 deployed and serving');

my %before = map { $_ => $node->safe_psql('src', $_) }
  ($versions_sql, $deployments_sql, $models_sql, $rights_sql);

# dump, restore into a new database
my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dst', $dump ], 'pg_restore');

is($node->safe_psql('dst', $versions_sql), $before{$versions_sql},
	'restored: same versions (sha256, sizes, deployed flag)');
is($node->safe_psql('dst', $deployments_sql), $before{$deployments_sql},
	'restored: same deployment history');
is($node->safe_psql('dst', $models_sql), $before{$models_sql},
	'restored: same models');
is($node->safe_psql('dst', $rights_sql), $before{$rights_sql},
	'restored: same owners and grants');
is( $node->safe_psql(
		'dst', q{SELECT count(*) FROM maas.models m JOIN pg_type t ON t.oid = m.type
		          WHERE t.typnamespace = 'maas'::regnamespace}),
	'3', 'restored: every model has its type');
is($node->safe_psql('dst', "SET ROLE dump_app; SELECT maas_predict('owned', 1, array_fill(0::real, ARRAY[10])) IS NOT NULL"),
	't', 'restored: the grantee may predict');

# a secret's type comes back, its value does not
my $text = $node->basedir . '/src.sql';
$node->command_ok([ 'pg_restore', '-f', $text, $dump ], 'pg_restore to a script');
unlike(slurp_file($text), qr/sk-dump/, 'the dump holds no secret value');
is( $node->safe_psql(
		'dst', q{SELECT (SELECT count(*) FROM maas.secret) || ' ' || pg_get_userbyid(typowner)
		           FROM pg_type WHERE typname = maas.secret_type_name('dump_key')}),
	'0 dump_owner', 'restored: the secret\'s type with its owner, no row');
my ($rc, $out, $err) = $node->psql('dst', "SET ROLE dump_app; SELECT maas_secret_set('dump_key', 'sk-app')");
like($err, qr/must be owner of secret "dump_key"/, 'restored: another role may not set the secret');
$node->safe_psql('dst', "SET ROLE dump_owner; SELECT maas_secret_set('dump_key', 'sk-dump-again')");
is($node->safe_psql('dst', "SELECT name || ' ' || owner FROM maas.secrets"),
	'dump_key dump_owner', 'restored: its owner sets it again');
($rc, $out, $err) = $node->psql('postgres', 'DROP ROLE dump_owner');
like($err, qr/cannot be dropped because some objects depend on it/,
	'the owner of models in two databases cannot be dropped');
is($node->safe_psql('dst', $predict_sql), $v2_classes, 'restored: deployed v2 serves the same predictions');
is($node->safe_psql('dst', $predict_v1_sql), $v1_classes, 'restored: v1 by number too');

# the counters came along: version 4 next (3 was dropped, never reused), and
# new rows get fresh ids
is($node->safe_psql('dst', register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')),
	'4', 'restored: next digits version is 4');
is($node->safe_psql('dst', register_sql('diabetes', 'linear', 'diabetes_linear.safetensors', 'diabetes_linear.json')),
	'1', 'restored: a new model can be registered');
is($node->safe_psql('dst', "SELECT maas_deploy('digits', 'previous')"),
	'1', 'restored: rollback follows the restored history');
is($node->safe_psql('dst', $predict_sql), $v1_classes, 'restored: rolled back to v1');

# the source is untouched by all this
is($node->safe_psql('src', $versions_sql), $before{$versions_sql}, 'source registry unchanged');

$node->stop;
done_testing();

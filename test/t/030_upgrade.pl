# The upgrade chain from the released 0.1.
#
# A database made with maas 0.1 (its shipped install script) holding
# models, versions, a dropped version, deployments, a grant, serving
# statistics and a training run is updated with ALTER EXTENSION maas
# UPDATE.  Then its maas objects, as the catalog and psql's \df, \dv and \d
# describe them, equal those of a fresh install of the current version;
# everything it held is still there and serves the same predictions; and
# the core regression tests pass on a database updated the same way.  A
# pg_dump of the 0.1 database restores into the current version too.

use strict;
use warnings;

use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $root = abs_path(dirname(__FILE__) . '/../..');

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

my $current = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'maas'");
isnt($current, '0.1', "the current version ($current) is not 0.1");
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(version, ' ' ORDER BY version) FROM pg_available_extension_versions WHERE name = 'maas'"
	),
	"0.1 $current",
	'0.1 and the current version are installed');

# ---- a 0.1 database with something in every catalog table ----

$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', "CREATE EXTENSION maas VERSION '0.1'");
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'maas'"),
	'0.1', 'installed 0.1');
$node->safe_psql('old', table_from_csv_sql('digits_test', 'digits_test.csv'));
$node->safe_psql('old', register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json'));
$node->safe_psql('old', register_sql('digits', 'mlp', 'digits_mlp_v2.safetensors', 'digits_mlp_v2.json'));
$node->safe_psql('old', register_sql('digits', 'mlp', 'digits_mlp_f16.safetensors', 'digits_mlp.json'));
$node->safe_psql('old', register_sql('cancer', 'logreg', 'cancer_logreg.safetensors', 'cancer_logreg.json'));
$node->safe_psql('old', q{
	SELECT maas_deploy('digits', 1);
	SELECT maas_deploy('digits', 2);
	SELECT maas_drop('digits', 3);
	SELECT maas_deploy('cancer', 'latest');
	CREATE ROLE app;
	SELECT maas_grant('digits', 'app');
	SELECT count(maas_predict('digits', features)) FROM digits_test;
	SELECT count(*) FROM maas_predict_batch('digits', 'SELECT id, features FROM digits_test');
});
$node->safe_psql('old', q{
	SET maas.training_notices = off;
	SELECT version FROM maas_train('trained', 'SELECT features, label FROM digits_test', 'label',
	                               'logistic', '{"epochs": 3}');
});

my %state_sql = (
	models =>
	  "SELECT string_agg(format('%s %s %s %s %s %s', model, owner, deployed_version, latest_version, versions, bytes), E'\\n' ORDER BY model) FROM maas.models",
	versions =>
	  "SELECT string_agg(format('%s v%s %s %s %s %s %s %s deployed=%s', model, version, algorithm, task, n_features, bytes, sha256, metrics, deployed), E'\\n' ORDER BY model, version) FROM maas.versions",
	deployments =>
	  "SELECT string_agg(format('%s %s %s->%s %s %s %s', id, model, previous_version, version, strategy, deployed_by, deployed_at), E'\\n' ORDER BY id) FROM maas.deployments",
	training_runs =>
	  "SELECT string_agg(format('%s v%s %s %s %s %s %s %s %s %s', model, version, algorithm, task, source, target, params, rows_train, rows_test, loss), E'\\n' ORDER BY model, version) FROM maas.training_runs",
	stats =>
	  "SELECT string_agg(format('%s v%s calls=%s rows=%s errors=%s', model, version, calls, rows, errors), E'\\n' ORDER BY model, version) FROM maas.stats",
	# who else may use each model: 0.1 kept grants in maas.model.acl, 0.2 in
	# the ACL of the model's type, which also lists the owner
	grants => q{
	  SELECT string_agg(format('%s %s', m.model,
	                           (SELECT string_agg(CASE e.grantee WHEN 0 THEN 'PUBLIC'
	                                              ELSE pg_get_userbyid(e.grantee)::text END
	                                              || ':' || e.privilege_type, ',' ORDER BY 1)
	                              FROM aclexplode(m.acl) e
	                             WHERE e.grantee <> (SELECT oid FROM pg_roles WHERE rolname = m.owner))),
	                    E'\n' ORDER BY m.model)
	    FROM maas.models m},
	counters =>
	  "SELECT format('%s %s %s %s', (SELECT last_value FROM maas.model_id_seq), (SELECT last_value FROM maas.version_id_seq), (SELECT last_value FROM maas.deployment_id_seq), (SELECT last_value FROM maas.training_run_id_seq))",
);
my %predict_sql = (
	digits =>
	  "SELECT string_agg(maas_predict('digits', features)::text, ',' ORDER BY id) FROM digits_test",
	digits_v1 =>
	  "SELECT string_agg(maas_predict('digits', 1, features)::text, ',' ORDER BY id) FROM digits_test",
	cancer_batch =>
	  "SELECT count(*) FROM maas_predict_batch('cancer', 'SELECT id, features[1:30] FROM digits_test')",
	trained =>
	  "SELECT string_agg(maas_predict('trained', d)::text, ',' ORDER BY id) FROM digits_test d",
	evaluate =>
	  "SELECT maas_evaluate('trained', 'SELECT features, label FROM digits_test', 'label')->>'accuracy'",
);

# what 0.1 answers, then the data (statistics included), and a dump of it
my %predicted = map { $_ => $node->safe_psql('old', $predict_sql{$_}) } keys %predict_sql;
is($predicted{digits}, expected_column('digits_mlp_v2_expected.csv', 'class'),
	'0.1: v2 serves the fixture predictions');
is($predicted{digits_v1}, expected_column('digits_mlp_expected.csv', 'class'),
	'0.1: v1 by number serves its fixture predictions');
my %before = map { $_ => $node->safe_psql('old', $state_sql{$_}) } keys %state_sql;
like($before{training_runs}, qr/^trained v1 logistic classification/, 'a training run was recorded');
like($before{stats}, qr/digits v2 calls=/, 'serving statistics were counted');
my $dump = $node->basedir . '/old.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'old', '-f', $dump ], 'pg_dump of the 0.1 database');

# ---- update ----

$node->safe_psql('old', 'ALTER EXTENSION maas UPDATE');
is($node->safe_psql('old', "SELECT extversion FROM pg_extension WHERE extname = 'maas'"),
	$current, "ALTER EXTENSION maas UPDATE went to $current");
foreach my $what (sort keys %state_sql)
{
	is($node->safe_psql('old', $state_sql{$what}), $before{$what}, "updated: same $what");
}
foreach my $what (sort keys %predict_sql)
{
	is($node->safe_psql('old', $predict_sql{$what}), $predicted{$what},
		"updated: same answers ($what)");
}
is($node->safe_psql('old', register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')),
	'4', 'updated: the next digits version is 4 (3 was dropped, never reused)');

# owners and grants are now those of each model's type (issue 9): a
# grantee cannot be dropped, and the types are the models', not the
# extension's
is( $node->safe_psql(
		'old', q{SELECT string_agg(format('%s %s %s', m.model, t.typname ~ '^model_[0-9]+$',
		                                  pg_get_userbyid(t.typowner)), ',' ORDER BY m.model)
		           FROM maas.models m JOIN pg_type t ON t.oid = m.type}),
	'cancer t postgres,digits t postgres,trained t postgres',
	'updated: every model has its type, owned by its owner');
my ($rc, $out, $err) = $node->psql('old', 'DROP ROLE app');
like($err, qr/role "app" cannot be dropped because some objects depend on it/,
	'updated: a grantee cannot be dropped');
is( $node->safe_psql(
		'old', q{SELECT count(*) FROM pg_depend d JOIN maas.model m ON d.objid = m.anchor::oid
		          WHERE d.refclassid = 'pg_extension'::regclass}),
	'0', 'updated: the models\' types are not members of the extension');

# a 0.1 model whose owner 0.1 let be dropped goes to the registry's owner,
# with a warning, rather than to whoever is given that name later
$node->safe_psql('postgres', 'CREATE DATABASE orphan');
$node->safe_psql('orphan', qq{
	CREATE EXTENSION maas VERSION '0.1';
	CREATE ROLE gone;
	GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb) TO gone;
	SET ROLE gone;
	@{[ register_sql('gone_model', 'logreg', 'cancer_logreg.safetensors', 'cancer_logreg.json') ]};
	RESET ROLE;
	REVOKE EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb) FROM gone;
});
$node->safe_psql('postgres', 'DROP ROLE gone');
($rc, $out, $err) = $node->psql('orphan', 'ALTER EXTENSION maas UPDATE');
is($rc, 0, 'orphan: updated');
like($err, qr/WARNING:  role "gone", the owner of model "gone_model", does not exist/,
	'orphan: the update says whose model it was');
is($node->safe_psql('orphan', "SELECT owner FROM maas.models WHERE model = 'gone_model'"),
	'postgres', 'orphan: the model belongs to the registry\'s owner');
$node->safe_psql('postgres', 'CREATE ROLE gone');
is( $node->safe_psql(
		'orphan', q{SET ROLE gone; SELECT maas_may_use('gone_model')}),
	'f', 'orphan: a new role of the old name gets nothing');
$node->safe_psql('orphan', 'DROP EXTENSION maas CASCADE');
$node->safe_psql('postgres', 'DROP DATABASE orphan');
$node->safe_psql('postgres', 'DROP ROLE gone');

# ---- the updated database's objects equal a fresh install's ----

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION maas');

my $ext = "(SELECT oid FROM pg_extension WHERE extname = 'maas')";
my $members =
  "SELECT objid FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND refobjid = $ext AND deptype = 'e'";
my %catalog_sql = (
	'extension members' => qq{
		SELECT string_agg(pg_describe_object(classid, objid, 0), E'\\n' ORDER BY pg_describe_object(classid, objid, 0))
		  FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND refobjid = $ext AND deptype = 'e'},
	'extension configuration' => qq{
		SELECT string_agg(format('%s %L', c::regclass, cond), ', ' ORDER BY c::regclass::text)
		  FROM pg_extension, unnest(extconfig, extcondition) AS u(c, cond) WHERE oid = $ext},
	'functions' => qq{
		SELECT string_agg(pg_get_functiondef(p.oid) || ' ACL ' || coalesce(p.proacl::text, 'default')
		                  || ' COMMENT ' || coalesce(obj_description(p.oid, 'pg_proc'), ''),
		                  E'\\n' ORDER BY p.oid::regprocedure::text)
		  FROM pg_proc p WHERE p.oid IN ($members)},
	'relations' => qq{
		SELECT string_agg(format('%s %s %s %s %s', c.relname, c.relkind, c.relacl, c.reloptions,
		                         obj_description(c.oid, 'pg_class')), E'\\n' ORDER BY c.relname)
		  FROM pg_class c WHERE c.oid IN ($members)},
	'views' => qq{
		SELECT string_agg(c.relname || ': ' || pg_get_viewdef(c.oid), E'\\n' ORDER BY c.relname)
		  FROM pg_class c WHERE c.oid IN ($members) AND c.relkind = 'v'},
	'columns' => qq{
		SELECT string_agg(format('%s.%s %s notnull=%s default=%s storage=%s collation=%s', c.relname,
		                         a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		                         pg_get_expr(d.adbin, d.adrelid), a.attstorage, a.attcollation),
		                  E'\\n' ORDER BY c.relname, a.attnum)
		  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
		 WHERE c.oid IN ($members)},
	'constraints and indexes' => qq{
		SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
		  SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS x
		    FROM pg_constraint WHERE conrelid IN ($members)
		  UNION ALL
		  SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN ($members)
		  UNION ALL
		  SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid IN ($members) AND NOT tgisinternal
		) s},
	'sequences' => qq{
		SELECT string_agg(format('%s %s %s %s %s %s', seqrelid::regclass, seqtypid::regtype, seqstart,
		                         seqincrement, seqmin, seqcache), E'\\n' ORDER BY seqrelid::regclass::text)
		  FROM pg_sequence WHERE seqrelid IN ($members)},
	'schema' => q{
		SELECT format('%s %s %s', nspname, nspacl, obj_description(oid, 'pg_namespace'))
		  FROM pg_namespace WHERE nspname = 'maas'},
);
foreach my $what (sort keys %catalog_sql)
{
	my $fresh = $node->safe_psql('fresh', $catalog_sql{$what});
	isnt($fresh, '', "fresh install has $what");
	is($node->safe_psql('old', $catalog_sql{$what}), $fresh, "updated and fresh: same $what");
}
foreach my $cmd ('\df maas*', '\df+ maas*', '\df+ maas.*', '\dv maas.*', '\dv+ maas.*', '\d maas.*',
	'\d+ maas.*', '\dp maas.*', '\dx maas')
{
	my ($rc_f, $fresh) = $node->psql('fresh', $cmd);
	my ($rc_u, $updated) = $node->psql('old', $cmd);
	ok($rc_f == 0 && $fresh ne '', "psql $cmd describes the fresh install");
	is($updated, $fresh, "updated and fresh: same psql $cmd");
}

# ---- the core regression tests on a database updated from 0.1 ----

$node->safe_psql('postgres', 'CREATE DATABASE up_regress');
$node->safe_psql('up_regress', "CREATE EXTENSION maas VERSION '0.1'; ALTER EXTENSION maas UPDATE");
# what pg_regress sets on the databases it creates itself
$node->safe_psql('postgres', q{
	ALTER DATABASE up_regress SET lc_messages TO 'C';
	ALTER DATABASE up_regress SET lc_monetary TO 'C';
	ALTER DATABASE up_regress SET lc_numeric TO 'C';
	ALTER DATABASE up_regress SET lc_time TO 'C';
	ALTER DATABASE up_regress SET bytea_output TO 'hex';
	ALTER DATABASE up_regress SET timezone_abbreviations TO 'Default';
});
{
	my $outdir = PostgreSQL::Test::Utils::tempdir('regress');
	my $cwd = getcwd();

	# the tests read their fixtures from paths relative to the checkout
	chdir $root or die "could not chdir to $root: $!";
	my $ok = $node->command_ok(
		[
			$ENV{PG_REGRESS}, '--use-existing', '--dbname=up_regress',
			'--bindir=', "--inputdir=$root/test", "--outputdir=$outdir",
			'register', 'predict', 'deploy', 'errors', 'safetensors'
		],
		'register, predict, deploy, errors and safetensors pass on an updated database');
	chdir $cwd;
	if (!$ok && -f "$outdir/regression.diffs")
	{
		diag(slurp_file("$outdir/regression.diffs"));
	}
}

# ---- a dump of the 0.1 database restores into the current version ----

$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', $dump ],
	'pg_restore of the 0.1 dump');
is($node->safe_psql('restored', "SELECT extversion FROM pg_extension WHERE extname = 'maas'"),
	$current, "restored: maas $current");
foreach my $what ('models', 'versions', 'deployments', 'training_runs', 'grants', 'counters')
{
	is($node->safe_psql('restored', $state_sql{$what}), $before{$what}, "restored: same $what");
}
foreach my $what (sort keys %predict_sql)
{
	is($node->safe_psql('restored', $predict_sql{$what}), $predicted{$what},
		"restored: same answers ($what)");
}

done_testing();

# Several clients predict at once (pgbench): the counters add up exactly,
# errors included, for the deployed and a pinned version.

use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $db = 'postgres';
my $fixtures = "$FindBin::Bin/../fixtures";
my $clients = 6;
my $xacts = 150;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\nmax_connections = 20\n");
$node->start;
$node->safe_psql($db, 'CREATE EXTENSION maas');

my $w = unpack('H*', slurp_file("$fixtures/digits_mlp.safetensors"));
my $c = slurp_file("$fixtures/digits_mlp.json");
my $w2 = unpack('H*', slurp_file("$fixtures/digits_mlp_v2.safetensors"));
my $c2 = slurp_file("$fixtures/digits_mlp_v2.json");
$node->safe_psql(
	$db, qq{
	SELECT maas_register('digits', 'mlp', '\\x$w'::bytea, \$c\$$c\$c\$::jsonb);
	SELECT maas_register('digits', 'mlp', '\\x$w2'::bytea, \$c\$$c2\$c\$::jsonb);
	SELECT maas_deploy('digits', 1);
	CREATE TABLE feats AS
	  SELECT g AS id, array_agg(((g * 7 + i) % 17)::real ORDER BY i) AS f
	    FROM generate_series(1, 10) g, generate_series(1, 64) i GROUP BY g;
	SELECT maas_stats_reset();
});

# per transaction: 10 rows of the deployed version, one failed call of it
# caught in PL/pgSQL, one row of version 2
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=2 --transactions=$xacts",
	0,
	[ qr{processed: @{[ $clients * $xacts ]}/@{[ $clients * $xacts ]}} ],
	[qr{^$}],
	'clients predict at once',
	{
		'maas_stats' => q{
SELECT count(maas_predict('digits', f)) FROM feats;
DO $$ BEGIN PERFORM maas_predict('digits', ARRAY[1]::real[]); EXCEPTION WHEN invalid_parameter_value THEN NULL; END $$;
SELECT maas_predict_label('digits', 2, f) FROM feats WHERE id = 3;
}
	});

my $n = $clients * $xacts;
is( $node->safe_psql(
		$db,
		"SELECT string_agg(format('v%s calls=%s rows=%s errors=%s', version, calls, rows, errors), ';' ORDER BY version) FROM maas.stats WHERE model = 'digits'"
	),
	sprintf('v1 calls=%d rows=%d errors=%d;v2 calls=%d rows=%d errors=0',
		10 * $n, 10 * $n, $n, $n, $n),
	'every call, row and error counted once');

# the class counts add up to the rows, and the feature means are exact
is( $node->safe_psql(
		$db,
		"SELECT sum(serve_count) FROM maas.prediction_distribution WHERE model = 'digits' AND version = 1"
	),
	10 * $n,
	'predicted classes add up to the rows');
is( $node->safe_psql(
		$db, q{
	SELECT bool_and(abs(d.serve_mean - f.m) < 1e-9 AND abs(d.serve_std - f.s) < 1e-9)
	  FROM maas.drift d
	  JOIN (SELECT i, avg(x::float8) AS m, stddev_pop(x::float8) AS s
	          FROM feats, unnest(f) WITH ORDINALITY AS u(x, i) GROUP BY i) f
	    ON f.i = d.feature
	 WHERE d.model = 'digits' AND d.version = 1 AND d.kind = 'feature'}),
	't',
	'serving means and deviations merged across clients match the data');

$node->stop;
done_testing();

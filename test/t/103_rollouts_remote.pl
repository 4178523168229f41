# Remote candidates (issues 15 and 17): a remote version can be a canary or
# a shadow of a local one.  A shadow's calls to its server are bounded by
# maas.shadow_fraction, never change the answer, and its HTTP errors and
# timeouts are counted in maas.stats, never raised; a canary answers its
# share of the calls, its errors raised like any remote call's.  Against
# the local server of the remote tests (test/remote/server.py).

use strict;
use warnings;

use MaasRemote;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $srv = start_server(log => "$PostgreSQL::Test::Utils::tmp_check/rollout_remote_server.log");
END { local $?; stop_server($srv) if $srv; }
my $port = $srv->{port};
my $base = "http://127.0.0.1:$port";

my $node = PostgreSQL::Test::Cluster->new('rollout_remote');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
maas.remote_allowed_hosts = '127.0.0.1:$port'
});
$node->start;

# version 1: the server's "linear" model computed here, 0.5 x0 - 1.25 x1 + 2 x2 + 0.25
$node->safe_psql('postgres', q{
CREATE EXTENSION maas;
CREATE FUNCTION le4(r real) RETURNS bytea LANGUAGE sql AS $$
	SELECT substr(float4send(r), 4, 1) || substr(float4send(r), 3, 1) ||
		   substr(float4send(r), 2, 1) || substr(float4send(r), 1, 1) $$;
CREATE FUNCTION st() RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
	header bytea := convert_to('{"w":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]},'
							   '"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}', 'UTF8');
BEGIN
	header := header || convert_to(repeat(' ', (8 - length(header) % 8) % 8), 'UTF8');
	RETURN substr(int8send(length(header)::bigint), 8, 1) || '\x00000000000000'::bytea
		   || header || le4(0.5) || le4(-1.25) || le4(2) || le4(0.25);
END $$;
SELECT maas_register('rr', 'linear', st(),
	'{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_deploy('rr', 1);
CREATE TABLE rows3 AS
  SELECT i AS id, ARRAY[(i % 7) - 3, (i % 5) * 0.5, i / 10.0]::real[] AS x
    FROM generate_series(1, 100) i;
});

sub register
{
	my ($q, $extra) = @_;
	return $node->safe_psql('postgres', qq{SELECT maas_register_remote('rr', '{"protocol": "kserve-v2",
		"url": "$base/q/$q", "model": "linear", "task": "regression", "n_features": 3,
		"verify": false $extra}')});
}
is(register('key=rr_ok', ''), '2', 'version 2: the same model, remote');
is(register('key=rr_err&status=500&msg=down', ', "max_retries": 0'), '3', 'version 3 answers HTTP 500');
is(register('key=rr_slow&sleep=3', ', "timeout_ms": 200, "max_retries": 0'), '4',
	'version 4 is too slow for its timeout');

sub requests { my ($key) = @_; return logged_count($srv, qr/key=$key\b/); }

my $formula = '0.5 * x[1] - 1.25 * x[2] + 2 * x[3] + 0.25';
my $right = "SELECT count(*) FILTER (WHERE abs(maas_predict('rr', x) - ($formula)) < 1e-5) FROM rows3";
my $stats = "SELECT coalesce((SELECT calls || '/' || errors FROM maas.stats WHERE model = 'rr' AND version = %d), 'none')";

# --- a remote shadow of a local version ------------------------------------
$node->safe_psql('postgres', q{SELECT maas_deploy('rr', 2, '{"strategy": "shadow"}')});
is($node->safe_psql('postgres', "$right WHERE id <= 30"), '30', 'the live version answers');
is(requests('rr_ok'), 30, 'the shadow called its server once a row');
is($node->safe_psql('postgres',
	"SELECT compared, mean_abs_diff < 1e-5 FROM maas.rollout WHERE model = 'rr' AND role = 'shadow'"),
	'30|t', 'and agrees with the live version');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM maas_predict_batch('rr', 'SELECT id, x FROM rows3') b JOIN rows3 USING (id) "
	. "WHERE abs(b.prediction - ($formula)) < 1e-5"), '100', 'a batch is answered by the live version');
is($node->safe_psql('postgres',
	"SELECT compared FROM maas.rollout WHERE model = 'rr' AND role = 'shadow'"),
	'130', 'and shadow-scored by the remote candidate');

# maas.shadow_fraction bounds the calls to the server
my $before = requests('rr_ok');
is($node->safe_psql('postgres', "SET maas.shadow_fraction = 0; $right"), '100', 'shadow_fraction = 0');
is(requests('rr_ok'), $before, 'calls no server');
$node->safe_psql('postgres', "SET maas.shadow_fraction = 0.25; $right");
my $sampled = requests('rr_ok') - $before;
ok($sampled >= 10 && $sampled <= 45, "shadow_fraction = 0.25: $sampled of 100 rows sent");
$node->safe_psql('postgres', "SELECT maas_deploy('rr', 1)");

# --- a failing shadow: counted, never raised -------------------------------
$node->safe_psql('postgres', q{SELECT maas_deploy('rr', 3, '{"strategy": "shadow"}')});
is($node->safe_psql('postgres', "$right WHERE id <= 20"), '20', 'a shadow answering HTTP 500 changes no answer');
is(requests('rr_err'), 20, 'it was called for each row');
is($node->safe_psql('postgres', sprintf($stats, 3)), '0/20', 'its errors are counted in maas.stats');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas_predict_batch('rr', 'SELECT id, x FROM rows3')"),
	'100', 'a batch too');
is($node->safe_psql('postgres', sprintf($stats, 3)), '0/21', 'one more error: the batch');
is($node->safe_psql('postgres',
	"SELECT coalesce(compared::text, 'none') FROM maas.rollout WHERE model = 'rr' AND role = 'shadow'"),
	'none', 'nothing compared');
$node->safe_psql('postgres', "SELECT maas_deploy('rr', 1)");

$node->safe_psql('postgres', q{SELECT maas_deploy('rr', 4, '{"strategy": "shadow"}')});
my $t0 = time;
is($node->safe_psql('postgres', "$right WHERE id <= 3"), '3', 'a shadow that times out changes no answer');
my $took = time - $t0;
ok($took < 2.5, sprintf('each of its calls is cut at its timeout (3 rows in %.2f s)', $took));
is($node->safe_psql('postgres', sprintf($stats, 4)), '0/3', 'its timeouts are counted');
# a cancel while the shadow waits is still a cancel
my ($ret, $out, $err) = $node->psql('postgres',
	"SET statement_timeout = '100ms'; $right WHERE id <= 3");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout during a shadow call is raised');
is($node->safe_psql('postgres', "SELECT maas_predict('rr', ARRAY[1, 2, 3]::real[])"), '4.25',
	'and the backend serves on');
$node->safe_psql('postgres', "SELECT maas_deploy('rr', 1)");

# --- a remote canary --------------------------------------------------------
$before = requests('rr_ok');
$node->safe_psql('postgres', q{SELECT maas_stats_reset('rr'); SELECT maas_deploy('rr', 2, '{"strategy": "canary", "fraction": 0.5}')});
is($node->safe_psql('postgres', $right), '100', 'a remote canary and the local version give the same answers');
my $canary = requests('rr_ok') - $before;
ok($canary >= 25 && $canary <= 75, "the canary answered $canary of 100 calls");
is($node->safe_psql('postgres', sprintf($stats, 2)), "$canary/0", 'each counted under its version');
is($node->safe_psql('postgres', sprintf($stats, 1)), (100 - $canary) . '/0', 'the rest under the live one');
$node->safe_psql('postgres', "SELECT maas_deploy('rr', 1)");
$node->safe_psql('postgres', q{SELECT maas_deploy('rr', 3, '{"strategy": "canary", "fraction": 0.5}')});
is(sql_error($node, "SELECT count(maas_predict('rr', x)) FROM rows3"),
	qq{ERROR:  call to remote model "rr" failed
DETAIL:  "127.0.0.1:$port" answered HTTP 500: down.},
	'a canary answers, so its errors are raised');

# --- a remote text model: a canary routed by maas_generate's "key" ---------
for my $k ('llm_a', 'llm_b')
{
	$node->safe_psql('postgres', qq{SELECT maas_register_remote('llm', '{"protocol": "openai",
		"url": "$base/q/key=$k/v1", "model": "gpt-test", "task": "generation"}')});
}
$node->safe_psql('postgres', q{SELECT maas_deploy('llm', 1);
	SELECT maas_deploy('llm', 2, '{"strategy": "canary", "fraction": 0.4, "key": "user"}')});
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE maas_generate('llm', 'hi ' || g, jsonb_build_object('key', g)) = 'echo: hi ' || g)
	  FROM generate_series(1, 50) g}), '50', 'a remote text canary answers like the live version');
my $routed = $node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE maas_route('llm', g::text) = 2) FROM generate_series(1, 50) g");
is(requests('llm_b'), $routed, "the canary's server got the $routed keys maas_route sends it");
is(requests('llm_a'), 50 - $routed, 'the live server the others');
$node->safe_psql('postgres', "SELECT maas_deploy('llm', 1)");
is(sql_error($node, q{SELECT maas_deploy('llm', 2, '{"strategy": "shadow"}')}),
	qq{ERROR:  a text model cannot have a shadow
DETAIL:  Version 2 of model "llm" reads text; a shadow is compared on the features of a row.
HINT:  Deploy it as a canary: maas_deploy('llm', 2, '{"strategy": "canary", "fraction": 0.1}').},
	'and no shadow');

$node->stop;
done_testing();

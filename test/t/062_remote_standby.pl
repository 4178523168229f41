# Remote models on a hot standby: the version and its secret replicate,
# the calls go out from the standby (the server sees them, with the key),
# a deploy or rollback on the primary reaches the standby's next statement,
# and the standby may not register or set secrets.

use strict;
use warnings;

use MaasRemote;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $secret = 'sk-standby-a81c93d0';
my $srv = start_server(log => "$PostgreSQL::Test::Utils::tmp_check/standby_server.log",
	auth => $secret);
my $port = $srv->{port};
my $base = "http://127.0.0.1:$port";
my $db = 'postgres';

my $primary = PostgreSQL::Test::Cluster->new('remote_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
maas.remote_allowed_hosts = '127.0.0.1:$port'
application_name = 'primary'
});
$primary->start;
$primary->safe_psql($db, 'CREATE EXTENSION maas');
$primary->safe_psql($db, "SET log_statement = 'none'; SELECT maas_secret_set('sb_key', '$secret')");
$primary->safe_psql($db, qq{
	SELECT maas_register_remote('sb', '{"protocol": "kserve-v2", "url": "$base/q/key=sb1",
		"model": "linear", "task": "regression", "secret": "sb_key"}');
	SELECT maas_register_remote('sb', '{"protocol": "kserve-v2", "url": "$base/q/key=sb2",
		"model": "logistic", "task": "classification", "labels": [0, 1]}');
	SELECT maas_deploy('sb', 1);
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('remote_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\n");
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

sub requests
{
	my ($key) = @_;
	return grep { $_->{path} =~ /infer$/ } logged($srv, qr/key=$key\b/);
}

# --- the standby calls out ---------------------------------------------------
my $before = scalar(requests('sb1'));
is($standby->safe_psql($db, "SELECT maas_predict('sb', ARRAY[1, 2, 3]::real[])"), '4.25',
	'the standby serves the remote version');
my @reqs = requests('sb1');
is(scalar(@reqs), $before + 1, 'the call went out from the standby');
is($reqs[-1]->{auth}, 'ok', 'with the secret, replicated from the primary');
is($standby->safe_psql($db,
	"SELECT count(*) FROM maas_predict_batch('sb', 'SELECT i, ARRAY[i, 0, 1]::real[] FROM generate_series(1, 250) i')"),
	'250', 'the batch path on the standby');
is($standby->safe_psql($db, "SELECT calls, rows FROM maas.stats WHERE model = 'sb'"), '2|251',
	'the standby counts its own calls');

# --- deploy and rollback on the primary reach the standby --------------------
$primary->safe_psql($db, "SELECT maas_deploy('sb', 2)");
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, "SELECT maas_predict_label('sb', ARRAY[1, 0, 0, 1]::real[])"), '1',
	'after a deploy on the primary, the standby serves version 2');
cmp_ok(scalar(requests('sb2')), '>=', 1, 'calling version 2\'s endpoint');
$primary->safe_psql($db, "SELECT maas_deploy('sb', 'previous')");
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, "SELECT maas_predict('sb', ARRAY[1, 2, 3]::real[])"), '4.25',
	'after a rollback, version 1 again');

# --- a rotated secret replicates too ------------------------------------------
$primary->safe_psql($db, "SET log_statement = 'none'; SELECT maas_secret_set('sb_key', 'sk-rotated-0000')");
$primary->wait_for_catchup($standby);
$standby->safe_psql($db, "SELECT maas_predict('sb', ARRAY[1, 2, 3]::real[])");
is((requests('sb1'))[-1]->{auth}, 'wrong', 'the standby sends the rotated value');

# --- the standby writes nothing ------------------------------------------------
my ($ret, $out, $err) = $standby->psql($db,
	qq{SELECT maas_register_remote('sb', '{"protocol": "kserve-v2", "url": "$base", "model": "linear", "task": "regression"}')});
like($err, qr/cannot execute maas_register_remote\(\) in a read-only transaction/,
	'no registration on the standby');
($ret, $out, $err) = $standby->psql($db, "SELECT maas_secret_set('sb_key', 'x')");
like($err, qr/cannot execute maas_secret_set\(\) in a read-only transaction/,
	'no secret set on the standby');

$standby->stop;
$primary->stop;
stop_server($srv);
done_testing();

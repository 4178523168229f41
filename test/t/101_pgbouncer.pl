# maas behind Debian's pgbouncer in transaction pooling mode (issue 17):
# each transaction of a client may run on another server backend, so
# nothing maas does may depend on a session.  Per-row and batch predictions,
# a deploy seen by the next transaction, a canary's routing by key, and
# maas.stats counting every call, all through the pooler.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => "pgbouncer is not installed (apt-get install pgbouncer)"
  unless -x $pgbouncer;

my $db = 'postgres';
my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;

# version n of a 1-feature linear regression answers n (w = 0, b = n)
$node->safe_psql($db,
	"CREATE EXTENSION maas;\n" . linear_versions_sql(['m'], 3) . <<'SQL');
SELECT maas_deploy('m', 1);
CREATE TABLE customers AS SELECT g AS customer_id, 0::real AS x FROM generate_series(1, 3000) g;
SQL

# pgbouncer on a socket of its own, two server connections, transaction pooling
my $dir = PostgreSQL::Test::Utils::tempdir_short();
my $bport = PostgreSQL::Test::Cluster::get_free_port();
my $ini = "$dir/pgbouncer.ini";
PostgreSQL::Test::Utils::append_to_file("$dir/users.txt", qq{"$ENV{USER}" ""\n})
  if defined $ENV{USER};
my $user = `id -un`;
chomp $user;
PostgreSQL::Test::Utils::append_to_file("$dir/users.txt", qq{"$user" ""\n});
PostgreSQL::Test::Utils::append_to_file($ini, <<"INI");
[databases]
$db = host=@{[$node->host]} port=@{[$node->port]} dbname=$db

[pgbouncer]
listen_addr =
listen_port = $bport
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 50
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
system($pgbouncer, '-d', $ini) == 0 or BAIL_OUT("pgbouncer did not start");
for (1 .. 50)
{
	last if -S "$dir/.s.PGSQL.$bport";
	select(undef, undef, undef, 0.1);
}

# one psql client of the pooler: each line its own transaction
sub bounced
{
	my ($sql) = @_;
	my ($out, $err);
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-h', $dir, '-p', $bport, '-d', $db ],
		'<', \$sql, '>', \$out, '2>', \$err)
	  or die "psql through pgbouncer failed: $err";
	chomp $out;
	return $out;
}

is(bounced("SELECT maas_predict('m', ARRAY[0::real]);"), '1', 'per-row prediction through the pooler');
is(bounced("SELECT count(*) FROM customers c WHERE maas_predict('m', c) = 1;"),
	'3000', 'the row form through the pooler');
is( bounced(
		"SELECT count(*) || ' ' || sum(prediction) FROM maas_predict_batch('m', 'SELECT customer_id, ARRAY[x] FROM customers', 500);"
	),
	'3000 3000',
	'batch scoring through the pooler');

# a deploy commits in one transaction; the next transactions, whichever
# server backend they get, serve it
is( bounced(
		"SELECT maas_deploy('m', 2);\nSELECT maas_predict('m', ARRAY[0::real]);\nSELECT maas_predict('m', ARRAY[0::real]);"
	),
	"2\n2\n2",
	'a deploy is seen by the next transactions');

# several clients at once share the two server backends
sub clients
{
	my ($n, $sql) = @_;
	my @h;
	my @out;
	my @in;
	my @err;
	# IPC::Run consumes its input buffer: one copy of the script per client
	for my $i (0 .. $n - 1)
	{
		$out[$i] = '';
		$err[$i] = '';
		$in[$i] = $sql;
		push @h,
		  IPC::Run::start([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
				'-h', $dir, '-p', $bport, '-d', $db ],
			'<', \$in[$i], '>', \$out[$i], '2>', \$err[$i]);
	}
	$_->finish for @h;
	chomp @out;
	return @out;
}

# a canary routed by key: every client, on any backend, routes each key as
# a direct connection does
$node->safe_psql($db,
	qq{SELECT maas_deploy('m', 3, '{"strategy": "canary", "fraction": 0.2, "key": "customer_id"}')});
my $routes_sql =
  "SELECT count(*) || ' ' || md5(string_agg(customer_id::text, ',' ORDER BY customer_id)) FROM customers c WHERE maas_predict('m', c) = 3;\n";
my $direct = $node->safe_psql($db, $routes_sql);
like($direct, qr/^[56]\d\d /, 'about 20% of 3000 keys on the canary');
my @routes = clients(4, $routes_sql x 3);
is_deeply(\@routes, [ ("$direct\n$direct\n$direct") x 4 ],
	'four pooled clients route the same keys the same way');

# statistics: every call through the pooler is counted once
$node->safe_psql($db, "SELECT maas_stats_reset('m')");
clients(4, "SELECT count(maas_predict('m', 2, ARRAY[0::real])) FROM generate_series(1, 25);\n" x 5);
is($node->safe_psql($db, "SELECT calls FROM maas.stats WHERE model = 'm' AND version = 2"),
	'500', 'maas.stats counts the calls of all pooled clients');

# a promote through the pooler: all keys on version 3 from the next statement
is( bounced(
		"SELECT maas_promote('m');\nSELECT count(*) FROM customers c WHERE maas_predict('m', c) = 3;"),
	"3\n3000",
	'a promote is seen by the next transaction');

my $pid = PostgreSQL::Test::Utils::slurp_file("$dir/pgbouncer.pid");
chomp $pid;
kill 'TERM', $pid;
$node->stop;
done_testing();

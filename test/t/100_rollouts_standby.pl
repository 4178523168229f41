# Rollouts across servers and restarts (issue 17): a hot standby routes a
# canary's keys exactly as the primary does (the routing hash is maas's own,
# over the key's text); a shadow's comparison counters survive a clean
# restart and are reset by a crash, like maas.stats; a standby compares its
# own traffic.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $db = 'postgres';

# version n of a 1-feature linear regression answers n (w = 0, b = n)
my $setup =
  "CREATE EXTENSION maas;\n" . linear_versions_sql(['canary', 'shadow'], 2) . <<'SQL';
SELECT maas_deploy('canary', 1), maas_deploy('shadow', 1);
SELECT maas_deploy('canary', 2, '{"strategy": "canary", "fraction": 0.3, "key": "customer_id"}');
SELECT maas_deploy('shadow', 2, '{"strategy": "shadow"}');
CREATE TABLE customers AS SELECT g AS customer_id, 0::real AS x FROM generate_series(1, 5000) g;
SQL

# the keys the canary answers, as one digest, and their count
my $routes_sql =
  "SELECT count(*) || ' ' || md5(string_agg(customer_id::text, ',' ORDER BY customer_id)) "
  . "FROM customers c WHERE maas_predict('canary', c) = 2";
my $shadow_sql = "SELECT count(maas_predict('shadow', ARRAY[0::real])) FROM generate_series(1, 40)";
my $compared_sql =
  "SELECT coalesce((SELECT compared || ' ' || mean_abs_diff FROM maas.rollout "
  . "WHERE model = 'shadow' AND role = 'shadow'), 'none')";

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$primary->start;
$primary->safe_psql($db, $setup);

my $routes = $primary->safe_psql($db, $routes_sql);
like($routes, qr/^1[45]\d\d /, 'about 30% of 5000 keys on the canary');
is($primary->safe_psql($db, $routes_sql), $routes, 'the same keys in another session');

is($primary->safe_psql($db, $shadow_sql), '40', 'the shadow model answers');
is($primary->safe_psql($db, $compared_sql), '40 1', 'the shadow compared each call');

# --- clean restart: routes and counters kept -----------------------------
$primary->restart;
is($primary->safe_psql($db, $routes_sql), $routes, 'the same keys after a restart');
is($primary->safe_psql($db, $compared_sql), '40 1', 'comparisons survive a clean restart');

# --- hot standby: the same routes, its own counters ----------------------
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db, $routes_sql), $routes, 'the standby routes the same keys');
is($standby->safe_psql($db, $compared_sql), 'none', 'the standby starts with no comparisons');
is($standby->safe_psql($db, $shadow_sql), '40', 'the standby serves the shadowed model');
is($standby->safe_psql($db, $compared_sql), '40 1', 'and compares its own calls');

# a promote on the primary reaches the standby's next statement
$primary->safe_psql($db, "SELECT maas_promote('canary')");
$primary->wait_for_catchup($standby);
is($standby->safe_psql($db,
		"SELECT count(*) FILTER (WHERE maas_predict('canary', c) = 2) FROM customers c"),
	'5000', 'the standby serves the promoted version');
$standby->stop;

# --- crash: counters reset ------------------------------------------------
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql($db, $compared_sql), 'none', 'a crash resets the comparisons');
is($primary->safe_psql($db, $shadow_sql), '40', 'the shadow still runs after the crash');
is($primary->safe_psql($db, $compared_sql), '40 1', 'and is compared again');

$primary->stop;
done_testing();

# One copy of a model's weights per server.
#
# Twenty connections serve the same 128 MB model: the server's memory (the
# sum of the backends' PSS, from /proc/PID/smaps_rollup, less the pages of
# shared_buffers they touched) grows by about one copy, not twenty, and
# maas.loaded_models shows one copy with twenty users.  A parallel worker
# uses the same copy.  maas.shared_model_memory bounds the copies: the least
# recently used idle one goes, one in use never does, a copy that cannot fit
# is an error; with 0, each backend loads its own.  A cancel stops a load and leaves nothing behind.  A
# standby, made by pg_basebackup (which does not copy the copies), serves
# the model from a copy of its own.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $clients = 20;

my $node = PostgreSQL::Test::Cluster->new('primary');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
max_connections = 40
maas.cache_size = 1MB
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');
my $copies = $node->data_dir . '/pgsql_tmp_maas';

# models made here: 8192 -> 4096 -> 1 (128 MB), and three of 8 MB
my $big = $node->basedir . '/big.safetensors';
my ($big_bytes, $big_config, $big_predict) = write_mlp_file($big, 8192, 4096, 11);
$node->safe_psql('postgres', "SELECT maas_register_file('big', 'mlp', '$big', '$big_config')");
$node->safe_psql('postgres', "SELECT maas_deploy('big', 1)");
my %small;
foreach my $m ('s1', 's2', 's3')
{
	my $path = $node->basedir . "/$m.safetensors";
	my ($bytes, $config, $predict) = write_mlp_file($path, 1024, 2048, length($m) + ord(substr($m, 1)));
	$node->safe_psql('postgres', "SELECT maas_register_file('$m', 'mlp', '$path', '$config')");
	$node->safe_psql('postgres', "SELECT maas_deploy('$m', 1)");
	$small{$m} = { bytes => $bytes, value => $predict->(0.25) };
	unlink $path;
}
unlink $big;

my $big_sql = "SELECT maas_predict('big', array_fill(0.5::real, ARRAY[8192]))";
my $expected = $big_predict->(0.5);
sub close_to
{
	my ($got, $want, $name) = @_;
	ok(abs($got - $want) <= 1e-4 * (1 + abs($want)), "$name ($got, expected $want)");
}

# ---- twenty connections serve one copy ----

my @sessions;
my @pids;
for my $i (1 .. $clients)
{
	my $s = $node->background_psql('postgres');
	$s->set_query_timer_restart;
	push @sessions, $s;
	push @pids, $s->query_safe('SELECT pg_backend_pid()');
	$s->query_safe('SELECT count(*) FROM maas.versions');	# warm the catalogs
}
# the sum of the backends' PSS, and of its part outside shared memory (the
# pages of shared_buffers the loading backend touched are the buffer cache's)
sub pss_mb
{
	my ($all, $shmem) = (0, 0);
	foreach my $pid (@pids)
	{
		my ($p, $s) = backend_pss_kb($pid);
		$all += $p;
		$shmem += $s;
	}
	return ($all / 1024, ($all - $shmem) / 1024);
}
my ($idle_mb, $idle_own_mb) = pss_mb();

my %answers;
$answers{ $_->query_safe($big_sql) }++ foreach @sessions;
my ($serving_mb, $serving_own_mb) = pss_mb();
my $growth_mb = $serving_own_mb - $idle_own_mb;
my $copy_mb = $big_bytes / 1024 / 1024;
diag(sprintf('%d backends serving a %.1f MB model: sum of PSS %.1f -> %.1f MB '
	  . '(%.1f -> %.1f MB outside shared_buffers: +%.1f MB, %.2f MB a backend beyond one copy)',
	$clients, $copy_mb, $idle_mb, $serving_mb, $idle_own_mb, $serving_own_mb, $growth_mb,
	($growth_mb - $copy_mb) / $clients));
is(scalar(keys %answers), 1, 'every connection predicts the same');
close_to((keys %answers)[0], $expected, 'the prediction is the model\'s');
cmp_ok($growth_mb, '>', 0.8 * $copy_mb, 'the copy is in the backends\' memory');
cmp_ok($growth_mb, '<', $copy_mb + 5 * $clients, 'twenty backends hold one copy and at most 5 MB each');
is( $node->safe_psql('postgres',
		"SELECT format('%s %s %s %s', state, users, bytes, loaded_from) FROM maas.loaded_models WHERE model = 'big'"),
	"ready $clients $big_bytes catalog",
	'one copy, with twenty users');
my $sha = $node->safe_psql('postgres', "SELECT sha256 FROM maas.versions WHERE model = 'big'");
ok(-f "$copies/$sha", 'the copy is a file named after its sha256');
is(-s "$copies/$sha", $big_bytes, 'of the version\'s size');

# a parallel worker maps the same copy, and lets go of it when it exits
my $in_worker = q{
	SET force_parallel_mode = on;
	SET parallel_leader_participation = off;
};
like($node->safe_psql('postgres', "$in_worker EXPLAIN (ANALYZE, COSTS OFF) $big_sql"),
	qr/Workers Launched: 1/, 'the prediction runs in a parallel worker');
close_to($node->safe_psql('postgres', "$in_worker $big_sql"), $expected, 'a parallel worker serves the model');
is($node->safe_psql('postgres', "SELECT users FROM maas.loaded_models WHERE model = 'big'"),
	$clients, 'the worker is no longer counted once it has gone');

# a backend that exits is no longer counted
$_->quit foreach splice(@sessions, 10);
$node->poll_query_until('postgres', "SELECT users = 10 FROM maas.loaded_models WHERE model = 'big'")
  or die 'exited backends are still counted';
pass('backends that exit are no longer counted');

# ---- the budget ----

sub small_sql { my ($m) = @_; return "SELECT maas_predict('$m', array_fill(0.25::real, ARRAY[1024]))"; }
sub loaded
{
	return $node->safe_psql('postgres',
		"SELECT string_agg(model, ' ' ORDER BY model) FROM maas.loaded_models WHERE state = 'ready'");
}
my $mb8 = int($small{s1}{bytes} / 1024) + 1;
$node->safe_psql('postgres', 'SELECT maas_unload()');
$node->append_conf('postgresql.conf', sprintf("maas.shared_model_memory = %dkB\n", 2 * $mb8 + 100));
$node->reload;
$node->poll_query_until('postgres', sprintf("SELECT setting = '%d' FROM pg_settings WHERE name = 'maas.shared_model_memory'", 2 * $mb8 + 100));

my ($a, $b) = @sessions[ 0, 1 ];
close_to($a->query_safe(small_sql('s1')), $small{s1}{value}, 's1 predicts');
close_to($b->query_safe(small_sql('s2')), $small{s2}{value}, 's2 predicts');
is(loaded(), 's1 s2', 'two copies fit');
# s3 needs room: s1, used least recently, goes, though a backend still maps it
close_to($b->query_safe(small_sql('s3')), $small{s3}{value}, 's3 predicts');
is(loaded(), 's2 s3', 'the least recently used copy made room');
ok(!-e "$copies/" . $node->safe_psql('postgres', "SELECT sha256 FROM maas.versions WHERE model = 's1'"),
	'its file is gone');
# the backend that mapped s1 loads it again, as another one takes room
close_to($a->query_safe(small_sql('s1')), $small{s1}{value}, 's1 predicts again');
is(loaded(), 's1 s3', 'loaded again, in place of s2');

# copies in use are never removed: two statements hold s1 and s3, paused
# after their first row until lock 7 is free
my $holder = $node->background_psql('postgres');
$holder->query_safe('SELECT pg_advisory_lock(7)');
foreach my $pair ([ $a, 's1' ], [ $b, 's3' ])
{
	my ($s, $m) = @$pair;
	$s->query_until(qr/^held$/m, sprintf("\\echo held\n%s FROM (SELECT 1 UNION ALL SELECT 2 WHERE pg_advisory_lock_shared(7) IS NOT NULL) x;\n",
		small_sql($m)));
}
$node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM maas.loaded_models WHERE in_use > 0 AND model IN ('s1', 's3')")
  or die 'the statements did not start';
my ($ret, $out, $err) = $node->psql('postgres', small_sql('s2'));
like($err, qr/ERROR:  not enough shared model memory for version 1 of model "s2"/,
	'no room while the other copies are in use');
like($err, qr/HINT:  Raise maas.shared_model_memory, or retry when fewer models are in use./, 'with a hint');
is(loaded(), 's1 s3', 'the copies in use stayed');
$holder->query_safe('SELECT pg_advisory_unlock(7)');
$holder->quit;
$a->query_safe('SELECT pg_advisory_unlock_all()');
$b->query_safe('SELECT pg_advisory_unlock_all()');
$node->poll_query_until('postgres', "SELECT coalesce(sum(in_use), 0) = 0 FROM maas.loaded_models")
  or die 'the statements did not end';
close_to($node->safe_psql('postgres', small_sql('s2')), $small{s2}{value}, 'room once they are done');

# a copy larger than the whole budget
($ret, $out, $err) = $node->psql('postgres', $big_sql);
like($err, qr/ERROR:  version 1 of model "big" does not fit in maas.shared_model_memory/,
	'a model larger than the budget is refused');

# 0: every backend its own copy, read from the catalog; the shared ones stay as they were
my $before = loaded();
$node->append_conf('postgresql.conf', "maas.shared_model_memory = 0\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT setting = '0' FROM pg_settings WHERE name = 'maas.shared_model_memory'");
close_to($node->safe_psql('postgres', $big_sql), $expected, 'without sharing, a backend loads its own copy');
is(loaded(), $before, 'no shared copy was made');
$node->append_conf('postgresql.conf', "maas.shared_model_memory = 1GB\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT setting = '1048576' FROM pg_settings WHERE name = 'maas.shared_model_memory'");

# ---- cancel while a copy is being made ----

$node->safe_psql('postgres', 'SELECT maas_unload()');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE maas.weight_chunk IN ACCESS EXCLUSIVE MODE;');
my ($load_out, $load_err) = ('', '');
my $load = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $big_sql ],
	'<', \undef, '>', \$load_out, '2>', \$load_err);
$node->poll_query_until('postgres', "SELECT state = 'loading' FROM maas.loaded_models WHERE model = 'big'")
  or die 'the load did not start';
ok(glob("$copies/*.tmp"), 'the copy is being written to a temporary file');
my $loader_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query = \$q\$$big_sql\$q\$");
$node->safe_psql('postgres', "SELECT pg_cancel_backend($loader_pid)");
$load->finish;
like($load_err, qr/canceling statement due to user request/, 'the load is cancelled');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.loaded_models WHERE model = 'big'"),
	'0', 'a cancelled load leaves no copy in the table');
my @tmp = glob("$copies/*.tmp");
is(scalar(@tmp), 0, 'nor a temporary file');
$locker->query_safe('COMMIT');
$locker->quit;
close_to($node->safe_psql('postgres', $big_sql), $expected, 'the next load makes the copy');

# ---- a standby serves the model from its own copy ----

$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
my @inherited = glob($standby->data_dir . '/pgsql_tmp_maas/*');
is(scalar(@inherited), 0, 'the base backup did not copy the primary\'s copies');
$node->safe_psql('postgres',
	register_sql('tiny', 'linear', 'diabetes_linear.safetensors', 'diabetes_linear.json'));
$node->wait_for_catchup($standby);
close_to($standby->safe_psql('postgres', $big_sql), $expected, 'the standby predicts the same');
is($standby->safe_psql('postgres',
	"SELECT format('%s %s %s', state, bytes, loaded_from) FROM maas.loaded_models WHERE model = 'big'"),
	"ready $big_bytes catalog", 'from a copy it made from its replicated chunks');
ok(-f $standby->data_dir . "/pgsql_tmp_maas/$sha", 'in its own data directory');
ok(defined $standby->safe_psql('postgres',
	"SELECT maas_predict('tiny', 1, array_fill(0::real, ARRAY[10]))"), 'a version registered since is there too');

$_->quit foreach @sessions;
$standby->stop;
$node->stop;
done_testing();

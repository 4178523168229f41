# A remote call stops within a second on a cancel and on statement_timeout
# -- while the server is slow to answer, while it stalls half-way through a
# body, while the client waits to retry, in the per-row and the batch
# paths and in a download -- and the backend stays healthy: the same
# session calls the model again and gets its answer.

use strict;
use warnings;

use MaasRemote;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $srv = start_server(log => "$PostgreSQL::Test::Utils::tmp_check/cancel_server.log");
my $port = $srv->{port};
my $base = "http://127.0.0.1:$port";

my $node = PostgreSQL::Test::Cluster->new('remote_cancel');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
maas.remote_allowed_hosts = '127.0.0.1:$port'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');

sub register
{
	my ($model, $path, $extra) = @_;
	$extra = $extra ? ", $extra" : '';
	$node->safe_psql('postgres', qq{
		SELECT maas_register_remote('$model', '{"protocol": "kserve-v2", "url": "$base$path",
			"model": "linear", "task": "regression", "n_features": 3, "verify": false,
			"timeout_ms": 60000$extra}');
		SELECT maas_deploy('$model', 1);
	});
}

register('ok', '');
register('slow', '/q/sleep=30&key=slow');
register('stall', '/q/stall=30&key=stall');
register('retry', '/q/status=503&retry_after=30&key=retry', '"max_retries": 5');
register('slowb', '/q/sleep=30&key=slowb', '"batch_size": 10');

my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
is($bg->query_safe("SELECT maas_predict('ok', ARRAY[1, 2, 3]::real[])"), '4.25',
	'the session calls a remote model');

# start $sql in the session, wait until the server has its request, cancel
# it, and return the error and how long the cancel took
sub cancel_during
{
	my ($sql, $key) = @_;
	my $before = logged_count($srv, qr/key=$key\b/);
	$bg->{stdin} .= "$sql;\n";
	$bg->{run}->pump_nb;
	wait_logged($srv, qr/key=$key\b/, $before + 1) or die "the request of $key did not arrive";
	usleep(200_000);			# well inside the server's wait
	my $t0 = time();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	# the next query returns only once the canceled one has
	my ($out, $err) = $bg->query("SELECT 'after'");
	my $elapsed = time() - $t0;
	my $stderr = $bg->{stderr};
	$bg->{stderr} = '';
	return ($stderr, $elapsed, $out);
}

foreach my $case (
	[ 'slow', "SELECT maas_predict('slow', ARRAY[1, 2, 3]::real[])", 'a slow answer' ],
	[ 'stall', "SELECT maas_predict('stall', ARRAY[1, 2, 3]::real[])", 'a body stalled half-way' ],
	[ 'retry', "SELECT maas_predict('retry', ARRAY[1, 2, 3]::real[])", 'the wait for a Retry-After of 30 s' ],
	[ 'slowb', "SELECT count(*) FROM maas_predict_batch('slowb', 'SELECT i, ARRAY[i, 1, 2]::real[] FROM generate_series(1, 100) i')", 'a batch' ])
{
	my ($key, $sql, $what) = @$case;
	my ($err, $elapsed, $out) = cancel_during($sql, $key);
	like($err, qr/ERROR:  canceling statement due to user request/, "cancel during $what");
	unlike($err, qr/call to remote model/, "$what: the cancel error, not a remote one");
	cmp_ok($elapsed, '<', 1.0, "$what: stopped within a second (${elapsed} s)");
	is($out, 'after', "$what: the session goes on");
	is($bg->query_safe("SELECT maas_predict('ok', ARRAY[1, 2, 3]::real[])"), '4.25',
		"$what: and calls the model again");
}

# statement_timeout, in a fresh session each time
foreach my $case (
	[ "SELECT maas_predict('slow', ARRAY[1, 2, 3]::real[])", 'a slow answer' ],
	[ "SELECT maas_predict('stall', ARRAY[1, 2, 3]::real[])", 'a stalled body' ],
	[ "SELECT maas_predict('retry', ARRAY[1, 2, 3]::real[])", 'a Retry-After wait' ])
{
	my ($sql, $what) = @$case;
	my $t0 = time();
	my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET statement_timeout = '1s'; $sql");
	my $elapsed = time() - $t0;
	like($stderr, qr/ERROR:  canceling statement due to statement timeout/,
		"statement_timeout during $what");
	cmp_ok($elapsed, '<', 2.0, "$what: stopped within a second of the timeout (${elapsed} s)");
}
is($bg->query_safe("SET statement_timeout = '1s'; SELECT maas_predict('ok', ARRAY[1, 2, 3]::real[])"),
	'4.25', 'a call within the timeout still answers');

# counted as errors, the calls that answered as calls
is($node->safe_psql('postgres', "SELECT errors FROM maas.stats WHERE model = 'slow'"), '2',
	'the canceled calls are errors in maas.stats');

# the backend exits cleanly (the client is freed at exit)
$bg->quit;
$node->stop('fast');
my $log = slurp_file($node->logfile);
unlike($log, qr/server process .* (was terminated|exited with exit code [1-9])/,
	'no backend crashed or exited abnormally');

stop_server($srv);
done_testing();

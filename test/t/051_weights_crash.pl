# Crashes and the shared copies of model weights.
#
# A backend killed with SIGKILL while it writes a copy: the postmaster
# reinitializes, the half-written file is removed, and the next backend
# makes a complete copy and predicts correctly; the server does not crash
# again.  Copies that survive a crash or a restart are checked (size and
# sha256) before anyone maps them: a good one is reused, a damaged or
# truncated one is rebuilt from the catalog.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use MaasTest;

my $node = PostgreSQL::Test::Cluster->new('weights_crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');
my $copies = $node->data_dir . '/pgsql_tmp_maas';

# 8192 -> 8192 -> 1: 256 MB, long enough to write to be caught in the act
my $file = $node->basedir . '/crashy.safetensors';
my ($bytes, $config, $predict) = write_mlp_file($file, 8192, 8192, 5);
$node->safe_psql('postgres', "SELECT maas_register_file('crashy', 'mlp', '$file', '$config')");
unlink $file;
my $sha = $node->safe_psql('postgres', "SELECT sha256 FROM maas.versions WHERE model = 'crashy'");
my $copy = "$copies/$sha";
my $sql = "SELECT maas_predict('crashy', 1, array_fill(0.5::real, ARRAY[8192]))";
my $expected = $predict->(0.5);
sub correct
{
	my ($name) = @_;
	my $got = $node->safe_psql('postgres', $sql);
	ok(abs($got - $expected) <= 1e-4 * (1 + abs($expected)), "$name ($got, expected $expected)");
}
sub copy_state
{
	return $node->safe_psql('postgres',
		"SELECT format('%s %s', state, coalesce(loaded_from, '-')) FROM maas.loaded_models WHERE model = 'crashy'");
}
sub crashes
{
	my $n = () = slurp_file($node->logfile) =~ /terminated by signal 9/g;
	return $n;
}

correct('the model predicts');
is(copy_state(), 'ready catalog', 'its copy was made from the catalog');

# ---- SIGKILL in the middle of writing a copy ----

my $caught = 0;
for my $try (1 .. 10)
{
	$node->safe_psql('postgres', 'SELECT maas_unload()');
	my $s = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	$s->{stdin} .= "$sql;\n";
	$s->{run}->pump_nb;
	# wait for its temporary file to have some, not all, of the bytes
	my $tmp = "$copy.$pid.tmp";
	for (1 .. 20000)
	{
		my $size = -s $tmp;
		if (defined $size && $size > 0 && $size < $bytes)
		{
			$caught = kill('KILL', $pid);
			diag("killed backend $pid with $size of $bytes bytes written (try $try)");
			last;
		}
		last if -e $copy;
		usleep(500);
	}
	eval { $s->quit };
	last if $caught;
}
ok($caught, 'a backend was killed while it wrote a copy');

$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
my @left = glob("$copies/*.tmp");
is(scalar(@left), 0, 'the half-written file was removed when the server reinitialized');
ok(!-e $copy, 'and no copy took its name');
is(copy_state(), '', 'no copy is listed');
correct('the next backend predicts correctly');
is(copy_state(), 'ready catalog', 'from a complete copy made again from the catalog');
is(-s $copy, $bytes, 'of the right size');
is(crashes(), 1, 'one crash');

# ---- copies are checked after a crash and after a restart ----

# a crash with a complete copy on disk: found unverified, checked, reused
my $idle = $node->background_psql('postgres', on_error_stop => 0);
my $idle_pid = $idle->query_safe('SELECT pg_backend_pid()');
kill('KILL', $idle_pid);
eval { $idle->quit };
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
is(copy_state(), 'unverified -', 'after a crash the copy on disk is unverified');
correct('it predicts');
is(copy_state(), 'ready file', 'the copy was checked and reused');

# a clean restart, and a byte of the copy changed meanwhile: rebuilt
$node->stop;
{
	open(my $fh, '+<:raw', $copy) or die "could not open $copy: $!";
	seek($fh, int($bytes / 2), 0);
	read($fh, my $byte, 1);
	seek($fh, int($bytes / 2), 0);
	print $fh chr((ord($byte) + 1) % 256);
	close $fh;
}
$node->start;
is(copy_state(), 'unverified -', 'after a restart too');
my $log_at = -s $node->logfile;
correct('a damaged copy is not used');
is(copy_state(), 'ready catalog', 'it was rebuilt from the catalog');
like(substr(slurp_file($node->logfile), $log_at), qr/shared copy ".*$sha" of model weights does not match version 1 of model "crashy"; rebuilding it/,
	'and the server log says why');

# a truncated copy, after a crash
truncate($copy, $bytes - 4096) or die "could not truncate $copy: $!";
$idle = $node->background_psql('postgres', on_error_stop => 0);
$idle_pid = $idle->query_safe('SELECT pg_backend_pid()');
kill('KILL', $idle_pid);
eval { $idle->quit };
$node->poll_query_until('postgres', 'SELECT true') or die 'the server did not come back';
correct('a truncated copy is not used');
is(copy_state(), 'ready catalog', 'it was rebuilt');
is(-s $copy, $bytes, 'whole again');

# leftovers of an earlier life of the server are removed at startup
$node->stop;
my $junk = "$copies/$sha.12345.tmp";
open(my $jh, '>', $junk) or die;
print $jh 'x' x 100;
close $jh;
$node->start;
ok(!-e $junk, 'a temporary file left from before a restart is removed at startup');
correct('and the model still predicts');
is(crashes(), 3, 'no crash beyond the ones made here');

$node->stop;
done_testing();

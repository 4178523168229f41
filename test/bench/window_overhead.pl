# Overhead of the hourly statistics windows (issue 17), per statement.
#
#   PG_BINDIR=... test/run-tap test/bench/window_overhead.pl
#   (or /work/devpg/devtest NAME tap test/bench/window_overhead.pl)
#
# Windows cost nothing per row: a statement's flush adds its counts to a
# second shared table, one more shared lock and spinlock.  So the worst case
# is many one-row statements of a cheap model: pgbench runs
# "SELECT maas_predict('w', ARRAY[...])" (a 3-feature linear model) for a
# few seconds, alternating a server with windows (the default) and one
# with maas.stats_window_max = 0, twice each per round (an A/A pair each),
# and prints the median statements/s of each.  It checks that the windows
# counted every call; it never fails on time.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{WINDOW_BENCH_SECONDS} || 4;
my $rounds = $ENV{WINDOW_BENCH_ROUNDS} || 3;

my $node = PostgreSQL::Test::Cluster->new('window_bench');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\nfsync = off\n");
$node->start;
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
SELECT maas_register('w', 'linear', st(),
	'{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}');
SELECT maas_deploy('w', 1);
});

my $script = "$PostgreSQL::Test::Utils::tmp_check/window_bench.sql";
open(my $fh, '>', $script) or die;
print $fh "SELECT maas_predict('w', ARRAY[1, 2, 3]::real[]);\n";
close $fh;

sub tps
{
	my ($ret, $out, $err) = ('', '', '');
	my @cmd = ("$ENV{PG_BINDIR}/pgbench", '-n', '-M', 'prepared', '-T', $seconds, '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres');
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err) or die "pgbench: $err";
	$out =~ /tps = ([\d.]+) \(without initial connection time\)/ or die "pgbench: $out";
	return $1;
}

sub set_windows
{
	my ($on) = @_;
	$node->adjust_conf('postgresql.conf', 'maas.stats_window_max', $on ? '2048' : '0');
	$node->restart;
	tps() if $ENV{WINDOW_BENCH_WARM};
}

sub median
{
	my @s = sort { $a <=> $b } @_;
	return $s[int($#s / 2)];
}

my (@on, @off);
for my $r (1 .. $rounds)
{
	set_windows(1);
	push @on, tps(), tps();
	set_windows(0);
	push @off, tps(), tps();
}
set_windows(1);
$node->safe_psql('postgres', 'SELECT maas_stats_reset()');
my $t = tps();
my $calls = $node->safe_psql('postgres', "SELECT calls FROM maas.stats WHERE model = 'w'");
is($node->safe_psql('postgres', "SELECT sum(calls) FROM maas.stats_window WHERE model = 'w'"),
	$calls, "the windows counted every call ($calls)");

my ($mon, $moff) = (median(@on), median(@off));
diag(sprintf("one-row statements/s, %d rounds of 2 x %d s (rough: shared, loaded machine)", $rounds, $seconds));
diag(sprintf("  windows on:  median %.0f  (%s)", $mon, join(' ', map { sprintf('%.0f', $_) } @on)));
diag(sprintf("  windows off: median %.0f  (%s)", $moff, join(' ', map { sprintf('%.0f', $_) } @off)));
diag(sprintf("  off / on = %.4f (> 1: windows cost that share of a one-row statement)", $moff / $mon));

$node->stop;
done_testing();

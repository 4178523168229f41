# A model larger than 1 GB, the most a bytea holds.
#
# A 16384 -> 16400 -> 1 MLP (1.07 GB of float32, made here, not committed)
# registers from a file on the server, predicts what it should, exports to
# a file and, as parts, to a client, and survives pg_dump and pg_restore;
# the backends doing it never hold the weights in their own memory.  Needs
# about 12 GB of free disk (the model, its chunks and their WAL, the shared
# copy, the exports, a dump and the restored database); skipped, saying
# so, when the disk has less.

use strict;
use warnings;

use Digest::SHA;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use MaasTest;

my $need_gb = 12;
my $node = PostgreSQL::Test::Cluster->new('big');
my $dir = $node->basedir;
my ($free_kb) = (`df -Pk '$dir'` =~ /\n\S+\s+\d+\s+\d+\s+(\d+)/);
if (!defined $free_kb || $free_kb < $need_gb * 1024 * 1024)
{
	plan skip_all => sprintf('a model larger than 1 GB needs about %d GB of free disk; %s has %s',
		$need_gb, $dir, defined $free_kb ? sprintf('%.1f GB', $free_kb / 1024 / 1024) : 'an unknown amount');
}

$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
maas.shared_model_memory = 3GB
max_wal_size = 4GB
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');

my %took;
sub timed
{
	my ($what, $code) = @_;
	my $t0 = time;
	my @r = $code->();
	$took{$what} = time - $t0;
	return wantarray ? @r : $r[0];
}

# run sql in its own psql, sampling its backend's private memory (RssAnon)
# until it ends; returns (stdout, stderr, the largest sample in MB)
sub run_sampled
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	my $tag = 'maas_big_' . int(rand(1e9));
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') . " application_name=$tag",
			'-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	my ($pid, $max_kb) = (undef, 0);
	while ($h->pumpable)
	{
		$pid //= $node->safe_psql('postgres',
			"SELECT pid FROM pg_stat_activity WHERE application_name = '$tag'") || undef;
		if ($pid && open(my $fh, '<', "/proc/$pid/status"))
		{
			while (<$fh>)
			{
				$max_kb = $1 if /^RssAnon:\s+(\d+) kB/ && $1 > $max_kb;
			}
			close $fh;
		}
		usleep(50_000);
		$h->pump_nb;
	}
	$h->finish;
	chomp $out;
	return ($out, $err, $max_kb / 1024);
}

# ---- the model ----

my $file = "$dir/big.safetensors";
my ($bytes, $config, $predict) = timed('write the file', sub { write_mlp_file($file, 16384, 16400, 3) });
cmp_ok($bytes, '>', 1024 * 1024 * 1024, sprintf('the model takes %.2f GB', $bytes / 1e9));

# the sha256 of a safetensors file, and of its tensors (after its header), in one pass
sub file_shas
{
	my ($path) = @_;
	my ($whole, $data) = (Digest::SHA->new(256), Digest::SHA->new(256));
	open(my $fh, '<:raw', $path) or die "could not open $path: $!";
	read($fh, my $len, 8) == 8 or die "short file $path";
	read($fh, my $header, unpack('Q<', $len));
	$whole->add($len, $header);
	while (read($fh, my $block, 4 << 20))
	{
		$whole->add($block);
		$data->add($block);
	}
	close $fh;
	return ($whole->hexdigest, $data->hexdigest, $header);
}
my ($sha, $orig_data_sha) = file_shas($file);

my ($out, $err, $mem) = timed('register', sub { run_sampled("SELECT maas_register_file('big', 'mlp', '$file', '$config')") });
is($out, '1', 'it registers from a file on the server') or diag($err);
diag(sprintf('maas_register_file: %.1f s, the backend\'s private memory at most %.0f MB',
	$took{register}, $mem));
cmp_ok($mem, '<', 256, 'without holding the weights in the backend\'s memory');
unlink $file;
is( $node->safe_psql('postgres', "SELECT format('%s %s', bytes, sha256) FROM maas.versions WHERE model = 'big'"),
	"$bytes $sha", 'its size and sha256 are the file\'s');
is( $node->safe_psql('postgres',
		"SELECT format('%s %s', count(*), max(chunk)) FROM maas.weight_chunk c JOIN maas.version v USING (version_id)"),
	sprintf('%d %d', int(($bytes + 8119) / 8120), int(($bytes + 8119) / 8120) - 1),
	'in chunks of 8120 bytes');
$node->safe_psql('postgres', "SELECT maas_deploy('big', 1)");

# ---- it predicts ----

my $sql = "SELECT maas_predict('big', array_fill(0.5::real, ARRAY[16384]))";
my $expected = $predict->(0.5);
($out, $err, $mem) = timed('first prediction', sub { run_sampled($sql) });
ok(abs($out - $expected) <= 1e-4 * (1 + abs($expected)), "it predicts ($out, expected $expected)")
  or diag($err);
diag(sprintf('first prediction (making the shared copy): %.1f s, private memory at most %.0f MB',
	$took{'first prediction'}, $mem));
cmp_ok($mem, '<', 256, 'the copy is not in the backend\'s memory either');
is($node->safe_psql('postgres', "SELECT format('%s %s', state, bytes) FROM maas.loaded_models WHERE model = 'big'"),
	"ready $bytes", 'its shared copy is loaded');
my ($ret, $o, $e) = $node->psql('postgres', "SELECT length(weights) FROM maas_export('big')");
like($e, qr/ERROR:  version 1 of model "big" is too large to export as a bytea.*HINT:  Use maas_export_file or maas_export_parts/s,
	'maas_export says what to use instead');

# ---- exported to a file, and to a client in parts ----

my $export = "$dir/export.safetensors";
my $size = timed('export to a file', sub {
	$node->safe_psql('postgres', "SELECT maas_export_file('big', '$export')") });
is(-s $export, $size, 'maas_export_file writes the file it says');
my ($export_sha, $export_data_sha, $header) = file_shas($export);
like($header, qr/"maas\.model":"big"/, 'whose header names the model');
like($header, qr/"maas\.config":/, 'and carries its config');

# the same file, from maas_export_parts through COPY ... TO STDOUT (binary):
# the rows come in order (no ORDER BY, which would sort a gigabyte)
my $parts = "$dir/parts.copy";
my $t0 = time;
IPC::Run::run([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
	"COPY (SELECT part, data FROM maas_export_parts('big')) TO STDOUT WITH (FORMAT binary)" ],
	'>', $parts) or die 'COPY of the parts failed';
$took{'export in parts'} = time - $t0;
{
	open(my $fh, '<:raw', $parts) or die;
	read($fh, my $sig, 19) == 19 or die 'short COPY header';
	my $digest = Digest::SHA->new(256);
	my ($got, $n, $in_order) = (0, 0, 1);
	while (read($fh, my $nf, 2) == 2)
	{
		last if unpack('s>', $nf) == -1;
		read($fh, my $l, 4);
		read($fh, my $part, 4);
		$in_order &&= unpack('l>', $part) == ++$n;
		read($fh, $l, 4);
		read($fh, my $data, unpack('l>', $l));
		$digest->add($data);
		$got += length($data);
	}
	close $fh;
	ok($in_order, "the $n parts come in order");
	is($got, $size, 'they add up to the file');
	is($digest->hexdigest, $export_sha, 'and are the file');
}
unlink $parts;

is($export_data_sha, $orig_data_sha, 'the exported tensors are the registered ones, byte for byte');
unlink $export;

# ---- pg_dump and pg_restore ----

my $dump = "$dir/big.dump";
$t0 = time;
$node->command_ok([ 'pg_dump', '-Fc', '-Z0', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump');
$took{'pg_dump'} = time - $t0;
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$t0 = time;
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
$took{'pg_restore'} = time - $t0;
unlink $dump;
is( $node->safe_psql('restored',
		"SELECT format('%s %s %s', bytes, sha256, deployed) FROM maas.versions WHERE model = 'big'"),
	"$bytes $sha t", 'the restored version has the same bytes');
# its copy must come from the restored chunks, not from the one already made
$node->safe_psql('postgres', 'SELECT maas_unload()');
$out = $node->safe_psql('restored', $sql);
ok(abs($out - $expected) <= 1e-4 * (1 + abs($expected)), "the restored model predicts the same ($out)");
is($node->safe_psql('restored', "SELECT format('%s %s', state, loaded_from) FROM maas.loaded_models WHERE model = 'big'"),
	'ready catalog', 'from a copy made from the restored chunks');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.loaded_models WHERE model = 'big'"),
	'1', 'which the original database shares: the same bytes');

diag(join(', ', map { sprintf('%s %.1f s', $_, $took{$_}) } sort keys %took));
$node->stop;
done_testing();

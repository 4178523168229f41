# What a text model costs a backend beyond the shared weights.
#
# A GPT-2 of GPT-2's structure and vocabulary (every tensor, the tied head,
# 50,257 tokens, 50,000 merges), made narrow by test/bench/gpt2_shape.py so
# that it is quick: eight connections generate with it, and the server's
# memory (the sum of the backends' PSS from /proc/PID/smaps_rollup, outside
# shared_buffers) grows by one copy of the weights and one of the
# tokenizer's tables, plus a bounded few MB a backend: the tokenizer is built
# once per server and mapped by every backend (text_shared.c), not built
# from the config's JSON in each.  Every backend generates the same text,
# and so does one that builds its own (maas.shared_model_memory = 0).  A
# damaged tokenizer file is found and rebuilt; a restart removes the files.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Time::HiRes qw(time);
use MaasTest;

my $clients = 8;
my $per_backend_mb = 5;		# the issue's target per additional backend

my $node = PostgreSQL::Test::Cluster->new('text_memory');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
max_connections = 30
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');
my $copies = $node->data_dir . '/pgsql_tmp_maas';

my $dir = $node->basedir . '/gpt2';
my $generator = abs_path(dirname(__FILE__) . '/../bench/gpt2_shape.py');
system('/usr/bin/python3', $generator, $dir, '--width', '64', '--layers', '2',
	'--heads', '4', '--positions', '256', '--tokenizer') == 0
  or die 'gpt2_shape.py failed';
$node->safe_psql('postgres', qq{
SELECT maas_register_file('narrow', 'gpt2', '$dir/model.safetensors',
	pg_read_file('$dir/config.json')::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
		'vocab', pg_read_file('$dir/vocab.json')::jsonb, 'merges', pg_read_file('$dir/merges.txt'))));
SELECT maas_deploy('narrow', 1);
});
my $weights_mb = (-s "$dir/model.safetensors") / 1024 / 1024;
my $prompt = 'the database is here and there';
my $gen_sql = "SELECT maas_generate('narrow', '$prompt', '{\"max_new_tokens\": 8}')";
my $tok_sql = "SELECT maas_tokenize('narrow', '$prompt')";

# the first backend builds the tokenizer and writes its file
my ($expected, $ids) = split /\n/, $node->safe_psql('postgres', "$gen_sql; $tok_sql");
cmp_ok(length($expected), '>', 0, "the model generates (\"$expected\")");
like($ids, qr/^\{\d+(,\d+)*\}$/, "the prompt tokenizes ($ids)");
my @tok_files = glob("$copies/tok*");
is(scalar(@tok_files), 1, 'one tokenizer file beside the weight copies');
my $tok_mb = (-s $tok_files[0]) / 1024 / 1024;
cmp_ok($tok_mb, '>', 1, sprintf('it holds the tables of 50,257 tokens and 50,000 merges (%.1f MB)', $tok_mb));

# ---- eight connections ----
#
# Each backend first generates with the fixtures' tiny GPT-2: that opens
# the matrix libraries (OpenBLAS, oneDNN: their code, buffers and kernels
# are a few MB in every backend that runs a product, whatever the model)
# and the text path.  What the narrow GPT-2 then adds is its own cost.

my %tiny = map { $_ => fixture_path("text/tiny_gpt2/$_") } qw(model.safetensors config.json vocab.json merges.txt);
$node->safe_psql('postgres', qq{
SELECT maas_register_file('tiny', 'gpt2', '$tiny{"model.safetensors"}',
	pg_read_file('$tiny{"config.json"}')::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
		'vocab', pg_read_file('$tiny{"vocab.json"}')::jsonb, 'merges', pg_read_file('$tiny{"merges.txt"}'))))});
$node->safe_psql('postgres', "SELECT maas_deploy('tiny', 1)");
my $warm_sql = q{SELECT maas_generate('tiny', 'Hello world', '{"max_new_tokens": 3}')};

my (@sessions, @pids);
for my $i (1 .. $clients)
{
	my $s = $node->background_psql('postgres');
	push @sessions, $s;
	push @pids, $s->query_safe('SELECT pg_backend_pid()');
	$s->query_safe('SELECT count(*) FROM maas.versions');	# warm the catalogs
}
sub own_pss_mb
{
	my $own = 0;
	foreach my $pid (@pids)
	{
		my ($p, $s) = backend_pss_kb($pid);
		$own += $p - $s;
	}
	return $own / 1024;
}
my $fresh_mb = own_pss_mb();
my (@warm_ms, @first_ms, @next_ms);
foreach my $s (@sessions)
{
	my $t = time;
	$s->query_safe($warm_sql);
	push @warm_ms, (time - $t) * 1000;
}
my $idle_mb = own_pss_mb();
my %answers;
foreach my $s (@sessions)
{
	my $t = time;
	$answers{ $s->query_safe($gen_sql) }++;
	push @first_ms, (time - $t) * 1000;
	$t = time;
	$answers{ $s->query_safe($gen_sql) }++;
	push @next_ms, (time - $t) * 1000;
	is($s->query_safe($tok_sql), $ids, 'the mapped tokenizer gives the same ids');
}
my $serving_mb = own_pss_mb();
my $growth_mb = $serving_mb - $idle_mb;
my $each_mb = ($growth_mb - $weights_mb - $tok_mb) / $clients;
my $libs_mb = ($idle_mb - $fresh_mb) / $clients;
sub median { my @v = sort { $a <=> $b } @_; return $v[ @v / 2 ]; }
diag(sprintf('%d backends generating with a %.1f MB GPT-2 (tokenizer file %.1f MB): PSS outside '
	  . 'shared_buffers %.1f -> %.1f MB, +%.1f MB, %.2f MB a backend beyond one copy of each '
	  . '(after %.2f MB a backend for the matrix libraries and the text path, tiny GPT-2 first); '
	  . 'tiny first %.0f ms, narrow first %.0f ms, next %.0f ms (medians, client side; rough on a loaded machine)',
	$clients, $weights_mb, $tok_mb, $idle_mb, $serving_mb, $growth_mb, $each_mb, $libs_mb,
	median(@warm_ms), median(@first_ms), median(@next_ms)));
is_deeply([ keys %answers ], [$expected], 'every connection generates the same text');
cmp_ok($growth_mb, '>', 0.8 * $weights_mb, 'the weights are in the backends\' memory');
cmp_ok($each_mb, '<', $per_backend_mb,
	"a backend holds at most $per_backend_mb MB of its own for the model beyond the shared weights and tokenizer");
cmp_ok($each_mb + $libs_mb, '<', 2 * $per_backend_mb,
	'and at most ' . 2 * $per_backend_mb . ' MB with the matrix libraries\' and the text path\'s own');
is(scalar(() = glob("$copies/tok*")), 2, 'one tokenizer file per model');
$_->quit foreach @sessions;

# ---- without shared copies: the backend builds its own, the same ----

$node->append_conf('postgresql.conf', "maas.shared_model_memory = 0\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT setting = '0' FROM pg_settings WHERE name = 'maas.shared_model_memory'")
  or die 'maas.shared_model_memory = 0 was not applied';
is($node->safe_psql('postgres', "SET maas.cache_size = '64MB'; $gen_sql"), $expected,
	'a backend with its own tokenizer generates the same');
$node->append_conf('postgresql.conf', "maas.shared_model_memory = 2GB\n");
$node->reload;
$node->poll_query_until('postgres', "SELECT setting <> '0' FROM pg_settings WHERE name = 'maas.shared_model_memory'")
  or die 'maas.shared_model_memory was not restored';

# ---- a damaged file is found, removed and made again ----

my $tok_file = $tok_files[0];
my $size = -s $tok_file;
open(my $fh, '+<', $tok_file) or die "cannot open $tok_file: $!";
binmode $fh;
seek($fh, int($size / 2), 0);
print $fh "\xff" x 64;
close $fh;
my $log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "$gen_sql"), $expected, 'a damaged tokenizer file is not used');
ok($node->log_contains(qr/removing damaged tokenizer file .*checksum mismatch/, $log_offset),
	'the damage is logged');
ok(-f $tok_file && -s $tok_file == $size, 'the file is made again');
is($node->safe_psql('postgres', $tok_sql), $ids, 'and reads back the same');

# ---- a restart removes the files; they are made again on use ----

$node->restart;
is(scalar(() = glob("$copies/tok*")), 0, 'a restart removes the tokenizer files');
is($node->safe_psql('postgres', $gen_sql), $expected, 'the model generates after a restart');
is(scalar(() = glob("$copies/tok*")), 1, 'the first backend made the file again');

$node->stop;
done_testing();

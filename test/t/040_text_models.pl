# Text models beyond one session: a long generation stops within a second
# on statement_timeout and on pg_cancel_backend, and the backend serves
# again at once; a hot standby generates what the primary generates; and a
# pg_dump of the database restores into one that generates the same text.
#
# The long generation needs a model with a long context: a random GPT-2
# (256 wide, 6 layers, 2048 positions) is written here, in Hugging Face's
# layout, with the tiny fixture's tokenizer files.

use strict;
use warnings;

use IPC::Run;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MaasTest;

my ($C, $L, $P, $V) = (256, 6, 2048, 448);

# a safetensors file of F32 tensors filled from one pseudo-random block
sub random_gpt2
{
	srand(42);
	my $block = pack('f<*', map { (rand() - 0.5) * 0.08 } 1 .. 65536);
	my @tensors = (['wte.weight', [ $V, $C ]], ['wpe.weight', [ $P, $C ]]);
	for my $i (0 .. $L - 1)
	{
		push @tensors,
		  [ "h.$i.ln_1.weight", [$C] ], [ "h.$i.ln_1.bias", [$C] ],
		  [ "h.$i.attn.c_attn.weight", [ $C, 3 * $C ] ], [ "h.$i.attn.c_attn.bias", [ 3 * $C ] ],
		  [ "h.$i.attn.c_proj.weight", [ $C, $C ] ], [ "h.$i.attn.c_proj.bias", [$C] ],
		  [ "h.$i.ln_2.weight", [$C] ], [ "h.$i.ln_2.bias", [$C] ],
		  [ "h.$i.mlp.c_fc.weight", [ $C, 4 * $C ] ], [ "h.$i.mlp.c_fc.bias", [ 4 * $C ] ],
		  [ "h.$i.mlp.c_proj.weight", [ 4 * $C, $C ] ], [ "h.$i.mlp.c_proj.bias", [$C] ];
	}
	push @tensors, [ 'ln_f.weight', [$C] ], [ 'ln_f.bias', [$C] ];

	my ($header, $data, $off) = ('{', '', 0);
	for my $t (@tensors)
	{
		my ($name, $shape) = @$t;
		my $n = 1;
		$n *= $_ for @$shape;
		my $bytes = '';
		if ($name =~ /ln_.*weight$/)
		{
			$bytes = pack('f<*', (1.0) x $n);
		}
		else
		{
			my $need = 4 * $n;
			my $start = (length($data) * 7) % length($block);
			while (length($bytes) < $need)
			{
				$bytes .= substr($block, $start, $need - length($bytes));
				$start = 0;
			}
		}
		$header .= sprintf('%s"%s":{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}',
			$off ? ',' : '', $name, join(',', @$shape), $off, $off + length($bytes));
		$off += length($bytes);
		$data .= $bytes;
	}
	$header .= '}';
	$header .= ' ' x ((8 - length($header) % 8) % 8);
	return pack('Q<', length($header)) . $header . $data;
}

sub literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

my $weights = random_gpt2();
my $config = sprintf(
	'{"n_embd": %d, "n_layer": %d, "n_head": 8, "n_positions": %d, "vocab_size": %d, "activation_function": "gelu_new"}',
	$C, $L, $P, $V);
my $register = sprintf(
	"SELECT maas_register('long_writer', 'gpt2', decode('%s', 'base64'), %s::jsonb || "
	  . "jsonb_build_object('tokenizer', jsonb_build_object('vocab', %s::jsonb, 'merges', %s)))",
	encode_base64($weights, ''), literal($config),
	literal(fixture_bytes('text/tiny_gpt2/vocab.json')),
	literal(fixture_bytes('text/tiny_gpt2/merges.txt')));

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION maas');
is($primary->safe_psql('postgres', $register), '1', 'a 2048-position GPT-2 registers');
$primary->safe_psql('postgres', "SELECT maas_deploy('long_writer', 1)");

my $short = q{SELECT maas_generate('long_writer', 'The database is', '{"max_new_tokens": 16}')};
my $text = $primary->safe_psql('postgres', $short);
isnt($text, '', 'it generates');

# a generation of 2000 tokens takes many seconds here
my $long = q{SELECT length(maas_generate('long_writer', 'Hello', '{"max_new_tokens": 2000, "ignore_eos": true}'))};

# --- statement_timeout --------------------------------------------------------
my $t0 = time();
my ($rc, $out, $err) = $primary->psql('postgres', "SET statement_timeout = '1s'; $long");
my $elapsed = time() - $t0;
isnt($rc, 0, 'statement_timeout stops the generation');
like($err, qr/canceling statement due to statement timeout/, 'with the timeout error');
cmp_ok($elapsed, '<', 2.5, "within a second of the timeout (took " . sprintf('%.2f', $elapsed) . ' s)');

# --- pg_cancel_backend -------------------------------------------------------
my ($bout, $berr) = ('', '');
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $primary->connstr('postgres'), '-c', $long ],
	'<', \undef, '>', \$bout, '2>', \$berr);
$primary->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%max_new_tokens\": 2000%' "
	  . "AND pid <> pg_backend_pid() AND state = 'active' AND now() - query_start > interval '300 ms'")
  or die 'the generation did not start';
my $pid = $primary->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE '%max_new_tokens\": 2000%' "
	  . "AND pid <> pg_backend_pid() AND state = 'active'");
$t0 = time();
$primary->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$h->finish;
$elapsed = time() - $t0;
like($berr, qr/canceling statement due to user request/, 'pg_cancel_backend stops the generation');
cmp_ok($elapsed, '<', 1.0, "within a second (took " . sprintf('%.2f', $elapsed) . ' s)');
is($primary->safe_psql('postgres', $short), $text, 'and the server generates as before');

# --- a standby generates what the primary generates -----------------------------
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $short), $text, 'the standby generates the same text');
is($standby->safe_psql('postgres',
		q{SELECT maas_generate('long_writer', 'Hello', '{"max_new_tokens": 8, "temperature": 0.9, "seed": 3}')}),
	$primary->safe_psql('postgres',
		q{SELECT maas_generate('long_writer', 'Hello', '{"max_new_tokens": 8, "temperature": 0.9, "seed": 3}')}),
	'and samples the same text from the same seed');
is($standby->safe_psql('postgres', q{SELECT maas_tokenize('long_writer', 'Hello world')}),
	$primary->safe_psql('postgres', q{SELECT maas_tokenize('long_writer', 'Hello world')}),
	'and tokenizes alike');

# --- pg_dump and restore ---------------------------------------------------------
my $dump = $primary->basedir . '/text.dump';
$primary->command_ok([ 'pg_dump', '-Fc', '-d', 'postgres', '-f', $dump ], 'pg_dump');
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
$primary->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', $dump ], 'pg_restore');
is($primary->safe_psql('restored', $short), $text, 'the restored database generates the same text');
is($primary->safe_psql('restored', "SELECT task || ' ' || n_outputs FROM maas.versions WHERE model = 'long_writer'"),
	"generation $V", 'and lists the version as it was');

$standby->stop;
$primary->stop;
done_testing();

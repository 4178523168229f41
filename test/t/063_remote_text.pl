# Remote text models against the OpenAI-compatible shapes of the local test
# server (test/remote/server.py, whose chat and completions answer
# "echo: " + the prompt and whose embeddings are derived from the text's
# SHA-256): maas_generate over chat (with a system message) and
# completions, maas_embed and maas_embed_batch in requests of batch_size,
# the secret sent, bad answers and statuses with their errors, tokens and
# errors in maas.stats, a cancel within a second, and deploy/rollback
# between the tiny local GPT-2 and a remote version of the same model.

use strict;
use warnings;

use Digest::SHA qw(sha256);
use MaasRemote;
use MaasTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my $secret = 'sk-text-tap-6b2e9f10';
my $srv = start_server(log => "$PostgreSQL::Test::Utils::tmp_check/text_server.log",
	auth => $secret);
my $port = $srv->{port};
my $base = "http://127.0.0.1:$port";

my $node = PostgreSQL::Test::Cluster->new('remote_text');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
maas.remote_allowed_hosts = '127.0.0.1:$port'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');
$node->safe_psql('postgres', "SET log_statement = 'none'; SELECT maas_secret_set('text_key', '$secret')");

sub register
{
	my ($model, $endpoint) = @_;
	return $node->safe_psql('postgres', "SELECT maas_register_remote('$model', '$endpoint')");
}

sub requests
{
	my ($key, $path) = @_;
	return grep { $_->{path} =~ /$path$/ } logged($srv, qr/key=$key\b/);
}

# --- generation -------------------------------------------------------------
is(register('llm', qq({"protocol": "openai", "url": "$base/q/key=chat/v1", "model": "gpt-test",
	"task": "generation", "system": "Answer briefly.", "secret": "text_key"})), '1',
	'an OpenAI chat endpoint registers as version 1');
$node->safe_psql('postgres', "SELECT maas_deploy('llm', 1)");
is($node->safe_psql('postgres', "SELECT algorithm, task FROM maas.versions WHERE model = 'llm'"),
	'openai|generation', 'its algorithm is the protocol');
is($node->safe_psql('postgres', "SELECT maas_generate('llm', 'Summarize: the rows', '{}')"),
	'echo: Summarize: the rows', 'maas_generate answers with the server\'s text');
my @reqs = requests('chat', '/v1/chat/completions');
is(scalar(@reqs), 1, 'one chat request');
is($reqs[0]->{auth}, 'ok', 'with the secret');
is($node->safe_psql('postgres', q{SELECT maas_generate('llm', 'Summarize: the rows', '{"max_new_tokens": 9, "temperature": 0}')}),
	'echo: Sum', 'max_new_tokens is sent as max_tokens');
my $before = scalar(requests('chat', '/v1/chat/completions'));
is($node->safe_psql('postgres', q{
	CREATE TABLE tickets AS SELECT i AS id, 'ticket ' || i AS body FROM generate_series(1, 12) i;
	SELECT count(*) FILTER (WHERE maas_generate('llm', 'Summarize: ' || body, '{}') = 'echo: Summarize: ' || body) FROM tickets}),
	'12', 'one call a row, each the server\'s answer');
my @rows = (requests('chat', '/v1/chat/completions'))[ $before .. $before + 11 ];
my %conns = map { $_->{conn} => 1 } @rows;
is(scalar(@rows) . ' ' . scalar(keys %conns), '12 1', 'twelve requests on one kept-alive connection');
# the server reports the answer's length in characters as its completion tokens
my $tokens = length('echo: Summarize: the rows') + length('echo: Sum');
$tokens += length("echo: Summarize: ticket $_") for 1 .. 12;
is($node->safe_psql('postgres', "SELECT calls, tokens FROM maas.stats WHERE model = 'llm'"),
	"14|$tokens", 'the completion tokens the server reports are counted in maas.stats');

# completions
register('llm', qq({"protocol": "openai", "url": "$base/q/key=cmpl/v1", "model": "gpt-test",
	"task": "generation", "api": "completions"}));
is($node->safe_psql('postgres', q{SELECT maas_generate('llm', 'Hello', '{"version": 2}')}),
	'echo: Hello', 'a pinned version over the completions API');
is(scalar(requests('cmpl', '/v1/completions')), 1, 'one completions request');

# errors
my %bad = (
	'bad=type' => qq{ERROR:  call to remote model "llm" failed
DETAIL:  Response field "choices[0].message.content" must be a string, not a number.},
	'bad=nochoices' => qq{ERROR:  call to remote model "llm" failed
DETAIL:  Response field "choices" is empty.},
	'status=400&msg=context+too+long' => qq{ERROR:  call to remote model "llm" failed
DETAIL:  "127.0.0.1:$port" answered HTTP 400: context too long.},
);
my $v = 3;
foreach my $fault (sort keys %bad)
{
	register('llm', qq({"protocol": "openai", "url": "$base/q/$fault/v1", "model": "gpt-test", "task": "generation", "max_retries": 0}));
	my ($ret, $out, $err) = $node->psql('postgres', qq{SELECT maas_generate('llm', 'x', '{"version": $v}')});
	$err =~ s/^psql:<stdin>:\d+: //mg;
	$err =~ s/\s+$//;
	is($err, $bad{$fault}, "generation with $fault: its error");
	$v++;
}
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT maas_generate('llm', 'x', '{"top_p": 0.5}')});
like($err, qr/generation parameter "top_p" is not supported by remote model "llm"/,
	'a sampler parameter the protocol does not carry is refused');
($ret, $out, $err) = $node->psql('postgres', q{SELECT maas_tokenize('llm', 'x')});
like($err, qr/model "llm" is a remote model/, 'a remote model has no tokenizer');
is($node->safe_psql('postgres', "SELECT errors FROM maas.stats WHERE model = 'llm' AND version = 1"),
	'2', 'refused calls of version 1 are errors (top_p, tokenize)');

# --- embeddings ----------------------------------------------------------------
register('emb', qq({"protocol": "openai", "url": "$base/q/key=emb/v1", "model": "emb-test",
	"task": "embedding", "batch_size": 4}));
$node->safe_psql('postgres', "SELECT maas_deploy('emb', 1)");
sub embedding
{
	my ($text) = @_;
	my @h = unpack('C*', sha256($text));
	return '{' . join(',', map { my $x = ($h[ $_ % 32 ] - 128) / 128; $x } 0 .. 7) . '}';
}
is($node->safe_psql('postgres', "SELECT maas_embed('emb', 'hello')::text"), embedding('hello'),
	'maas_embed gives the server\'s embedding');
is($node->safe_psql('postgres', q{
	SELECT string_agg(embedding::text, ';' ORDER BY id) FROM maas_embed_batch('emb', 'SELECT id, body FROM tickets')}),
	join(';', map { embedding("ticket $_") } 1 .. 12), 'maas_embed_batch: every row\'s embedding');
is(scalar(requests('emb', '/v1/embeddings')), 1 + 3, '12 texts in requests of 4: 3 requests');
register('emb', qq({"protocol": "openai", "url": "$base/q/bad=dims/v1", "model": "emb-test", "task": "embedding"}));
($ret, $out, $err) = $node->psql('postgres',
	"SELECT count(*) FROM maas_embed_batch('emb', 'SELECT id, body FROM tickets', NULL, 2)");
like($err, qr/ERROR:  call to remote model "emb" failed\nDETAIL:  Response field "data\[11\]\.embedding" has 7 values, not 8\./,
	'an embedding of the wrong size fails the batch');

# --- a cancel during a slow generation ------------------------------------------
register('slowllm', qq({"protocol": "openai", "url": "$base/q/sleep=30&key=slowllm/v1", "model": "gpt-test", "task": "generation"}));
$node->safe_psql('postgres', "SELECT maas_deploy('slowllm', 1)");
my $bg = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->{stdin} .= "SELECT maas_generate('slowllm', 'x', '{}');\n";
$bg->{run}->pump_nb;
wait_logged($srv, qr/key=slowllm\b/, 1) or die 'the slow request did not arrive';
my $t0 = time();
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my ($after) = $bg->query("SELECT 'after'");
my $elapsed = time() - $t0;
like($bg->{stderr}, qr/canceling statement due to user request/, 'a slow generation is canceled');
cmp_ok($elapsed, '<', 1.0, "within a second ($elapsed s)");
is($after, 'after', 'and the session goes on');
$bg->quit;

# --- deploy and roll back between the local tiny GPT-2 and a remote version ---------
my $dir = MaasTest::fixture_path('text/tiny_gpt2/config.json') =~ s{/config.json$}{}r;
$node->safe_psql('postgres', qq{
	\\set w `base64 -w0 $dir/model.safetensors`
	\\set c `cat $dir/config.json`
	\\set v `cat $dir/vocab.json`
	\\set m `cat $dir/merges.txt`
	SELECT maas_register('writer', 'gpt2', decode(:'w', 'base64'),
	       :'c'::jsonb || jsonb_build_object('tokenizer', jsonb_build_object('vocab', :'v'::jsonb, 'merges', :'m')));
	SELECT maas_deploy('writer', 1);
});
my $local = $node->safe_psql('postgres', q{SELECT maas_generate('writer', 'Hello', '{"max_new_tokens": 5}')});
register('writer', qq({"protocol": "openai", "url": "$base/v1", "model": "gpt-test", "task": "generation"}));
$node->safe_psql('postgres', "SELECT maas_deploy('writer', 2)");
is($node->safe_psql('postgres', q{SELECT maas_generate('writer', 'Hello', '{"max_new_tokens": 5}')}),
	'echo:', 'version 2 (remote) serves after a deploy');
$node->safe_psql('postgres', "SELECT maas_deploy('writer', 'previous')");
is($node->safe_psql('postgres', q{SELECT maas_generate('writer', 'Hello', '{"max_new_tokens": 5}')}),
	$local, 'rollback: the local GPT-2 serves again, with the same text');
isnt($local, 'echo:', '(which is the local model\'s own)');

$node->stop;
unlike(slurp_file($node->logfile), qr/\Q$secret\E/, 'the secret is not in the server log');
stop_server($srv);
done_testing();

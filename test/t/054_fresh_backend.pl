# A new backend's matrix libraries, opened by the postmaster.
#
# With maas in shared_preload_libraries the postmaster opens OpenBLAS and
# oneDNN (and makes oneDNN's first kernels) on one thread, so every backend
# inherits them by fork: a backend that has run nothing of maas already maps
# them, maas_blas_info() says so, its first prediction is right, and it
# starts its own threads (maas.blas_threads) while the postmaster never has
# any.  The same after a crash restart (the postmaster reinitializes without
# loading maas again) and a restart; the libraries follow postgresql.conf's
# maas.cpu_features_disable; with maas.preload_libraries = off, and
# without shared_preload_libraries, each backend opens them at its first
# product, as before, with the same results.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $node = PostgreSQL::Test::Cluster->new('fresh_backend');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
maas.blas_threads = 2
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION maas');
$node->safe_psql('postgres', register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')
	  . "; SELECT maas_deploy('digits', 1)");
my $fix = fixture_path('text/tiny_gpt2/config.json') =~ s{/config.json$}{}r;
$node->safe_psql('postgres', qq{
SELECT maas_register_file('tiny_gpt2', 'gpt2', '$fix/model.safetensors',
	pg_read_file('$fix/config.json')::jsonb || jsonb_build_object('tokenizer', jsonb_build_object(
		'vocab', pg_read_file('$fix/vocab.json')::jsonb, 'merges', pg_read_file('$fix/merges.txt'))));
SELECT maas_deploy('tiny_gpt2', 1);
});

my $predict_sql = q{SELECT maas_predict('digits', ARRAY[0,0,8,16,15,4,0,0,0,10,16,11,13,12,0,0,
	0,12,7,0,13,8,0,0,0,0,1,7,16,12,5,0,0,5,15,16,16,14,9,0,0,2,8,15,10,0,0,0,
	0,0,7,16,2,0,0,0,0,0,10,13,0,0,0,0]::real[])};
my $generate_sql = q{SELECT maas_generate('tiny_gpt2', 'Hello world', '{"max_new_tokens": 4}')};
my $dnn = $node->safe_psql('postgres',
	"SELECT backend IS NOT NULL FROM maas_blas_info() WHERE component = 'onednn'") eq 't';
diag('oneDNN is not installed: only OpenBLAS is checked') unless $dnn;

sub postmaster_pid
{
	open(my $fh, '<', $node->data_dir . '/postmaster.pid') or die "no postmaster.pid: $!";
	my $pid = <$fh>;
	close $fh;
	chomp $pid;
	return $pid;
}

sub threads_of
{
	my ($pid) = @_;
	opendir(my $d, "/proc/$pid/task") or die "no /proc/$pid/task: $!";
	my $n = grep { !/^\./ } readdir($d);
	closedir $d;
	return $n;
}

# which of the two libraries a process maps
sub mapped
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/maps") or die "no /proc/$pid/maps: $!";
	my %has;
	while (my $line = <$fh>)
	{
		$has{openblas} = 1 if $line =~ /libopenblas/;
		$has{dnnl} = 1 if $line =~ /libdnnl/;
	}
	close $fh;
	return ($has{openblas} // 0) + ($dnn && $has{dnnl} ? 1 : 0);
}
my $both = $dnn ? 2 : 1;

# a new backend, checked before and after its first product; returns what
# it predicted and generated
sub fresh_backend
{
	my ($what, $preloaded) = @_;
	my $s = $node->background_psql('postgres');
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	is(mapped($pid), $preloaded ? $both : 0,
		"$what: a new backend maps the libraries before any product: "
		  . ($preloaded ? 'yes, by fork' : 'no'));
	is(threads_of($pid), 1, "$what: a new backend has one thread");
	my $detail = $s->query_safe(
		"SELECT string_agg(detail, ' | ') FROM maas_blas_info() WHERE component IN ('blas', 'onednn')");
	if ($preloaded)
	{
		my $n = () = $detail =~ /opened in the postmaster/g;
		is($n, $both, "$what: maas_blas_info() says the libraries were opened in the postmaster");
	}
	else
	{
		unlike($detail, qr/postmaster/, "$what: maas_blas_info() says nothing of the postmaster");
	}
	$s->quit;

	# another new backend: its first statement is a prediction
	$s = $node->background_psql('postgres');
	$pid = $s->query_safe('SELECT pg_backend_pid()');
	my $class = $s->query_safe($predict_sql);
	my $text = $s->query_safe($generate_sql);
	is(mapped($pid), $both, "$what: the libraries are mapped after the first prediction");
	cmp_ok(threads_of($pid), '>', 1, "$what: the backend started its own threads (maas.blas_threads = 2)");
	is(threads_of(postmaster_pid()), 1, "$what: the postmaster has one thread");
	$s->quit;
	return ($class, $text);
}

# ---- preloaded ----
is(threads_of(postmaster_pid()), 1, 'the postmaster has one thread after opening the libraries');
is(mapped(postmaster_pid()), $both, 'the postmaster maps the libraries');
# what maas sets for the libraries to read as they load is not left in the
# environment every process inherits (a program a backend runs sees the
# server's own)
my $env_wanted = join(',', map { "$_=$ENV{$_}" }
	  grep { defined $ENV{$_} } qw(OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS));
is($node->safe_psql('postgres', q{
CREATE TEMP TABLE env (line text);
COPY env FROM PROGRAM 'env | grep -E "^OPENBLAS_(CORETYPE|NUM_THREADS)=" || true';
SELECT coalesce(string_agg(line, ',' ORDER BY line), '') FROM env}), $env_wanted,
	"the postmaster's environment is put back after the libraries are opened");
my ($class, $text) = fresh_backend('preloaded', 1);
is($class, '7', 'the first prediction of a new backend is right');
cmp_ok(length($text), '>', 0, "a new backend generates (\"$text\")");

# ---- a crash restart: the postmaster reinitializes, maas is not loaded again ----
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
$victim->query_safe($predict_sql);
kill('KILL', $victim_pid);
$victim->quit;
ok($node->poll_query_until('postgres', 'SELECT true'), 'the server is back after a backend was killed');
ok($node->log_contains('all server processes terminated; reinitializing'),
	'the postmaster reinitialized');
is_deeply([ fresh_backend('after a crash restart', 1) ], [ $class, $text ],
	'after a crash restart: the same prediction and text');

# ---- a restart ----
$node->restart;
is_deeply([ fresh_backend('after a restart', 1) ], [ $class, $text ],
	'after a restart: the same prediction and text');
ok(!$node->log_contains('started threads in the postmaster'), 'no thread was ever started in the postmaster');

# ---- postgresql.conf's maas.cpu_features_disable: the postmaster opens
# OpenBLAS with a core type and oneDNN with an ISA without them ----
$node->append_conf('postgresql.conf', "maas.cpu_features_disable = 'avx512, amx'");
$node->restart;
is($node->safe_psql('postgres', qq{
SELECT count(*) FILTER (WHERE kernel ~ 'avx512|amx|Cooperlake|SkylakeX') FROM maas_blas_info()}), '0',
	'features disabled in postgresql.conf: no library or kernel uses them');
is($node->safe_psql('postgres', $predict_sql), $class, 'features disabled: the same prediction');
$node->append_conf('postgresql.conf', "maas.cpu_features_disable = 'all'");
$node->restart;
is($node->safe_psql('postgres', "SELECT kernel FROM maas_blas_info() WHERE component = 'blas'"),
	'Prescott', "every feature disabled in postgresql.conf: OpenBLAS's oldest core");
is($node->safe_psql('postgres', $predict_sql), $class, 'every feature disabled: the same prediction');
$node->adjust_conf('postgresql.conf', 'maas.cpu_features_disable', undef);

# ---- maas.preload_libraries = off: each backend opens them ----
$node->append_conf('postgresql.conf', 'maas.preload_libraries = off');
$node->restart;
is(mapped(postmaster_pid()), 0, 'preload_libraries off: the postmaster does not map the libraries');
is_deeply([ fresh_backend('preload_libraries off', 0) ], [ $class, $text ],
	'preload_libraries off: the same prediction and text');

# ---- not in shared_preload_libraries: loaded on first use ----
# (maas.* restart settings exist only when preloaded: a line left for one is a WARNING)
$node->adjust_conf('postgresql.conf', 'maas.preload_libraries', undef);
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->restart;
is(mapped(postmaster_pid()), 0, 'not preloaded: the postmaster does not map the libraries');
{
	my $s = $node->background_psql('postgres');
	my $pid = $s->query_safe('SELECT pg_backend_pid()');
	is(mapped($pid), 0, 'not preloaded: a new backend does not map the libraries');
	is($s->query_safe($predict_sql), $class, 'not preloaded: the same prediction');
	is($s->query_safe($generate_sql), $text, 'not preloaded: the same text');
	is(mapped($pid), $both, 'not preloaded: the backend opened the libraries at its first product');
	$s->quit;
}

$node->stop;
done_testing();

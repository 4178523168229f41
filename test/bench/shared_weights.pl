# test/bench/shared_weights.pl: run by test/bench/shared_weights (see there).
use strict;
use warnings;

use File::Path qw(rmtree);
use IPC::Run;
use List::Util qw(sum);
use MaasTest;

my $dir = $ENV{TESTDIR};
my $runs = $ENV{MAAS_BENCH_RUNS} || 5;
my $base_bin = $ENV{MAAS_BENCH_BASE} || '';
my $port = 5480;

sub median
{
	my @v = sort { $a <=> $b } @_;
	return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# ---- clusters and sessions ----

sub cluster
{
	my ($name, $bin, $conf) = @_;
	my $data = "$dir/$name";
	my $p = $port++;
	system("'$bin/pg_ctl' -D '$data' -m immediate stop >/dev/null 2>&1") if -d $data;
	rmtree($data);
	system("$bin/initdb -D '$data' -U postgres -A trust >/dev/null") == 0 or die 'initdb failed';
	open(my $fh, '>>', "$data/postgresql.conf") or die;
	print $fh "port = $p\nlisten_addresses = ''\nunix_socket_directories = '$dir'\n"
	  . "shared_preload_libraries = 'maas'\nmax_connections = 40\nfsync = off\n"
	  . "synchronous_commit = off\nshared_buffers = 1GB\njit = off\n$conf";
	close $fh;
	system("$bin/pg_ctl", '-D', $data, '-l', "$dir/$name.log", '-w', 'start') == 0
	  or die "could not start $name";
	return { name => $name, bin => $bin, data => $data, connstr => "host=$dir port=$p dbname=postgres" };
}

sub stop
{
	my ($c) = @_;
	system("$c->{bin}/pg_ctl", '-D', $c->{data}, '-m', 'fast', 'stop') == 0 or warn "could not stop $c->{name}";
}

sub sql
{
	my ($c, $q) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ "$c->{bin}/psql", '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $c->{connstr}, '-c', $q ],
		'<', \undef, '>', \$out, '2>', \$err)
	  or die "query failed: $q\n$err";
	chomp $out;
	return $out;
}

sub reload_with
{
	my ($c, $line) = @_;
	open(my $fh, '>>', "$c->{data}/postgresql.conf") or die;
	print $fh "$line\n";
	close $fh;
	sql($c, 'SELECT pg_reload_conf()');
	select(undef, undef, undef, 0.5);
}

# a session that stays connected
sub session
{
	my ($c) = @_;
	my $s = { in => '', out => '', err => '' };
	$s->{h} = IPC::Run::start([ "$c->{bin}/psql", '-XAtq', '-d', $c->{connstr} ],
		'<', \$s->{in}, '>', \$s->{out}, '2>', \$s->{err});
	$s->{pid} = query($s, 'SELECT pg_backend_pid()');
	return $s;
}

sub query
{
	my ($s, $q) = @_;
	$s->{out} = '';
	$s->{in} .= "$q;\n\\echo __done__\n";
	$s->{h}->pump until $s->{out} =~ /__done__\n/;
	die "query failed: $q\n$s->{err}" if $s->{err} =~ /ERROR/;
	(my $r = $s->{out}) =~ s/\n?__done__\n//;
	return $r;
}

sub close_session
{
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	$s->{h}->finish;
}

# milliseconds a statement takes, measured in the server
my $timer = q{
CREATE FUNCTION bench_ms(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t timestamptz := clock_timestamp();
BEGIN
	EXECUTE q;
	RETURN extract(epoch FROM clock_timestamp() - t) * 1000;
END
$$};
sub ms
{
	my ($s, $q) = @_;
	$q =~ s/'/''/g;
	return query($s, "SELECT bench_ms('$q')");
}

# ---- the models: the size of GPT-2 small ----

my $node = cluster('shared', $ENV{MAAS_BENCH_BIN}, '');
sql($node, 'CREATE EXTENSION maas');
sql($node, $timer);
printf "machine: %s, %s cores, load average %s (figures on a loaded machine are rough)\n",
  (`grep -m1 'model name' /proc/cpuinfo` =~ /: (.*)/)[0], `nproc` =~ s/\n//r,
  (split ' ', `cat /proc/loadavg`)[0];

my ($tiny_bytes, $tiny_config) = write_mlp_file("$dir/tiny.safetensors", 8, 8, 1);
sql($node, "SELECT maas_register_file('tiny', 'mlp', '$dir/tiny.safetensors', '$tiny_config')");
my $tiny_sql = "SELECT maas_predict('tiny', 1, array_fill(0.5::real, ARRAY[8]))";

# the fixtures' tiny GPT-2: run first in a backend, it opens the matrix
# libraries' products (OpenBLAS's and oneDNN's buffers, code and kernels) and
# the text path, which every backend pays once whatever the model, so that
# what a GPT-2 then adds is its own
my $fix = fixture_path('text/tiny_gpt2/config.json') =~ s{/config.json$}{}r;
sql($node, "SELECT maas_register_file('tiny_gpt2', 'gpt2', '$fix/model.safetensors', "
	  . "pg_read_file('$fix/config.json')::jsonb || jsonb_build_object('tokenizer', jsonb_build_object("
	  . "'vocab', pg_read_file('$fix/vocab.json')::jsonb, 'merges', pg_read_file('$fix/merges.txt'))))");
sql($node, "SELECT maas_deploy('tiny_gpt2', 1)");
my $tiny_text_sql = q{SELECT maas_generate('tiny_gpt2', 'Hello world', '{"max_new_tokens": 3}')};

my %want = map { $_ => 1 } split /,/, ($ENV{MAAS_BENCH_MODELS} || 'dense,gpt2_small');
my $private_runs = $ENV{MAAS_BENCH_PRIVATE} // 1;
my @models;
if ($want{dense})
{
	my $file = "$dir/gpt2size.safetensors";
	my (undef, $config) = write_mlp_file($file, 11264, 11008, 2);
	sql($node, "SELECT maas_register_file('dense', 'mlp', '$file', '$config')");
	unlink $file;
	push @models, { name => 'dense', label => 'a dense 11264 -> 11008 -> 1 MLP of the same bytes, maas_predict of 1 row',
		sql => "SELECT maas_predict('dense', 1, array_fill(0.5::real, ARRAY[11264]))" };
}
if (!$want{gpt2_small})
{
}
elsif ($ENV{MAAS_BENCH_GPT2})
{
	my ($g, $t) = ($ENV{MAAS_BENCH_GPT2}, $ENV{MAAS_BENCH_TOKENIZER});
	sql($node, "SELECT maas_register_file('gpt2_small', 'gpt2', '$g/model.safetensors', "
		  . "pg_read_file('$g/config.json')::jsonb || jsonb_build_object('tokenizer', jsonb_build_object("
		  . "'vocab', pg_read_file('$t/encoder.json')::jsonb, 'merges', pg_read_file('$t/vocab.bpe'))))");
	sql($node, "SELECT maas_deploy('gpt2_small', 1)");
	push @models, { name => 'gpt2_small', text => 1, label => 'GPT-2 small\'s shape (124M parameters), maas_generate of 1 token',
		sql => q{SELECT maas_generate('gpt2_small', 'The database is', '{"max_new_tokens": 1}')} };
}
else
{
	print "GPT-2 small's shape left out: no tokenizer from npm (see test/bench/shared_weights)\n";
}
foreach my $m (@models)
{
	$m->{bytes} = sql($node, "SELECT bytes FROM maas.versions WHERE model = '$m->{name}'");
	printf "model %-10s %s: %.0f MB = %.1f MiB (GPT-2 small: 497 MB in float32)\n",
	  $m->{name}, $m->{label}, $m->{bytes} / 1e6, $m->{bytes} / 1024 / 1024;
}

# the sum of the backends' PSS, all of it and outside shared memory (less
# the pages of shared_buffers they touched, which are the buffer cache's)
sub pss_sum
{
	my ($all, $shmem) = (0, 0);
	foreach my $s (@_)
	{
		my ($p, $m) = backend_pss_kb($s->{pid});
		$all += $p;
		$shmem += $m;
	}
	return ($all / 1024, ($all - $shmem) / 1024);
}
sub memory_run
{
	my ($n, $setup, $predict_sql) = @_;
	my @s = map { session($node) } 1 .. $n;
	query($_, $setup) foreach @s;
	query($_, 'SELECT count(*) FROM maas.versions') foreach @s;
	my ($idle, $idle_own) = pss_sum(@s);
	query($_, $predict_sql) foreach @s;
	my ($serving, $serving_own) = pss_sum(@s);
	close_session($_) foreach @s;
	return ($idle, $serving, $serving_own - $idle_own);
}

foreach my $m (@models)
{
	my $predict_sql = $m->{sql};
	print "\n######## $m->{name}: $m->{label}\n";

	# ---- first load against reading the bytes ----
	my $vid = sql($node, "SELECT version_id FROM maas.version v JOIN maas.model m USING (model_id) WHERE m.name = '$m->{name}'");
	my $read_sql = "SELECT count(*) FROM maas.weight_chunk WHERE version_id = $vid AND get_byte(data, 0) >= 0";
	my (@read, @load, @first, @second, @attach, @attach_text, @private);
	for my $run (0 .. $runs)
	{
		my $s = session($node);
		query($s, $tiny_sql);			# BLAS and the catalogs, warm
		push @read, ms($s, $read_sql);
		query($s, 'SELECT maas_unload()');
		push @first, ms($s, $predict_sql);
		push @load, query($s, "SELECT load_ms FROM maas.loaded_models WHERE model = '$m->{name}'");
		push @second, ms($s, $predict_sql);
		my $t = session($node);			# the second backend: the copy is ready
		query($t, $tiny_sql);
		push @attach, ms($t, $predict_sql);
		close_session($t);
		if ($m->{text})					# the same after a tiny GPT-2's first statement
		{
			$t = session($node);
			query($t, $tiny_text_sql);
			push @attach_text, ms($t, $predict_sql);
			close_session($t);
		}
		close_session($s);
	}
	shift @$_ foreach (\@read, \@load, \@first, \@second, \@attach, \@attach_text);	# the first run warms
	if ($private_runs)
	{
		reload_with($node, 'maas.shared_model_memory = 0');
		for my $run (0 .. $runs)
		{
			my $s = session($node);
			query($s, $tiny_sql);
			push @private, ms($s, $predict_sql);
			close_session($s);
		}
		shift @private;
		reload_with($node, 'maas.shared_model_memory = 2GB');
	}
	else
	{
		@private = (0);
	}

	my ($r, $l, $f, $w, $a, $p) = map { median(@$_) } (\@read, \@load, \@first, \@second, \@attach, \@private);
	print "== first load (median of $runs, ms)\n";
	printf "%-62s %9.1f\n", 'read the bytes: SELECT count(*) ... WHERE get_byte(data, 0) >= 0', $r;
	printf "%-62s %9.1f   %.2fx the read  (target <= 1.5x)\n", 'make the shared copy (maas.loaded_models.load_ms)', $l, $l / $r;
	printf "%-62s %9.1f   %.2fx the read\n", 'first prediction, copy made in it', $f, $f / $r;
	printf "%-62s %9.1f\n", 'next prediction in that backend', $w;
	printf "%-62s %9.1f   +%.1f ms over the next one  (target <= 50 ms)\n", 'second backend, first prediction (copy ready)', $a, $a - $w;
	if ($m->{text})
	{
		my $at = median(@attach_text);
		printf "%-62s %9.1f   +%.1f ms over the next one\n", '  the same after a tiny GPT-2\'s first statement', $at, $at - $w;
	}
	printf "%-62s %9.1f   %.2fx the read\n", 'first prediction with a private copy (shared_model_memory = 0)', $p, $p / $r;

	# ---- memory per backend ----
	print "== memory: sum of PSS of the backends after each predicted once (MiB)\n";
	printf "%-10s %10s %10s %10s %18s\n", 'backends', 'copies', 'idle', 'serving', 'added, less shmem';
	my (%shared, %private);
	for my $n (1, 2, 4, 8, 16)
	{
		sql($node, 'SELECT maas_unload()');
		my ($idle, $serving, $added) = memory_run($n, 'SELECT 1', $predict_sql);
		$shared{$n} = $added;
		printf "%-10d %10s %10.1f %10.1f %18.1f\n", $n, 'shared', $idle, $serving, $added;
	}
	# private copies are kept only while they fit maas.cache_size
	%private = (1 => 0, 4 => 0);
	if ($private_runs)
	{
		reload_with($node, 'maas.shared_model_memory = 0');
		for my $n (1, 2, 4)
		{
			my ($idle, $serving, $added) = memory_run($n, 'SET maas.cache_size = \'2GB\'', $predict_sql);
			$private{$n} = $added;
			printf "%-10d %10s %10.1f %10.1f %18.1f\n", $n, 'private', $idle, $serving, $added;
		}
		reload_with($node, 'maas.shared_model_memory = 2GB');
	}
	my $per_shared = ($shared{16} - $shared{1}) / 15;
	if ($m->{text})
	{
		my %warm;
		for my $n (1, 16)
		{
			sql($node, 'SELECT maas_unload()');
			my ($idle, $serving, $added) = memory_run($n, $tiny_text_sql, $predict_sql);
			$warm{$n} = $added;
			printf "%-10d %10s %10.1f %10.1f %18.1f   (each after a tiny GPT-2)\n", $n, 'shared', $idle, $serving, $added;
		}
		printf "per additional backend after a tiny GPT-2's first statement (the model's own): %.2f MiB\n",
		  ($warm{16} - $warm{1}) / 15;
	}
	my $per_private = ($private{4} - $private{1}) / 3;
	printf "per additional backend: shared %.2f MiB (16 vs 1; target <= 5 MB), private %.1f MiB (4 vs 1): %.0fx less\n",
	  $per_shared, $per_private, $per_private / ($per_shared > 0.01 ? $per_shared : 0.01);
}
printf "(the backend that makes a copy also touches up to that many pages of shared_buffers reading its chunks,\n"
  . " as any scan of the same bytes does; shown in the idle/serving columns, not in the last)\n";

# ---- per-row and batch scoring against another build ----

sub scoring_setup
{
	my ($c) = @_;
	my ($b, $cfg) = write_mlp_file("$dir/mlp.safetensors", 784, 512, 9);
	# (maas_register: the other build may predate maas_register_file)
	sql($c, "SELECT maas_register('mlp', 'mlp', pg_read_binary_file('$dir/mlp.safetensors'), '$cfg')");
	sql($c, "SELECT maas_deploy('mlp', 1)");
	sql($c, 'CREATE TABLE rows AS SELECT i AS id, array_agg(((i * 31 + j) % 97)::real / 97 ORDER BY j) AS f '
		  . 'FROM generate_series(1, 10000) i, generate_series(1, 784) j GROUP BY i');
	sql($c, 'ALTER TABLE rows ADD PRIMARY KEY (id)');
	sql($c, 'VACUUM ANALYZE rows');
	sql($c, $timer) unless $c == $node;
	unlink "$dir/mlp.safetensors";
}
sub one_row_rate
{
	my ($c) = @_;
	my $script = "$dir/one_row.sql";
	open(my $fh, '>', $script) or die;
	print $fh "\\set k random(1, 10000)\nSELECT maas_predict('mlp', f) FROM rows WHERE id = :k;\n";
	close $fh;
	my ($out, $err) = ('', '');
	IPC::Run::run([ "$c->{bin}/pgbench", '-n', '-T', '5', '-c', '1', '-f', $script, $c->{connstr} ],
		'>', \$out, '2>', \$err);
	return $out =~ /tps = ([\d.]+)/ ? $1 : 0;
}
if (defined $ENV{MAAS_BENCH_SCORING} && !$ENV{MAAS_BENCH_SCORING})
{
	stop($node);
	unlink "$dir/tiny.safetensors";
	exit 0;
}
my @builds = ($node);
if ($base_bin)
{
	my $base = cluster('base', $base_bin, '');
	sql($base, 'CREATE EXTENSION maas');
	push @builds, $base;
}
scoring_setup($_) foreach @builds;
my %rate;
for my $run (1 .. $runs)
{
	foreach my $c (@builds)
	{
		my $s = session($c);
		query($s, 'SET max_parallel_workers_per_gather = 0');
		query($s, "SELECT count(maas_predict('mlp', f)) FROM rows");	# warm
		push @{ $rate{ $c->{name} }{row} }, 10000 / ms($s, "SELECT count(maas_predict('mlp', f)) FROM rows") * 1000;
		push @{ $rate{ $c->{name} }{batch} },
		  10000 / ms($s, "SELECT count(*) FROM maas_predict_batch('mlp', 'SELECT id, f FROM rows')") * 1000;
		close_session($s);
		push @{ $rate{ $c->{name} }{stmt} }, one_row_rate($c);
	}
}
print "\n== scoring a 784 -> 512 -> 1 MLP, 10,000 rows (median of $runs; rows/s, statements/s)\n";
printf "%-44s %12s %12s %8s\n", 'case', 'this build', $base_bin ? 'base build' : '', $base_bin ? 'ratio' : '';
foreach my $case ([ 'row', 'per-row maas_predict in a query' ], [ 'batch', 'maas_predict_batch' ],
	[ 'stmt', 'one-row statements (pgbench, 1 client)' ])
{
	my $mine = median(@{ $rate{shared}{ $case->[0] } });
	if ($base_bin)
	{
		my $theirs = median(@{ $rate{base}{ $case->[0] } });
		printf "%-44s %12.0f %12.0f %8.2f\n", $case->[1], $mine, $theirs, $mine / $theirs;
	}
	else
	{
		printf "%-44s %12.0f\n", $case->[1], $mine;
	}
}

stop($_) foreach @builds;
unlink "$dir/tiny.safetensors", "$dir/one_row.sql";

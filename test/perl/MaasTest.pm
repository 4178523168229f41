# MaasTest: helpers shared by the maas TAP tests (test/t/*.pl).
#
# The fixtures are read in Perl and handed to the server as SQL literals, so
# nothing depends on the server being able to read the repository.

package MaasTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use Exporter qw(import);
use File::Basename qw(dirname);
use IPC::Run;
use MIME::Base64 qw(encode_base64);
use Test::More;
use Time::HiRes qw(time);

our @EXPORT = qw(
  fixture_path fixture_bytes fixture_sha256
  register_sql table_from_csv_sql expected_column
  write_mlp_file backend_pss_kb
  linear_safetensors linear_versions_sql
  start_training check_training_cancel check_training_timeout
);

# test/perl/MaasTest.pm -> the repository root
my $root = abs_path(dirname(__FILE__) . '/../..');

sub fixture_path
{
	my ($name) = @_;
	my $path = "$root/test/fixtures/$name";
	die "fixture $path is missing" unless -f $path;
	return $path;
}

sub fixture_bytes
{
	my ($name) = @_;
	my $path = fixture_path($name);
	open(my $fh, '<:raw', $path) or die "could not open $path: $!";
	local $/;
	my $bytes = <$fh>;
	close $fh;
	return $bytes;
}

# hex sha256 of a fixture file, as maas.versions.sha256 shows it
sub fixture_sha256
{
	return sha256_hex(fixture_bytes($_[0]));
}

sub sql_literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# SELECT maas_register(model, algorithm, <weights file>, <config file>)
sub register_sql
{
	my ($model, $algorithm, $weights_file, $config_file) = @_;
	my $b64 = encode_base64(fixture_bytes($weights_file), '');
	my $config = fixture_bytes($config_file);
	return sprintf("SELECT maas_register(%s, %s, decode('%s', 'base64'), %s::jsonb)",
		sql_literal($model), sql_literal($algorithm), $b64,
		sql_literal($config));
}

# the safetensors bytes of the 1-feature linear regression y = w x + b:
# tensors "w" [1, 1] and "b" [1], float32 (as test/sql/rollouts.sql builds
# them in SQL)
sub linear_safetensors
{
	my ($w, $b) = @_;
	my $header =
	    '{"w":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},'
	  . '"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
	$header .= ' ' x ((8 - length($header) % 8) % 8);
	return pack('Q<', length($header)) . $header . pack('f<f<', $w, $b);
}

# SELECT maas_register(...) of versions 1 .. $versions of each model named
# in @$models, a linear regression on one input column "x" whose version n
# answers n (w = 0, b = n)
sub linear_versions_sql
{
	my ($models, $versions) = @_;
	my $config =
	    '{"task": "regression", "n_features": 1, '
	  . '"inputs": [{"name": "x", "kind": "number", "mean": 0}], '
	  . '"layers": [{"op": "dense", "weight": "w", "bias": "b"}]}';
	my $sql = '';
	foreach my $model (@$models)
	{
		foreach my $v (1 .. $versions)
		{
			$sql .= sprintf("SELECT maas_register(%s, 'linear', '\\x%s'::bytea, %s::jsonb);\n",
				sql_literal($model), unpack('H*', linear_safetensors(0, $v)),
				sql_literal($config));
		}
	}
	return $sql;
}

# CREATE TABLE <table> (id int, features real[], label int) and its rows
# from a fixture test CSV (id,"{f1,...}",label)
sub table_from_csv_sql
{
	my ($table, $csv) = @_;
	my @rows;
	my $header = 1;
	foreach my $line (split /\n/, fixture_bytes($csv))
	{
		if ($header) { $header = 0; next; }
		next if $line eq '';
		$line =~ /^(\d+),"(\{[^"]*\})",([-+0-9.eE]+)$/
		  or die "unexpected line in $csv: $line";
		push @rows, "($1, '$2', $3)";
	}
	die "no rows in $csv" unless @rows;
	return "CREATE TABLE $table (id int PRIMARY KEY, features real[] NOT NULL, label int);\n"
	  . "INSERT INTO $table VALUES\n" . join(",\n", @rows) . ";\n";
}

# one column of an expected-output CSV (id,class,proba), in id order,
# joined with ',' (what string_agg(... ORDER BY id) gives); $map, if given,
# maps each value first
sub expected_column
{
	my ($csv, $column, $map) = @_;
	my @lines = grep { $_ ne '' } split /\n/, fixture_bytes($csv);
	my @names = split /,/, shift @lines;
	my ($idx) = grep { $names[$_] eq $column } 0 .. $#names;
	die "no column $column in $csv" unless defined $idx;
	my %by_id;
	foreach my $line (@lines)
	{
		# the columns before the quoted proba array hold no commas
		my @f = split /,/, $line, $idx + 2;
		$by_id{ $f[0] } = $map ? $map->($f[$idx]) : $f[$idx];
	}
	return join(',', map { $by_id{$_} } sort { $a <=> $b } keys %by_id);
}

# write_mlp_file($path, $in, $hidden, $seed): a regression MLP of any size,
# in -> dense [hidden, in] -> relu -> dense [1, hidden], written as a
# safetensors file without holding it in memory: fc1.weight repeats a block
# of 2^20 floats made from $seed.  Returns (bytes written, its config as
# JSON text, a function c -> what the model predicts for in features all
# equal to c, computed in double precision).
sub write_mlp_file
{
	my ($path, $in, $hidden, $seed) = @_;
	my $block = 1 << 20;
	die "in must be at most $block" if $in > $block;
	my $x = $seed || 1;
	my $rand = sub { $x = ($x * 1103515245 + 12345) % 2147483648; return $x / 2147483648 * 2 - 1 };
	# the values as float32, and their prefix sums
	my @w = map { unpack('f<', pack('f<', $rand->() / sqrt($in))) } 1 .. $block;
	my @b1 = map { unpack('f<', pack('f<', $rand->() * 0.1)) } 1 .. $hidden;
	my @w2 = map { unpack('f<', pack('f<', $rand->() / sqrt($hidden))) } 1 .. $hidden;
	my $b2 = unpack('f<', pack('f<', 0.5));
	my @prefix = (0);
	push @prefix, $prefix[-1] + $_ foreach @w;

	my $n1 = $hidden * $in;
	my @t = (
		[ 'fc1.weight', "[$hidden,$in]", 4 * $n1 ],
		[ 'fc1.bias', "[$hidden]", 4 * $hidden ],
		[ 'fc2.weight', "[1,$hidden]", 4 * $hidden ],
		[ 'fc2.bias', '[1]', 4 ]);
	my ($off, @entries) = (0);
	foreach my $e (@t)
	{
		push @entries, sprintf('"%s":{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}',
			$e->[0], $e->[1], $off, $off + $e->[2]);
		$off += $e->[2];
	}
	my $header = '{' . join(',', @entries) . '}';
	$header .= ' ' x ((8 - length($header) % 8) % 8);

	open(my $fh, '>:raw', $path) or die "could not write $path: $!";
	print $fh pack('Q<', length($header)), $header;
	my $packed = pack('f<*', @w);
	my $left = $n1;
	while ($left > 0)
	{
		my $n = $left < $block ? $left : $block;
		print $fh ($n == $block ? $packed : substr($packed, 0, 4 * $n));
		$left -= $n;
	}
	print $fh pack('f<*', @b1), pack('f<*', @w2), pack('f<', $b2);
	close $fh or die "could not write $path: $!";

	my $config = sprintf('{"task": "regression", "n_features": %d, "layers": ['
		  . '{"op": "dense", "weight": "fc1.weight", "bias": "fc1.bias"}, {"op": "relu"}, '
		  . '{"op": "dense", "weight": "fc2.weight", "bias": "fc2.bias"}]}', $in);
	# row i of fc1.weight is the block's values [i * in, (i + 1) * in) mod 2^20
	my $predict = sub {
		my ($c) = @_;
		my $y = $b2;
		for my $i (0 .. $hidden - 1)
		{
			my $start = ($i * $in) % $block;
			my $end = $start + $in;
			my $sum = $end <= $block
			  ? $prefix[$end] - $prefix[$start]
			  : $prefix[$block] - $prefix[$start] + $prefix[$end - $block];
			my $h = $c * $sum + $b1[$i];
			$y += $w2[$i] * $h if $h > 0;
		}
		return $y;
	};
	return (8 + length($header) + $off, $config, $predict);
}

# the proportional set size of a process, in kB (/proc/PID/smaps_rollup);
# in list context also the part of it in shared memory (Pss_Shmem: for a
# backend, the pages of shared_buffers it has touched)
sub backend_pss_kb
{
	my ($pid) = @_;
	my ($pss, $shmem) = (undef, 0);
	open(my $fh, '<', "/proc/$pid/smaps_rollup") or die "no smaps_rollup for $pid: $!";
	while (my $line = <$fh>)
	{
		$pss = $1 if $line =~ /^Pss:\s+(\d+) kB/;
		$shmem = $1 if $line =~ /^Pss_Shmem:\s+(\d+) kB/;
	}
	close $fh;
	die "no Pss in /proc/$pid/smaps_rollup" unless defined $pss;
	return wantarray ? ($pss, $shmem) : $pss;
}

# A long maas_train call (sql) started in a psql of its own, returned once
# maas.training_progress shows it training: (harness, \stdout, \stderr).
sub start_training
{
	my ($node, $sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM maas.training_progress WHERE phase = 'training' AND epoch >= 1")
	  or die "the training did not start";
	return ($h, \$out, \$err);
}

# Cancels the training start_training started and checks that it stopped
# within a second and left nothing: the registry as $c->{registry} (by
# $c->{registry_sql}), the training runs as $c->{runs}, no progress entry.
sub check_training_cancel
{
	my ($node, $h, $err, $label, $c) = @_;
	my $pid = $node->safe_psql('postgres', "SELECT pid FROM maas.training_progress");
	my $t0 = time();
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$h->finish;
	my $elapsed = time() - $t0;
	like($$err, qr/canceling statement due to user request/, "$label: the training was cancelled");
	cmp_ok($elapsed, '<', 1.0, "$label: stopped within a second ($elapsed s)");
	is($node->safe_psql('postgres', $c->{registry_sql}), $c->{registry}, "$label: registry unchanged");
	is($node->safe_psql('postgres', $c->{runs_sql}), $c->{runs}, "$label: no training run recorded");
	is($node->safe_psql('postgres', "SELECT count(*) FROM maas.training_progress"),
		'0', "$label: nothing in flight");
}

# Runs the long training sql under a 3 s statement_timeout and checks that
# it stopped within a second of it and left the registry (and, when
# $c->{runs_sql} is given, the training runs) as they were.
sub check_training_timeout
{
	my ($node, $sql, $label, $c) = @_;
	my $t0 = time();
	my ($ret, $stdout, $stderr) = $node->psql('postgres', "SET statement_timeout = '3s'; $sql");
	my $elapsed = time() - $t0;
	like($stderr, qr/canceling statement due to statement timeout/, "$label: the training was stopped");
	cmp_ok($elapsed, '<', 4.0, "$label: stopped within a second of the timeout ($elapsed s)");
	is($node->safe_psql('postgres', $c->{registry_sql}), $c->{registry}, "$label: registry unchanged");
	is($node->safe_psql('postgres', $c->{runs_sql}), $c->{runs}, "$label: no training run recorded")
	  if $c->{runs_sql};
}

1;

# maas from real clients: psycopg2, psycopg 3 and node-postgres.
#
# Each client suite (test/clients/test_*.py, test_pg.js) runs against a
# server with maas, in a database of its own, connecting with libpq's
# environment as an application would; it prints TAP, relayed here test
# by test.  Then the examples of doc/clients.md marked "<!-- test: ... -->"
# run the same way, each in a new database, and what each prints must be
# the "<!-- output -->" block that follows it: so the guide cannot drift
# from what the drivers do.  The HTTP gateway of the guide is started and
# sent the guide's requests.
#
# Needs Debian's python3-psycopg2 and python3-psycopg, Node with npm's pg
# in test/clients/node_modules (test/clients/setup, run by scripts/setup).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $python = '/usr/bin/python3';
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

ok(-d "$root/test/clients/node_modules/pg",
	'node-postgres is installed in test/clients (test/clients/setup)')
  or BAIL_OUT('run test/clients/setup (scripts/setup does)');

my $node = PostgreSQL::Test::Cluster->new('clients');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;
my $user = $node->safe_psql('postgres', 'SELECT current_user');

sub new_database
{
	my ($db) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION maas');
	return $db;
}

# the environment a client connects with
sub client_env
{
	my ($db) = @_;
	return (
		PGHOST => $node->host,
		PGPORT => $node->port,
		PGDATABASE => $db,
		PGUSER => $user,
		NODE_PATH => "$root/test/clients/node_modules");
}

# run a command in the repository's top directory; (exit code, stdout, stderr)
sub run_client
{
	my ($db, @cmd) = @_;
	my ($out, $err) = ('', '');
	local %ENV = (%ENV, client_env($db));
	my $h = IPC::Run::start(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		init => sub { chdir $root or die "chdir $root: $!" },
		IPC::Run::timeout($timeout));
	$h->finish;
	return ($h->result(0), $out, $err);
}

# --- the client suites, relayed test by test ------------------------------
foreach my $suite (
	[ 'psycopg2', $python, "$root/test/clients/test_psycopg2.py" ],
	[ 'psycopg3', $python, "$root/test/clients/test_psycopg3.py" ],
	[ 'node-postgres', 'node', "$root/test/clients/test_pg.js" ])
{
	my ($name, @cmd) = @$suite;
	my $db = new_database("client_" . ($name =~ s/-/_/gr));
	my ($rc, $out, $err) = run_client($db, @cmd);
	my ($n, $plan) = (0, undef);
	my @lines = split /\n/, $out;
	for (my $i = 0; $i < @lines; $i++)
	{
		my $line = $lines[$i];
		if ($line =~ /^(not )?ok \d+ - (.*)$/)
		{
			my ($failed, $what) = ($1, $2);
			my @why;
			push @why, $lines[++$i] =~ s/^# ?//r
			  while $i + 1 < @lines && $lines[ $i + 1 ] =~ /^#/;
			$n++;
			ok(!$failed, "$name: $what") or diag(join("\n", @why));
		}
		elsif ($line =~ /^1\.\.(\d+)$/)
		{
			$plan = $1;
		}
	}
	ok($rc == 0 && defined $plan && $plan == $n && $n > 0,
		"$name: the suite ran to its end ($n tests)")
	  or diag("exit code $rc, plan " . ($plan // 'none') . "\nstdout:\n$out\nstderr:\n$err");
}

# --- the examples of doc/clients.md -----------------------------------------
my $guide = slurp_file("$root/doc/clients.md");
my @examples;
my $output = qr/\n<!-- output -->\n```\w*\n(.*?)```\n/s;
while ($guide =~ /<!-- test: (\w+) ([\w-]+) -->\n```\w*\n(.*?)```\n(?:$output)?/gs)
{
	push @examples, { lang => $1, name => $2, code => $3, output => $4 };
}
is(join(' ', map { "$_->{lang}:$_->{name}" } @examples),
	'python:psycopg2 python:psycopg2-json python:psycopg3 node:pg node:gateway http:gateway',
	'doc/clients.md: the tested examples are found');

my $dir = tempdir(CLEANUP => 1);
my %db_of;
my $gateway;
my $port;
foreach my $ex (@examples)
{
	my $what = "doc/clients.md, $ex->{lang} $ex->{name}";
	if ($ex->{lang} eq 'node' && $ex->{name} eq 'gateway')
	{
		# the server runs until stopped, on the database the iris model is in
		$port = PostgreSQL::Test::Cluster::get_free_port();
		my $file = "$dir/example_gateway.js";
		PostgreSQL::Test::Utils::append_to_file($file, $ex->{code});
		local %ENV = (%ENV, client_env($db_of{'psycopg2-json'}), PORT => $port);
		my ($out, $err) = ('', '');
		$gateway = IPC::Run::start([ 'node', $file ], '<', \undef, '>', \$out, '2>', \$err,
			init => sub { chdir $root or die "chdir $root: $!" });
		my $up = 0;
		for (my $t = 0; $t < 10 * $timeout && !$up; $t++)
		{
			$up = HTTP::Tiny->new(timeout => 5)->get("http://127.0.0.1:$port/")->{status} == 404;
			select(undef, undef, undef, 0.1) unless $up;
		}
		ok($up, "$what: listens on port $port") or diag($err);
		next;
	}
	if ($ex->{lang} eq 'http')
	{
		# each curl of the block, sent to the gateway: "status body" lines
		my @got;
		(my $sh = $ex->{code}) =~ s/\\\n\s*/ /g;
		foreach my $curl (split /\n/, $sh)
		{
			$curl =~ m{^curl -s -X POST localhost:8080(/\S+)\s+-d '([^']*)'$}
			  or die "unexpected request in $what: $curl";
			my $r = HTTP::Tiny->new(timeout => $timeout)->post("http://127.0.0.1:$port$1",
				{ content => $2, headers => { 'Content-Type' => 'application/json' } });
			push @got, "$r->{status} $r->{content}";
		}
		my @want = split /\n/, $ex->{output};
		is(scalar(@got), scalar(@want), "$what: one answer a request");
		for my $i (0 .. $#want)
		{
			my $re = join('.*?', map { quotemeta } split(/\.\.\./, $want[$i], -1));
			like($got[$i] // '', qr/^$re$/, "$what: $want[$i]");
		}
		next;
	}
	my $db = new_database('doc_' . ($ex->{name} =~ s/-/_/gr));
	$db_of{ $ex->{name} } = $db;
	my $file = "$dir/example_$ex->{name}." . ($ex->{lang} eq 'python' ? 'py' : 'js');
	PostgreSQL::Test::Utils::append_to_file($file, $ex->{code});
	my ($rc, $out, $err) =
	  run_client($db, $ex->{lang} eq 'python' ? $python : 'node', $file);
	is($rc, 0, "$what: runs") or diag($err);
	is($out, $ex->{output}, "$what: prints what the guide shows");
}
if ($gateway)
{
	$gateway->kill_kill;
	$gateway->finish;
}

$node->stop;
done_testing();

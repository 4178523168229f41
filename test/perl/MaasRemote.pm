# MaasRemote: the local model servers of the remote-model TAP tests.
#
# start_server() runs test/remote/server.py (Debian's Python, standard
# library only) on 127.0.0.1 and a free port, logging every request as one
# JSON line; the tests read that log to count requests, connections and
# waits.  Nothing here connects anywhere else.

package MaasRemote;

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep);

our @EXPORT = qw(start_server stop_server logged logged_count wait_logged
  sql_error sqlstate_of);

my $root = abs_path(dirname(__FILE__) . '/../..');
my $python = $ENV{MAAS_TEST_PYTHON} || '/usr/bin/python3';

# start_server(log => FILE, auth => SECRET, files => DIR, tls => 1):
# { port, log, harness }
sub start_server
{
	my (%opt) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ($python, "$root/test/remote/server.py", '--log', $opt{log});
	push @cmd, '--files', $opt{files} if $opt{files};
	push @cmd, '--tls', "$root/test/remote/tls" if $opt{tls};
	local $ENV{MAAS_TEST_AUTH} = $opt{auth} if defined $opt{auth};
	unlink $opt{log};
	my $h = IPC::Run::start(\@cmd, '<', \undef, '>', \$out, '2>', \$err);
	for (1 .. 150)
	{
		$h->pump_nb;
		last if $out =~ /PORT (\d+)/;
		usleep(100_000);
	}
	die "server.py did not start: $err" unless $out =~ /PORT (\d+)/;
	return { port => $1, log => $opt{log}, harness => $h };
}

sub stop_server
{
	my ($s) = @_;
	$s->{harness}->kill_kill;
}

# the logged requests (decoded) whose line matches $re
sub logged
{
	my ($s, $re) = @_;
	my @found;
	open(my $fh, '<', $s->{log}) or return ();
	while (my $line = <$fh>)
	{
		push @found, decode_json($line) if $line =~ $re;
	}
	close $fh;
	return @found;
}

sub logged_count
{
	my @r = logged(@_);
	return scalar @r;
}

# wait until $n requests matching $re are logged (up to 10 s)
sub wait_logged
{
	my ($s, $re, $n) = @_;
	for (1 .. 200)
	{
		return 1 if logged_count($s, $re) >= $n;
		usleep(50_000);
	}
	return 0;
}

# the error lines a statement gives (psql's stderr without its prefixes)
sub sql_error
{
	my ($node, $sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
	$stderr =~ s/^psql:<stdin>:\d+: //mg;
	$stderr =~ s/\s+$//;
	return $stderr;
}

# the SQLSTATE an expression raises, or "none" (after the $setup SQL)
sub sqlstate_of
{
	my ($node, $expr, $setup) = @_;
	$setup //= '';
	my ($ret, $stdout, $stderr) = $node->psql('postgres', qq{
		$setup
		DO \$\$ BEGIN PERFORM $expr; RAISE NOTICE 'sqlstate none';
		EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'sqlstate %', SQLSTATE; END \$\$;
	});
	return $stderr =~ /sqlstate (\w+)/ ? $1 : "?";
}

1;

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
use MIME::Base64 qw(encode_base64);

our @EXPORT = qw(
  fixture_path fixture_bytes fixture_sha256
  register_sql table_from_csv_sql expected_column
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

1;

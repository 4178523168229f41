# DROP EXTENSION maas CASCADE and CREATE EXTENSION maas, over and over,
# while other sessions predict, also in parallel workers (issue 9, defect
# 5).  The registry is read under AccessShareLock held to the end of the
# transaction, looked up and locked together, so a predicting statement
# either finishes before the drop or fails cleanly after it ("model does
# not exist", "registry is missing", "function does not exist"); never with
# "could not open relation with OID" or any other internal error.
#
# One internal error is PostgreSQL's own and not maas's: a statement planned
# just before the drop committed may find its function gone ("cache lookup
# failed for function"), since PostgreSQL takes no lock on functions.  It is
# counted apart.  (test/specs/drop_extension_while_predicting.spec shows
# the waiting deterministically; this test is the stress of it, with
# parallel workers, whose lock requests must not queue behind the drop's.)

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MaasTest;

my $node = PostgreSQL::Test::Cluster->new('drop_while_serving');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
max_worker_processes = 8
max_parallel_workers = 4
});
$node->start;

my $setup = register_sql('digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json')
  . "; SELECT maas_deploy('digits', 1);";
$node->safe_psql('postgres', 'CREATE EXTENSION maas; ' . $setup);
$node->safe_psql('postgres', q{
	CREATE TABLE rows_to_score AS
	  SELECT i AS id, array_fill((i % 7)::real, ARRAY[64]) AS x FROM generate_series(1, 20000) i;
	ANALYZE rows_to_score;
});

# each predictor runs many statements, some in parallel plans, for as long
# as the dropper runs
my $statements = 60;
my $script = q{
\set VERBOSITY verbose
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
} . ("SELECT count(maas_predict('digits', x)) FROM rows_to_score WHERE id % 3 = 0;\n"
	  . "SELECT maas_predict('digits', array_fill(1::real, ARRAY[64]));\n"
	  . "SELECT count(*) FROM maas.models;\n") x $statements;

my @predictors;
for my $i (1 .. 2)
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-f', '-' ],
		'<', \$script, '>', \$out, '2>', \$err);
	push @predictors, [ $h, \$out, \$err ];
}

my $cycles = 0;
for (1 .. 10)
{
	$node->safe_psql('postgres', 'DROP EXTENSION maas CASCADE');
	$node->safe_psql('postgres', 'CREATE EXTENSION maas; ' . $setup);
	$cycles++;
}
$_->[0]->finish for @predictors;

my $stderr = join('', map { ${ $_->[2] } } @predictors);
my @internal = ($stderr =~ /^ERROR:  XX000: (.*)$/mg);
my @ours = grep { !/^cache lookup failed for function \d+$/ } @internal;
my $served = () = join('', map { ${ $_->[1] } } @predictors) =~ /^ count/mg;
note("$cycles drop/create cycles; " . scalar(@internal) . " internal errors, "
	  . (scalar(@internal) - scalar(@ours)) . " of them PostgreSQL's function lookup");
ok($served > 0, 'the predictors were served between the drops');
is(scalar(@ours), 0, 'no internal error from the registry while it is dropped and created')
  or diag(join("\n", @ours));
unlike($stderr, qr/could not open relation with OID/, 'no "could not open relation with OID"');
unlike($stderr, qr/deadlock detected/, 'no deadlock between parallel workers and the drop');
is($node->safe_psql('postgres', "SELECT maas_predict('digits', array_fill(1::real, ARRAY[64])) IS NOT NULL"),
	't', 'the last registry serves');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC/, 'no backend crashed');

done_testing();

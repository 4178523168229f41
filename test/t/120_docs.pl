# The documentation runs as written (issue 19).
#
# test/docs/run executes every ```sql and ```sh block of README.md and
# doc/*.md in document order, each document in a fresh database with the
# tables of scripts/doc-data and the extension, and compares what a block
# prints with the "<!-- output -->" block that follows it; blocks marked
# "<!-- not run: ... -->" are skipped and counted.  One test per document:
# it fails naming the document, the line, the block and the error.
#
# Also checks the runner itself: a document whose example fails, whose
# output differs, or that does not exist fails; a not-run block is skipped.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/../..');
my $runner = "$root/test/docs/run";

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n"
	  . "max_worker_processes = 16\n");
$node->start;
my $user = $node->safe_psql('postgres', 'SELECT current_user');

local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{PGUSER} = $user;
delete $ENV{PGDATABASE};

sub run_docs
{
	my @docs = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ '/usr/bin/python3', $runner, @docs ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err);
}

# ---- the runner on documents made to fail ----

my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/doc";
my $bad = "$dir/doc/bad.md";
open(my $fh, '>', $bad) or die;
print $fh <<'MD';
# a document for the runner's own test

```sql
CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 3) g;
SELECT count(*) AS n FROM t;
```

<!-- output -->
```text
 n
---
 3
(1 row)
```

<!-- not run: a path on your machine -->
```sql
SELECT pg_read_binary_file('/nowhere/model.safetensors');
```

```sql
SELECT 1 AS one;
SELECT * FROM no_such_table;
```

```sql
SELECT round(pi()::numeric, 4) AS pi;
```

<!-- output -->
```text
 pi
----
 3.1...
(1 row)
```

```sh
echo "digits: $(psql -X -A -t -c 'SELECT count(*) FROM digits_test')"
```

<!-- output -->
```text
digits: 41
```

```sql
SELECT g AS n FROM generate_series(1, 5) g;
```

<!-- output -->
```text
 n
---
 1
...
 5
(5 rows)
```
MD
close $fh;

my ($rc, $out) = run_docs($bad);
is($rc, 1, 'a document with a failing example fails');
like($out, qr/bad\.md: 5 run, 1 skipped, 2 failed/, 'blocks run and skipped are counted');
like($out, qr/bad\.md:23: block 3 \(sql\): ERROR:  relation "no_such_table" does not exist/,
	'the failing block is named by document, line and block, with its error');
unlike($out, qr/block [146] \(sql\)/,
	'matching outputs pass: aligned columns, "..." within a line, a line "..." for lines');
like($out, qr/block 5 \(sh\): the output differs from the one shown at line 43.*--- got\n\s*digits: 40\n/s,
	'a differing output fails, showing both');

($rc, $out) = run_docs('doc/no-such-page.md');
is($rc, 1, 'a document that does not exist fails');
like($out, qr{doc/no-such-page\.md: no such document}, 'and says so');

# ---- every document of the repository ----

my @docs = ('README.md', map { "doc/" . (split m{/}, $_)[-1] } sort glob("$root/doc/*.md"));
ok(@docs > 10, 'the documents are found');
foreach my $doc (@docs)
{
	my ($rc, $out) = run_docs($doc);
	my ($summary) = $out =~ /^\Q$doc\E: (\d+ run, \d+ skipped, .*)$/m;
	ok($rc == 0, "$doc: " . ($summary // 'no summary')) or diag($out);
}

my $left = $node->safe_psql('postgres',
	"SELECT string_agg(datname, ', ') FROM pg_database WHERE datname LIKE 'doc\\_%'");
is($left, '', 'no document database is left');

$node->stop;
done_testing();

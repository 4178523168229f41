# A hostile probe of the whole SQL surface (issue 9).
#
# Every function of the extension, listed from the catalog (so functions
# added later are probed too), is called with each of its arguments in
# turn replaced by hostile values for its type -- NULL, empty, huge,
# malformed, out of range, of another type -- the others being valid, by
# the superuser and by a role without any grant.  Each call is a statement
# of its own.  The server must answer every one with a result or a clean
# error: never an internal error (XX000), never a crash (the postmaster
# keeps its start time and the log shows no signal), never a stall (a call
# that hits the statement timeout fails the test); and a call that fails
# stores nothing: the registry (models, versions, deployments, runs, the
# models' types and grants) and the training-progress slot are as before.
# A call that succeeds may change the registry; the probe then puts it back
# as it was, so that every probe starts from the same models.

use strict;
use warnings;

use IPC::Run;
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use MaasTest;

my $node = PostgreSQL::Test::Cluster->new('hostile');
$node->init;
# thousands of statements and their errors, some of a megabyte: not
# logged during the probe (a crash still is, at LOG)
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n"
	  . "log_statement = none\nlog_min_messages = log\n");
$node->start;

sub lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

sub blob
{
	return "decode('" . encode_base64(fixture_bytes($_[0]), '') . "', 'base64')";
}

# ---- what the probes start from ----

my $gpt2_tok = "jsonb_build_object('tokenizer', jsonb_build_object('vocab', "
  . lit(fixture_bytes('text/tiny_gpt2/vocab.json')) . "::jsonb, 'merges', "
  . lit(fixture_bytes('text/tiny_gpt2/merges.txt')) . '))';
my $bert_tok = "jsonb_build_object('tokenizer', "
  . lit(fixture_bytes('text/tiny_bert/tokenizer_config.json'))
  . "::jsonb || jsonb_build_object('vocab', " . lit(fixture_bytes('text/tiny_bert/vocab.txt')) . '))';
$node->safe_psql('postgres', qq{
	CREATE EXTENSION maas;
	CREATE ROLE probe_nobody;
	CREATE TABLE probe_blobs (name text PRIMARY KEY, algorithm text, w bytea, c jsonb);
	INSERT INTO probe_blobs VALUES
	  ('probe_m', 'mlp', @{[ blob('digits_mlp.safetensors') ]}, @{[ lit(fixture_bytes('digits_mlp.json')) ]}),
	  ('probe_r', 'linear', @{[ blob('diabetes_linear.safetensors') ]}, @{[ lit(fixture_bytes('diabetes_linear.json')) ]}),
	  ('probe_g', 'gpt2', @{[ blob('text/tiny_gpt2/model.safetensors') ]},
	   @{[ lit(fixture_bytes('text/tiny_gpt2/config.json')) ]}::jsonb || $gpt2_tok),
	  ('probe_e', 'bert', @{[ blob('text/tiny_bert/model.safetensors') ]},
	   @{[ lit(fixture_bytes('text/tiny_bert/config.json')) ]}::jsonb || $bert_tok);
	CREATE TABLE probe_rows AS
	  SELECT (g % 7)::real AS a, (g % 5)::real AS b, 'c' || (g % 3) AS c, (g % 2) AS y
	    FROM generate_series(1, 60) g;
	CREATE TABLE probe_feats AS
	  SELECT g AS id, array_fill((g % 9)::real, ARRAY[64]) AS features FROM generate_series(1, 40) g;
	CREATE TABLE probe_texts AS
	  SELECT g AS id, 'a short text ' || g AS body FROM generate_series(1, 10) g;
	GRANT SELECT ON probe_blobs, probe_rows, probe_feats, probe_texts TO PUBLIC;

	-- the registry as the probes start from it: four registered models and
	-- a trained one, each deployed
	CREATE FUNCTION probe_reset() RETURNS void LANGUAGE plpgsql AS \$\$
	DECLARE
		m text;
		t regtype;
	BEGIN
		SET LOCAL client_min_messages = warning;
		PERFORM maas_drop(model) FROM maas.models;
		FOR t IN SELECT oid::regtype FROM pg_type
		          WHERE typnamespace = 'maas'::regnamespace AND typtype = 'e' LOOP
			EXECUTE format('DROP TYPE %s CASCADE', t);
		END LOOP;
		FOR m IN SELECT name FROM probe_blobs ORDER BY name LOOP
			PERFORM maas_register(m, algorithm, w, c) FROM probe_blobs WHERE name = m;
			PERFORM maas_deploy(m, 'latest');
		END LOOP;
		SET LOCAL maas.training_notices = off;
		PERFORM maas_train('probe_t', 'probe_rows', 'y', 'logistic', '{"epochs": 1}');
		PERFORM maas_grant('probe_m', 'public');
	END \$\$;

	-- what a failed call must leave as it was
	CREATE FUNCTION probe_fp() RETURNS text LANGUAGE sql SECURITY DEFINER
	SET search_path = pg_catalog AS \$\$
	SELECT md5(concat_ws('|',
	  (SELECT string_agg(concat_ws(',', model_id, name, owner, last_version, deployed_version,
	                               anchor, acl), ';' ORDER BY model_id) FROM maas.model),
	  (SELECT string_agg(concat_ws(',', version_id, model_id, version, encode(sha256, 'hex'),
	                               xmin), ';' ORDER BY version_id)
	     FROM maas.version),
	  (SELECT string_agg(concat_ws(',', deployment_id, model_id, version), ';' ORDER BY deployment_id)
	     FROM maas.deployment),
	  (SELECT string_agg(concat_ws(',', run_id, model, version), ';' ORDER BY run_id)
	     FROM maas.training_run),
	  (SELECT string_agg(concat_ws(',', typname, typowner, typacl), ';' ORDER BY typname)
	     FROM pg_type WHERE typnamespace = 'maas'::regnamespace),
	  (SELECT count(*) FROM maas.training_progress WHERE pid = pg_backend_pid())))
	\$\$;
	GRANT EXECUTE ON FUNCTION probe_fp() TO probe_nobody;
	SELECT probe_reset();
});
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');

# ---- the surface ----

my $ext = "(SELECT oid FROM pg_extension WHERE extname = 'maas')";
my @functions = split /\n/, $node->safe_psql(
	'postgres', qq{
	SELECT format('%s|%s', p.oid::regprocedure, pg_get_function_identity_arguments(p.oid))
	  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = $ext AND d.deptype = 'e'
	   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
	 ORDER BY 1});
cmp_ok(scalar(@functions), '>=', 45, scalar(@functions) . ' functions to probe');

# hostile values of each type, as SQL expressions
my $huge_text = "repeat('x', 1000000)";
my %hostile = (
	'text' => [
		'NULL::text', "''", $huge_text, "E'a\\001b'", q{'a''"b'}, "'nosuch'",
		"'SELECT 1'", "'SELECT * FROM pg_authid'", "'maas.model'", "'public'",
		"'probe_m; DROP TABLE probe_rows'", "'{}'", "'\\xff'"
	],
	'integer' => [ 'NULL::integer', '0', '-1', '2147483647', '(-2147483648)' ],
	'bigint' => [ 'NULL::bigint', '0', '-1', '9223372036854775807' ],
	'real[]' => [
		'NULL::real[]', "'{}'::real[]", "'{NULL}'::real[]", "'{NaN}'::real[]",
		"'{Infinity}'::real[]", "'{{1,2},{3,4}}'::real[]", "'[5:6]={1,2}'::real[]",
		'array_fill(1::real, ARRAY[1000000])', 'array_fill(NULL::real, ARRAY[64])'
	],
	'double precision[]' => [
		'NULL::float8[]', "'{}'::float8[]", "'{NaN}'::float8[]", "'{1e300}'::float8[]",
		'array_fill(1e300::float8, ARRAY[64])', 'array_fill(1::float8, ARRAY[1000000])'
	],
	'integer[]' => [
		'NULL::int[]', "'{}'::int[]", "'{NULL}'::int[]", "'{-1}'::int[]", "'{2147483647}'::int[]",
		"'{{1,2},{3,4}}'::int[]", 'array_fill(1, ARRAY[100000])'
	],
	'jsonb' => [
		'NULL::jsonb', "'{}'::jsonb", "'[]'::jsonb", q{'"s"'::jsonb}, "'1'::jsonb", "'null'::jsonb",
		q{'{"task": "classification", "n_features": 1e400, "layers": [{"op": "softmax"}]}'::jsonb},
		q{'{"epochs": -1, "max_new_tokens": 1000000000, "hidden": [1000000000]}'::jsonb},
		"(SELECT jsonb_object_agg('k' || g, g) FROM generate_series(1, 100000) g)",
		"repeat('[', 5000)::jsonb"
	],
	'bytea' => [
		'NULL::bytea', "''::bytea", "'\\x00'::bytea", "'\\xffffffffffffffff'::bytea",
		"'\\x0800000000000000'::bytea || convert_to('{}      ', 'UTF8')",
		"decode(repeat('ff', 100000), 'hex')",
		"(SELECT substr(w, 1, length(w) - 7) FROM probe_blobs WHERE name = 'probe_m')"
	],
	'record' => [
		'NULL::record', 'ROW(NULL)', "ROW(1, 'a')", "(SELECT r FROM probe_feats r LIMIT 1)",
		"(SELECT ROW(a, b, c) FROM probe_rows LIMIT 1)", "(SELECT r FROM (SELECT NULL::real AS a, b, c FROM probe_rows) r LIMIT 1)"
	],
	'name' => [ 'NULL::name', "''::name", "'nosuch'::name" ],
	'aclitem[]' => [ 'NULL::aclitem[]', "'{}'::aclitem[]" ],
);
# another type where one is expected: the call may resolve to another
# overload, or not at all
my @wrong = ('42', "'{}'::jsonb", 'ARRAY[true]', "ROW(1)");

# valid values: by argument name, then by type
sub valid
{
	my ($fn, $name, $type, $args) = @_;
	my $text_model = $fn =~ /^maas_(tokenize|detokenize|logits|generate|generate_ids)\(/
	  || ($fn =~ /^maas_predict/ && $args =~ /input text/);
	my $embed = $fn =~ /^maas_embed/;
	return
	    $name eq 'model' ? ($text_model ? "'probe_g'" : $embed ? "'probe_e'" : $args =~ /record/ ? "'probe_t'" : "'probe_m'")
	  : $name eq 'version' ? '1'
	  : $name eq 'features' && $type eq 'record' ? "(SELECT r FROM probe_rows r LIMIT 1)"
	  : $name eq 'features' && $type eq 'real[]' ? 'array_fill(0::real, ARRAY[64])'
	  : $name eq 'features' ? 'array_fill(0::float8, ARRAY[64])'
	  : $name eq 'source' ? "'probe_rows'"
	  : $name eq 'target' ? "'y'"
	  : $name eq 'algorithm' ? "'logistic'"
	  : $name eq 'params' && $fn =~ /generate/ ? q{'{"max_new_tokens": 2}'::jsonb}
	  : $name eq 'params' ? q{'{"epochs": 1}'::jsonb}
	  : $name eq 'weights' ? "(SELECT w FROM probe_blobs WHERE name = 'probe_m')"
	  : $name eq 'config' ? "(SELECT c FROM probe_blobs WHERE name = 'probe_m')"
	  : $name eq 'strategy' ? "'latest'"
	  : $name eq 'grantee' ? "'probe_nobody'"
	  : $name eq 'query' && $embed ? "'SELECT id, body FROM probe_texts'"
	  : $name eq 'query' ? "'SELECT id, features FROM probe_feats'"
	  : $name eq 'batch_size' ? 'NULL::integer'
	  : $name eq 'input' ? "'a short text'"
	  : $name eq 'prompt' ? "'The'"
	  : $name eq 'ids' ? "'{1,2,3}'::int[]"
	  : $name eq 'model_id' ? '999999'
	  : $name eq 'owner' ? "'postgres'::name"
	  : $name eq 'acl' ? 'NULL::aclitem[]'
	  : "NULL::$type";
}

my @calls;
foreach my $f (@functions)
{
	my ($sig, $args) = split /\|/, $f, 2;
	my ($fname) = $sig =~ /^([^(]+)\(/;
	my @params = map { /^(\S+) (.+)$/ ? [ $1, $2 ] : () } split /, /, ($args // '');
	my @base = map { valid($sig, $_->[0], $_->[1], $args) . '::' . $_->[1] } @params;
	my $call = sub { "SELECT count(*) FROM $fname(" . join(', ', @_) . ')' };

	push @calls, [ $call->(@base), 0 ];
	push @calls, [ $call->(map { "NULL::$_->[1]" } @params), 0 ] if @params;
	for my $i (0 .. $#params)
	{
		my $type = $params[$i][1];
		my @values = @{ $hostile{$type} // [ "NULL::$type" ] };
		foreach my $v (@values, @wrong)
		{
			my @a = @base;
			$a[$i] = $v;
			# the role without grants: NULLs only (see below)
			push @calls, [ $call->(@a), $v ne $values[0] ];
		}
	}
}

# ---- the probe: each call a statement of its own, then the fingerprint ----

my $script = qq{
\\set VERBOSITY sqlstate
\\o /dev/null
SET statement_timeout = '10s';
SET maas.training_notices = off;
SELECT probe_fp() AS fp \\gset
};
# The role without grants makes every call valid and all-NULL, and each
# with one NULL: it must be refused whatever the values (other hostile
# values take the superuser's paths up to the privilege check, and a value
# of another type picks an overload, or none, before any role matters).
my @run;
foreach my $role ('postgres', 'probe_nobody')
{
	push @run, map { [ $role, $_->[0] ] } grep { $role eq 'postgres' || !$_->[1] } @calls;
}
my $n = 0;
my $role = '';
foreach my $r (@run)
{
	my $c = $r->[1];
	if ($r->[0] ne $role)
	{
		$script .= "RESET ROLE;\n" if $role;
		$role = $r->[0];
		$script .= "SET ROLE $role;\n";
	}
	{
		$n++;
		$script .= qq{$c;
\\echo PROBE $n :SQLSTATE
SELECT probe_fp() <> :'fp' AS changed \\gset
\\if :changed
\\echo CHANGED $n
RESET ROLE;
SELECT probe_reset();
SELECT probe_fp() AS fp \\gset
SET ROLE $role;
\\endif
};
	}
}
$script .= "RESET ROLE;\n";
my $scriptfile = $node->basedir . '/probe.sql';
open(my $fh, '>', $scriptfile) or die;
print $fh $script;
close $fh;

my $t0 = time();
my ($out, $err) = ('', '');
IPC::Run::run([ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-f', $scriptfile ],
	'>', \$out, '2>', \$err);
my $seconds = time() - $t0;
note(sprintf('%d calls (%d functions, 2 roles) in %.1f s', $n, scalar(@functions), $seconds));

# ---- what it found ----

my %state;
my %changed;
foreach my $line (split /\n/, $out)
{
	$state{$1} = $2 if $line =~ /^PROBE (\d+) (\S+)$/;
	$changed{$1} = 1 if $line =~ /^CHANGED (\d+)$/;
}
my $call_of = sub { "$run[$_[0] - 1][0]: $run[$_[0] - 1][1]" };
my $short = sub { my $s = $_[0]; length($s) > 300 ? substr($s, 0, 300) . '...' : $s };

is(scalar(keys %state), $n, 'every call was answered');
my @internal = grep { $state{$_} eq 'XX000' } sort { $a <=> $b } keys %state;
is(scalar(@internal), 0, 'no internal error (XX000)')
  or diag(join("\n", map { $short->($call_of->($_)) } @internal));
my @stalls = grep { $state{$_} eq '57014' } sort { $a <=> $b } keys %state;
is(scalar(@stalls), 0, 'no call ran into the statement timeout')
  or diag(join("\n", map { $short->($call_of->($_)) } @stalls));
my @stored = grep { $changed{$_} && $state{$_} ne '00000' } sort { $a <=> $b } keys %state;
is(scalar(@stored), 0, 'no call that failed stored anything')
  or diag(join("\n", map { "$state{$_}: " . $short->($call_of->($_)) } @stored));
my @nobody_ok = grep { $run[ $_ - 1 ][0] eq 'probe_nobody' && $changed{$_} } sort { $a <=> $b } keys %state;
is(scalar(@nobody_ok), 0, 'a role without grants changed nothing')
  or diag(join("\n", map { $short->($call_of->($_)) } @nobody_ok));
my $errors = grep { $state{$_} ne '00000' } keys %state;
cmp_ok($errors, '>', $n / 2, "most calls were refused ($errors of $n)");
note(scalar(keys %changed) . ' calls changed the registry (and it was put back)');
my @classes = sort keys %{ { map { substr($state{$_}, 0, 2) => 1 } keys %state } };
note('SQLSTATE classes: ' . join(' ', @classes));

is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $start_time,
	'the postmaster was not restarted');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.models WHERE model LIKE 'probe\\_%'"),
	'5', 'the registry serves its models after the probe');
is($node->safe_psql('postgres', "SELECT maas_predict('probe_m', array_fill(0::real, ARRAY[64])) IS NOT NULL"),
	't', 'and predicts');

# ---- the issue's own probes, again: each defect stays fixed ----

# one statement (or a few) in a session of its own; returns the SQLSTATE
# of its error ('00000' when none), its output and its messages
sub probe
{
	my ($sql, %opt) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\nSET maas.training_notices = off;\n$sql",
		on_error_stop => 1);
	my ($state) = $err =~ /^(?:psql:\S+ )?ERROR:\s+([0-9A-Z]{5}):/m;
	return ($state // ($ret == 0 ? '00000' : 'psql ' . $ret), $out, $err);
}
my $state;
my $empty_st = "decode('0800000000000000' || encode('{}      ', 'hex'), 'hex')";
# y = x1 + 2 x2 + 3 x3 + 0.5
my $header = '{"w":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]},'
  . '"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}';
$header .= ' ' x ((8 - length($header) % 8) % 8);
my $abc_w = "decode('" . encode_base64(pack('Q<', length($header)) . $header . pack('f<4', 1, 2, 3, 0.5), '')
  . "', 'base64')";
my $abc_c = sub {
	qq{'{"task": "regression", "n_features": 3, "layers": [{"op": "dense", "weight": "w", "bias": "b"}]}'::jsonb}
	  . " || '$_[0]'::jsonb";
};
my $models_now = sub { $node->safe_psql('postgres', 'SELECT count(*) FROM maas.models') };

# 1: a leaky function in a role's WHERE clause sees only what the views
# show it: no one else's training source or params, no metrics
$node->safe_psql('postgres', q{
	SET maas.training_notices = off;
	SELECT maas_train('secret_m', 'SELECT a, b, y FROM probe_rows /* alice''s secret */', 'y', 'logistic',
	                  '{"epochs": 1, "lr": 0.0123}');
	CREATE FUNCTION public.peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
	  AS $$BEGIN RAISE NOTICE 'PEEK: %', $1; RETURN false; END$$;
});
($state, $out, $err) = probe(q{SET ROLE probe_nobody;
	SELECT count(*) FROM maas.training_runs WHERE peek(source);
	SELECT count(*) FROM maas.training_runs WHERE peek(params::text);
	SELECT count(*) FROM maas.versions WHERE peek(metrics::text);
	SELECT count(*) FROM maas.models WHERE peek(model);});
is($state, '00000', 'defect 1: the leaky-function probe runs');
like($err, qr/PEEK: secret_m/, 'defect 1: the probe sees what the views show (model names)');
unlike($err, qr/secret \*|0\.0123|confusion|n_train/,
	"defect 1: it sees no one else's training source, params or metrics");

# 2: owners and grantees are roles, not names
$node->safe_psql('postgres', q{
	CREATE ROLE carol;
	CREATE ROLE dan;
	GRANT EXECUTE ON FUNCTION maas_register(text, text, bytea, jsonb), maas_export(text, integer) TO carol;
	SET ROLE carol;
	SELECT maas_register('carol_m', algorithm, w, c) FROM probe_blobs WHERE name = 'probe_r';
	RESET ROLE;
	SELECT maas_grant('carol_m', 'dan');
});
($state, undef, $err) = probe('DROP ROLE carol');
is($state, '2BP01', 'defect 2: the owner of a model cannot be dropped');
like($err, qr/cannot be dropped because some objects depend on it/, 'defect 2: with the usual message');
($state) = probe('DROP ROLE dan');
is($state, '2BP01', 'defect 2: nor a role it is granted to');
$node->safe_psql('postgres', 'ALTER ROLE carol RENAME TO caroline');
is($node->safe_psql('postgres', "SELECT owner FROM maas.models WHERE model = 'carol_m'"),
	'caroline', 'defect 2: a renamed owner keeps her model');
$node->safe_psql('postgres', 'ALTER ROLE caroline RENAME TO carol; DROP OWNED BY dan; DROP ROLE dan');
unlike($node->safe_psql('postgres', "SELECT acl FROM maas.models WHERE model = 'carol_m'"),
	qr/(^|[{,])\d+=/, 'defect 2: a dropped grantee leaves no number in the ACL');
$node->safe_psql('postgres', q{
	DROP OWNED BY carol;
	DROP ROLE carol;
	CREATE ROLE carol;
	GRANT EXECUTE ON FUNCTION maas_export(text, integer) TO carol;
});
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.models WHERE model = 'carol_m'"),
	'0', 'defect 2: DROP OWNED drops the models of its role');
($state) = probe("SET ROLE carol; SELECT maas_export('carol_m')");
isnt($state, '00000', 'defect 2: a new role of the old name gets nothing of the old one');

# 3 and 4: 60,000 labels, 60,000 feature names under a 1 s statement_timeout
my $labels = "jsonb_build_object('task', 'classification', 'n_features', 60000, "
  . "'layers', jsonb_build_array(jsonb_build_object('op', 'softmax')), "
  . "'labels', (SELECT jsonb_agg('L' || g) FROM generate_series(1, 60000) g))";
($state) = probe("SET statement_timeout = '1s'; SELECT maas_register('manylabels', 'x', $empty_st, $labels)");
is($state, '00000', 'defect 3: 60,000 labels register within a 1 s statement_timeout');
($state, $out) = probe("SET statement_timeout = '1s'; SELECT maas_deploy('manylabels', 1); "
	  . "SELECT maas_predict_label('manylabels', array_fill(0::real, ARRAY[59999]) || 1::real)");
is($state, '00000', 'defect 3: and load in another backend within it');
like($out, qr/^L60000$/m, 'defect 3: and serve');
($state) = probe("SET statement_timeout = '1s'; SELECT maas_register('manylabels', 'x', $empty_st, "
	  . "jsonb_set($labels, '{labels,59999}', '\"L17\"'))");
is($state, '22023', 'defect 3: a duplicate among them is found');
($state) = probe("SET statement_timeout = '1s'; SELECT maas_train('f', 'SELECT 1 AS c1, 2 AS y', 'y', 'linear', "
	  . "jsonb_build_object('features', (SELECT jsonb_agg('c' || g) FROM generate_series(1, 60000) g)))");
is($state, '42703', 'defect 4: 60,000 feature names are checked within a 1 s statement_timeout');

# 6: a 2,000,000-feature model evaluates and scores one row, in bounded memory
my $wide_n = 2000000;
my $wide_header = qq({"w":{"dtype":"F32","shape":[1,$wide_n],"data_offsets":[0,@{[4 * $wide_n]}]},)
  . qq("b":{"dtype":"F32","shape":[1],"data_offsets":[@{[4 * $wide_n]},@{[4 * $wide_n + 4]}]}});
$wide_header .= ' ' x ((8 - length($wide_header) % 8) % 8);
my $wide_config = '{"task": "regression", "n_features": 2000000, '
  . '"layers": [{"op": "dense", "weight": "w", "bias": "b"}]}';
$node->safe_psql('postgres', "SELECT maas_register('wide', 'linear', decode('"
	  . unpack('H*', pack('Q<', length($wide_header)) . $wide_header)
	  . "', 'hex') || decode(repeat('00', 4 * $wide_n), 'hex') || decode('"
	  . unpack('H*', pack('f<', 7)) . "', 'hex'), '$wide_config'); SELECT maas_deploy('wide', 1);");
($state, $out) = probe("SELECT maas_evaluate('wide', 'SELECT array_fill(1::real, ARRAY[$wide_n]) AS x, 7::real AS y', 'y')->>'n'");
is($state, '00000', 'defect 6: maas_evaluate on 2,000,000 features gives no internal error');
like($out, qr/^1$/m, 'defect 6: and evaluates the row');
my $vm = "(regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmPeak:\\s+(\\d+)'))[1]::bigint";
($state, $out) = probe("SELECT count(*) FROM maas_predict_batch('probe_m', 'SELECT 1 AS id, array_fill(0::real, ARRAY[64])');"
	  . "SELECT $vm AS before \\gset\n"
	  . "SELECT prediction FROM maas_predict_batch('wide', 'SELECT 1 AS id, array_fill(1::real, ARRAY[$wide_n])');"
	  . "SELECT $vm - :before AS grew_kb;");
is($state, '00000', 'defect 6: a one-row maas_predict_batch on it runs');
my ($grew) = (split /\n/, $out)[-1];
cmp_ok($grew, '<', 2 * 1024 * 1024, "defect 6: and grows the backend by less than 2 GB (was 23.7 GB; now $grew kB)");

# 7: a source with two columns of one name is refused, naming the column
$node->safe_psql('postgres', 'CREATE TABLE dup AS SELECT (g % 17)::real AS a, (g % 5)::real AS b, '
	  . '(3 * (g % 17) - 2 * (g % 5) + 1)::real AS y FROM generate_series(1, 200) g');
($state, undef, $err) = probe(q{SELECT maas_train('dupcol', 'SELECT a AS x, b AS x, y FROM dup', 'y', 'linear')});
is($state, '42702', 'defect 7: duplicate column names are refused');
like($err, qr/column "x" appears more than once/, 'defect 7: naming the column');

# 8 and 9: a config that would not serve, or serve non-finite values, is not stored
my $before = $models_now->();
foreach my $c (
	[ 'a fill overflowing real', $abc_c->('{"inputs": [{"name": "a", "kind": "number", "fill": 1e39}, {"name": "b", "kind": "number"}, {"name": "c", "kind": "number"}]}') ],
	[ 'an array fill overflowing real', $abc_c->('{"inputs": [{"name": "a", "kind": "array", "length": 3, "fill": [1e39, -1e39, 0]}]}') ],
	[ 'an infinite label', qq{'{"task": "classification", "n_features": 2, "layers": [{"op": "softmax"}], "labels": [0, 1e400]}'} ],
	[ '"inputs": "garbage"', $abc_c->('{"inputs": "garbage"}') ],
	[ 'inputs making 1 feature of 3', $abc_c->('{"inputs": [{"name": "a", "kind": "number"}]}') ])
{
	my $w = $c->[1] =~ /softmax/ ? $empty_st : $abc_w;
	($state) = probe("SELECT maas_register('cfg', 'linear', $w, $c->[1])");
	is($state, '22023', "defects 8 and 9: $c->[0] is refused at registration");
}
is($models_now->(), $before, 'defects 8 and 9: and nothing is stored');
($state, $out) = probe("SELECT maas_register('cfg', 'linear', $abc_w, "
	  . $abc_c->('{"inputs": [{"name": "a", "kind": "number", "fill": 1e38}, {"name": "b", "kind": "number"}, {"name": "c", "kind": "number"}]}')
	  . "); SELECT maas_deploy('cfg', 1); SELECT maas_predict('cfg', r) FROM (SELECT NULL::real AS a, 0::real AS b, 0::real AS c) r");
is($state, '00000', 'defects 8 and 9: a config in range registers and serves a row');
like($out, qr/^9\.999999\d*e\+37$/m, 'defects 8 and 9: with its finite fill');

# 10: maas.max_training_memory fails a training before it allocates
$node->safe_psql('postgres', 'CREATE TABLE wide_source AS SELECT array_fill((i % 2)::real, ARRAY[4000000]) AS x, '
	  . 'i % 2 AS y FROM generate_series(1, 3) i');
my $hwm = "(regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\\s+(\\d+)'))[1]::bigint";
($state, $out, $err) = probe("SELECT $hwm AS before \\gset\nSET maas.max_training_memory = '64MB';\n"
	  . "DO \$\$BEGIN PERFORM maas_train('widetrain', 'wide_source', 'y', 'logistic', '{\"epochs\": 1}'); "
	  . "EXCEPTION WHEN program_limit_exceeded THEN RAISE NOTICE 'refused: %', SQLERRM; END\$\$;\n"
	  . "SELECT $hwm - :before AS grew_kb;");
is($state, '00000', 'defect 10: the training probe runs');
like($err, qr/refused: training would need more memory than maas.max_training_memory allows/,
	'defect 10: it is refused with 54000');
($grew) = (split /\n/, $out)[-1];
cmp_ok($grew, '<', 65536, "defect 10: a 4,000,000-wide training under 64MB fails having grown less than 64 MB ($grew kB; was 237 MB)");
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.models WHERE model = 'widetrain'"), '0',
	'defect 10: and stores nothing');

# 5 (DROP EXTENSION while predicting) is test/specs/drop_extension_while_predicting.spec
# and test/t/031_drop_while_serving.pl.
$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|PANIC|TRAP:/, 'no backend crashed');
cmp_ok($seconds, '<', 60, 'the probe takes well under a minute');

done_testing();

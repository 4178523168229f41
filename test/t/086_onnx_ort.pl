# The ONNX fixtures of test/fixtures/onnx give the same outputs in maas as
# in ONNX Runtime (issue 14): each .onnx file runs in onnxruntime-node
# (test/onnx/ort/run.js, installed by test/onnx/ort/setup, which
# scripts/setup runs) on the rows of its NAME.rows.json, and the same file
# registered in maas predicts the same rows.  Probabilities (ONNX Runtime's
# logits through a softmax where the graph ends without one), regression
# values and GPT-2's next-token logits agree within 1e-4 on every row, and
# the classes are the same.  test/sql/onnx.sql compares the same files with
# torch; this compares them with the other runtime that reads them.
#
# The tiny BERT is not here: its rows are token ids, and maas serves text
# models from text (its graph is compared with torch in test_onnx_translate.c).

use strict;
use warnings;

use Encode qw(decode);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MIME::Base64 qw(encode_base64);
use MaasTest;

my $ort_dir = fixture_path('onnx/mlp.onnx') =~ s{test/fixtures/onnx/mlp\.onnx$}{test/onnx/ort}r;
plan skip_all => "onnxruntime-node is not installed: run test/onnx/ort/setup (scripts/setup does)"
  unless -d "$ort_dir/node_modules/onnxruntime-node";

# name in maas => fixture, how maas answers, whether the graph ends in a softmax
my @cases = (
	[ 'x_mlp',      'mlp',       'proba',  1 ],
	[ 'x_mlp_tanh', 'mlp_tanh',  'proba',  0 ],
	[ 'x_cnn',      'cnn_bn',    'proba',  0 ],
	[ 'x_resblock', 'resblock',  'proba',  0 ],
	[ 'x_mlp_bn',   'mlp_bn',    'value',  0 ],
	[ 'x_gpt2',     'gpt2_tiny', 'logits', 0 ],
);

my $node = PostgreSQL::Test::Cluster->new('onnx_ort');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'maas'\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION maas;
	CREATE TABLE ort_rows (model text, row int, r jsonb);
	CREATE FUNCTION reals(j jsonb) RETURNS real[] LANGUAGE sql IMMUTABLE AS
	$$ SELECT array_agg(x::real ORDER BY o) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o) $$;
	CREATE FUNCTION ints(j jsonb, n int) RETURNS int[] LANGUAGE sql IMMUTABLE AS
	$$ SELECT array_agg(x::int ORDER BY o) FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o) WHERE o <= n $$;
	CREATE FUNCTION softmax(j jsonb) RETURNS float8[] LANGUAGE sql IMMUTABLE AS
	$$ WITH v AS (SELECT x::float8 AS x, o FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o)),
	        m AS (SELECT max(x) AS m FROM v),
	        s AS (SELECT sum(exp(x - m)) AS s FROM v, m)
	   SELECT array_agg(exp(x - m) / s ORDER BY o) FROM v, m, s $$;
	CREATE FUNCTION max_abs_diff(a real[], b float8[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS
	$$ SELECT CASE WHEN cardinality(a) = cardinality(b) THEN
	     (SELECT max(abs(x::float8 - y)) FROM unnest(a, b) AS u(x, y)) END $$;
	CREATE FUNCTION argmax(j jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS
	$$ SELECT (o - 1)::int FROM jsonb_array_elements_text(j) WITH ORDINALITY AS t(x, o)
	    ORDER BY x::float8 DESC, o LIMIT 1 $$;
});

# the tiny GPT-2's tokenizer, merged into its derived config (as UTF-8 bytes)
my $tiny_gpt2_tokenizer = JSON::PP->new->utf8->canonical->encode({
	tokenizer => {
		vocab  => decode_json(fixture_bytes('text/tiny_gpt2/vocab.json')),
		merges => decode('UTF-8', fixture_bytes('text/tiny_gpt2/merges.txt')),
	} });

for my $case (@cases)
{
	my ($model, $fixture, $kind, $ends_in_softmax) = @$case;
	my $onnx = fixture_path("onnx/$fixture.onnx");
	my $rows = fixture_path("onnx/$fixture.rows.json");

	# ONNX Runtime's outputs for the fixture's rows
	my ($ok, $stdout, $stderr) = (0, '', '');
	$ok = IPC::Run::run([ 'node', "$ort_dir/run.js", $onnx, $rows ], '>', \$stdout, '2>', \$stderr);
	ok($ok, "$fixture: onnxruntime-node runs it") or diag($stderr);
	next unless $ok;
	my $ort = decode_json($stdout);
	note("$fixture: $ort->{engine}, " . scalar(@{ $ort->{rows} }) . " rows");

	my $config = $kind eq 'logits' ? $tiny_gpt2_tokenizer : '{}';
	$node->safe_psql('postgres', sprintf(
		"SELECT maas_register('%s', 'onnx', decode('%s', 'base64'), '%s'::jsonb); SELECT maas_deploy('%s', 'latest');",
		$model, encode_base64(fixture_bytes("onnx/$fixture.onnx"), ''), $config =~ s/'/''/gr, $model));
	my $json = encode_json($ort) =~ s/'/''/gr;
	$node->safe_psql('postgres', qq{
		INSERT INTO ort_rows
		SELECT '$model', ord, r FROM jsonb_array_elements('$json'::jsonb->'rows') WITH ORDINALITY AS t(r, ord)});

	my ($n, $diff, $same) = split /\|/, $node->safe_psql('postgres',
		$kind eq 'proba' ? qq{
			SELECT count(*),
			       max(max_abs_diff(maas_predict_proba('$model', reals(r->'x')),
			                        } . ($ends_in_softmax ? q{reals(r->'y')::float8[]} : q{softmax(r->'y')}) . qq{)),
			       bool_and(maas_predict('$model', reals(r->'x')) = argmax(r->'y'))
			  FROM ort_rows WHERE model = '$model'}
		: $kind eq 'value' ? qq{
			SELECT count(*), max(abs(maas_predict('$model', reals(r->'x')) - (r->'y'->>0)::float8)), true
			  FROM ort_rows WHERE model = '$model'}
		: qq{
			SELECT count(*),
			       max(max_abs_diff(maas_logits('$model', ints(r->'ids', (r->>'length')::int)),
			                        reals(r->'y')::float8[])),
			       bool_and(argmax(to_jsonb(maas_logits('$model', ints(r->'ids', (r->>'length')::int)))) =
			                argmax(r->'y'))
			  FROM ort_rows WHERE model = '$model'});
	is($n, scalar(@{ $ort->{rows} }), "$fixture: maas answers every row");
	ok(defined $diff && $diff ne '' && $diff < 1e-4,
		"$fixture: maas and ONNX Runtime within 1e-4 on every row (max difference $diff)");
	is($same, 't', "$fixture: the same class (or next token) on every row");
}

$node->stop;
done_testing();

# Remote models against local servers that misbehave on request
# (test/remote/server.py on 127.0.0.1): answers checked against the
# servers' own formulas, requests batched and connections kept, every
# misbehaviour with its exact error and SQLSTATE, the SSRF guard through
# SQL, weights from URLs with their SHA-256, deploy/rollback between a
# local and a remote version, errors in maas.stats, and the secret kept
# out of the catalog views, maas_export, error messages and the server log
# at log_min_messages = debug1.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Copy qw(copy);
use MaasRemote;
use MaasTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $secret = 'sk-maas-tap-4f9a0c2e77d1';
my $files = PostgreSQL::Test::Utils::tempdir();
copy(fixture_path('digits_mlp.safetensors'), "$files/digits.safetensors") or die;
copy(fixture_path('diabetes_linear.safetensors'), "$files/diabetes.safetensors") or die;
my $srv = start_server(
	log => "$PostgreSQL::Test::Utils::tmp_check/remote_server.log",
	auth => $secret,
	files => $files);
my $port = $srv->{port};
my $base = "http://127.0.0.1:$port";

my $node = PostgreSQL::Test::Cluster->new('remote');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'maas'
log_min_messages = debug1
maas.remote_allowed_hosts = '127.0.0.1:$port'
});
$node->start;
# the cluster logs every statement (log_statement = all): a secret is set
# in a session that does not, as doc/remote-models.md tells DBAs
$node->safe_psql('postgres', 'CREATE EXTENSION maas');
$node->safe_psql('postgres', qq{
	SET log_statement = 'none';
	SELECT maas_secret_set('tap_key', '$secret');
});

# every error message a test sees, to look for the secret at the end
my @errors;

sub error_of
{
	my ($sql) = @_;
	my $e = sql_error($node, $sql);
	push @errors, $e;
	return $e;
}

sub register
{
	my ($model, $endpoint) = @_;
	return $node->safe_psql('postgres',
		"SELECT maas_register_remote('$model', '$endpoint')");
}

# the requests of one test: its URLs carry /q/key=NAME/
sub requests
{
	my ($key, $path) = @_;
	$path //= 'infer';
	return grep { $_->{query} =~ /(^|&)key=$key(&|$)/ && $_->{path} =~ /$path/ }
	  logged($srv, qr/key=$key\b/);
}

# --- registration reads the server's metadata ------------------------------
is(register('lin', qq({"protocol": "kserve-v2", "url": "$base/q/key=lin", "model": "linear", "task": "regression"})),
	'1', 'a KServe endpoint registers as version 1');
is($node->safe_psql('postgres',
	"SELECT config->>'n_features', config->'layers'->0->>'input_name' FROM maas_export('lin')"),
	'3|input-0', 'the features and the input name come from the metadata');
is(scalar(requests('lin', '^/v2/models/linear$')), 1, 'registration asked for the metadata once');
is(error_of(qq{SELECT maas_register_remote('bad_meta', '{"protocol": "kserve-v2", "url": "$base", "model": "linear", "task": "regression", "n_features": 4}')}),
	qq{ERROR:  remote model "bad_meta" does not match its endpoint
DETAIL:  The remote model's input does not take rows of 4 features.
HINT:  Correct the endpoint, or register it with "verify": false to skip this check.},
	'a wrong feature count is found at registration');
is(error_of(qq{SELECT maas_register_remote('bad_meta', '{"protocol": "kserve-v2", "url": "$base", "model": "nosuch", "task": "regression"}')}),
	qq{ERROR:  could not read the metadata of remote model "bad_meta"
DETAIL:  "127.0.0.1:$port" answered HTTP 404: model 'nosuch' not found.},
	'an unknown model is found at registration');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.models WHERE model = 'bad_meta'"),
	'0', 'nothing is stored for them');

# --- per-row calls: the server's answers, on one kept connection ------------
$node->safe_psql('postgres', q{
	SELECT maas_deploy('lin', 1);
	CREATE TABLE rows3 AS
	  SELECT i AS id, ARRAY[(i % 7) - 3, (i % 5) * 0.5, i / 10.0]::real[] AS x
	    FROM generate_series(1, 300) i;
});
my $formula = '0.5 * x[1] - 1.25 * x[2] + 2 * x[3] + 0.25';
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE abs(maas_predict('lin', x) - ($formula)) < 1e-5) FROM rows3 WHERE id <= 50"),
	'50', 'per-row maas_predict gives the server\'s answers');
my @reqs = requests('lin');
is(scalar(@reqs), 50, 'one request a row');
my %conns = map { $_->{conn} => 1 } @reqs;
is(scalar(keys %conns), 1, 'all on one kept-alive connection');
is($node->safe_psql('postgres', "SELECT maas_predict('lin', 1, ARRAY[1, 2, 3]::float8[])"),
	'4.25', 'double precision features, a pinned version');

# --- the batch path: rows in requests of batch_size -------------------------
register('lin', qq({"protocol": "kserve-v2", "url": "$base/q/key=linb", "model": "linear", "task": "regression", "batch_size": 64}));
is($node->safe_psql('postgres', qq{
	SELECT count(*), count(*) FILTER (WHERE abs(b.prediction - ($formula)) < 1e-5)
	  FROM maas_predict_batch('lin', 'SELECT id, x FROM rows3', 1024, 2) b JOIN rows3 USING (id)}),
	'300|300', 'maas_predict_batch scores every row with the server\'s answers');
@reqs = requests('linb');
is(scalar(@reqs), 5, '300 rows in requests of 64 rows: 5 requests');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM maas_predict_batch('lin', 'SELECT id, x FROM rows3', 100, 2)}),
	'300', 'a smaller maas batch');
is(scalar(requests('linb')), 5 + 6, 'batches of 100 rows split in requests of 64: 6 more');

# --- a classifier, the row form, maas_evaluate ------------------------------
register('logi', qq({"protocol": "kserve-v2", "url": "$base", "model": "logistic", "task": "classification", "labels": ["neg", "pos"], "columns": ["a", "b", "c", "d"]}));
$node->safe_psql('postgres', q{
	SELECT maas_deploy('logi', 1);
	CREATE TABLE rows4 AS
	  SELECT i AS id, (i % 3) - 1.0 AS a, (i % 4) * 0.25 AS b, i / 100.0 AS c, (i % 2) - 0.5 AS d
	    FROM generate_series(1, 40) i;
	CREATE FUNCTION p1(r rows4) RETURNS float8 LANGUAGE sql AS
	  'SELECT 1 / (1 + exp(-(r.a - 2 * r.b + 0.5 * r.c + 3 * r.d - 0.5)))';
});
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE abs((maas_predict_proba('logi', ARRAY[a, b, c, d]::real[]))[2] - p1(t)) < 1e-6
	                           AND maas_predict_label('logi', ARRAY[a, b, c, d]::real[]) = CASE WHEN p1(t) >= 0.5 THEN 'pos' ELSE 'neg' END)
	  FROM rows4 t}),
	'40', 'probabilities and labels of a remote classifier');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE abs((maas_predict_proba('logi', t))[2] - p1(t)) < 1e-6) FROM rows4 t}),
	'40', 'the row form reads the columns the endpoint names');
is(error_of("SELECT maas_predict('logi', t) FROM (SELECT 1.0 AS a, NULL::float8 AS b, 2.0 AS c, 3.0 AS d) t"),
	qq{ERROR:  column "b" is null in the row
DETAIL:  The model's impute policy is "error".
HINT:  Train with params.impute set to "mean" or "zero" to replace nulls.},
	'a NULL column of a remote model is an error');
is($node->safe_psql('postgres', q{
	SELECT round((maas_evaluate('logi', 'SELECT a, b, c, d, CASE WHEN 1 / (1 + exp(-(a - 2 * b + 0.5 * c + 3 * d - 0.5))) >= 0.5 THEN ''pos'' ELSE ''neg'' END AS y FROM rows4', 'y')->>'accuracy')::numeric, 3)}),
	'1.000', 'maas_evaluate scores a remote version');

# --- the secret goes to the server, and nowhere else -------------------------
register('sec', qq({"protocol": "kserve-v2", "url": "$base/q/key=sec", "model": "linear", "task": "regression", "secret": "tap_key"}));
is($node->safe_psql('postgres', "SELECT maas_predict('sec', 1, ARRAY[1, 2, 3]::real[])"),
	'4.25', 'a model with a secret');
is(join(',', map { $_->{auth} } requests('sec', 'linear')), 'ok,ok',
	'its metadata request and its call carried the secret');
$node->safe_psql('postgres', "SET log_statement = 'none'; SELECT maas_secret_set('tap_key', 'sk-rotated-000000')");
$node->safe_psql('postgres', "SELECT maas_predict('sec', 1, ARRAY[1, 2, 3]::real[])");
is((requests('sec'))[-1]->{auth}, 'wrong', 'the next statement sends the new value');
$node->safe_psql('postgres', "SET log_statement = 'none'; SELECT maas_secret_set('tap_key', '$secret')");
# a server that echoes the key in its error: scrubbed
register('echo', qq({"protocol": "kserve-v2", "url": "$base/q/status=401&msg=bad+key:&echo_auth=1", "model": "linear", "task": "regression", "secret": "tap_key", "verify": false, "n_features": 3}));
is(error_of("SELECT maas_predict('echo', 1, ARRAY[1, 2, 3]::real[])"),
	qq{ERROR:  call to remote model "echo" failed
DETAIL:  "127.0.0.1:$port" answered HTTP 401: bad key: [secret].},
	'a key the server repeats is scrubbed from the message');
# a value that cannot be set: its error does not log the statement carrying it
is(error_of("SET log_statement = 'none'; SELECT maas_secret_set('tap_key2', E'sk-never-logged-9d8c\\n')"),
	qq{ERROR:  secret value must be printable ASCII
DETAIL:  Byte 21 is not; the value is sent in an HTTP header.},
	'a bad value is refused');

# --- every misbehaviour, with its exact error and SQLSTATE ------------------
my @faults = (
	[ 'slow', 'sleep=3', '"timeout_ms": 300, "max_retries": 0',
		qq{ERROR:  call to remote model "slow" failed
DETAIL:  The call to "127.0.0.1:$port" timed out after 300 ms.
HINT:  Raise the model's timeout, or send fewer rows a request.}, '08006' ],
	[ 'fail500', 'status=500&msg=internal+trouble', '"max_retries": 2',
		qq{ERROR:  call to remote model "fail500" failed
DETAIL:  "127.0.0.1:$port" answered HTTP 500: internal trouble (after 3 attempts).}, '08000' ],
	[ 'reject400', 'status=400&msg=' . ('x%01' x 200), '',
		qq{ERROR:  call to remote model "reject400" failed
DETAIL:  "127.0.0.1:$port" answered HTTP 400: } . ('x ' x 80) . '...', '08000' ],
	[ 'malformed', 'malformed=1', '',
		qq{ERROR:  call to remote model "malformed" failed
DETAIL:  Response is not valid JSON: invalid JSON at byte 41: unterminated string.}, '08P01' ],
	[ 'huge', 'huge=1073741824', '',
		qq{ERROR:  call to remote model "huge" failed
DETAIL:  The response from "127.0.0.1:$port" is larger than the limit of 1048576 bytes.
HINT:  Raise the response size limit, or send fewer rows a request.}, '54000' ],
	[ 'endless', 'endless=1', '"timeout_ms": 500',
		qq{ERROR:  call to remote model "endless" failed
DETAIL:  The call to "127.0.0.1:$port" timed out after 500 ms.
HINT:  Raise the model's timeout, or send fewer rows a request.}, '08006' ],
	[ 'redirect', 'redirect=http:%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F', '',
		qq{ERROR:  call to remote model "redirect" failed
DETAIL:  "127.0.0.1:$port" redirected (HTTP 302) to a URL that is not allowed: host "169.254.169.254:80" is not in the allowed hosts.
HINT:  A superuser lists the hosts remote models may reach, as host:port, in maas.remote_allowed_hosts.}, '42501' ],
	[ 'redirect_ok', "redirect=http:%2F%2F127.0.0.1:$port%2Fv2%2Fmodels%2Flinear%2Finfer", '',
		qq{ERROR:  call to remote model "redirect_ok" failed
DETAIL:  "127.0.0.1:$port" redirected (HTTP 302) to "127.0.0.1:$port"; a POST does not follow redirects.
HINT:  Register the URL the server redirects to.}, '08000' ],
	[ 'close_mid', 'close_mid=1', '"max_retries": 0',
		qq{ERROR:  call to remote model "close_mid" failed
DETAIL:  "127.0.0.1:$port" closed the connection before the end of the response.}, '08006' ],
	[ 'close_now', 'close_now=1', '"max_retries": 1',
		qq{ERROR:  call to remote model "close_now" failed
DETAIL:  "127.0.0.1:$port" closed the connection without answering (after 2 attempts).}, '08006' ],
	[ 'garbage', 'garbage=1', '"max_retries": 0',
		qq{ERROR:  call to remote model "garbage" failed
DETAIL:  "127.0.0.1:$port" did not answer in valid HTTP.}, '08006' ],
	[ 'shape', 'bad=shape', '',
		qq{ERROR:  call to remote model "shape" failed
DETAIL:  Response field "outputs[0].shape" is [1, 2], not [1, 1].}, '08P01' ],
	[ 'count', 'bad=count', '',
		qq{ERROR:  call to remote model "count" failed
DETAIL:  Response field "outputs[0].data" has 0 values, not 1.}, '08P01' ],
	[ 'nan', 'bad=nan', '',
		qq{ERROR:  call to remote model "nan" failed
DETAIL:  Response is not valid JSON: invalid JSON at byte 103: unexpected character.}, '08P01' ],
	[ 'nonfinite', 'bad=nonfinite', '',
		qq{ERROR:  call to remote model "nonfinite" failed
DETAIL:  Response field "outputs[0].data[0]" is not a finite float.}, '08P01' ],
	[ 'strings', 'bad=type', '',
		qq{ERROR:  call to remote model "strings" failed
DETAIL:  Response field "outputs[0].data[0]" is not a number.}, '08P01' ],
	[ 'nooutputs', 'bad=nooutputs', '',
		qq{ERROR:  call to remote model "nooutputs" failed
DETAIL:  Response field "outputs" is empty.}, '08P01' ],
);
my $setup = "SET maas.remote_max_response_size = '1MB';";
foreach my $f (@faults)
{
	my ($model, $fault, $extra, $want, $state) = @$f;
	$extra = ", $extra" if $extra ne '';
	register($model, qq({"protocol": "kserve-v2", "url": "$base/q/$fault", "model": "linear", "task": "regression", "n_features": 3, "verify": false$extra}));
	my $t0 = time();
	is(error_of("$setup SELECT maas_predict('$model', 1, ARRAY[1, 2, 3]::real[])"), $want, "$model: its error");
	cmp_ok(time() - $t0, '<', 5, "$model: fails within 5 s");
	is(sqlstate_of($node, "maas_predict('$model', 1, ARRAY[1, 2, 3]::real[])", $setup), $state,
		"$model: SQLSTATE $state");
}
# a dead port: connection refused, retried
my $dead = PostgreSQL::Test::Cluster::get_free_port();
$node->safe_psql('postgres', "ALTER SYSTEM SET maas.remote_allowed_hosts = '127.0.0.1:$port, 127.0.0.1:$dead'; SELECT pg_reload_conf()");
register('dead', qq({"protocol": "kserve-v2", "url": "http://127.0.0.1:$dead", "model": "linear", "task": "regression", "n_features": 3, "verify": false, "max_retries": 1}));
is(error_of("SELECT maas_predict('dead', 1, ARRAY[1, 2, 3]::real[])"),
	qq{ERROR:  call to remote model "dead" failed
DETAIL:  Could not connect to "127.0.0.1:$dead" (after 2 attempts).}, 'a port nobody listens on');

# 429 with Retry-After, then an answer: the wait honoured
register('busy', qq({"protocol": "kserve-v2", "url": "$base/q/status=429&retry_after=1&key=busy&times=1", "model": "linear", "task": "regression", "n_features": 3, "verify": false}));
is($node->safe_psql('postgres', "SELECT maas_predict('busy', 1, ARRAY[1, 2, 3]::real[])"),
	'4.25', '429 then an answer: the call succeeds');
@reqs = requests('busy');
is(scalar(@reqs), 2, 'two attempts');
cmp_ok($reqs[1]->{t} - $reqs[0]->{t}, '>=', 0.95, 'the second after the Retry-After second');
# 503 twice then an answer, with backoff
register('flaky', qq({"protocol": "kserve-v2", "url": "$base/q/status=503&key=flaky&times=2", "model": "linear", "task": "regression", "n_features": 3, "verify": false, "max_retries": 3}));
is($node->safe_psql('postgres', "SELECT maas_predict('flaky', 1, ARRAY[1, 2, 3]::real[])"),
	'4.25', '503, 503, then an answer');
is(scalar(requests('flaky')), 3, 'three attempts');

# errors are counted in maas.stats like local ones
$node->safe_psql('postgres', "SELECT maas_deploy('shape', 1)");
for (1 .. 3) { error_of("SELECT maas_predict('shape', ARRAY[1, 2, 3]::real[])"); }
is($node->safe_psql('postgres', "SELECT calls, errors FROM maas.stats WHERE model = 'shape'"),
	'0|5', 'failed calls are errors of the version (2 above, 3 here)');
is($node->safe_psql('postgres', "SELECT calls >= 50, errors FROM maas.stats WHERE model = 'lin' AND version = 1"),
	't|0', 'successful calls are calls');

# --- the SSRF guard through SQL ---------------------------------------------
# (only ever connecting to the local server)
is(error_of(qq{SELECT maas_register_remote('ssrf', '{"protocol": "kserve-v2", "url": "http://localhost:$port", "model": "linear", "task": "regression"}')}),
	qq{ERROR:  invalid remote endpoint
DETAIL:  Host "localhost:$port" is not in the allowed hosts.
HINT:  A superuser lists the hosts remote models may reach, as host:port, in maas.remote_allowed_hosts.},
	'a name resolving to 127.0.0.1 is refused when only the address is listed');
$node->safe_psql('postgres',
	"ALTER SYSTEM SET maas.remote_allowed_hosts = '127.0.0.1:$port, localhost:$port, *.maas.localhost:$port'; SELECT pg_reload_conf()");
is(register('byname', qq({"protocol": "kserve-v2", "url": "http://localhost:$port", "model": "linear", "task": "regression"})),
	'1', 'a host name the list names may reach the loopback address it resolves to');
is($node->safe_psql('postgres', "SELECT maas_predict('byname', 1, ARRAY[1, 2, 3]::real[])"), '4.25',
	'and be called');
is(error_of(qq{SELECT maas_register_remote('ssrf', '{"protocol": "kserve-v2", "url": "http://api.maas.localhost:$port", "model": "linear", "task": "regression"}')}) =~ s/address "(127\.0\.0\.1|::1)"/address "ADDR"/r,
	qq{ERROR:  could not read the metadata of remote model "ssrf"
DETAIL:  Host "api.maas.localhost:$port" resolves to loopback address "ADDR", which the allowed hosts do not permit.
HINT:  A host reaches loopback and private addresses only when maas.remote_allowed_hosts names it, and link-local, multicast or reserved ones only when it lists the address itself.},
	'a wildcard entry does not reach loopback: refused after resolving, before connecting');
foreach my $u ("http://[::1]:$port", 'http://10.1.2.3:8080', 'http://169.254.169.254', 'file:///etc/passwd', 'gopher://127.0.0.1:70/')
{
	like(error_of(qq{SELECT maas_register_remote('ssrf', '{"protocol": "kserve-v2", "url": "$u", "model": "linear", "task": "regression"}')}),
		qr/^ERROR:  invalid remote endpoint\nDETAIL:  (Host "[^"]+" is not in the allowed hosts|URL scheme "\w+" is not allowed: only http and https are)\./,
		"$u is refused");
}
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.models WHERE model = 'ssrf'"), '0',
	'nothing stored for refused hosts');
is(logged_count($srv, qr/maas\.localhost/), 0, 'the refused name never reached the server');

# --- HTTPS: verified against maas.remote_ca_file --------------------------
my $tls = start_server(log => "$PostgreSQL::Test::Utils::tmp_check/remote_tls.log", tls => 1);
my $tport = $tls->{port};
$node->safe_psql('postgres',
	"ALTER SYSTEM SET maas.remote_allowed_hosts = '127.0.0.1:$port, localhost:$port, *.maas.localhost:$port, 127.0.0.1:$tport'; SELECT pg_reload_conf()");
is(error_of(qq{SELECT maas_register_remote('tls', '{"protocol": "kserve-v2", "url": "https://127.0.0.1:$tport", "model": "linear", "task": "regression"}')}),
	qq{ERROR:  could not read the metadata of remote model "tls"
DETAIL:  The TLS certificate of "127.0.0.1:$tport" could not be verified.
HINT:  The server's certificate must be signed by a certificate authority this server trusts.},
	'a self-signed certificate is refused with the system\'s CAs');
my $ca = MaasTest::fixture_path('../remote/tls/cert.pem');
is($node->safe_psql('postgres', qq{
	SET maas.remote_ca_file = '$ca';
	SELECT maas_register_remote('tls', '{"protocol": "kserve-v2", "url": "https://127.0.0.1:$tport", "model": "linear", "task": "regression"}');
	SELECT maas_predict('tls', 1, ARRAY[1, 2, 3]::real[])}),
	"1\n4.25", 'and trusted with maas.remote_ca_file: registered and called over HTTPS');
stop_server($tls);

# --- weights from a URL ------------------------------------------------------
my $digits_sha = fixture_sha256('digits_mlp.safetensors');
my $digits_config = fixture_bytes('digits_mlp.json');
$digits_config =~ s/'/''/g;
is($node->safe_psql('postgres',
	"SELECT maas_register_url('url_digits', 'mlp', '$base/files/digits.safetensors?token=abc', 'sha256:$digits_sha', '$digits_config')"),
	'1', 'weights downloaded and registered');
is($node->safe_psql('postgres',
	"SELECT sha256, config->'source'->>'url', config->'source'->>'sha256' FROM maas.versions v, maas_export('url_digits') e WHERE v.model = 'url_digits'"),
	"$digits_sha|$base/files/digits.safetensors|$digits_sha",
	'the stored weights are the file, and the config names where it came from without the query');
$node->safe_psql('postgres', MaasTest::register_sql('local_digits', 'mlp', 'digits_mlp.safetensors', 'digits_mlp.json'));
$node->safe_psql('postgres', table_from_csv_sql('digits_test', 'digits_test.csv'));
is($node->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE maas_predict('url_digits', 1, features) = maas_predict('local_digits', 1, features)) = count(*) FROM digits_test"),
	't', 'and predict as the same file registered directly');
# the file maas_export writes carries its config
$node->safe_psql('postgres', "COPY (SELECT encode(weights, 'hex') FROM maas_export('local_digits')) TO '$files/exported.hex'");
{
	open(my $fh, '<', "$files/exported.hex") or die;
	my $hex = <$fh>;
	close $fh;
	chomp $hex;
	open(my $out, '>:raw', "$files/exported.safetensors") or die;
	print $out pack('H*', $hex);
	close $out;
}
my $exported_sha = sha256_hex(do { local $/; open(my $fh, '<:raw', "$files/exported.safetensors") or die; <$fh> });
is($node->safe_psql('postgres',
	"SELECT maas_register_url('url_digits', 'mlp', '$base/files/exported.safetensors', '$exported_sha')"),
	'2', 'a file written by maas_export registers without a config');
my $before = $node->safe_psql('postgres', "SELECT count(*) FROM maas.versions");
is(error_of("SELECT maas_register_url('url_digits', 'mlp', '$base/files/digits.safetensors', '" . ('0' x 64) . "', '$digits_config')"),
	qq{ERROR:  could not download the weights of model "url_digits"
DETAIL:  The download has sha256 "$digits_sha", not the expected "0000000000000000000000000000000000000000000000000000000000000000".
HINT:  Check that the URL and the sha256 name the same file; nothing was stored.},
	'a different digest is refused');
is(sqlstate_of($node, "maas_register_url('url_digits', 'mlp', '$base/files/digits.safetensors', '" . ('0' x 64) . "', '$digits_config')"),
	'XX001', 'as data corrupted');
is(error_of("SET maas.remote_max_download_size = '8kB'; SELECT maas_register_url('url_digits', 'mlp', '$base/files/digits.safetensors', '$digits_sha', '$digits_config')"),
	qq{ERROR:  could not download the weights of model "url_digits"
DETAIL:  The response from "127.0.0.1:$port" is larger than the limit of 8192 bytes.
HINT:  Raise the response size limit, or send fewer rows a request.},
	'a file over maas.remote_max_download_size is refused');
my $blob_sha = sha256_hex(join('', map { chr(($_ * 31 + 0) % 251) } 0 .. 999));
is(error_of("SELECT maas_register_url('url_digits', 'mlp', '$base/blob?size=1000', '$blob_sha', '$digits_config')"),
	qq{ERROR:  invalid safetensors data
DETAIL:  header length 15689023210341146368 exceeds the maximum of 104857600 bytes},
	'bytes that are not safetensors, with the right digest, are refused after the download');
is(error_of("SELECT maas_register_url('url_digits', 'mlp', '$base/files/digits.safetensors?redirect=http:%2F%2F10.0.0.1%2Fx.safetensors', '$digits_sha', '$digits_config')"),
	qq{ERROR:  could not download the weights of model "url_digits"
DETAIL:  "127.0.0.1:$port" redirected (HTTP 302) to a URL that is not allowed: host "10.0.0.1:80" is not in the allowed hosts.
HINT:  A superuser lists the hosts remote models may reach, as host:port, in maas.remote_allowed_hosts.},
	'a redirect to a host outside the list is not followed');
is($node->safe_psql('postgres',
	"SELECT maas_register_url('url_digits', 'mlp', '$base/blob?redirect=http:%2F%2F127.0.0.1:$port%2Ffiles%2Fdigits.safetensors', '$digits_sha', '$digits_config')"),
	'3', 'a redirect within the list is followed');
is($node->safe_psql('postgres', "SELECT count(*) FROM maas.versions"), $before + 1,
	'only the good download was stored');

# --- deploy and roll back between a local and a remote version --------------
$node->safe_psql('postgres', q{
	CREATE TABLE mix_train AS
	  SELECT ARRAY[i % 7, i % 5, i % 3]::real[] AS x, 3.0 * (i % 7) - (i % 5) + 0.5 * (i % 3) + 1 AS y
	    FROM generate_series(1, 200) i;
	SELECT version FROM maas_train('mix', 'mix_train', 'y', 'linear', '{"deploy": "always"}');
});
register('mix', qq({"protocol": "kserve-v2", "url": "$base", "model": "linear", "task": "regression"}));
my $local_answer = $node->safe_psql('postgres', "SELECT round(maas_predict('mix', ARRAY[1, 2, 3]::real[])::numeric, 3)");
is($local_answer, '3.500', 'version 1 (trained here) serves: 3 x1 - x2 + 0.5 x3 + 1');
$node->safe_psql('postgres', "SELECT maas_deploy('mix', 2)");
is($node->safe_psql('postgres', "SELECT round(maas_predict('mix', ARRAY[1, 2, 3]::real[])::numeric, 3)"),
	'4.250', 'after deploying version 2, the remote endpoint serves');
$node->safe_psql('postgres', "SELECT maas_deploy('mix', 'previous')");
is($node->safe_psql('postgres', "SELECT round(maas_predict('mix', ARRAY[1, 2, 3]::real[])::numeric, 3)"),
	$local_answer, 'rollback: the local version serves again');

# --- parallel workers call out too ------------------------------------------
is($node->safe_psql('postgres', qq{
	SET force_parallel_mode = on; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
	SELECT count(*) FILTER (WHERE abs(maas_predict('lin', 1, x) - ($formula)) < 1e-5) FROM rows3 WHERE id <= 20}),
	'20', 'maas_predict of a remote model in a parallel worker');

# --- the secret is nowhere it should not be ---------------------------------
$node->safe_psql('postgres', 'CHECKPOINT');
my $everything = $node->safe_psql('postgres', q{
	SELECT string_agg(v::text, ' ') FROM maas.versions v
	UNION ALL SELECT string_agg(m::text, ' ') FROM maas.models m
	UNION ALL SELECT string_agg(s::text, ' ') FROM maas.secrets s
	UNION ALL SELECT string_agg(e::text, ' ') FROM maas.versions v, maas_export(v.model, v.version) e
});
unlike($everything, qr/\Q$secret\E/, 'not in maas.versions, maas.models, maas.secrets or maas_export');
my ($dump, $dump_err) = run_command([ 'pg_dump', '-d', $node->connstr('postgres') ]);
like($dump, qr/"protocol": "kserve-v2"/, 'pg_dump keeps the remote versions');
unlike($dump, qr/\Q$secret\E/, 'but never a secret: maas.secret is not dumped');
my $errors = join("\n", @errors);
unlike($errors, qr/\Q$secret\E/, 'not in any error message the tests saw');
like($errors, qr/\[secret\]/, '(one of them had it scrubbed)');
$node->stop;
my $log = slurp_file($node->logfile);
like($log, qr/DEBUG:/, 'the server log is at debug1');
unlike($log, qr/\Q$secret\E/, 'not in the server log');
like($log, qr/ERROR:  secret value must be printable ASCII/, 'the failed maas_secret_set was logged');
unlike($log, qr/sk-never-logged/, 'but not its statement, which holds the value');
unlike($log, qr/sk-rotated/, 'nor a rotated value');

stop_server($srv);
done_testing();

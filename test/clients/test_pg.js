// maas from node-postgres (npm pg 8), as an application uses it.
//
// node-postgres sends every parameter untyped, as text, over the extended
// protocol: an array of numbers as '{"0.5","1"}', an object as its JSON, a
// Buffer as bytea's hex text.  Registers models from client bytes, deploys,
// predicts from native arrays of floats and ints, sends and reads JSON,
// runs a named (prepared) statement across deploys made by another client,
// and checks the SQLSTATE of each error.  Prints TAP.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Client } = require('pg');

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const V2_NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

let n = 0;
let failed = 0;
function ok(cond, name, why) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond && why !== undefined) {
    for (const line of String(typeof why === 'string' ? why : JSON.stringify(why)).split('\n')) {
      console.log(`# ${line}`);
    }
  }
}

function parseArray(s) {
  return s.replace(/[{}"]/g, '').split(',').map(Number);
}

// the fixture CSVs: id,"{...}",x lines
function csvRows(name) {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8').trim().split('\n').slice(1)
    .map((line) => line.match(/^(\d+),"([^"]*)",(.*)$/) || line.split(','));
}

function digitsRows() {
  const test = csvRows('digits_test.csv');
  const v1 = new Map(fs.readFileSync(path.join(FIXTURES, 'digits_mlp_expected.csv'), 'utf8')
    .trim().split('\n').slice(1).map((l) => {
      const m = l.match(/^(\d+),(\d+),"([^"]*)"$/);
      return [Number(m[1]), { cls: Number(m[2]), proba: parseArray(m[3]) }];
    }));
  const v2 = new Map(fs.readFileSync(path.join(FIXTURES, 'digits_mlp_v2_expected.csv'), 'utf8')
    .trim().split('\n').slice(1).map((l) => {
      const m = l.match(/^(\d+),(\d+),/);
      return [Number(m[1]), Number(m[2])];
    }));
  return test.map((m) => {
    const id = Number(m[1]);
    return { id, features: parseArray(m[2]), cls: v1.get(id).cls, proba: v1.get(id).proba, cls2: v2.get(id) };
  });
}

function close(a, b, tol) {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= tol);
}

async function sqlstate(name, expected, fn) {
  try {
    await fn();
    ok(false, `${name}: SQLSTATE ${expected}`, 'no error was raised');
  } catch (e) {
    ok(e.code === expected, `${name}: SQLSTATE ${expected}`, `got SQLSTATE ${e.code}: ${e.message}`);
  }
}

async function main() {
  const c = new Client();   // PGHOST, PGPORT, PGDATABASE, PGUSER from the environment
  const other = new Client();
  await c.connect();
  await other.connect();
  const one = async (text, values) => {
    const r = await c.query({ text, values, rowMode: 'array' });
    return r.rows[0][0];
  };

  // --- register from client bytes, deploy ---------------------------------
  const weights = fs.readFileSync(path.join(FIXTURES, 'digits_mlp.safetensors'));
  ok(await one('SELECT maas_register($1, $2, $3, $4)',
    ['js_digits', 'mlp', weights, fs.readFileSync(path.join(FIXTURES, 'digits_mlp.json'), 'utf8')]) === 1,
  'registered version 1 from a Buffer');
  ok(await one("SELECT sha256 FROM maas.versions WHERE model = 'js_digits'") ===
    crypto.createHash('sha256').update(weights).digest('hex'), "the stored weights are the client's bytes");
  ok(await one('SELECT maas_register($1, $2, $3, $4)',
    ['js_digits', 'mlp', fs.readFileSync(path.join(FIXTURES, 'digits_mlp_v2.safetensors')),
      JSON.parse(fs.readFileSync(path.join(FIXTURES, 'digits_mlp_v2.json'), 'utf8'))]) === 2,
  'registered version 2 (the config as a JS object)');
  ok(await one('SELECT maas_deploy($1, $2)', ['js_digits', 1]) === 1, 'deployed version 1');
  await one('SELECT maas_register($1, $2, $3, $4)',
    ['js_diabetes', 'linear', fs.readFileSync(path.join(FIXTURES, 'diabetes_linear.safetensors')),
      fs.readFileSync(path.join(FIXTURES, 'diabetes_linear.json'), 'utf8')]);
  await one('SELECT maas_deploy($1, 1)', ['js_diabetes']);

  // --- native arrays --------------------------------------------------------
  const rows = digitsRows();
  let bad = [];
  for (const r of rows) {
    if (await one('SELECT maas_predict($1, $2)', ['js_digits', r.features]) !== r.cls) bad.push(r.id);
  }
  ok(bad.length === 0, `array of ints: every class as PyTorch's (${rows.length} rows)`, bad);
  bad = [];
  for (const r of rows) {
    if (!close(await one('SELECT maas_predict_proba($1, $2)', ['js_digits', r.features]), r.proba, 1e-5)) bad.push(r.id);
  }
  ok(bad.length === 0, "array of ints: probabilities within 1e-5 of PyTorch's", bad);
  bad = [];
  for (const r of rows) {
    const f = r.features.map((x) => x / 3);   // fractions: '{"0.3333333333333333",...}'
    const a = await one('SELECT maas_predict_proba($1, $2)', ['js_digits', f]);
    const b = await one('SELECT maas_predict_proba($1, $2::real[])', ['js_digits', f]);
    if (JSON.stringify(a) !== JSON.stringify(b)) bad.push(r.id);
  }
  ok(bad.length === 0, 'array of floats: the probabilities of the real[] cast', bad);
  bad = [];
  for (const r of rows) {
    if (await one('SELECT maas_predict_label($1, $2, $3)', ['js_digits', 2, r.features]) !== V2_NAMES[r.cls2]) bad.push(r.id);
  }
  ok(bad.length === 0, "pinned version 2: every label as PyTorch's", bad);
  bad = [];
  for (const line of csvRows('diabetes_test.csv')) {
    const f = parseArray(line[2]);
    const a = await one('SELECT maas_predict($1, $2)', ['js_diabetes', f]);
    const b = await one('SELECT maas_predict($1, $2::real[])', ['js_diabetes', f]);
    if (a !== b) bad.push([line[1], a, b]);
  }
  ok(bad.length === 0, 'fractional floats: the same value as the real[] cast', bad);

  // --- JSON in and out --------------------------------------------------------
  const r0 = rows[0];
  ok(await one('SELECT maas_predict($1, $2)', ['js_digits', JSON.stringify(r0.features)]) === r0.cls,
    'a JSON array (a string) predicts');
  ok(await one('SELECT maas_predict($1, $2::jsonb)', ['js_digits', JSON.stringify(r0.features)]) === r0.cls,
    'a JSON array cast to jsonb predicts');
  const ans = await one('SELECT maas_predict_json($1, $2)', ['js_digits', r0.features]);
  ok(typeof ans === 'object' && ans.model === 'js_digits' && ans.version === 1 && ans.prediction === r0.cls &&
    ans.label === String(r0.cls), 'maas_predict_json arrives parsed, with the version and the class', ans);
  ok(close(Array.from({ length: 10 }, (_, k) => ans.proba[String(k)]), r0.proba, 1e-5),
    "its probabilities by label are PyTorch's", ans.proba);

  // a model trained on a table: JSON objects are rows by column name
  await c.query('CREATE TEMP TABLE iris (id int, sepal_length float8, sepal_width float8, ' +
    'petal_length float8, petal_width float8, species text)');
  const iris = fs.readFileSync(path.join(FIXTURES, 'iris.csv'), 'utf8').trim().split('\n').slice(1)
    .map((l) => l.split(','));
  for (const row of iris) await c.query('INSERT INTO iris VALUES ($1, $2, $3, $4, $5, $6)', row);
  await c.query("SELECT maas_train('js_iris', 'SELECT sepal_length, sepal_width, petal_length, petal_width, " +
    "species FROM iris', 'species', 'logistic')");
  const byRow = await c.query("SELECT id, maas_predict_label('js_iris', i) AS label FROM iris i ORDER BY id");
  bad = [];
  for (const [k, row] of iris.entries()) {
    const obj = { sepal_length: Number(row[1]), sepal_width: Number(row[2]), petal_length: Number(row[3]),
      petal_width: Number(row[4]), species: 'ignored' };
    const got = await one('SELECT maas_predict_label($1, $2)', ['js_iris', obj]);
    if (got !== byRow.rows[k].label) bad.push([row[0], got, byRow.rows[k].label]);
  }
  ok(bad.length === 0, 'a JS object (JSON by column name): the label of the table row, all 150 rows', bad);

  // --- a named (prepared) statement across deploys ----------------------------
  const named = (values) => c.query({ name: 'predict', text: 'SELECT maas_predict_json($1, $2) AS a', values })
    .then((r) => [r.rows[0].a.version, r.rows[0].a.label]);
  let got = await named(['js_digits', r0.features]);
  ok(got[0] === 1 && got[1] === String(r0.cls), 'named statement: version 1 answers', got);
  ok(await one("SELECT parameter_types::text FROM pg_prepared_statements WHERE name = 'predict'") === '{text,text}',
    'it is prepared on the server, its parameters resolved to text');
  await other.query("SELECT maas_deploy('js_digits', 2)");
  got = await named(['js_digits', r0.features]);
  ok(got[0] === 2 && got[1] === V2_NAMES[r0.cls2], 'another client deploys 2: the next execution answers with 2', got);
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  const first = await named(['js_digits', r0.features]);
  await other.query("SELECT maas_deploy('js_digits', 1)");
  got = await named(['js_digits', r0.features]);
  ok(first[0] === 2 && got[0] === 2, 'inside a REPEATABLE READ transaction the version does not change', [first, got]);
  await c.query('COMMIT');
  got = await named(['js_digits', r0.features]);
  ok(got[0] === 1, 'after it, the deploy of 1 is seen', got);

  // --- errors and their SQLSTATE ----------------------------------------------
  await sqlstate('wrong number of features', '22023', () => one('SELECT maas_predict($1, $2)', ['js_digits', [1, 2]]));
  await sqlstate('a null in the array', '22004',
    () => one('SELECT maas_predict($1, $2)', ['js_digits', [null].concat(Array(63).fill(0))]));
  await sqlstate('NaN', '22023', () => one('SELECT maas_predict($1, $2)', ['js_digits', [NaN].concat(Array(63).fill(0))]));
  await sqlstate('Infinity', '22023',
    () => one('SELECT maas_predict($1, $2)', ['js_digits', [Infinity].concat(Array(63).fill(0))]));
  await sqlstate('a number past real\'s range', '22023',
    () => one('SELECT maas_predict($1, $2)', ['js_digits', [1e39].concat(Array(63).fill(0))]));
  await sqlstate('features null', '22004', () => one('SELECT maas_predict($1, $2)', ['js_digits', null]));
  await sqlstate('an unknown model', '42704', () => one('SELECT maas_predict($1, $2)', ['js_nosuch', r0.features]));
  await sqlstate('probabilities of a regression', '42809',
    () => one('SELECT maas_predict_proba($1, $2)', ['js_diabetes', Array(10).fill(0)]));
  await sqlstate('a string in the array', '22P02',
    () => one('SELECT maas_predict($1, $2)', ['js_digits', ['x'].concat(Array(63).fill(0))]));
  await sqlstate('an object without a column', '42703',
    () => one('SELECT maas_predict($1, $2)', ['js_iris', { sepal_length: 5.1 }]));
  await sqlstate('a string as a JSON column', '42804',
    () => one('SELECT maas_predict($1, $2)', ['js_iris',
      { sepal_length: '5.1', sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }]));
  ok(await one('SELECT maas_predict($1, $2)', ['js_digits', r0.features]) === r0.cls,
    'the connection still works after the errors');

  await c.query("SELECT maas_drop('js_digits') + maas_drop('js_diabetes') + maas_drop('js_iris')");
  await c.end();
  await other.end();
  console.log(`1..${n}`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`not ok ${n + 1} - the test script failed`);
  for (const line of String(e.stack || e).split('\n')) console.log(`# ${line}`);
  process.exit(1);
});

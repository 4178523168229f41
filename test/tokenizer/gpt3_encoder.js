// gpt3_encoder.js
//	Runs npm gpt-3-encoder's encode on every line of a corpus (JSON strings,
//	one a line) and writes, for each, the ids of the package as shipped and
//	of four variants of it, as one JSON object a line:
//
//	  stock  gpt-3-encoder as published
//	  uni    \p{L} and \p{N} replaced by maas's classes (Unicode 14.0 from
//	         Python's unicodedata; node's ICU is newer)
//	  ws     \s replaced by the White_Space property (what GPT-2's regex
//	         module pattern and Hugging Face's tokenizers mean by \s; JS's
//	         \s has U+FEFF and lacks U+0085)
//	  keys   merge ranks keyed by the pair, not by the pair's toString()
//	         ("a,b"), which makes pairs holding commas collide
//	  all    the three together: what GPT-2's encoder.py would do with
//	         maas's Unicode tables
//
//	node gpt3_encoder.js PACKAGE_DIR CLASSES.json CORPUS.jsonl [--bench N]
//
// The variants are made from the package's own Encoder.js by replacing the
// few lines in question, so everything else is the package's code.  With
// --bench, prints the stock encode's MB/s over the corpus instead.
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, classesFile, corpusFile] = process.argv.slice(2);
const bench = process.argv.indexOf('--bench');
const source = fs.readFileSync(path.join(dir, 'Encoder.js'), 'utf-8');
const classes = JSON.parse(fs.readFileSync(classesFile, 'utf-8'));

function replaceOnce(src, from, to) {
  const at = src.indexOf(from);
  if (at < 0 || src.indexOf(from, at + 1) >= 0)
    throw new Error('gpt-3-encoder changed: cannot find one "' + from + '"');
  return src.slice(0, at) + to + src.slice(at + from.length);
}

function set(ranges) {
  const hex = (cp) => '\\u{' + cp.toString(16) + '}';
  return ranges.map(([a, b]) => (a === b ? hex(a) : hex(a) + '-' + hex(b))).join('');
}

const STOCK_PAT = "const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+/gu";

function pattern(L, N, S) {
  return "const pat = new RegExp(\"'s|'t|'re|'ve|'m|'ll|'d| ?[" + L + "]+| ?[" + N +
    "]+| ?[^" + S + L + N + "]+|[" + S + "]+(?![^" + S + "])|[" + S + "]+\", 'gu')";
}

function variant(uni, ws, keys) {
  let src = source;
  if (uni || ws) {
    const L = uni ? set(classes.L) : '\\\\p{L}';
    const N = uni ? set(classes.N) : '\\\\p{N}';
    const S = ws ? set(classes.S) : '\\\\s';
    src = replaceOnce(src, STOCK_PAT, pattern(L, N, S));
  }
  if (keys) {
    src = replaceOnce(src, 'const bpe_ranks = dictZip(bpe_merges, range(0, bpe_merges.length))',
      "const bpe_ranks = new Map(bpe_merges.map((m, i) => [m[0] + ' ' + m[1], i]))");
    src = replaceOnce(src, 'const rank = bpe_ranks[pair]',
      "const rank = bpe_ranks.get(pair[0] + ' ' + pair[1])");
    src = replaceOnce(src, 'if (!(bigram in bpe_ranks)) {',
      "if (bigram === undefined || !bpe_ranks.has(bigram[0] + ' ' + bigram[1])) {");
  }
  const mod = { exports: {} };
  new Function('require', 'module', 'exports', '__dirname', src)(require, mod, mod.exports, dir);
  return mod.exports.encode;
}

const lines = fs.readFileSync(corpusFile, 'utf-8').split('\n').filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));

if (bench >= 0) {
  const rounds = parseInt(process.argv[bench + 1] || '3', 10);
  const encode = variant(false, false, false);
  const bytes = lines.reduce((n, s) => n + Buffer.byteLength(s, 'utf-8') + 1, 0);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    // a fresh module each round: its word cache would make later rounds free
    const enc = r === 0 ? encode : variant(false, false, false);
    // CPU time, as tokdrv measures: the machine is shared
    const t0 = process.cpuUsage();
    for (const s of lines) enc(s);
    const d = process.cpuUsage(t0);
    const t = (d.user + d.system) / 1e6;
    if (t < best) best = t;
  }
  console.log('gpt-3-encoder encode_mb_s ' + (bytes / best / 1e6).toFixed(2));
  process.exit(0);
}

const encoders = {
  stock: variant(false, false, false),
  uni: variant(true, false, false),
  ws: variant(false, true, false),
  keys: variant(false, false, true),
  all: variant(true, true, true),
};
const out = [];
for (const s of lines) {
  const row = {};
  for (const [name, enc] of Object.entries(encoders)) row[name] = enc(s);
  out.push(JSON.stringify(row));
}
process.stdout.write(out.join('\n') + '\n');

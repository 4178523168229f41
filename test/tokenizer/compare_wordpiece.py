#!/usr/bin/python3
"""
compare_wordpiece.py
	maas's BERT tokenizer against wordpiece_ref.py (BERT's published
	algorithm in plain Python), exactly; and maas's Unicode tables against
	Python's unicodedata, code point by code point.

	/usr/bin/python3 test/tokenizer/compare_wordpiece.py [--random N] [--bench]

For each configuration (uncased: lower case and strip accents, as
bert-base-uncased; cased: neither, as bert-base-cased; cased with accents
stripped; no CJK splitting; truncation to 16) a vocabulary is made from the
corpus of make_corpus.py (the characters seen twice or more, alone and as
"##" continuations, the frequent words and their frequent beginnings and
endings), given to the C kernel as the "tokenizer" object maas_register
gets ({"vocab": "<vocab.txt>", flags}), and every corpus line is encoded by
both; the uncased vocabulary is also given in Hugging Face's tokenizer.json
form, which must give the same ids.  Decoding is checked against the
reference's (Hugging Face's WordPiece decoder, without clean-up).

Output ends with lines such as
	wordpiece vs reference (uncased): 3581 of 3581 lines identical
and the exit code is 0 only when everything is identical.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import wordpiece_ref as ref  # noqa: E402

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']

CONFIGS = [
	# name, do_lower_case, strip_accents, tokenize_chinese_chars, max_length
	('uncased', True, None, True, 0),
	('cased', False, None, True, 0),
	('cased, accents stripped', False, True, True, 0),
	('uncased, accents kept', True, False, True, 0),
	('uncased, no CJK split', True, None, False, 0),
	('uncased, truncated to 16', True, None, True, 16),
]


def check_unicode(exe):
	"""every code point: flags' Unicode facts, lower case, NFD, ccc"""
	r = subprocess.run([exe, 'unicode'], capture_output=True, text=True)
	n = same = 0
	shown = 0
	for line in r.stdout.split('\n'):
		if not line:
			continue
		cp_s, flags_s, lower_s, nfd_s, ccc_s = line.split()
		cp = int(cp_s, 16)
		ch = chr(cp)
		cat = unicodedata.category(ch)
		flags = int(flags_s, 16)
		want = {
			0x001: cat[0] == 'L',
			0x002: cat[0] == 'N',
			0x008: ref.is_whitespace(ch),
			0x010: ref.is_control(ch),
			0x020: ref.is_punctuation(ch),
			0x040: ref.is_chinese_char(cp),
			0x080: cat == 'Mn',
			0x100: ch.isspace(),
		}
		ok = all(bool(flags & f) == v for f, v in want.items())
		ok = ok and lower_s == '.'.join('%x' % ord(c) for c in ch.lower())
		ok = ok and nfd_s == '.'.join('%x' % ord(c) for c in
									  unicodedata.normalize('NFD', ch))
		ok = ok and int(ccc_s) == unicodedata.combining(ch)
		n += 1
		if ok:
			same += 1
		elif shown < 5:
			shown += 1
			print('  U+%04X differs: %s' % (cp, line))
	return same, n


def make_vocab(lines, basic):
	words = collections.Counter()
	for s in lines:
		words.update(basic.tokenize(s))
	chars = collections.Counter()
	for w, c in words.items():
		for ch in w:
			chars[ch] += c
	vocab = list(SPECIALS)
	seen = set(vocab)

	def add(t):
		if t not in seen:
			seen.add(t)
			vocab.append(t)

	for ch, c in sorted(chars.items(), key=lambda x: (-x[1], x[0])):
		if c >= 2:
			add(ch)
			add('##' + ch)
	frequent = [w for w, c in sorted(words.items(), key=lambda x: (-x[1], x[0]))
				if len(w) > 1][:1500]
	for w in frequent[:800]:
		add(w)
	pieces = collections.Counter()
	for w in frequent:
		for k in (2, 3, 4):
			if len(w) > k:
				pieces[w[:k]] += 1
				pieces['##' + w[-k:]] += 1
	for p, _ in sorted(pieces.items(), key=lambda x: (-x[1], x[0]))[:1200]:
		add(p)
	return vocab


def tokenizer_json(vocab, lower):
	"""the same vocabulary as Hugging Face writes tokenizer.json for BERT"""
	ids = {t: i for i, t in enumerate(vocab)}
	return {
		'version': '1.0',
		'truncation': None,
		'padding': None,
		'added_tokens': [{'id': ids[t], 'content': t, 'single_word': False,
						  'lstrip': False, 'rstrip': False, 'normalized': False,
						  'special': True} for t in SPECIALS],
		'normalizer': {'type': 'BertNormalizer', 'clean_text': True,
					   'handle_chinese_chars': True, 'strip_accents': None,
					   'lowercase': lower},
		'pre_tokenizer': {'type': 'BertPreTokenizer'},
		'post_processor': {
			'type': 'TemplateProcessing',
			'single': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}},
					   {'Sequence': {'id': 'A', 'type_id': 0}},
					   {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}],
			'pair': [],
			'special_tokens': {}},
		'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
		'model': {'type': 'WordPiece', 'unk_token': '[UNK]',
				  'continuing_subword_prefix': '##',
				  'max_input_chars_per_word': 100, 'vocab': ids},
	}


def decode_with_driver(exe, spec, id_lists):
	text = '\n'.join(' '.join(map(str, ids)) for ids in id_lists) + '\n'
	r = subprocess.run([exe, 'decode', spec], input=text, capture_output=True,
					   text=True)
	return [bytes.fromhex(h).decode('utf-8') if not h.startswith('ERROR') else h
			for h in r.stdout.split('\n')[:-1]]


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument('--random', type=int, default=3000)
	ap.add_argument('--bench', action='store_true')
	args = ap.parse_args()

	exe = common.build_driver()
	corpus_path, corpus = common.make_corpus(args.random)
	failed = False
	report = []

	same, n = check_unicode(exe)
	report.append('unicode tables vs Python %s unicodedata %s: %d of %d code points identical'
				  % (sys.version.split()[0], unicodedata.unidata_version, same, n))
	failed |= same != n

	for name, lower, strip, cjk, max_length in CONFIGS:
		basic = ref.BasicTokenizer(lower, strip, cjk)
		vocab = make_vocab(corpus, basic)
		bert = ref.BertTokenizer({t: i for i, t in enumerate(vocab)}, lower,
								 strip, cjk, max_length)
		spec = {'vocab': '\n'.join(vocab) + '\n', 'do_lower_case': lower,
				'strip_accents': strip, 'tokenize_chinese_chars': cjk}
		if max_length:
			spec['model_max_length'] = max_length
		spec_path = os.path.join(common.BUILD, 'wordpiece_%d.json' % len(report))
		with open(spec_path, 'w', encoding='utf-8') as f:
			json.dump(spec, f)
		ours, rc, stderr = common.encode_with_driver(exe, spec_path, corpus_path)
		want = [bert.encode(s) for s in corpus]
		same = sum(1 for a, b in zip(ours, want) if a == b)
		shown = 0
		for s, a, b in zip(corpus, ours, want):
			if a != b and shown < 5:
				shown += 1
				print('  %s differs: %s\n    maas %s\n    ref  %s' %
					  (name, json.dumps(s)[:80], a, b))
		report.append('wordpiece vs reference (%s, %d tokens): %d of %d lines identical'
					  % (name, len(vocab), same, len(corpus)))
		failed |= same != len(corpus) or len(ours) != len(corpus) or rc != 0

		if name == 'uncased':
			# decoding, and the tokenizer.json form of the same vocabulary
			got = decode_with_driver(exe, spec_path, want)
			dsame = sum(1 for ids, g in zip(want, got) if g == bert.decode(ids))
			report.append('wordpiece decode vs reference: %d of %d lines identical'
						  % (dsame, len(want)))
			failed |= dsame != len(want)
			tj_path = os.path.join(common.BUILD, 'wordpiece_tokenizer.json')
			with open(tj_path, 'w', encoding='utf-8') as f:
				json.dump(tokenizer_json(vocab, lower), f)
			again, rc2, _ = common.encode_with_driver(exe, tj_path, corpus_path)
			tsame = sum(1 for a, b in zip(again, want) if a == b)
			report.append('wordpiece from tokenizer.json vs reference: %d of %d lines identical'
						  % (tsame, len(corpus)))
			failed |= tsame != len(corpus) or rc2 != 0
			if args.bench:
				for bname, texts in common.bench_corpora(corpus):
					text_path, _ = common.write_bench(bname, texts)
					b = common.run([exe, 'bench', spec_path, text_path, '5'],
								   capture_output=True, text=True)
					report.append('bench %s: maas %s' % (bname, b.stdout.strip()))
					t0 = time.process_time()
					for s in texts:
						bert.encode(s)
					t = time.process_time() - t0
					size = sum(len(s.encode('utf-8')) + 1 for s in texts)
					report.append('bench %s: python reference encode_mb_s %.2f'
								  % (bname, size / t / 1e6))

	for line in report:
		print(line)
	return 1 if failed else 0


if __name__ == '__main__':
	sys.exit(main())

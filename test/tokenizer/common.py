"""
common.py
	What the tokenizer comparison scripts share: where things are, building
	the C driver (tokdrv) against the kernel sources, the corpus, running
	commands.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KERNEL = os.path.join(ROOT, 'src', 'kernel')
BUILD = os.environ.get('TOKENIZER_BUILD', os.path.join(HERE, 'build'))
SOURCES = ['tokenizer.c', 'tokenizer_bpe.c', 'tokenizer_bpe_encode.c', 'tokenizer_wordpiece.c',
		   'tokenizer_wordpiece_encode.c', 'tokenizer_flat.c',
		   'unicode.c', 'json.c', 'error.c']


def run(cmd, **kw):
	"""run cmd, fail loudly"""
	r = subprocess.run(cmd, **kw)
	if r.returncode != 0:
		sys.stderr.write('failed (%d): %s\n' % (r.returncode, ' '.join(cmd)))
		sys.exit(1)
	return r


def build_driver():
	"""build/tokdrv, optimised as the server builds the kernels"""
	os.makedirs(BUILD, exist_ok=True)
	exe = os.path.join(BUILD, 'tokdrv')
	srcs = [os.path.join(HERE, 'tokdrv.c')] + [os.path.join(KERNEL, s) for s in SOURCES]
	if os.path.exists(exe) and all(os.path.getmtime(s) < os.path.getmtime(exe)
								   for s in srcs + [os.path.join(KERNEL, h) for h in
													os.listdir(KERNEL) if h.endswith('.h')]):
		return exe
	run(['gcc', '-std=gnu99', '-O2', '-g', '-Wall', '-Wextra', '-Werror',
		 '-I' + KERNEL, '-o', exe] + srcs + ['-lm'])
	return exe


def make_corpus(n_random=3000, seed=20240517):
	"""the corpus (make_corpus.py), as a file and as a list of strings"""
	os.makedirs(BUILD, exist_ok=True)
	path = os.path.join(BUILD, 'corpus.jsonl')
	with open(path, 'w') as f:
		run([sys.executable, os.path.join(HERE, 'make_corpus.py'),
			 '--random', str(n_random), '--seed', str(seed)], stdout=f)
	with open(path) as f:
		lines = [json.loads(l) for l in f]
	return path, lines


def encode_with_driver(exe, spec, corpus_path, special=True):
	"""the driver's ids for every corpus line (a list, or 'ERROR ...')"""
	cmd = [exe, 'encode', spec] + ([] if special else ['--no-special'])
	with open(corpus_path) as f:
		r = subprocess.run(cmd, stdin=f, capture_output=True, text=True)
	out = []
	for line in r.stdout.split('\n')[:-1]:
		out.append(line if line.startswith('ERROR') else
				   [int(x) for x in line.split()])
	return out, r.returncode, r.stderr


def bench_corpora(corpus):
	"""(name, texts) to time: the corpus (one text a line, newlines inside
	a text made spaces), and English prose (Debian's license texts, one line
	a text) where the machine has them"""
	out = [('corpus', [s.replace('\n', ' ') for s in corpus])]
	lic = '/usr/share/common-licenses'
	if os.path.isdir(lic):
		prose = []
		for name in sorted(os.listdir(lic)):
			path = os.path.join(lic, name)
			if os.path.isfile(path) and not os.path.islink(path):
				with open(path, encoding='utf-8', errors='replace') as f:
					prose.extend(l for l in f.read().split('\n') if l.strip())
		out.append(('prose', prose))
	return out


def write_bench(name, texts):
	"""the texts one a line (for tokdrv bench) and as JSON lines (for node)"""
	text_path = os.path.join(BUILD, 'bench_%s.txt' % name)
	json_path = os.path.join(BUILD, 'bench_%s.jsonl' % name)
	with open(text_path, 'w', encoding='utf-8') as f:
		f.write('\n'.join(texts) + '\n')
	with open(json_path, 'w') as f:
		f.write('\n'.join(json.dumps(t) for t in texts) + '\n')
	return text_path, json_path

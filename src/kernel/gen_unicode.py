#!/usr/bin/python3
"""
gen_unicode.py
	Writes src/kernel/unicode_table.h: the Unicode facts the tokenizers need,
	read from Python's unicodedata (and str.lower()), as compact tables.

	/usr/bin/python3 src/kernel/gen_unicode.py > src/kernel/unicode_table.h

The output is committed; run this again only to move to another Unicode
version (the version is written into the table, maas_unicode_version).

What is tabled, per code point:
  - a set of flags (see unicode.h), as ranges of equal flags: the general
	category classes GPT-2's pattern uses (L*, N*, White_Space), BERT's
	BasicTokenizer predicates (_is_whitespace, _is_control, _is_punctuation,
	_is_chinese_char), Mn (accent stripping), str.isspace() (Python's
	str.split()), and Cased / Case_Ignorable, which Python's str.lower()
	consults for the final sigma;
  - the simple lower-case mapping of str.lower(), as runs of constant
	offset; the one full mapping longer than a character (U+0130) is written
	into unicode.c by hand and checked here;
  - the full canonical decomposition (NFD of one character, already in
	canonical order), except Hangul syllables, which are algorithmic;
  - the canonical combining class, as ranges.

Cased and Case_Ignorable are not exposed by unicodedata, so they are
measured through str.lower() itself: CPython lower-cases U+03A3 to final
sigma exactly when it follows a cased letter (skipping case-ignorable
characters) and no cased letter follows (again skipping case-ignorable
ones).  "A\u03a3x" and "A\u03a3xB" together tell the three kinds of x apart.
"""
import sys
import unicodedata

MAXCP = 0x110000
SBASE, SCOUNT = 0xAC00, 11172

F_LETTER = 0x0001
F_NUMBER = 0x0002
F_SPACE = 0x0004
F_BERT_SPACE = 0x0008
F_BERT_CONTROL = 0x0010
F_BERT_PUNCT = 0x0020
F_CJK = 0x0040
F_MN = 0x0080
F_PY_SPACE = 0x0100
F_CASED = 0x0200
F_CASE_IGNORABLE = 0x0400

# BERT's _is_chinese_char: the CJK Unified Ideographs blocks it names
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
	   (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
	   (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_surrogate(cp):
	return 0xD800 <= cp <= 0xDFFF


def flags_of(cp):
	if is_surrogate(cp):
		return 0
	ch = chr(cp)
	cat = unicodedata.category(ch)
	f = 0
	if cat[0] == 'L':
		f |= F_LETTER
	if cat[0] == 'N':
		f |= F_NUMBER
	# White_Space (what \s means to GPT-2's regex module pattern)
	if cat in ('Zs', 'Zl', 'Zp') or 0x09 <= cp <= 0x0D or cp == 0x85:
		f |= F_SPACE
	if ch in ' \t\n\r' or cat == 'Zs':
		f |= F_BERT_SPACE
	if ch not in '\t\n\r' and cat[0] == 'C':
		f |= F_BERT_CONTROL
	if (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or
			123 <= cp <= 126 or cat[0] == 'P'):
		f |= F_BERT_PUNCT
	if any(lo <= cp <= hi for lo, hi in CJK):
		f |= F_CJK
	if cat == 'Mn':
		f |= F_MN
	if ch.isspace():
		f |= F_PY_SPACE
	if cp != 0x03A3:
		t1 = ('A\u03a3' + ch + 'B').lower()[1]
		t2 = ('A\u03a3' + ch).lower()[1]
		if t1 == '\u03c3' and t2 == '\u03c2':
			f |= F_CASE_IGNORABLE
		elif t1 == '\u03c3' and t2 == '\u03c3':
			f |= F_CASED
		else:
			assert t1 == '\u03c2' and t2 == '\u03c2', hex(cp)
	else:
		f |= F_CASED
	return f


def flag_ranges():
	out = []
	prev = None
	for cp in range(MAXCP):
		f = flags_of(cp)
		if f != prev:
			out.append((cp, f))
			prev = f
	return out


def lower_runs():
	"""runs (first, last, stride, delta): cp in first..last stepping by
	stride lower-cases to cp + delta"""
	single = []
	for cp in range(MAXCP):
		if is_surrogate(cp):
			continue
		lo = chr(cp).lower()
		if lo == chr(cp):
			continue
		if len(lo) != 1:
			assert cp == 0x0130 and lo == 'i\u0307', hex(cp)
			continue
		single.append((cp, ord(lo) - cp))
	runs = []
	i = 0
	while i < len(single):
		cp, d = single[i]
		# the longest run from here with one stride (1 or 2) and one delta
		best = (cp, cp, 1, d)
		for stride in (1, 2):
			j = i
			while (j + 1 < len(single) and single[j + 1][1] == d and
				   single[j + 1][0] == single[j][0] + stride):
				j += 1
			if single[j][0] > best[1]:
				best = (cp, single[j][0], stride, d)
		runs.append(best)
		while i < len(single) and single[i][0] <= best[1]:
			i += 1
	# the runs must give back every mapping, and nothing else
	table = {}
	for first, last, stride, d in runs:
		for cp in range(first, last + 1, stride):
			table[cp] = cp + d
	assert table == dict((cp, cp + d) for cp, d in single)
	return runs


def decompositions():
	out = []
	for cp in range(MAXCP):
		if is_surrogate(cp) or SBASE <= cp < SBASE + SCOUNT:
			continue
		d = unicodedata.normalize('NFD', chr(cp))
		if d != chr(cp):
			out.append((cp, [ord(c) for c in d]))
	return out


def ccc_ranges():
	out = []
	cur = None
	for cp in range(MAXCP):
		c = 0 if is_surrogate(cp) else unicodedata.combining(chr(cp))
		if cur is not None and c == cur[2] and cp == cur[1] + 1:
			cur[1] = cp
			continue
		if cur is not None and cur[2] != 0:
			out.append(tuple(cur))
		cur = [cp, cp, c]
	if cur[2] != 0:
		out.append(tuple(cur))
	return out


def rows(items, per_line):
	lines = []
	for i in range(0, len(items), per_line):
		lines.append('\t' + ' '.join(items[i:i + per_line]))
	return '\n'.join(lines)


def main():
	w = sys.stdout.write
	fr = flag_ranges()
	lr = lower_runs()
	dc = decompositions()
	cc = ccc_ranges()
	pool = []
	index = []
	for cp, seq in dc:
		index.append((cp, len(pool), len(seq)))
		pool.extend(seq)
	assert len(pool) < 65536 and max(len(s) for _, s in dc) <= 4

	w('/*\n * unicode_table.h\n'
	  ' *\t\tGenerated by src/kernel/gen_unicode.py from Python %s\'s unicodedata\n'
	  ' *\t\t(Unicode %s).  Do not edit; included by unicode.c only.\n */\n\n'
	  % (sys.version.split()[0], unicodedata.unidata_version))
	w('#define UNICODE_TABLE_VERSION "%s"\n\n' % unicodedata.unidata_version)

	w('/* the flags of U+0000 .. U+00FF, for the common case */\n')
	w('const uint16_t maas_uc_latin1[256] = {\n')
	w(rows(['0x%03X,' % flags_of(cp) for cp in range(256)], 10) + '\n};\n\n')

	w('/* code point ranges of equal flags: range i is [start[i], start[i + 1]) */\n')
	w('#define UC_N_FLAG_RANGES %d\n' % len(fr))
	w('static const uint32_t uc_flag_start[UC_N_FLAG_RANGES] = {\n')
	w(rows(['0x%05X,' % s for s, _ in fr], 8) + '\n};\n')
	w('static const uint16_t uc_flag_value[UC_N_FLAG_RANGES] = {\n')
	w(rows(['0x%03X,' % f for _, f in fr], 10) + '\n};\n\n')

	w('/* lower case: first, last, stride, delta (cp + delta for every stride-th cp) */\n')
	w('typedef struct UcLowerRun\n{\n\tuint32_t\tfirst;\n\tuint32_t\tlast;\n'
	  '\tint32_t\t\tstride;\n\tint32_t\t\tdelta;\n} UcLowerRun;\n\n')
	w('#define UC_N_LOWER_RUNS %d\n' % len(lr))
	w('static const UcLowerRun uc_lower_runs[UC_N_LOWER_RUNS] = {\n')
	w(rows(['{0x%05X, 0x%05X, %d, %d},' % r for r in lr], 3) + '\n};\n\n')

	w('/* canonical decompositions (full, canonically ordered), Hangul excluded */\n')
	w('typedef struct UcDecomp\n{\n\tuint32_t\tcp;\n\tuint16_t\toffset;\n'
	  '\tuint16_t\tlen;\n} UcDecomp;\n\n')
	w('#define UC_N_DECOMP %d\n' % len(index))
	w('static const UcDecomp uc_decomp[UC_N_DECOMP] = {\n')
	w(rows(['{0x%05X, %d, %d},' % e for e in index], 4) + '\n};\n')
	w('#define UC_DECOMP_POOL %d\n' % len(pool))
	w('static const uint32_t uc_decomp_pool[UC_DECOMP_POOL] = {\n')
	w(rows(['0x%05X,' % c for c in pool], 8) + '\n};\n\n')

	w('/* canonical combining classes other than 0: first, last, class */\n')
	w('typedef struct UcCccRange\n{\n\tuint32_t\tfirst;\n\tuint32_t\tlast;\n'
	  '\tuint8_t\t\tccc;\n} UcCccRange;\n\n')
	w('#define UC_N_CCC %d\n' % len(cc))
	w('static const UcCccRange uc_ccc[UC_N_CCC] = {\n')
	w(rows(['{0x%05X, 0x%05X, %d},' % r for r in cc], 4) + '\n};\n')


if __name__ == '__main__':
	main()

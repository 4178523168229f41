#!/usr/bin/python3
"""
make_corpus.py
	Writes the tokenizer comparison corpus: one JSON string a line (so a
	text may hold newlines), hand-written cases first, then random Unicode
	strings from a seeded generator.

	/usr/bin/python3 make_corpus.py [--random N] [--seed S] > corpus.jsonl

The same corpus feeds both comparisons (BPE against gpt-3-encoder,
WordPiece against wordpiece_ref.py).  NUL is left out: JSON (and SQL text)
cannot carry it.
"""
import argparse
import json
import random
import sys
import unicodedata

PROSE = [
	"The database is a model server now.",
	"Hello world",
	"In 1492, Columbus sailed the ocean blue; in 2024 we tokenized it.",
	"She said, \"Don't stop!\" -- and then she left.",
	"PostgreSQL's planner doesn't know what a transformer is... yet.",
	"A quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
	"e-mail: someone@example.com, web: https://example.org/path?q=1&r=2#x",
	"Prices: $3.50, EUR 4,20, 1,000,000.00 and 50% off (limited time).",
	"Mr. O'Neil isn't here; he'll be back at 3 p.m. Y'all'd've known.",
	"tab\tseparated\tvalues\tand  double  spaces",
	"   leading spaces and trailing spaces   ",
	"line one\nline two\n\nline four\r\nwindows line",
	"\n\n\n",
	" ",
	"  ",
	"\t",
	"a",
	"'",
	"''",
	"Supercalifragilisticexpialidocious antidisestablishmentarianism",
	"unaffable unbelievable unbelievably reconstructing",
	"The year 2000 (Y2K) problem; version 3.11.2-rc1; 0x7fffffff",
]

CODE = [
	"def encode(self, text):\n    return [self.encoder[t] for t in text]",
	"int main(void) { printf(\"%d\\n\", 42); return 0; }",
	"SELECT maas_generate('writer', 'The database is');",
	"for (i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}",
	"if x == 1 and y != 2 or not z: pass  # comment",
	"const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+/gu",
	"<html><body class=\"main\">&nbsp;&amp;</body></html>",
	"{\"key\": [1, 2.5, true, null], \"nested\": {\"a\": \"b\"}}",
	"    indented four\n        indented eight\n\ttabbed",
	"x+=1;y-=2;z*=3;w/=4;v%=5;u**=6;t//=7",
	"#!/bin/sh\necho \"$HOME\" | grep -v '^#' >> /tmp/out 2>&1",
]

ACCENTS = [
	"café naïve résumé façade déjà vu Ångström",
	"Müller straße Größe Übermut ÄÖÜ äöü ß ẞ",
	"Tiếng Việt có dấu: người, được, những, điều",
	"cafe\u0301 nai\u0308ve (combining marks)",
	"Ça va? Où est la bibliothèque? À bientôt!",
	"São Paulo, coração, ação, não",
	"Łódź, Kraków, Gdańsk, żółć",
	"İstanbul ıi İI ğüşöç",
	"ΟΔΥΣΣΕΥΣ Οδυσσεύς σοφός ΣΟΦΟΣ. ΑΣ.Β Σ",
	"ǅungla ǈubljana ǋegoš",
	"a\u0301\u0302\u0303\u0304 e\u0323\u0302 o\u031b\u0301 q\u0307\u0323",
	"\U0001d16d\U0001d165 music marks out of order \u05b0\u05b1\u0591",
]

CJK = [
	"中文分词测试：我爱北京天安门。",
	"日本語のテキスト、ひらがなとカタカナ。漢字も。",
	"한국어 텍스트입니다. 안녕하세요!",
	"中English混合text文字",
	"𠀀𠀁𪜀 (CJK extension B and C)",
	"豈 更 車 (compatibility ideographs)",
	"全角：ＡＢＣ１２３！？",
	"　ideographic space　between",
]

EMOJI = [
	"😀😃😄 emoji in a row",
	"👍🏽 thumbs up, medium skin",
	"👨‍👩‍👧‍👦 family (ZWJ sequence)",
	"🇫🇷🇯🇵 flags",
	"I ❤️ PostgreSQL ☃ ★ ♥",
	"🤖: beep boop 🚀🚀🚀",
	"text😀text 😀 😀😀 ",
]

WHITESPACE = [
	"a  b   c    d",
	"a\n\nb\n\n\nc",
	"a \n b \n\n c",
	"  \n  \n",
	"\t\t\tx",
	"x\t \t y",
	"a\r\n\r\nb",
	"a\u00a0b \u00a0 c",
	"a\u3000b",
	"a\u2028b\u2029c",
	"a\u0085b \u0085 c",
	"a\ufeffb \ufeff c",
	"a\u200bb\u200dc",
	"a\x0bb\x0cc\x1cd\x1fe",
	"end with newline\n",
	"end with spaces   ",
	" 1  2   3",
	"word \n",
	"\u2003em\u2002en\u2009thin",
]

CONTRACTIONS = [
	"it's isn't we're they've I'm we'll he'd",
	"IT'S ISN'T WE'RE THEY'VE I'M WE'LL HE'D",
	"It'S iT's We'Re they'VE i'M We'Ll hE'd",
	"'s 't 're 've 'm 'll 'd",
	"''s '''t 'sss 'tt 'rere 'veve 'mm 'lll 'dd",
	"rock'n'roll o'clock ma'am y'know",
	"'S 'T 'RE 'VE 'M 'LL 'D",
	"don’t won’t (curly apostrophes)",
	"?'s !'ll .'d",
	"1's 2't",
	" 's",
	"x'",
]

DIGITS = [
	"0123456789",
	"3.14159265358979 2.71828 1e-10 6.02e23",
	"٠١٢٣٤٥٦٧٨٩ Arabic-Indic digits",
	"०१२३ Devanagari digits",
	"½ ¼ ¾ ² ³ ¹ Ⅻ ⅷ",
	"12,345,678 and 12 345 678",
	"2024-05-17T12:34:56Z",
	"1st 2nd 3rd 4th",
	"123abc456def",
]

PUNCT = [
	"!!! ??? ... ,,, ;;; :::",
	"—–-‐ dashes … ellipsis",
	"«quotes» „German“ “English” ‘single’",
	"()[]{}<> @#$%^&*_+=|\\/~`",
	"?!?!?!?!",
	"....,,,,;;;;",
	"¡Hola! ¿Qué tal?",
	"\"\"\"triple quotes\"\"\"",
	"a,b,c,d",
	"\",\",\",\"",
	"'''",
	"\u00b7\u2027\u30fb",
]

MIXED = [
	"Привет мир! Hello мир!",
	"Γειά σου κόσμε",
	"مرحبا بالعالم",
	"שלום עולם",
	"नमस्ते दुनिया",
	"สวัสดีชาวโลก",
	"Բարեւ աշխարհ",
	"ሰላም ልዑል",
	"Latin, Ελληνικά, Кириллица, 中文, العربية in one line",
	"ẞ ǅ ǲ ᾈ ᾼ (title case and ligatures)",
	"ﬁ ﬂ ﬀ ligatures",
	"𝐇𝐞𝐥𝐥𝐨 𝕎𝕠𝕣𝕝𝕕 (math alphanumerics)",
	"Zalgo: Z\u0351\u0358a\u0336\u0321l\u0334g\u0335o\u0337",
]

# pools for random strings
WS_POOL = [' ', ' ', ' ', '\t', '\n', '\r', '\x0b', '\x0c', '\x85', '\xa0',
		   '\u1680', '\u2000', '\u2003', '\u200a', '\u2028', '\u2029',
		   '\u202f', '\u205f', '\u3000', '\ufeff', '\u200b']
ASCII_POOL = [chr(c) for c in range(0x20, 0x7f)] + ["'s", "'ll", "'D", "'"]


def random_char(rng):
	r = rng.random()
	if r < 0.30:
		return rng.choice(ASCII_POOL)
	if r < 0.40:
		return rng.choice(WS_POOL)
	if r < 0.50:
		return chr(rng.randrange(0xa0, 0x250))
	if r < 0.55:
		return chr(rng.randrange(0x300, 0x370))		# combining marks
	if r < 0.80:
		while True:
			c = rng.randrange(0x1, 0x10000)
			if not 0xd800 <= c <= 0xdfff:
				return chr(c)
	while True:
		c = rng.randrange(0x10000, 0x110000)
		# mostly the planes that hold something
		if c < 0x40000 or rng.random() < 0.1:
			return chr(c)


def random_line(rng):
	n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34])
	return ''.join(random_char(rng) for _ in range(n))


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument('--random', type=int, default=3000)
	ap.add_argument('--seed', type=int, default=20240517)
	args = ap.parse_args()
	rng = random.Random(args.seed)

	lines = []
	for group in (PROSE, CODE, ACCENTS, CJK, EMOJI, WHITESPACE, CONTRACTIONS,
				  DIGITS, PUNCT, MIXED):
		lines.extend(group)
	# every hand-written case again in other cases and joined with others
	for s in list(lines):
		lines.append(s.upper())
		lines.append(s.lower())
	for _ in range(200):
		lines.append(' '.join(rng.sample(lines, 3)))
	lines.append('')
	lines.append(' '.join(PROSE) * 20)		# one long line
	lines.append('a' * 5000)				# one very long word
	lines.append('ab' * 3000)
	lines.append(' ' * 3000 + 'x')
	lines.append('!' * 2000)
	for _ in range(args.random):
		lines.append(random_line(rng))
	out = sys.stdout
	for s in lines:
		assert '\x00' not in s
		out.write(json.dumps(s, ensure_ascii=True) + '\n')


if __name__ == '__main__':
	main()

"""
wordpiece_ref.py
	A plain-Python reference of BERT's tokenizer, written from the published
	algorithm (google-research/bert tokenization.py: BasicTokenizer and
	WordpieceTokenizer; the strip_accents flag as Hugging Face's
	BertTokenizer has it), for compare_wordpiece.py.  Unicode facts come from
	Python's unicodedata and str methods, nothing from maas.
"""
import unicodedata

CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
			  (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
			  (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def is_whitespace(ch):
	return ch in ' \t\n\r' or unicodedata.category(ch) == 'Zs'


def is_control(ch):
	if ch in '\t\n\r':
		return False
	return unicodedata.category(ch).startswith('C')


def is_punctuation(ch):
	cp = ord(ch)
	if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
		return True
	return unicodedata.category(ch).startswith('P')


def is_chinese_char(cp):
	return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


class BasicTokenizer:
	def __init__(self, do_lower_case=True, strip_accents=None,
				 tokenize_chinese_chars=True, clean_text=True):
		self.do_lower_case = do_lower_case
		self.strip_accents = strip_accents
		self.tokenize_chinese_chars = tokenize_chinese_chars
		self.clean_text = clean_text

	def tokenize(self, text):
		if self.clean_text:
			text = self.clean(text)
		if self.tokenize_chinese_chars:
			text = self.pad_chinese(text)
		out = []
		for token in text.split():
			if self.do_lower_case:
				token = token.lower()
				if self.strip_accents is not False:
					token = self.run_strip_accents(token)
			elif self.strip_accents:
				token = self.run_strip_accents(token)
			out.extend(self.split_on_punctuation(token))
		return ' '.join(out).split()

	@staticmethod
	def clean(text):
		out = []
		for ch in text:
			cp = ord(ch)
			if cp == 0 or cp == 0xFFFD or is_control(ch):
				continue
			out.append(' ' if is_whitespace(ch) else ch)
		return ''.join(out)

	@staticmethod
	def pad_chinese(text):
		out = []
		for ch in text:
			if is_chinese_char(ord(ch)):
				out.extend([' ', ch, ' '])
			else:
				out.append(ch)
		return ''.join(out)

	@staticmethod
	def run_strip_accents(text):
		return ''.join(ch for ch in unicodedata.normalize('NFD', text)
					   if unicodedata.category(ch) != 'Mn')

	@staticmethod
	def split_on_punctuation(text):
		words = []
		new_word = True
		for ch in text:
			if is_punctuation(ch):
				words.append([ch])
				new_word = True
			else:
				if new_word:
					words.append([])
				new_word = False
				words[-1].append(ch)
		return [''.join(w) for w in words]


class WordpieceTokenizer:
	def __init__(self, vocab, unk_token='[UNK]', max_input_chars_per_word=100,
				 prefix='##'):
		self.vocab = vocab
		self.unk_token = unk_token
		self.max_chars = max_input_chars_per_word
		self.prefix = prefix

	def tokenize(self, text):
		out = []
		for token in text.split():
			chars = list(token)
			if len(chars) > self.max_chars:
				out.append(self.unk_token)
				continue
			pieces = []
			start = 0
			bad = False
			while start < len(chars):
				end = len(chars)
				found = None
				while start < end:
					sub = ''.join(chars[start:end])
					if start > 0:
						sub = self.prefix + sub
					if sub in self.vocab:
						found = sub
						break
					end -= 1
				if found is None:
					bad = True
					break
				pieces.append(found)
				start = end
			out.extend([self.unk_token] if bad else pieces)
		return out


class BertTokenizer:
	"""vocab: token -> id; encode gives [CLS] ... [SEP] cut to max_length"""

	def __init__(self, vocab, do_lower_case=True, strip_accents=None,
				 tokenize_chinese_chars=True, max_length=0):
		self.vocab = vocab
		self.inv = {i: t for t, i in vocab.items()}
		self.basic = BasicTokenizer(do_lower_case, strip_accents,
									tokenize_chinese_chars)
		self.wordpiece = WordpieceTokenizer(vocab)
		self.max_length = max_length

	def tokens(self, text):
		out = []
		for t in self.basic.tokenize(text):
			out.extend(self.wordpiece.tokenize(t))
		return out

	def encode(self, text, add_special=True):
		ids = [self.vocab[t] for t in self.tokens(text)]
		if add_special:
			if self.max_length:
				ids = ids[:self.max_length - 2]
			return [self.vocab['[CLS]']] + ids + [self.vocab['[SEP]']]
		if self.max_length:
			ids = ids[:self.max_length]
		return ids

	def decode(self, ids):
		"""Hugging Face's WordPiece decoder (no clean-up)"""
		out = []
		for i, t in enumerate(self.inv[x] for x in ids):
			if i > 0:
				if t.startswith('##'):
					t = t[2:]
				else:
					t = ' ' + t
			out.append(t)
		return ''.join(out)

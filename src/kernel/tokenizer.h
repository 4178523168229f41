/*
 * tokenizer.h
 *		Text to token ids and back, for the text models: GPT-2's byte-level
 *		BPE (tokenizer_bpe*.c) and BERT's WordPiece (tokenizer_wordpiece*.c),
 *		behind one interface.
 *
 * Building.  maas_tokenizer_build() takes the "tokenizer" object of a model
 * config, parsed by maas_json_parse(), in any of these forms:
 *
 *	GPT-2's files	{"vocab": <vocab.json: object token -> id>,
 *					 "merges": "<merges.txt text>"}
 *	BERT's files	{"vocab": "<vocab.txt text: one token a line, id = line>",
 *					 "do_lower_case": true, "strip_accents": null,
 *					 "tokenize_chinese_chars": true,
 *					 "unk_token": "[UNK]", "cls_token": "[CLS]",
 *					 "sep_token": "[SEP]", "pad_token": "[PAD]",
 *					 "mask_token": "[MASK]", "max_input_chars_per_word": 100}
 *					(every key but "vocab" optional, defaults as shown, as in
 *					Hugging Face's BertTokenizer)
 *	tokenizer.json	Hugging Face's single file: {"model": {"type": "BPE" |
 *					"WordPiece", ...}, "normalizer", "pre_tokenizer",
 *					"added_tokens", ...}
 *
 * plus "bos_token" / "eos_token" for BPE (default "<|endoftext|>" when the
 * vocabulary has it).  maas_bpe_build() and maas_wordpiece_build() take the
 * files themselves.  Every id 0 .. n_vocab - 1 must name exactly one token:
 * duplicate tokens or ids, negative ids and gaps are errors, as are merges
 * naming tokens the vocabulary lacks.  The result is immutable and holds
 * only maas_kalloc memory; encoding and decoding never change it.
 *
 * Encoding.  maas_tokenizer_encode() takes UTF-8 (invalid bytes are an
 * error, never trusted) and returns the ids:
 *
 *	BPE			GPT-2's pre-tokenizer pattern ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|
 *				 ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+), each piece's UTF-8
 *				bytes merged by rank exactly as GPT-2's encoder.py does.  No
 *				special tokens are added, and "<|endoftext|>" in the text is
 *				text (as in GPT-2's encoder.py and gpt-3-encoder).
 *	WordPiece	BERT's BasicTokenizer (clean, CJK padding, lower case and
 *				accent stripping per the flags, punctuation split), then
 *				greedy longest-match-first WordPiece with the continuation
 *				prefix ("##"), the unknown token for a word that cannot be
 *				covered or is longer than max_input_chars_per_word
 *				characters; [CLS] ... [SEP] around it when add_special.
 *
 * Decoding.  maas_tokenizer_decode() returns valid UTF-8, NUL-terminated.
 * BPE concatenates the tokens' bytes and replaces each maximal ill-formed
 * subsequence with U+FFFD (Python's bytes.decode("utf-8", "replace"), Rust's
 * String::from_utf8_lossy, the WHATWG decoder: all the same).  WordPiece
 * joins tokens with spaces and glues a continuation to the token before it,
 * without its prefix (Hugging Face's WordPiece decoder, no clean-up of
 * spaces before punctuation).
 *
 * Unicode.  Character classes, lower case and NFD come from unicode.h
 * (Unicode 14.0.0, Python 3.11's unicodedata).  GPT-2's \s is the
 * White_Space property (as in the regex module GPT-2 used, and in Hugging
 * Face's tokenizers); BERT's predicates are its own (see unicode.h).
 *
 * Limits.  Text up to MAAS_TOKENIZER_MAX_TEXT bytes a call (MAAS_ERR_LIMIT
 * beyond); ids per call are then at most that many; vocabularies of at most
 * MAAS_TOKENIZER_MAX_VOCAB tokens and MAAS_TOKENIZER_MAX_MERGES merges.
 * Memory of a call is linear in its text: about 32 bytes a byte of the
 * longest pre-token (BPE) or 40 of the longest whitespace-separated word
 * (WordPiece), 4 bytes an id, and for BPE texts of more than 64 pieces a
 * word cache of 400 kB.  Every loop whose length comes from the files or
 * the text calls maas_tick().
 */
#ifndef MAAS_TOKENIZER_H
#define MAAS_TOKENIZER_H

#include "json.h"
#include "kernel.h"

#define MAAS_TOKENIZER_MAX_TEXT		(16 * 1024 * 1024)
#define MAAS_TOKENIZER_MAX_VOCAB	(1 << 20)
#define MAAS_TOKENIZER_MAX_MERGES	(1 << 21)

typedef enum MaasTokenizerKind
{
	MAAS_TOKENIZER_BPE = 1,
	MAAS_TOKENIZER_WORDPIECE = 2
} MaasTokenizerKind;

typedef struct MaasBpe MaasBpe;
typedef struct MaasWordPiece MaasWordPiece;

typedef struct MaasTokenizer
{
	MaasTokenizerKind kind;
	int32_t		n_vocab;		/* ids are 0 .. n_vocab - 1 */

	/*
	 * Special tokens, -1 when there is none.  BPE: bos and eos (GPT-2: both
	 * <|endoftext|>, 50256).  WordPiece: unk, cls, sep, pad, mask.
	 */
	int32_t		unk_id;
	int32_t		cls_id;
	int32_t		sep_id;
	int32_t		pad_id;
	int32_t		mask_id;
	int32_t		bos_id;
	int32_t		eos_id;

	/*
	 * The most ids one encode returns, special tokens included (the model's
	 * max_position_embeddings or n_positions, as the caller passed it);
	 * 0 when unbounded.
	 */
	int32_t		max_length;

	/* one of these, by kind */
	const MaasBpe *bpe;
	const MaasWordPiece *wordpiece;
} MaasTokenizer;

/* BERT's flags for maas_wordpiece_build (a tokenizer object carries them) */
typedef struct MaasWordPieceOptions
{
	bool		do_lower_case;	/* default true */
	int			strip_accents;	/* -1: as do_lower_case (default), 0, 1 */
	bool		tokenize_chinese_chars; /* default true */
	bool		clean_text;		/* default true */
	int32_t		max_input_chars_per_word;	/* default 100 */
	const char *unk_token;		/* default "[UNK]": must be in the vocab */
	const char *cls_token;		/* default "[CLS]"; the next four may be */
	const char *sep_token;		/* absent from the vocabulary (id -1) */
	const char *pad_token;		/* "[PAD]" */
	const char *mask_token;		/* "[MASK]" */
	const char *continuing_subword_prefix;	/* default "##" */
} MaasWordPieceOptions;

extern void maas_wordpiece_defaults(MaasWordPieceOptions *opt);

/*
 * Build from a tokenizer object (any form above).  max_length is the
 * model's context (0: none).  NULL and err set on bad input:
 * MAAS_ERR_INVALID (with what and where), MAAS_ERR_UNSUPPORTED (a
 * tokenizer.json feature maas does not have), MAAS_ERR_LIMIT, or
 * MAAS_ERR_NOMEM.
 */
extern MaasTokenizer *maas_tokenizer_build(const MaasJson *spec,
										   int32_t max_length,
										   const MaasTick *tick,
										   MaasError *err);

/* GPT-2 from its files: vocab.json parsed, merges.txt as text */
extern MaasTokenizer *maas_bpe_build(const MaasJson *vocab,
									 const char *merges, size_t merges_len,
									 int32_t max_length,
									 const MaasTick *tick, MaasError *err);

/* BERT from vocab.txt; opt NULL for the defaults */
extern MaasTokenizer *maas_wordpiece_build(const char *vocab, size_t vocab_len,
										   const MaasWordPieceOptions *opt,
										   int32_t max_length,
										   const MaasTick *tick,
										   MaasError *err);

typedef struct MaasEncodeOptions
{
	bool		add_special;	/* WordPiece: [CLS] ... [SEP]; BPE: none */
	int32_t		max_length;		/* at most this many ids (0: no bound) */
	bool		truncate;		/* past max_length: cut (true) or fail
								 * with MAAS_ERR_LIMIT (false) */
} MaasEncodeOptions;

/*
 * The defaults for tok: WordPiece adds [CLS]/[SEP] (when it has both) and
 * truncates to tok->max_length, as Hugging Face does with truncation on;
 * BPE adds nothing and does not bound the ids.
 */
extern MaasEncodeOptions maas_encode_defaults(const MaasTokenizer *tok);

/*
 * The ids of text[0 .. len), in maas_kalloc memory (never NULL on success,
 * even for no ids), their count in *n_ids.  opt NULL for the defaults.
 * Truncation keeps the first ids (and, with add_special, the closing
 * [SEP]).  Errors: invalid UTF-8 (MAAS_ERR_INVALID, with the byte offset),
 * text too long or ids beyond max_length without truncate (MAAS_ERR_LIMIT),
 * MAAS_ERR_NOMEM.
 */
extern int32_t *maas_tokenizer_encode(const MaasTokenizer *tok,
									  const char *text, size_t len,
									  const MaasEncodeOptions *opt,
									  int32_t *n_ids,
									  const MaasTick *tick, MaasError *err);

/*
 * The text of ids[0 .. n): valid UTF-8, NUL-terminated, its length in *len.
 * It holds a NUL where the ids hold GPT-2's token for byte 0 (as GPT-2's
 * decoder gives "\x00"): a caller that needs text without NUL checks.
 * skip_special leaves out the special tokens (BPE: bos/eos and added
 * special tokens; WordPiece: the five in MaasTokenizer and added special
 * tokens, as Hugging Face's skip_special_tokens).  An
 * id outside 0 .. n_vocab - 1 is MAAS_ERR_INVALID.
 */
extern char *maas_tokenizer_decode(const MaasTokenizer *tok,
								   const int32_t *ids, size_t n,
								   bool skip_special, size_t *len,
								   const MaasTick *tick, MaasError *err);

/*
 * The bytes a token stands for (BPE: raw bytes, maybe part of a UTF-8
 * character; WordPiece: its text, prefix included), for stop strings and
 * streaming; NULL when id is out of range.
 */
extern const uint8_t *maas_tokenizer_token(const MaasTokenizer *tok,
										   int32_t id, size_t *len);

/*
 * The id of the token whose bytes (as maas_tokenizer_token gives them) are
 * token[0 .. len), or -1: for special tokens, once per model load (BPE
 * tokens that are not byte-level, such as added tokens outside the
 * vocabulary, are found by a scan).
 */
extern int32_t maas_tokenizer_lookup(const MaasTokenizer *tok,
									 const char *token, size_t len);

/*
 * The flat form of a tokenizer: one block of bytes holding every table,
 * position-independent, that maas_tokenizer_from_flat() runs on in place,
 * so that one copy (a file every backend maps) serves every process.  The
 * block is checked when it is read, as bytes from outside: its header, a
 * checksum of all of it, every section's bounds and every index a lookup
 * follows, so that damaged bytes give an error, never a crash or a loop.
 * Native byte order.  The layout's number, MAAS_TOKENIZER_FLAT_FORMAT, is
 * in the header and in the server's file names: a new layout takes the
 * next one, so that a block of the old one is never read.
 * maas_tokenizer_flatten() returns the block in maas_kalloc memory
 * (8-byte aligned), its size in *len.
 */
#define MAAS_TOKENIZER_FLAT_FORMAT	1

extern uint8_t *maas_tokenizer_flatten(const MaasTokenizer *tok, size_t *len,
									   MaasError *err);

/*
 * A tokenizer over bytes[0 .. len) (8-byte aligned, to outlive it), or NULL
 * and MAAS_ERR_INVALID (or MAAS_ERR_NOMEM) with what is wrong.  It is
 * immutable like a built one, and encodes and decodes the same.
 */
extern MaasTokenizer *maas_tokenizer_from_flat(const uint8_t *bytes, size_t len,
											   MaasError *err);

/* "bpe" or "wordpiece" */
extern const char *maas_tokenizer_kind_name(MaasTokenizerKind kind);

/*
 * Replace every maximal ill-formed subsequence of s[0 .. len) by U+FFFD,
 * appending to out (which must hold 3 * len bytes); returns the bytes
 * written.
 */
extern size_t maas_utf8_repair(const uint8_t *s, size_t len, uint8_t *out);

#endif							/* MAAS_TOKENIZER_H */

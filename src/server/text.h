/*
 * text.h
 *		What the text functions share (text.c, text_generate.c, and the
 *		batch path for text models).
 */
#ifndef MAAS_TEXT_H
#define MAAS_TEXT_H

#include "serve.h"

/* the kernel tick that checks for interrupts */
extern const MaasTick maas_text_tick;

/* resolve and check the model of a text function's call (see text.c) */
extern MaasServeState *maas_text_call(FunctionCallInfo fcinfo, int version_argno);
extern MaasServeState *maas_text_call_version(FunctionCallInfo fcinfo, int32 version);

/* the model's token ids of UTF-8 text; specials: [CLS]/[SEP] if it has them */
extern int32 *maas_text_encode(MaasServeState *st, const char *s, size_t len,
							   bool specials, int32 *n_ids);

/* an integer[] argument as the model's token ids, checked (range, NULLs) */
extern int32 *maas_text_ids_arg(FunctionCallInfo fcinfo, MaasServeState *st,
								int argno, int *n);

/* run a text model over one row of ids to a value (0: the output) */
extern const float *maas_text_run(MaasServeState *st, const int32 *ids, int n_ids,
								  int target);

/* maas_predict and friends over a text, for a text model (see text.c) */
extern Datum maas_text_predict(FunctionCallInfo fcinfo, MaasServeState *st,
							   MaasAnswer what);

/*
 * The tokenizer of a text model's config, for a context of max_length
 * (text_shared.c): share, when the server keeps shared copies, maps the
 * server's one copy of its tables (made by the first backend to ask);
 * otherwise built here, only its flat form kept, in the current context.
 * Raises when the config has no tokenizer or it does not build.
 */
extern const MaasTokenizer *maas_text_tokenizer(Jsonb *config, int32 max_length,
												bool share);

/* UTF-8 as text in the database encoding (NUL becomes U+FFFD) */
extern text *maas_text_result(const char *s, size_t len);

#endif							/* MAAS_TEXT_H */

/*
 * fuzz_remote.c
 *		libFuzzer target for the response parsers of remote models
 *		(src/kernel/remote_proto.c).
 *
 * The first three bytes choose the parser (chat, completions, embeddings,
 * KServe inference, KServe metadata), the rows asked for (1-8) and the
 * width (embedding dimensions 0-8, outputs a row 1-8); the rest is the
 * body.  On success every promise is checked: texts valid UTF-8 of their
 * stated length, every float finite, embeddings of the width asked or
 * found; on failure the message is non-empty, valid UTF-8, and the status
 * one a parser may give.  A broken promise traps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "remote_proto.h"
#include "unit.h"
#include "utf8.h"

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

static void
check_text(const MaasRemoteGenOutput *o)
{
	REQUIRE(o->text != NULL && o->len >= 0);
	REQUIRE(strlen(o->text) == (size_t) o->len);
	REQUIRE(maas_utf8_valid((const uint8_t *) o->text, (size_t) o->len));
	REQUIRE(o->finish_reason == NULL ||
			maas_utf8_valid((const uint8_t *) o->finish_reason, strlen(o->finish_reason)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	MaasError	err;
	const char *body;
	size_t		len;
	int			which;
	int			n;
	int			width;
	bool		ok = false;

	if (size < 3)
		return 0;
	which = data[0] % 5;
	n = 1 + data[1] % 8;
	width = data[2] % 9;
	body = (const char *) data + 3;
	len = size - 3;
	memset(&err, 0, sizeof(err));

	switch (which)
	{
		case 0:
			{
				MaasRemoteGenOutput o;

				ok = maas_openai_chat_response(body, len, &o, NULL, &err);
				if (ok)
				{
					check_text(&o);
					REQUIRE(o.prompt_tokens >= -1 && o.completion_tokens >= -1);
				}
				break;
			}
		case 1:
			{
				MaasRemoteGenOutput o[8];

				ok = maas_openai_completions_response(body, len, n, o, NULL, &err);
				for (int i = 0; ok && i < n; i++)
					check_text(&o[i]);
				break;
			}
		case 2:
			{
				int			d = width;
				float	   *e = maas_openai_embeddings_response(body, len, n, &d, NULL, &err);

				ok = e != NULL;
				if (ok)
				{
					REQUIRE(d > 0 && (width == 0 || d == width));
					REQUIRE((size_t) d <= len);
					for (size_t i = 0; i < (size_t) n * (size_t) d; i++)
						REQUIRE(isfinite(e[i]));
				}
				break;
			}
		case 3:
			{
				float		out[64];
				int			n_out = width == 0 ? 1 : width;

				for (int i = 0; i < 64; i++)
					out[i] = NAN;
				ok = maas_kserve_infer_response(body, len, (data[2] & 0x80) ? "y" : NULL,
												n, n_out, out, NULL, &err);
				for (int i = 0; ok && i < n * n_out; i++)
					REQUIRE(isfinite(out[i]));
				break;
			}
		case 4:
			{
				MaasKserveMeta m;

				ok = maas_kserve_metadata_parse(body, len, &m, &err);
				if (ok)
				{
					REQUIRE(m.name != NULL && m.n_inputs >= 0 && m.n_outputs >= 0);
					for (int i = 0; i < m.n_inputs; i++)
						REQUIRE(m.inputs[i].n_dims >= 0 &&
								m.inputs[i].n_dims <= MAAS_KSERVE_MAX_DIMS);
					if (!maas_kserve_metadata_check(&m, 1 + width, NULL, n, &err))
						REQUIRE(err.status == MAAS_ERR_INVALID && strlen(err.msg) > 0);
				}
				break;
			}
	}
	if (!ok)
	{
		REQUIRE(err.status == MAAS_ERR_INVALID || err.status == MAAS_ERR_NOMEM ||
				err.status == MAAS_ERR_LIMIT);
		REQUIRE(strlen(err.msg) > 0);
		REQUIRE(maas_utf8_valid((const uint8_t *) err.msg, strlen(err.msg)));
	}
	arena_reset();
	return 0;
}

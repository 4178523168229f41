/*
 * pglz.c
 *		PostgreSQL's pglz decompression, strict, and a batch of compressed
 *		arrays decoded on the pool's threads (see pglz.h).
 */
#include "pglz.h"

#include <string.h>

#include "net.h"
#include "threads.h"

/*
 * Copy len bytes from off bytes back: a reference shorter than its offset
 * is one copy; a longer one repeats the off bytes before it, which is the
 * same as copying the pattern, then twice the pattern, and so on.
 */
static inline void
copy_back(uint8_t *dp, size_t off, size_t len)
{
	while (off < len)
	{
		memcpy(dp, dp - off, off);
		dp += off;
		len -= off;
		off += off;
	}
	memcpy(dp, dp - off, len);
}

bool
maas_pglz_decode(const uint8_t *src, size_t srclen, uint8_t *dst, size_t rawlen)
{
	const uint8_t *sp = src;
	const uint8_t *send = src + srclen;
	uint8_t    *dp = dst;
	uint8_t    *dend = dst + rawlen;

	while (sp < send && dp < dend)
	{
		unsigned	ctrl = *sp++;

		/* eight literals, the common case of incompressible stretches */
		if (ctrl == 0 && send - sp >= 8 && dend - dp >= 8)
		{
			memcpy(dp, sp, 8);
			sp += 8;
			dp += 8;
			continue;
		}
		for (int item = 0; item < 8 && sp < send && dp < dend; item++, ctrl >>= 1)
		{
			size_t		len,
						off;

			if (!(ctrl & 1))
			{
				*dp++ = *sp++;
				continue;
			}
			if (send - sp < 2)
				return false;
			len = (sp[0] & 0x0f) + 3;
			off = ((size_t) (sp[0] & 0xf0) << 4) | sp[1];
			sp += 2;
			if (len == 18)
			{
				if (sp == send)
					return false;
				len += *sp++;
			}
			if (off == 0 || off > (size_t) (dp - dst) || len > (size_t) (dend - dp))
				return false;
			copy_back(dp, off, len);
			dp += len;
		}
	}
	return sp == send && dp == dend;
}

/* the least output a thread of maas_pglz_arrays is woken for */
#define PART_BYTES	(64 * 1024)

typedef struct ArraysJob
{
	MaasPglzArray *a;
	int			n;
	const void *head;
	size_t		head_len;
	size_t		cmp_len;
	size_t		n_floats;
	uint8_t    *scratch;
} ArraysJob;

static void
arrays_part(void *arg, int t, int m)
{
	const ArraysJob *j = arg;
	size_t		raw = j->head_len + sizeof(float) * j->n_floats;
	uint8_t    *buf = j->scratch + raw * t;
	int64_t		begin,
				end;

	maas_split_range(j->n, t, m, &begin, &end);
	for (int64_t i = begin; i < end; i++)
	{
		MaasPglzArray *a = &j->a[i];

		a->ok = maas_pglz_decode(a->src, a->srclen, buf, raw) &&
			memcmp(buf, j->head, j->cmp_len) == 0;
		if (!a->ok)
			continue;
		memcpy(a->row, buf + j->head_len, sizeof(float) * j->n_floats);
		a->ok = maas_all_finite(a->row, j->n_floats);
	}
}

void
maas_pglz_arrays(MaasPglzArray *a, int n, const void *head, size_t head_len,
				 size_t cmp_len, size_t n_floats, uint8_t *scratch, int threads)
{
	ArraysJob	j = {a, n, head, head_len, cmp_len, n_floats, scratch};
	size_t		bytes = (size_t) n * (head_len + sizeof(float) * n_floats);

	/* a thread is woken for a part worth it */
	if ((size_t) threads > bytes / PART_BYTES)
		threads = (int) (bytes / PART_BYTES);
	if (threads <= 1)
		arrays_part(&j, 0, 1);
	else
		maas_parallel(threads, arrays_part, &j);
}

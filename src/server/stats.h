/*
 * stats.h
 *		Serving statistics: what each call site counts, and how it gets to
 *		shared memory.
 *
 * A call site (MaasServeState) that has resolved a model version carries a
 * MaasStatsLocal.  Each call brackets its work with maas_stats_begin() and
 * maas_stats_end(); these only bump counters in backend-local memory and
 * add the rows' features to running sums (every row's for the first
 * MAAS_STATS_EXACT_ROWS rows of a statement, then a random one in about
 * MAAS_STATS_SAMPLE_GAP: a mean needs no more).  maas_stats_flush() moves the
 * lot into the shared table (stats.c) once per statement: when the call
 * site re-resolves (a new snapshot, another model or version) and when it
 * goes away, which happens on error too.  A call that began and never
 * ended raised an error: errors are the calls started less those ended.
 *
 * A batch path calls maas_stats_begin(st, true) once per batch and
 * maas_stats_end(st, rows, x, out) with all the batch's rows.
 */
#ifndef MAAS_STATS_H
#define MAAS_STATS_H

#include "serve.h"

#include "portability/instr_time.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

/* per-row calls read the clock on one call in this many (a power of 2) */
#define MAAS_STATS_TIME_EVERY	32

/* rows of a statement whose features are all added to the drift sums */
#define MAAS_STATS_EXACT_ROWS	1024

/* beyond them, the mean gap between rows whose features are added */
#define MAAS_STATS_SAMPLE_GAP	8

/* classes whose predictions are counted, per version */
#define MAAS_STATS_CLASSES		64

/* settings (stats.c) */
extern int	maas_stats_max;
extern int	maas_stats_features;
extern bool maas_stats_track;
extern bool maas_stats_save;

typedef struct MaasStatsLocal
{
	/* the version counted, as the call site resolved it */
	Oid			catalog;
	int64		version_id;
	int32		version;
	char		model[MAAS_MODEL_NAME_MAX + 1];
	int			n_in;			/* features a row has */
	int			n_out;			/* outputs a row has */
	int			n_features;		/* features tracked: min(n_in, stats_features) */
	int			n_classes;		/* classes of a classifier, 0 for regression */
	bool		sigmoid_binary; /* one output, p(class 1) */

	/* the call under way */
	bool		timed;			/* its clock was read at start */
	instr_time	start;

	/* since the last flush */
	int64		started;		/* calls begun */
	int64		calls;			/* calls that returned; the others raised errors */
	int64		rows;			/* rows scored by the calls that returned */
	int64		sampled;		/* rows added to the sums below */
	int			gap;			/* rows until the next one sampled */
	uint32		rng;			/* xorshift state for the gaps */
	double		first_ms;		/* the first call, timed (it may be slow) */
	bool		first_timed;
	int64		timed_calls;	/* the other calls timed */
	double		timed_ms;
	double		max_ms;
	double	   *shift;			/* n_features: the first row seen */
	double	   *sum;			/* n_features: sum of x - shift */
	double	   *sumsq;			/* n_features: sum of (x - shift)^2 */
	int64		classes[MAAS_STATS_CLASSES];	/* predictions per class */
	double		out_shift;		/* regression: the output, as the features */
	double		out_sum;
	double		out_sumsq;
} MaasStatsLocal;

extern void maas_stats_init(void);

/* set up counting for the version st has just resolved (flushing the old) */
extern void maas_stats_attach(MaasServeState *st);

/* move what st counted into shared memory; never raises */
extern void maas_stats_flush(MaasServeState *st);

/* rows scored, and the features and outputs of each (maas_stats_end) */
extern void maas_stats_rows(MaasStatsLocal *s, int rows, const float *x,
							const float *out);

extern void maas_stats_timed(MaasStatsLocal *s);

/*
 * A call on st starts (after maas_serve_resolve).  timed: read the clock
 * for this call; otherwise one per-row call in MAAS_STATS_TIME_EVERY is.
 */
static inline void
maas_stats_begin(MaasServeState *st, bool timed)
{
	MaasStatsLocal *s = st->stats;

	if (s == NULL)
		return;
	if (timed || (s->started & (MAAS_STATS_TIME_EVERY - 1)) == 0)
	{
		s->timed = true;
		INSTR_TIME_SET_CURRENT(s->start);
	}
	else if (unlikely(s->timed))
		s->timed = false;		/* the timed call before raised an error */
	s->started++;
}

/*
 * The call ends, having scored rows rows: x holds their n_in features and
 * out their n_out outputs, row after row.
 */
static inline void
maas_stats_end(MaasServeState *st, int rows, const float *x, const float *out)
{
	MaasStatsLocal *s = st->stats;

	if (s == NULL)
		return;
	s->calls++;
	if (unlikely(s->timed))
		maas_stats_timed(s);
	/* the common case of a per-row call on a regression model, inline */
	if (rows == 1 && s->n_classes == 0 && s->gap > 1 &&
		s->sampled >= MAAS_STATS_EXACT_ROWS)
	{
		s->gap--;
		s->rows++;
		return;
	}
	maas_stats_rows(s, rows, x, out);
}

/*
 * The shared table (stats.c writes it, stats_views.c reads it).
 */
typedef struct MaasStatsKey
{
	Oid			dbid;
	Oid			catalog;		/* OID of maas.version */
	int64		version_id;
} MaasStatsKey;

typedef struct MaasStatsEntry
{
	MaasStatsKey key;			/* hash key: must be first */
	slock_t		mutex;			/* guards everything below but the names */
	char		model[MAAS_MODEL_NAME_MAX + 1];
	int32		version;
	int32		n_in;
	int32		n_features;		/* features tracked in data */
	int32		n_classes;		/* classes counted, 0 for regression */
	int64		calls;
	int64		errors;
	int64		rows;
	int64		sampled;		/* rows the moments below are over */
	double		total_ms;
	double		max_ms;
	TimestampTz last_call;
	TimestampTz stats_since;
	double		out_mean;		/* regression: the predicted values */
	double		out_m2;
	int64		classes[MAAS_STATS_CLASSES];
	double		data[FLEXIBLE_ARRAY_MEMBER];	/* n_features means, then M2s */
} MaasStatsEntry;

typedef struct MaasStatsShared
{
	LWLock	   *lock;			/* the table's shape */
	slock_t		mutex;			/* guards the two below */
	TimestampTz stats_reset;
	int64		dealloc;		/* times entries were evicted */
	int			n_features;		/* maas.stats_features at startup */
} MaasStatsShared;

extern MaasStatsShared *maas_stats_shared;
extern HTAB *maas_stats_hash;

extern Size maas_stats_entry_size(void);
extern TimestampTz maas_stats_remove(const char *model, int32 version);

#endif							/* MAAS_STATS_H */

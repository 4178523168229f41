/*
 * stats.c
 *		Serving statistics in shared memory: the table, how call sites add
 *		to it, eviction, reset, and saving it across a clean restart.
 *
 * The recipe is pg_stat_statements'.  With maas in shared_preload_libraries
 * the postmaster reserves a hash table of maas.stats_max entries, keyed by
 * (database, OID of maas.version, version id): a version id is never
 * reused, and the OID keeps a dropped and re-created extension from
 * inheriting its predecessor's counters.  One LWLock (tranche "maas_stats")
 * guards the table's shape: shared to find an entry and update it, which
 * each entry's spinlock serializes; exclusive to add, evict or remove
 * entries.  An entry carries fixed counters plus, for the first
 * maas.stats_features features, their running mean and M2, and counts of
 * predicted classes.
 *
 * Call sites count in local memory and flush once per statement
 * (stats.h), so a row costs a few additions; a flush costs one shared lock
 * and one spinlock.  When the table is full, the least recently called
 * twentieth of the entries is evicted.
 *
 * At a clean shutdown the postmaster writes the table to
 * pg_stat/maas_stats.stat; at startup it reads and deletes it.  After a
 * crash there is no file, so counting starts again from zero: a backend
 * crash reinitializes shared memory without saving it, and after an
 * immediate shutdown (which will need crash recovery) the control file
 * does not say "shut down", so nothing is written either, as with
 * PostgreSQL's own statistics.  A standby keeps its own table, for its
 * own traffic.
 */
#include "serve.h"

#include <math.h>

#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "drift.h"
#include "stats.h"

#define STATS_FILE			PGSTAT_STAT_PERMANENT_DIRECTORY "/maas_stats.stat"
#define STATS_FILE_MAGIC	0x6D616173	/* "maas" */
#define STATS_FILE_FORMAT	2

int			maas_stats_max = 256;
int			maas_stats_features = 1024;
bool		maas_stats_track = true;
bool		maas_stats_save = true;

MaasStatsShared *maas_stats_shared = NULL;
HTAB	   *maas_stats_hash = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void stats_shmem_request(void);
static void stats_shmem_startup(void);
static void stats_shmem_shutdown(int code, Datum arg);

/* bytes of one entry: the fixed part, then the features, then the classes */
Size
maas_stats_entry_size(void)
{
	return MAXALIGN(add_size(offsetof(MaasStatsEntry, data),
							 mul_size(2 * sizeof(double), maas_stats_features)));
}

static Size
stats_memsize(void)
{
	return add_size(MAXALIGN(sizeof(MaasStatsShared)),
					hash_estimate_size(maas_stats_max, maas_stats_entry_size()));
}

void
maas_stats_init(void)
{
	DefineCustomBoolVariable("maas.stats_track",
							 "Counts calls of the prediction functions in maas.stats.",
							 NULL,
							 &maas_stats_track,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("maas.stats_save",
							 "Saves serving statistics across server shutdowns.",
							 NULL,
							 &maas_stats_save,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/* the hourly windows: their settings and table (stats_window.c) */
	maas_stats_window_init();

	/*
	 * The shared table exists only when loaded with the postmaster, and only
	 * then can its size be set.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("maas.stats_max",
							"Model versions whose serving statistics are kept.",
							"Counted per database and version; the least recently "
							"called are evicted beyond it.",
							&maas_stats_max,
							256, 16, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.stats_features",
							"Features per model version whose serving distribution is kept for drift.",
							"Each takes 16 bytes of shared memory in each entry; "
							"features beyond it are not compared with training.",
							&maas_stats_features,
							1024, 0, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
#else
	stats_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

static void
stats_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(stats_memsize());
	RequestNamedLWLockTranche("maas_stats", 1);
}

static void stats_load(void);

static void
stats_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	maas_stats_shared = NULL;
	maas_stats_hash = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	maas_stats_shared = ShmemInitStruct("maas stats", sizeof(MaasStatsShared), &found);
	if (!found)
	{
		maas_stats_shared->lock = &(GetNamedLWLockTranche("maas_stats"))->lock;
		SpinLockInit(&maas_stats_shared->mutex);
		maas_stats_shared->stats_reset = GetCurrentTimestamp();
		maas_stats_shared->dealloc = 0;
		maas_stats_shared->n_features = maas_stats_features;
	}
	info.keysize = sizeof(MaasStatsKey);
	info.entrysize = maas_stats_entry_size();
	maas_stats_hash = ShmemInitHash("maas stats hash", maas_stats_max, maas_stats_max,
									&info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);

	/* the postmaster saves the table when it shuts down */
	if (!IsUnderPostmaster)
		on_shmem_exit(stats_shmem_shutdown, (Datum) 0);

	/* backends attach; the postmaster (or a single-user backend) loads */
	if (!found)
		stats_load();
}

/* ------------------------------------------------------------------------
 * Entries
 * ------------------------------------------------------------------------
 */

static int
entry_cmp_last_call(const void *a, const void *b)
{
	TimestampTz ta = (*(MaasStatsEntry *const *) a)->last_call;
	TimestampTz tb = (*(MaasStatsEntry *const *) b)->last_call;

	return ta < tb ? -1 : ta > tb ? 1 : 0;
}

/*
 * Make room: evict the least recently called twentieth of the entries (at
 * least one).  Caller holds the lock exclusively.  Never raises: without
 * memory for sorting, it evicts whatever the scan meets first.
 */
static void
entry_evict(void)
{
	long		n = hash_get_num_entries(maas_stats_hash);
	long		victims = Max(n / 20, 1);
	MaasStatsEntry **all;
	HASH_SEQ_STATUS hs;
	MaasStatsEntry *e;
	long		i = 0;

	all = palloc_extended(sizeof(MaasStatsEntry *) * Max(n, 1), MCXT_ALLOC_NO_OOM);
	hash_seq_init(&hs, maas_stats_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (all == NULL)
		{
			hash_seq_term(&hs);
			hash_search(maas_stats_hash, &e->key, HASH_REMOVE, NULL);
			i = victims;
			break;
		}
		all[i++] = e;
	}
	if (all != NULL)
	{
		qsort(all, i, sizeof(MaasStatsEntry *), entry_cmp_last_call);
		victims = Min(victims, i);
		for (long j = 0; j < victims; j++)
			hash_search(maas_stats_hash, &all[j]->key, HASH_REMOVE, NULL);
		pfree(all);
	}
	SpinLockAcquire(&maas_stats_shared->mutex);
	maas_stats_shared->dealloc++;
	SpinLockRelease(&maas_stats_shared->mutex);
}

/*
 * The entry for key, made (evicting if need be) when missing.  Caller holds
 * the lock exclusively.  NULL only if the table cannot take it.
 */
static MaasStatsEntry *
entry_alloc(const MaasStatsKey *key, const char *model, int32 version,
			int n_in, int n_features, int n_classes, TimestampTz now)
{
	MaasStatsEntry *e;
	bool		found;

	if (hash_get_num_entries(maas_stats_hash) >= maas_stats_max)
		entry_evict();
	e = hash_search(maas_stats_hash, key, HASH_ENTER_NULL, &found);
	if (e == NULL || found)
		return e;

	memset((char *) e + sizeof(MaasStatsKey), 0,
		   maas_stats_entry_size() - sizeof(MaasStatsKey));
	SpinLockInit(&e->mutex);
	strlcpy(e->model, model, sizeof(e->model));
	e->version = version;
	e->n_in = n_in;
	e->n_features = Min(n_features, maas_stats_shared->n_features);
	e->n_classes = Min(n_classes, MAAS_STATS_CLASSES);
	e->stats_since = now;
	return e;
}

/* ------------------------------------------------------------------------
 * Counting (stats.h)
 * ------------------------------------------------------------------------
 */

/* the call site has resolved a version: count for it from now on */
void
maas_stats_attach(MaasServeState *st)
{
	MaasStatsLocal *s = st->stats;
	const MaasModel *m = st->m;

	if (s != NULL && s->catalog == st->ref.catalog && s->version_id == st->ref.version_id)
		return;
	if (s != NULL)
	{
		maas_stats_flush(st);
		if (s->shift)
			pfree(s->shift);
		pfree(s);
		st->stats = NULL;
	}
	if (maas_stats_hash == NULL || !maas_stats_track)
		return;

	s = MemoryContextAllocZero(st->cxt, sizeof(MaasStatsLocal));
	s->catalog = st->ref.catalog;
	s->version_id = st->ref.version_id;
	s->version = st->ref.version;
	strlcpy(s->model, st->model, sizeof(s->model));
	s->n_in = m->net.n_in;
	s->n_out = m->net.n_out;
	s->n_features = Min(m->net.n_in, maas_stats_shared->n_features);
	s->n_classes = m->task == MAAS_TASK_CLASSIFICATION || m->task == MAAS_TASK_CLUSTERING ?
		m->n_classes : 0;
	s->sigmoid_binary = m->sigmoid_binary;
	s->nearest = m->task == MAAS_TASK_CLUSTERING;
	s->missing_ok = m->missing_ok;
	s->outputs = m->task == MAAS_TASK_REGRESSION;
	s->rng = (uint32) (MyProcPid * 2654435761u) ^ (uint32) s->version_id;
	if (s->rng == 0)
		s->rng = 1;
	if (s->n_features > 0)
	{
		s->shift = MemoryContextAllocZero(st->cxt, sizeof(double) * 3 * s->n_features);
		s->sum = s->shift + s->n_features;
		s->sumsq = s->sum + s->n_features;
	}
	st->stats = s;
}

/* a timed call ends: add its time */
void
maas_stats_timed(MaasStatsLocal *s)
{
	instr_time	now;
	double		ms;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, s->start);
	ms = INSTR_TIME_GET_MILLISEC(now);
	s->timed = false;
	if (s->started == 1)
	{
		s->first_ms = ms;
		s->first_timed = true;
	}
	else
	{
		s->timed_calls++;
		s->timed_ms += ms;
	}
	if (ms > s->max_ms)
		s->max_ms = ms;
}

/* the next gap between sampled rows: 1 to 2 * MAAS_STATS_SAMPLE_GAP - 1 */
static int
next_gap(MaasStatsLocal *s)
{
	uint32		x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return 1 + (int) (x % (2 * MAAS_STATS_SAMPLE_GAP - 1));
}

/* add one row to the moments of the features and of a regression output */
static void
add_sample(MaasStatsLocal *s, const float *x, const float *out)
{
	if (s->sampled == 0)
	{
		for (int j = 0; j < s->n_features; j++)
			s->shift[j] = x[j];
		s->out_shift = s->outputs ? out[0] : 0;
	}
	s->sampled++;
	if (s->n_features > 0)
		maas_moments_add(s->n_features, 1, s->n_in, x, s->shift, s->sum, s->sumsq);
	if (s->outputs)
	{
		double		d = (double) out[0] - s->out_shift;

		s->out_sum += d;
		s->out_sumsq += d * d;
	}
}

void
maas_stats_rows(MaasStatsLocal *s, int rows, const float *x, const float *out)
{
	for (int r = 0; r < rows; r++)
	{
		const float *o = out + (size_t) r * s->n_out;

		if (s->n_classes > 0)
		{
			int			cls = s->sigmoid_binary ? (o[0] >= 0.5f ? 1 : 0) :
				maas_argmax(o, s->n_classes);

			if (s->nearest)
			{
				cls = 0;
				for (int j = 1; j < s->n_classes; j++)
					if (o[j] < o[cls])
						cls = j;
			}
			if (cls < MAAS_STATS_CLASSES)
				s->classes[cls]++;
		}
		/* a missing value (trees) would make the moments NaN */
		if (s->missing_ok && s->n_features > 0 &&
			!maas_all_finite(x + (size_t) r * s->n_in, (size_t) s->n_features))
			continue;
		if (s->sampled >= MAAS_STATS_EXACT_ROWS && --s->gap > 0)
			continue;
		if (s->sampled >= MAAS_STATS_EXACT_ROWS)
			s->gap = next_gap(s);
		add_sample(s, x + (size_t) r * s->n_in, o);
	}
	s->rows += rows;
}

/*
 * Add what the call site counted to its shared entry and start counting
 * afresh.  Runs from memory context callbacks, also while a transaction
 * aborts, so it raises nothing: if the table cannot take the entry, the
 * counts are dropped.
 */
void
maas_stats_flush(MaasServeState *st)
{
	MaasStatsLocal *s = st->stats;
	MaasStatsKey key;
	MaasStatsEntry *e;
	double		total_ms;
	double		out_mean = 0;
	double		out_m2 = 0;
	TimestampTz now;

	if (s == NULL || s->started == 0)
		return;
	s->timed = false;
	if (maas_stats_hash == NULL)
		goto done;

	/* local moments, computed before taking any lock */
	if (s->sampled > 0)
	{
		if (s->n_features > 0)
			maas_moments_finish(s->n_features, s->sampled, s->shift, s->sum, s->sumsq);
		if (s->outputs)
			maas_moments_finish(1, s->sampled, &s->out_shift, &s->out_sum, &s->out_sumsq);
		out_mean = s->out_sum;
		out_m2 = s->out_sumsq;
	}
	/*
	 * The first call of a statement is always timed and counted as it is
	 * (it may pay for loading BLAS or warming caches); the calls sampled
	 * after it stand for the rest.
	 */
	if (s->timed_calls > 0)
		total_ms = (s->first_timed ? s->first_ms : 0) +
			(s->timed_ms / s->timed_calls) * (s->calls - (s->first_timed ? 1 : 0));
	else
		total_ms = s->first_timed ? s->first_ms * s->calls : 0;
	now = GetCurrentTimestamp();

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.catalog = s->catalog;
	key.version_id = s->version_id;

	LWLockAcquire(maas_stats_shared->lock, LW_SHARED);
	e = hash_search(maas_stats_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		LWLockRelease(maas_stats_shared->lock);
		LWLockAcquire(maas_stats_shared->lock, LW_EXCLUSIVE);
		e = entry_alloc(&key, s->model, s->version, s->n_in, s->n_features,
						s->n_classes, now);
	}
	if (e != NULL)
	{
		double	   *mean = (double *) e->data;
		double	   *m2 = mean + e->n_features;
		int			nf = Min(e->n_features, s->n_features);
		int			nc = Min(e->n_classes, s->n_classes);

		SpinLockAcquire(&e->mutex);
		e->calls += s->calls;
		e->errors += s->started - s->calls;
		e->total_ms += total_ms;
		if (s->max_ms > e->max_ms)
			e->max_ms = s->max_ms;
		e->last_call = now;
		if (s->sampled > 0)
		{
			maas_moments_merge(nf, e->sampled, mean, m2, s->sampled, s->sum, s->sumsq);
			maas_moments_merge(1, e->sampled, &e->out_mean, &e->out_m2, s->sampled,
							   &out_mean, &out_m2);
			e->sampled += s->sampled;
		}
		for (int c = 0; c < nc; c++)
			e->classes[c] += s->classes[c];
		e->rows += s->rows;
		e->tokens += s->tokens;
		e->compared += s->compared;
		e->agreed += s->agreed;
		e->abs_diff += s->abs_diff;
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(maas_stats_shared->lock);
	maas_window_add(&key, s, total_ms, out_mean, out_m2, now);

done:
	s->started = s->calls = s->rows = s->tokens = s->sampled = s->timed_calls = 0;
	s->compared = s->agreed = 0;
	s->abs_diff = 0;
	s->gap = 0;
	s->timed_ms = s->max_ms = s->first_ms = 0;
	s->first_timed = false;
	if (s->n_features > 0)
		memset(s->sum, 0, sizeof(double) * 2 * s->n_features);
	memset(s->classes, 0, sizeof(s->classes));
	s->out_sum = s->out_sumsq = 0;
}

/*
 * Remove the entries of this database for model (NULL: every entry of
 * every database) and version (0: all versions).  Returns the reset time.
 */
TimestampTz
maas_stats_remove(const char *model, int32 version)
{
	HASH_SEQ_STATUS hs;
	MaasStatsEntry *e;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(maas_stats_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&hs, maas_stats_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (model != NULL &&
			(e->key.dbid != MyDatabaseId || strcmp(e->model, model) != 0 ||
			 (version != 0 && e->version != version)))
			continue;
		hash_search(maas_stats_hash, &e->key, HASH_REMOVE, NULL);
	}
	if (model == NULL)
	{
		SpinLockAcquire(&maas_stats_shared->mutex);
		maas_stats_shared->stats_reset = now;
		maas_stats_shared->dealloc = 0;
		SpinLockRelease(&maas_stats_shared->mutex);
	}
	LWLockRelease(maas_stats_shared->lock);
	maas_window_remove(model, version);
	return now;
}

/* ------------------------------------------------------------------------
 * Saving across a clean restart
 *
 * The file (stats_file.c): a header (magic, format, the size of an entry's
 * fixed part, the number of entries, then here the reset time and
 * dealloc), then each entry's fixed part followed by its n_features means
 * and M2s.  Entries keep their own feature count, so maas.stats_features
 * may change between runs.
 * ------------------------------------------------------------------------
 */

typedef struct StatsFileExtra
{
	TimestampTz stats_reset;
	int64		dealloc;
} StatsFileExtra;

/*
 * Did the server just shut down cleanly?  An immediate shutdown also exits
 * the postmaster normally, but leaves the control file "in production"
 * (or "in archive recovery" on a standby): the next start recovers from a
 * crash, and the counters should start afresh.
 */
bool
maas_stats_shut_down_cleanly(void)
{
	bool		crc_ok;
	ControlFileData *cf = get_controlfile(DataDir, &crc_ok);

	return crc_ok && (cf->state == DB_SHUTDOWNED ||
					  cf->state == DB_SHUTDOWNED_IN_RECOVERY);
}

static bool
stats_head_ok(const void *head)
{
	return MAAS_STATS_COUNTS_OK((const MaasStatsEntry *) head);
}

static const MaasStatsFile stats_file = {
	STATS_FILE, STATS_FILE_MAGIC, STATS_FILE_FORMAT, stats_head_ok,
	sizeof(StatsFileExtra), MAAS_STATS_FILE_LAYOUT(MaasStatsEntry)
};

static void
stats_shmem_shutdown(int code, Datum arg)
{
	StatsFileExtra extra;

	/* after a crash the table may be inconsistent: do not save it */
	if (code != 0 || !maas_stats_shared || !maas_stats_hash)
		return;
	memset(&extra, 0, sizeof(extra));
	extra.stats_reset = maas_stats_shared->stats_reset;
	extra.dealloc = maas_stats_shared->dealloc;
	maas_stats_file_save(&stats_file, maas_stats_hash, &extra);
}

static void
stats_load(void)
{
	StatsFileExtra extra;

	if (maas_stats_file_load(&stats_file, maas_stats_hash, maas_stats_max,
							 maas_stats_shared->n_features, &extra))
	{
		maas_stats_shared->stats_reset = extra.stats_reset;
		maas_stats_shared->dealloc = extra.dealloc;
	}
}

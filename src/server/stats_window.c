/*
 * stats_window.c
 *		Windowed serving statistics: what maas.stats and maas.drift count,
 *		also per hour, for the last maas.stats_window_hours hours.
 *
 * A second shared hash table next to the one of stats.c, by the same
 * recipe, keyed by (database, OID of maas.version, version id, start of
 * the hour).  maas_stats_flush() adds a statement's counts to the
 * version's entry in stats.c and then, here, to the window of the hour
 * the flush happens in: so a statement is counted in the hour it ends.
 * A window keeps what a stats entry keeps, but tracks only the first
 * maas.stats_window_features features (each 16 bytes), so that memory
 * stays bounded: maas.stats_window_max windows of a fixed size, reserved
 * at server start.
 *
 * Windows older than maas.stats_window_hours are dropped when a new
 * window is made and not shown by the views; when the table is full the
 * oldest window goes.  One LWLock (tranche "maas_stats_window") guards the
 * table's shape: shared to find a window and update it under its spinlock,
 * exclusive to add or remove windows.
 *
 * Windows are saved at a clean shutdown to pg_stat/maas_stats_window.stat
 * and loaded at startup, and start afresh after a crash, exactly like
 * stats.c's table (same conditions).
 *
 * maas.stats_window_test_offset (seconds, superuser) moves the clock the
 * windows are chosen and expired by, so that tests see the next hour or
 * yesterday without sleeping.
 */
#include "serve.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "drift.h"
#include "stats.h"

#define WINDOW_FILE			PGSTAT_STAT_PERMANENT_DIRECTORY "/maas_stats_window.stat"
#define WINDOW_FILE_MAGIC	0x6D617377	/* "masw" */
#define WINDOW_FILE_FORMAT	1

int			maas_stats_window_max = 2048;
int			maas_stats_window_features = 32;
int			maas_stats_window_hours = 24;
int			maas_stats_window_test_offset = 0;

MaasWindowShared *maas_window_shared = NULL;
HTAB	   *maas_window_hash = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void window_shmem_request(void);
static void window_shmem_startup(void);
static void window_shmem_shutdown(int code, Datum arg);
static void window_load(void);

Size
maas_window_entry_size(void)
{
	return MAXALIGN(add_size(offsetof(MaasWindowEntry, data),
							 mul_size(2 * sizeof(double), maas_stats_window_features)));
}

static Size
window_memsize(void)
{
	return add_size(MAXALIGN(sizeof(MaasWindowShared)),
					hash_estimate_size(Max(maas_stats_window_max, 1),
									   maas_window_entry_size()));
}

/* called by maas_stats_init(): the settings, and the shared table */
void
maas_stats_window_init(void)
{
	DefineCustomIntVariable("maas.stats_window_hours",
							"Hours of windowed serving statistics kept (maas.stats_window, maas.drift_window).",
							"Windows are hourly; older ones are dropped.",
							&maas_stats_window_hours,
							24, 1, 8760,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.stats_window_test_offset",
							"Seconds added to the clock that chooses and expires statistics windows.",
							"For tests: moves windowed statistics to another hour without waiting.",
							&maas_stats_window_test_offset,
							0, -1000000000, 1000000000,
							PGC_SUSET,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("maas.stats_window_max",
							"Hourly statistics windows kept, all versions and databases together.",
							"0 turns windows off; when full, the oldest window is evicted.",
							&maas_stats_window_max,
							2048, 0, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("maas.stats_window_features",
							"Features per statistics window whose distribution is kept for drift.",
							"Each takes 16 bytes of shared memory in every window.",
							&maas_stats_window_features,
							32, 0, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = window_shmem_request;
#else
	window_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = window_shmem_startup;
}

static void
window_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	if (maas_stats_window_max == 0)
		return;
	RequestAddinShmemSpace(window_memsize());
	RequestNamedLWLockTranche("maas_stats_window", 1);
}

static void
window_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	maas_window_shared = NULL;
	maas_window_hash = NULL;
	if (maas_stats_window_max == 0)
		return;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	maas_window_shared = ShmemInitStruct("maas stats window", sizeof(MaasWindowShared), &found);
	if (!found)
	{
		maas_window_shared->lock = &(GetNamedLWLockTranche("maas_stats_window"))->lock;
		maas_window_shared->n_features = maas_stats_window_features;
	}
	info.keysize = sizeof(MaasWindowKey);
	info.entrysize = maas_window_entry_size();
	maas_window_hash = ShmemInitHash("maas stats window hash",
									 maas_stats_window_max, maas_stats_window_max,
									 &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
		on_shmem_exit(window_shmem_shutdown, (Datum) 0);
	if (!found)
		window_load();
}

/* ------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------
 */

/* the clock windows go by: now, moved by maas.stats_window_test_offset */
TimestampTz
maas_window_now(TimestampTz now)
{
	return now + (TimestampTz) maas_stats_window_test_offset * USECS_PER_SEC;
}

/* the start of the hour t is in */
static TimestampTz
window_start(TimestampTz t)
{
	TimestampTz w = t - t % USECS_PER_HOUR;

	if (t % USECS_PER_HOUR < 0)
		w -= USECS_PER_HOUR;
	return w;
}

/* windows starting before this are expired */
TimestampTz
maas_window_oldest(TimestampTz now)
{
	return window_start(maas_window_now(now)) -
		(TimestampTz) (maas_stats_window_hours - 1) * USECS_PER_HOUR;
}

/* ------------------------------------------------------------------------
 * Adding
 * ------------------------------------------------------------------------
 */

/*
 * Drop expired windows and, if the table is still full, the oldest one.
 * Caller holds the lock exclusively.
 */
static void
window_make_room(TimestampTz oldest)
{
	HASH_SEQ_STATUS hs;
	MaasWindowEntry *e;
	MaasWindowEntry *victim = NULL;

	hash_seq_init(&hs, maas_window_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (e->key.start < oldest)
			hash_search(maas_window_hash, &e->key, HASH_REMOVE, NULL);
		else if (victim == NULL || e->key.start < victim->key.start)
			victim = e;
	}
	if (victim != NULL && hash_get_num_entries(maas_window_hash) >= maas_stats_window_max)
		hash_search(maas_window_hash, &victim->key, HASH_REMOVE, NULL);
}

/*
 * Add a statement's counts to the window of now (stats.c's flush, with the
 * local moments already finished: s->sum holds the means, s->sumsq the
 * M2s).  Never raises.
 */
void
maas_window_add(const MaasStatsKey *skey, const MaasStatsLocal *s,
				double total_ms, double out_mean, double out_m2, TimestampTz now)
{
	MaasWindowKey key;
	MaasWindowEntry *e;
	bool		found;

	if (maas_window_hash == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.dbid = skey->dbid;
	key.catalog = skey->catalog;
	key.version_id = skey->version_id;
	key.start = window_start(maas_window_now(now));

	LWLockAcquire(maas_window_shared->lock, LW_SHARED);
	e = hash_search(maas_window_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		LWLockRelease(maas_window_shared->lock);
		LWLockAcquire(maas_window_shared->lock, LW_EXCLUSIVE);
		e = hash_search(maas_window_hash, &key, HASH_FIND, NULL);
		if (e == NULL)
		{
			/* once per version and hour: a scan of at most the table */
			window_make_room(maas_window_oldest(now));
			e = hash_search(maas_window_hash, &key, HASH_ENTER_NULL, &found);
			if (e != NULL && !found)
			{
				memset((char *) e + sizeof(MaasWindowKey), 0,
					   maas_window_entry_size() - sizeof(MaasWindowKey));
				SpinLockInit(&e->mutex);
				strlcpy(e->model, s->model, sizeof(e->model));
				e->version = s->version;
				e->n_in = s->n_in;
				e->n_features = Min(s->n_features, maas_window_shared->n_features);
				e->n_classes = Min(s->n_classes, MAAS_STATS_CLASSES);
			}
		}
	}
	if (e != NULL)
	{
		double	   *mean = e->data;
		double	   *m2 = mean + e->n_features;
		int			nf = Min(e->n_features, s->n_features);
		int			nc = Min(e->n_classes, s->n_classes);

		SpinLockAcquire(&e->mutex);
		e->calls += s->calls;
		e->errors += s->started - s->calls;
		e->rows += s->rows;
		e->tokens += s->tokens;
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
		e->compared += s->compared;
		e->agreed += s->agreed;
		e->abs_diff += s->abs_diff;
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(maas_window_shared->lock);
}

/* remove windows as maas_stats_remove() removes entries (stats.c) */
void
maas_window_remove(const char *model, int32 version)
{
	HASH_SEQ_STATUS hs;
	MaasWindowEntry *e;

	if (maas_window_hash == NULL)
		return;
	LWLockAcquire(maas_window_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&hs, maas_window_hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		if (model != NULL &&
			(e->key.dbid != MyDatabaseId || strcmp(e->model, model) != 0 ||
			 (version != 0 && e->version != version)))
			continue;
		hash_search(maas_window_hash, &e->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(maas_window_shared->lock);
}

/* ------------------------------------------------------------------------
 * Saving across a clean restart: a header, then each window's fixed part
 * and its n_features means and M2s (stats_file.c, as stats.c's file).
 * ------------------------------------------------------------------------
 */

/* as stats.c's entries, and the shadow's counts, and a whole hour */
static bool
window_head_ok(const void *head)
{
	const MaasWindowEntry *e = head;

	return MAAS_STATS_COUNTS_OK(e) && e->compared >= 0 && e->agreed >= 0 &&
		e->key.start % USECS_PER_HOUR == 0;
}

static const MaasStatsFile window_file = {
	WINDOW_FILE, WINDOW_FILE_MAGIC, WINDOW_FILE_FORMAT, window_head_ok,
	0, MAAS_STATS_FILE_LAYOUT(MaasWindowEntry)
};

static void
window_shmem_shutdown(int code, Datum arg)
{
	if (code != 0 || !maas_window_shared || !maas_window_hash)
		return;
	maas_stats_file_save(&window_file, maas_window_hash, NULL);
}

static void
window_load(void)
{
	(void) maas_stats_file_load(&window_file, maas_window_hash, maas_stats_window_max,
								maas_window_shared->n_features, NULL);
}

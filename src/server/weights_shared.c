/*
 * weights_shared.c
 *		One copy of a version's weights per server, mapped read-only by
 *		every backend that serves it: shared memory, the slots, the LRU
 *		budget, startup, and removing copies.
 *
 * The copy is made and mapped in weights_copy.c; maas.loaded_models and
 * maas_unload() are in weights_views.c; what they share is in
 * weights_shared_int.h.
 *
 * What a version needs to run is its stored safetensors bytes: the layer
 * runtime uses its F32 tensors in place (net_build.c), so a backend's own
 * memory for a model is the layer structs and a few small derived vectors.
 * Those bytes are therefore kept once per server, as a file
 *
 *		$PGDATA/pgsql_tmp_maas/<sha256 of the bytes, in hex>
 *
 * which each backend, parallel worker and standby backend serving the
 * version maps with mmap(PROT_READ, MAP_SHARED): the pages are the page
 * cache's, shared by every mapping, so N backends cost one copy.  Versions
 * are immutable and the name is the sha256 of the contents, so a copy is
 * never stale, and versions with the same bytes (in any database) share
 * it.  Why a file and not DSM/DSA: a DSM segment lives in /dev/shm (often
 * small in containers) or in anonymous shared memory, which can only be
 * paged out to swap and is gone at every restart; a file's clean pages
 * can be dropped by the kernel under memory pressure and read back, it
 * survives a restart (and is verified before reuse), and a backend that
 * still maps an evicted copy keeps a valid mapping of the unlinked file.
 * The "pgsql_tmp" prefix keeps base backups (pg_basebackup, pg_rewind,
 * pg_checksums) from copying or reading the directory: it is a cache,
 * rebuilt from the catalog on demand.
 *
 * A table of maas.shared_models_max slots in shared memory (the recipe of
 * pg_stat_statements: request and startup hooks, a named LWLock tranche
 * "maas_weights") says what is in the directory: each copy's sha256, size,
 * state (loading, ready, or found on disk after a restart and not yet
 * verified), the backends that map it (users), the statements using it
 * now (in_use), when it was loaded, how long that took, when it was last
 * used.  The LWLock guards the slots' identity and state; each slot's
 * spinlock its counters, so that a statement pins a mapped copy without
 * the LWLock.  A slot's generation changes whenever it is freed, so a
 * backend can tell that the copy it maps is no longer the slot's.
 *
 * Loading.  The first backend to need a copy that is not ready takes a
 * heavyweight lock for it (an advisory lock of database 0, which no SQL
 * advisory lock can be; pg_locks shows waiters, the deadlock detector and
 * cancel work on them, and it goes away with the backend), marks its slot
 * loading, and writes the chunks to <sha>.<pid>.tmp, checking them against
 * the version's row as they come (weights_store.c), then renames it to its
 * name and marks the slot ready.  Others wait on the lock (members of the
 * loader's lock group, a parallel leader and its workers, on the slot's
 * condition variable), then map the ready copy.  Nothing half-written is
 * ever used: only a complete file gets the name, and only a complete copy
 * is marked ready.  A load that fails or is cancelled removes its file and
 * frees its slot (PG_ENSURE_ERROR_CLEANUP, so a FATAL exit too); a backend
 * killed during a load makes the postmaster reinitialize shared memory,
 * and the startup hook then removes every leftover temporary file and
 * takes the complete files as unverified: the first backend to need one
 * checks its size and sha256 before anyone maps it, and rebuilds it from
 * the catalog if it does not match.  (So the file is not fsynced: after a
 * crash of the machine it is checked like any other.)
 *
 * Budget.  The copies' sizes add up to at most maas.shared_model_memory.
 * To make room for a new one, the least recently used copies that no
 * statement is using are removed (renamed, then unlinked): a backend that
 * still maps one keeps a valid mapping, which it drops at its next
 * statement or transaction end (cache.c), and meanwhile the kernel may
 * reclaim its clean pages.  A copy that cannot fit is an error, never a
 * copy outside the budget.  maas_drop() removes the copies of the versions
 * it drops when it commits.
 */

#include "weights_shared_int.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/condition_variable.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define WEIGHTS_DIR			"pgsql_tmp_maas"

static int	shared_model_memory_kb = 2 * 1024 * 1024;
static int	shared_models_max = 256;

WeightsShared *weights_ws = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void weights_shmem_request(void);
static void weights_shmem_startup(void);

static Size
weights_memsize(void)
{
	return add_size(offsetof(WeightsShared, slots),
					mul_size(shared_models_max, sizeof(WeightsSlot)));
}

void
maas_weights_init(void)
{
	DefineCustomIntVariable("maas.shared_model_memory",
							"Memory for the shared copies of model weights, all backends together.",
							"One copy of a version's weights serves every backend; the least "
							"recently used copies no statement is using are removed beyond it. "
							"0 makes each backend load its own copy.",
							&shared_model_memory_kb,
							2 * 1024 * 1024, 0, MAX_KILOBYTES,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* the table exists only when loaded with the postmaster */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("maas.shared_models_max",
							"Shared copies of model weights the server keeps track of.",
							"Each takes about 150 bytes of shared memory.",
							&shared_models_max,
							256, 16, 100000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = weights_shmem_request;
#else
	weights_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = weights_shmem_startup;
}

static void
weights_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(weights_memsize());
	RequestNamedLWLockTranche("maas_weights", 1);
}

void
weights_copy_path(char *path, const uint8 *sha256)
{
	char		hex[2 * MAAS_SHA256_LEN + 1];

	maas_sha256_hex(sha256, hex);
	snprintf(path, MAXPGPATH, "%s/%s", WEIGHTS_DIR, hex);
}

static bool
hex_name(const char *name, uint8 *sha256)
{
	if (strlen(name) != 2 * MAAS_SHA256_LEN)
		return false;
	for (int i = 0; i < 2 * MAAS_SHA256_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	for (int i = 0; i < MAAS_SHA256_LEN; i++)
	{
		char		byte[3] = {name[2 * i], name[2 * i + 1], '\0'};

		sha256[i] = (uint8) strtoul(byte, NULL, 16);
	}
	return true;
}

/*
 * At startup (and after a crash, when shared memory is made again): the
 * complete copies in the directory become unverified slots, and whatever
 * else is there (loads that were cut short, copies being removed) goes.
 * Runs in the postmaster: problems are logged, never raised.
 */
static void
weights_scan_dir(void)
{
	DIR		   *dir;
	struct dirent *de;
	int			next = 0;

	if (MakePGDirectory(WEIGHTS_DIR) < 0 && errno != EEXIST)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", WEIGHTS_DIR)));
		return;
	}
	dir = AllocateDir(WEIGHTS_DIR);
	while ((de = ReadDirExtended(dir, WEIGHTS_DIR, LOG)) != NULL)
	{
		char		path[MAXPGPATH];
		struct stat st;
		uint8		sha256[MAAS_SHA256_LEN];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", WEIGHTS_DIR, de->d_name);
		if (hex_name(de->d_name, sha256) && next < weights_ws->n_slots &&
			stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		{
			WeightsSlot *slot = &weights_ws->slots[next++];

			slot->state = SLOT_UNVERIFIED;
			memcpy(slot->sha256, sha256, MAAS_SHA256_LEN);
			slot->bytes = (int64) st.st_size;
			slot->generation = ++weights_ws->next_generation;
			slot->last_used = time_t_to_timestamptz(st.st_mtime);
			continue;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", path)));
	}
	FreeDir(dir);
}

static void
weights_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	weights_ws = ShmemInitStruct("maas weights", weights_memsize(), &found);
	if (!found)
	{
		weights_ws->lock = &(GetNamedLWLockTranche("maas_weights"))->lock;
		pg_atomic_init_u64(&weights_ws->removed, 0);
		weights_ws->next_generation = 0;
		weights_ws->n_slots = shared_models_max;
		for (int i = 0; i < weights_ws->n_slots; i++)
		{
			WeightsSlot *slot = &weights_ws->slots[i];

			memset(slot, 0, sizeof(WeightsSlot));
			slot->state = SLOT_FREE;
			SpinLockInit(&slot->mutex);
			ConditionVariableInit(&slot->cv);
		}
		weights_scan_dir();
	}
	LWLockRelease(AddinShmemInitLock);
}

bool
maas_weights_shared(void)
{
	return weights_ws != NULL && shared_model_memory_kb > 0;
}

int64
weights_budget(void)
{
	return (int64) shared_model_memory_kb * 1024;
}

/* ------------------------------------------------------------------------
 * Slots (the caller holds the LWLock, exclusively to change them)
 * ------------------------------------------------------------------------
 */

int
weights_slot_find(const uint8 *sha256)
{
	for (int i = 0; i < weights_ws->n_slots; i++)
		if (weights_ws->slots[i].state != SLOT_FREE &&
			memcmp(weights_ws->slots[i].sha256, sha256, MAAS_SHA256_LEN) == 0)
			return i;
	return -1;
}

static void
slot_counters(WeightsSlot *slot, int *users, int *in_use, TimestampTz *last_used)
{
	SpinLockAcquire(&slot->mutex);
	*users = slot->users;
	*in_use = slot->in_use;
	if (last_used)
		*last_used = slot->last_used;
	SpinLockRelease(&slot->mutex);
}

/*
 * Free a slot, its file renamed out of the way (so that a new copy may
 * take the name at once); *gone gets the name to unlink once the lock is
 * released.  LWLock held exclusively.
 */
void
weights_slot_free(WeightsSlot *slot, bool has_file, char *gone)
{
	gone[0] = '\0';
	if (has_file)
	{
		char		path[MAXPGPATH];

		weights_copy_path(path, slot->sha256);
		snprintf(gone, MAXPGPATH, "%s.%d.gone", path, MyProcPid);
		if (rename(path, gone) < 0)
		{
			if (errno != ENOENT)
				ereport(LOG,
						(errcode_for_file_access(),
						 errmsg("could not rename file \"%s\" to \"%s\": %m", path, gone)));
			gone[0] = '\0';
		}
	}
	SpinLockAcquire(&slot->mutex);
	slot->state = SLOT_FREE;
	slot->generation = ++weights_ws->next_generation;
	slot->users = 0;
	slot->in_use = 0;
	SpinLockRelease(&slot->mutex);
	pg_atomic_fetch_add_u64(&weights_ws->removed, 1);
}

void
weights_unlink_gone(const char *gone)
{
	if (gone[0] != '\0' && unlink(gone) < 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", gone)));
}

/*
 * Free the least recently used idle copies until need more bytes and a
 * slot are available; sets *slotno.  LWLock held exclusively; the names of
 * the removed files are added to *gone for unlinking after it.
 */
RoomResult
weights_make_room(int64 need, int *slotno, int64 *held, List **gone)
{
	int64		limit = weights_budget();

	*slotno = -1;
	*held = 0;
	if (need > limit)
		return ROOM_TOO_BIG;
	for (;;)
	{
		int64		used = 0;
		int			victim = -1;
		TimestampTz oldest = 0;

		*held = 0;
		for (int i = 0; i < weights_ws->n_slots; i++)
		{
			WeightsSlot *slot = &weights_ws->slots[i];
			int			users;
			int			in_use;
			TimestampTz last;

			if (slot->state == SLOT_FREE)
			{
				if (*slotno < 0)
					*slotno = i;
				continue;
			}
			used += slot->bytes;
			slot_counters(slot, &users, &in_use, &last);
			if (slot->state == SLOT_LOADING || in_use > 0)
				*held += slot->bytes;
			else if (victim < 0 || last < oldest)
			{
				victim = i;
				oldest = last;
			}
		}
		if (used + need <= limit && *slotno >= 0)
			return ROOM_OK;
		if (victim < 0)
			return *slotno < 0 ? ROOM_NO_SLOT : ROOM_IN_USE;
		{
			char		name[MAXPGPATH];

			weights_slot_free(&weights_ws->slots[victim], true, name);
			if (name[0] != '\0')
				*gone = lappend(*gone, pstrdup(name));
		}
		*slotno = -1;
	}
}

void
weights_unlink_all(List *gone)
{
	ListCell   *lc;

	foreach(lc, gone)
		weights_unlink_gone((const char *) lfirst(lc));
}

/* ------------------------------------------------------------------------
 * Removing copies
 * ------------------------------------------------------------------------
 */

/*
 * Remove the copies of these weights (all copies when sha256 is NULL);
 * those in use only when force.  Returns how many went.
 */
int
weights_remove_copies(const uint8 *sha256, bool force)
{
	List	   *gone = NIL;
	int			removed = 0;

	LWLockAcquire(weights_ws->lock, LW_EXCLUSIVE);
	for (int i = 0; i < weights_ws->n_slots; i++)
	{
		WeightsSlot *slot = &weights_ws->slots[i];
		int			users;
		int			in_use;
		char		name[MAXPGPATH];

		if (slot->state != SLOT_READY && slot->state != SLOT_UNVERIFIED)
			continue;
		if (sha256 != NULL && memcmp(slot->sha256, sha256, MAAS_SHA256_LEN) != 0)
			continue;
		slot_counters(slot, &users, &in_use, NULL);
		if (in_use > 0 && !force)
			continue;
		weights_slot_free(slot, true, name);
		if (name[0] != '\0')
			gone = lappend(gone, pstrdup(name));
		removed++;
	}
	LWLockRelease(weights_ws->lock);
	weights_unlink_all(gone);
	return removed;
}

static List *release_pending = NIL;

uint8 *
weights_sha_copy(const uint8 *sha256)
{
	uint8	   *copy = palloc(MAAS_SHA256_LEN);

	memcpy(copy, sha256, MAAS_SHA256_LEN);
	return copy;
}

static void
release_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			{
				ListCell   *lc;

				foreach(lc, release_pending)
					weights_remove_copies((const uint8 *) lfirst(lc), true);
			}
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			list_free_deep(release_pending);
			release_pending = NIL;
			break;
		default:
			break;
	}
}

/*
 * The version with these weights is being dropped: remove their copy when
 * the transaction commits (just before, where an error can still abort
 * it).  If another version has the same bytes, its next use makes the copy
 * again; so does a statement whose snapshot still sees the dropped one;
 * and a prepared transaction releases at PREPARE.  All harmless: the copy
 * is only a cache.
 */
void
maas_weights_release_at_commit(const uint8 *sha256)
{
	static bool registered = false;
	MemoryContext old;

	if (weights_ws == NULL)
		return;
	if (!registered)
	{
		RegisterXactCallback(release_xact_callback, NULL);
		registered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	release_pending = lappend(release_pending, weights_sha_copy(sha256));
	MemoryContextSwitchTo(old);
}

/*
 * weights_shared.c
 *		One copy of a version's weights per server, mapped read-only by
 *		every backend that serves it.
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
#include "weights.h"

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
#define LOAD_LOCK_CLASS		0x6D61	/* "ma": field 4 of the loading lock */

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_LOADING,				/* a backend is writing or verifying it */
	SLOT_READY,					/* complete and checked: may be mapped */
	SLOT_UNVERIFIED				/* found on disk at startup, not yet checked */
} SlotState;

typedef struct WeightsSlot
{
	/* under the table's LWLock (and, when changed, the mutex too) */
	SlotState	state;
	uint64		generation;		/* changes when the slot is freed */
	uint8		sha256[MAAS_SHA256_LEN];
	int64		bytes;
	int			loader_pid;		/* while loading */
	TimestampTz loaded_at;
	double		load_ms;
	bool		from_file;		/* a copy from before a restart, verified */
	ConditionVariable cv;		/* broadcast when a load ends */

	/* under mutex */
	slock_t		mutex;
	int			users;			/* backends that map it */
	int			in_use;			/* of which running a statement with it */
	TimestampTz last_used;
} WeightsSlot;

typedef struct WeightsShared
{
	LWLock	   *lock;
	pg_atomic_uint64 removed;	/* copies removed so far */
	uint64		next_generation;
	int			n_slots;
	WeightsSlot slots[FLEXIBLE_ARRAY_MEMBER];
} WeightsShared;

/*
 * This backend's mapping of a copy, shared by the cache entries that use
 * it (versions with the same bytes): the slot counts the backend once in
 * users while it maps the copy, once in in_use while any entry is pinned.
 */
typedef struct Mapping
{
	int			slot;
	uint64		generation;
	uint8		sha256[MAAS_SHA256_LEN];
	const uint8 *data;
	size_t		len;
	int			refs;			/* handles */
	int			pins;			/* pinned handles */
	dlist_node	node;			/* in mappings */
} Mapping;

/* what a cache entry holds */
struct MaasSharedCopy
{
	Mapping    *map;
	bool		pinned;
};

static int	shared_model_memory_kb = 2 * 1024 * 1024;
static int	shared_models_max = 256;

static WeightsShared *ws = NULL;
static dlist_head mappings = DLIST_STATIC_INIT(mappings);
static bool exiting = false;

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

static void
copy_path(char *path, const uint8 *sha256)
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
		if (hex_name(de->d_name, sha256) && next < ws->n_slots &&
			stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		{
			WeightsSlot *slot = &ws->slots[next++];

			slot->state = SLOT_UNVERIFIED;
			memcpy(slot->sha256, sha256, MAAS_SHA256_LEN);
			slot->bytes = (int64) st.st_size;
			slot->generation = ++ws->next_generation;
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
	ws = ShmemInitStruct("maas weights", weights_memsize(), &found);
	if (!found)
	{
		ws->lock = &(GetNamedLWLockTranche("maas_weights"))->lock;
		pg_atomic_init_u64(&ws->removed, 0);
		ws->next_generation = 0;
		ws->n_slots = shared_models_max;
		for (int i = 0; i < ws->n_slots; i++)
		{
			WeightsSlot *slot = &ws->slots[i];

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
	return ws != NULL && shared_model_memory_kb > 0;
}

static int64
budget(void)
{
	return (int64) shared_model_memory_kb * 1024;
}

/* ------------------------------------------------------------------------
 * Slots (the caller holds the LWLock, exclusively to change them)
 * ------------------------------------------------------------------------
 */

static int
slot_find(const uint8 *sha256)
{
	for (int i = 0; i < ws->n_slots; i++)
		if (ws->slots[i].state != SLOT_FREE &&
			memcmp(ws->slots[i].sha256, sha256, MAAS_SHA256_LEN) == 0)
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
static void
slot_free(WeightsSlot *slot, bool has_file, char *gone)
{
	gone[0] = '\0';
	if (has_file)
	{
		char		path[MAXPGPATH];

		copy_path(path, slot->sha256);
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
	slot->generation = ++ws->next_generation;
	slot->users = 0;
	slot->in_use = 0;
	SpinLockRelease(&slot->mutex);
	pg_atomic_fetch_add_u64(&ws->removed, 1);
}

static void
unlink_gone(const char *gone)
{
	if (gone[0] != '\0' && unlink(gone) < 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", gone)));
}

/* what stopped a copy from fitting */
typedef enum RoomResult
{
	ROOM_OK,
	ROOM_TOO_BIG,				/* larger than the whole budget */
	ROOM_IN_USE,				/* the rest is held by copies in use */
	ROOM_NO_SLOT				/* every slot holds a copy in use */
} RoomResult;

/*
 * Free the least recently used idle copies until need more bytes and a
 * slot are available; sets *slotno.  LWLock held exclusively; the names of
 * the removed files are added to *gone for unlinking after it.
 */
static RoomResult
make_room(int64 need, int *slotno, int64 *held, List **gone)
{
	int64		limit = budget();

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
		for (int i = 0; i < ws->n_slots; i++)
		{
			WeightsSlot *slot = &ws->slots[i];
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

			slot_free(&ws->slots[victim], true, name);
			if (name[0] != '\0')
				*gone = lappend(*gone, pstrdup(name));
		}
		*slotno = -1;
	}
}

static void
unlink_all(List *gone)
{
	ListCell   *lc;

	foreach(lc, gone)
		unlink_gone((const char *) lfirst(lc));
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------
 */

static void
load_lock_tag(LOCKTAG *tag, const uint8 *sha256)
{
	uint32		a;
	uint32		b;

	memcpy(&a, sha256, sizeof(a));
	memcpy(&b, sha256 + sizeof(a), sizeof(b));
	SET_LOCKTAG_ADVISORY(*tag, InvalidOid, a, b, LOAD_LOCK_CLASS);
}

/* "version 3 of model "m"", for messages */
static char *
version_name(const MaasVersionRef *ref)
{
	MaasVersionInfo vi;

	if (maas_version_info(ref, &vi))
		return psprintf("version %d of model \"%s\"", vi.version, vi.model);
	return psprintf("model version %lld", (long long) ref->version_id);
}

typedef struct LoadState
{
	int			slot;
	uint64		generation;
	bool		verifying;		/* an unverified copy: back to that on failure */
	char		tmp[MAXPGPATH]; /* a file being written, or "" */
} LoadState;

/* a load failed or was cancelled (ERROR or FATAL): undo it */
static void
load_cleanup(int code, Datum arg)
{
	LoadState  *ls = (LoadState *) DatumGetPointer(arg);
	WeightsSlot *slot = &ws->slots[ls->slot];
	char		gone[MAXPGPATH] = "";

	if (ls->tmp[0] != '\0' && unlink(ls->tmp) < 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", ls->tmp)));
	LWLockAcquire(ws->lock, LW_EXCLUSIVE);
	if (slot->generation == ls->generation && slot->state == SLOT_LOADING)
	{
		if (ls->verifying)
		{
			slot->state = SLOT_UNVERIFIED;
			slot->loader_pid = 0;
		}
		else
			slot_free(slot, false, gone);
	}
	LWLockRelease(ws->lock);
	ConditionVariableBroadcast(&slot->cv);
}

typedef struct FileSink
{
	int			fd;
	const char *path;
} FileSink;

static void
file_sink(void *arg, const uint8 *data, size_t len)
{
	FileSink   *fs = (FileSink *) arg;

	while (len > 0)
	{
		ssize_t		n = write(fs->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			if (n == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", fs->path),
					 errhint("The shared copies of model weights need disk space in the "
							 "data directory up to maas.shared_model_memory.")));
		}
		data += n;
		len -= (size_t) n;
	}
}

/* write the copy from the catalog: a temporary file, then its name */
static void
materialize(LoadState *ls, const MaasVersionRef *ref, const MaasWeightsInfo *info,
			const char *path)
{
	FileSink	fs;

	snprintf(ls->tmp, MAXPGPATH, "%s.%d.tmp", path, MyProcPid);
	fs.path = ls->tmp;
	fs.fd = OpenTransientFile(ls->tmp, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fs.fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", ls->tmp)));
	maas_weights_read(ref, info, 0, info->bytes, file_sink, &fs);
	if (CloseTransientFile(fs.fd) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", ls->tmp)));
	if (rename(ls->tmp, path) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m", ls->tmp, path)));
	ls->tmp[0] = '\0';
}

/* does the file hold exactly these weights (size and sha256)? */
static bool
verify_file(const char *path, const MaasWeightsInfo *info)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	struct stat st;
	pg_cryptohash_ctx *ctx;
	uint8	   *buf;
	uint8		sha256[MAAS_SHA256_LEN];
	int64		left;
	bool		ok = true;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || (int64) st.st_size != info->bytes)
	{
		CloseTransientFile(fd);
		return false;
	}
	ctx = pg_cryptohash_create(PG_SHA256);
	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	buf = palloc(MAAS_WEIGHT_CHUNK);
	for (left = info->bytes; left > 0 && ok;)
	{
		ssize_t		n;

		CHECK_FOR_INTERRUPTS();
		n = read(fd, buf, Min((int64) MAAS_WEIGHT_CHUNK, left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = false;
		else if (pg_cryptohash_update(ctx, buf, (size_t) n) < 0)
			elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
		else
			left -= n;
	}
	if (ok && pg_cryptohash_final(ctx, sha256, MAAS_SHA256_LEN) < 0)
		elog(ERROR, "could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
	pfree(buf);
	CloseTransientFile(fd);
	return ok && memcmp(sha256, info->sha256, MAAS_SHA256_LEN) == 0;
}

/*
 * Make the copy of slot (ours, loading): check the file found on disk
 * when verifying, else (or if it does not match) write it from the
 * catalog; then mark it ready.
 */
static void
load_copy(LoadState *ls, const MaasVersionRef *ref, const MaasWeightsInfo *info)
{
	WeightsSlot *slot = &ws->slots[ls->slot];
	char		path[MAXPGPATH];
	instr_time	start;
	instr_time	took;
	bool		from_file = false;

	copy_path(path, info->sha256);
	INSTR_TIME_SET_CURRENT(start);
	PG_ENSURE_ERROR_CLEANUP(load_cleanup, PointerGetDatum(ls));
	{
		if (ls->verifying)
		{
			from_file = verify_file(path, info);
			if (!from_file)
			{
				ereport(LOG,
						(errmsg("shared copy \"%s\" of model weights does not match %s; rebuilding it",
								path, version_name(ref))));
				if (unlink(path) < 0 && errno != ENOENT)
					ereport(ERROR,
							(errcode_for_file_access(),
							 errmsg("could not remove file \"%s\": %m", path)));
			}
			/* from here on a failure frees the slot */
			ls->verifying = false;
		}
		if (!from_file)
			materialize(ls, ref, info, path);
	}
	PG_END_ENSURE_ERROR_CLEANUP(load_cleanup, PointerGetDatum(ls));
	INSTR_TIME_SET_CURRENT(took);
	INSTR_TIME_SUBTRACT(took, start);

	LWLockAcquire(ws->lock, LW_EXCLUSIVE);
	SpinLockAcquire(&slot->mutex);
	slot->state = SLOT_READY;
	slot->loader_pid = 0;
	slot->loaded_at = GetCurrentTimestamp();
	slot->load_ms = INSTR_TIME_GET_MILLISEC(took);
	slot->from_file = from_file;
	slot->last_used = slot->loaded_at;
	SpinLockRelease(&slot->mutex);
	LWLockRelease(ws->lock);
	ConditionVariableBroadcast(&slot->cv);
}

/* wait until the slot's load (by another member of our lock group) ends */
static void
wait_for_load(int slotno, uint64 generation)
{
	WeightsSlot *slot = &ws->slots[slotno];

	ConditionVariablePrepareToSleep(&slot->cv);
	for (;;)
	{
		bool		loading;

		LWLockAcquire(ws->lock, LW_SHARED);
		loading = slot->generation == generation && slot->state == SLOT_LOADING;
		LWLockRelease(ws->lock);
		if (!loading)
			break;
		(void) ConditionVariableTimedSleep(&slot->cv, 1000, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

static void
room_error(RoomResult room, const MaasVersionRef *ref, const MaasWeightsInfo *info,
		   int64 held)
{
	if (room == ROOM_TOO_BIG)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("%s does not fit in maas.shared_model_memory", version_name(ref)),
				 errdetail("Its weights take %lld bytes; maas.shared_model_memory is %lld bytes.",
						   (long long) info->bytes, (long long) budget()),
				 errhint("Raise maas.shared_model_memory.")));
	if (room == ROOM_NO_SLOT)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no room for another shared copy of model weights"),
				 errdetail("All %d of maas.shared_models_max are in use.", ws->n_slots),
				 errhint("Raise maas.shared_models_max (this needs a restart).")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("not enough shared model memory for %s", version_name(ref)),
			 errdetail("Its weights take %lld bytes; %lld of the %lld bytes of maas.shared_model_memory are held by models in use.",
					   (long long) info->bytes, (long long) held, (long long) budget()),
			 errhint("Raise maas.shared_model_memory, or retry when fewer models are in use.")));
}

/* ------------------------------------------------------------------------
 * Mapping
 * ------------------------------------------------------------------------
 */

static void
weights_exit(int code, Datum arg)
{
	dlist_iter	it;

	/* what this backend counted in the slots; its mappings go with it */
	dlist_foreach(it, &mappings)
	{
		Mapping    *map = dlist_container(Mapping, node, it.cur);
		WeightsSlot *slot = &ws->slots[map->slot];

		SpinLockAcquire(&slot->mutex);
		if (slot->generation == map->generation)
		{
			slot->users--;
			if (map->pins > 0)
				slot->in_use--;
		}
		SpinLockRelease(&slot->mutex);
	}
	exiting = true;
}

/* count this backend in (users, and in_use) or out of a slot, if still its */
static bool
slot_count(int slotno, uint64 generation, int users, int in_use)
{
	WeightsSlot *slot = &ws->slots[slotno];
	bool		ok;

	SpinLockAcquire(&slot->mutex);
	ok = slot->generation == generation;
	if (ok)
	{
		slot->users += users;
		slot->in_use += in_use;
		if (in_use > 0)
			slot->last_used = GetCurrentTimestamp();
	}
	SpinLockRelease(&slot->mutex);
	return ok;
}

/*
 * Map the ready copy of map's slot, which attach counted this backend in:
 * false if its file is missing or has the wrong size (then the counts are
 * undone).
 */
static bool
map_copy(Mapping *map, const MaasWeightsInfo *info)
{
	char		path[MAXPGPATH];
	int			fd;
	struct stat st;
	void	   *p = MAP_FAILED;
	int			save_errno = 0;

	copy_path(path, info->sha256);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd >= 0)
	{
		if (fstat(fd, &st) == 0 && (int64) st.st_size == info->bytes)
		{
			p = mmap(NULL, (size_t) info->bytes, PROT_READ, MAP_SHARED, fd, 0);
			save_errno = errno;
		}
		CloseTransientFile(fd);
	}
	else
		save_errno = errno;
	if (p != MAP_FAILED)
	{
		map->data = p;
		map->len = (size_t) info->bytes;
		return true;
	}

	/* undo the counts, then say why */
	(void) slot_count(map->slot, map->generation, -1, -1);
	if (fd >= 0 && save_errno != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not map file \"%s\": %s", path, strerror(save_errno))));
	if (fd < 0 && save_errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %s", path, strerror(save_errno))));
	return false;
}

/* a ready copy whose file is gone or damaged: forget it, so it is rebuilt */
static void
forget_copy(int slotno, uint64 generation, const char *why)
{
	WeightsSlot *slot = &ws->slots[slotno];
	char		gone[MAXPGPATH] = "";
	char		path[MAXPGPATH];

	copy_path(path, slot->sha256);
	ereport(LOG, (errmsg("shared copy \"%s\" of model weights %s; rebuilding it", path, why)));
	LWLockAcquire(ws->lock, LW_EXCLUSIVE);
	if (slot->generation == generation)
		slot_free(slot, true, gone);
	LWLockRelease(ws->lock);
	unlink_gone(gone);
}

/* this backend's current mapping of these weights, or NULL */
static Mapping *
mapping_find(const uint8 *sha256)
{
	dlist_iter	it;

	dlist_foreach(it, &mappings)
	{
		Mapping    *map = dlist_container(Mapping, node, it.cur);

		if (memcmp(map->sha256, sha256, MAAS_SHA256_LEN) == 0 &&
			slot_count(map->slot, map->generation, 0, 0))
			return map;
	}
	return NULL;
}

/* map the copy of these weights, making it if need be; counted in its slot */
static Mapping *
mapping_make(const MaasVersionRef *ref, const MaasWeightsInfo *info)
{
	Mapping    *map = MemoryContextAllocZero(TopMemoryContext, sizeof(Mapping));

	memcpy(map->sha256, info->sha256, MAAS_SHA256_LEN);
	PG_TRY();
	{
		for (;;)
		{
			int			slotno;
			LOCKTAG		tag;
			LoadState	ls;
			RoomResult	room = ROOM_OK;
			int64		held = 0;
			List	   *gone = NIL;

			CHECK_FOR_INTERRUPTS();

			/* a ready copy: count ourselves in, then map it */
			LWLockAcquire(ws->lock, LW_SHARED);
			slotno = slot_find(info->sha256);
			if (slotno >= 0 && ws->slots[slotno].state == SLOT_READY)
			{
				int64		bytes = ws->slots[slotno].bytes;

				map->slot = slotno;
				map->generation = ws->slots[slotno].generation;
				(void) slot_count(slotno, map->generation, 1, 1);
				LWLockRelease(ws->lock);
				/* (the same sha256 with another size would be a damaged row) */
				if (bytes == info->bytes && map_copy(map, info))
					break;
				if (bytes != info->bytes)
					(void) slot_count(slotno, map->generation, -1, -1);
				forget_copy(slotno, map->generation,
							bytes == info->bytes ? "is missing or truncated" :
							"has another size than the version says");
				continue;
			}
			LWLockRelease(ws->lock);

			/* none: load it, or wait for whoever is loading it */
			load_lock_tag(&tag, info->sha256);
			(void) LockAcquire(&tag, ExclusiveLock, false, false);

			memset(&ls, 0, sizeof(ls));
			ls.slot = -1;
			LWLockAcquire(ws->lock, LW_EXCLUSIVE);
			slotno = slot_find(info->sha256);
			if (slotno >= 0 && ws->slots[slotno].state == SLOT_READY)
				;				/* loaded meanwhile */
			else if (slotno >= 0 && ws->slots[slotno].state == SLOT_LOADING)
			{
				/* by a member of our lock group, which the lock let through */
				ls.slot = slotno;
				ls.generation = ws->slots[slotno].generation;
			}
			else
			{
				WeightsSlot *slot;

				if (slotno >= 0 && ws->slots[slotno].bytes == info->bytes)
					ls.verifying = true;	/* unverified, from before a restart */
				else
				{
					if (slotno >= 0)
					{
						/* unverified, and of another size: not these weights */
						char		name[MAXPGPATH];

						slot_free(&ws->slots[slotno], true, name);
						if (name[0] != '\0')
							gone = lappend(gone, pstrdup(name));
					}
					room = make_room(info->bytes, &slotno, &held, &gone);
					if (room == ROOM_OK)
					{
						slot = &ws->slots[slotno];
						memcpy(slot->sha256, info->sha256, MAAS_SHA256_LEN);
						slot->bytes = info->bytes;
						slot->loaded_at = 0;
						slot->load_ms = 0;
						slot->from_file = false;
					}
				}
				if (room == ROOM_OK)
				{
					slot = &ws->slots[slotno];
					SpinLockAcquire(&slot->mutex);
					slot->state = SLOT_LOADING;
					slot->loader_pid = MyProcPid;
					slot->last_used = GetCurrentTimestamp();
					SpinLockRelease(&slot->mutex);
					ls.slot = slotno;
					ls.generation = slot->generation;
					ls.tmp[0] = '\0';
				}
			}
			LWLockRelease(ws->lock);
			unlink_all(gone);

			if (room != ROOM_OK)
			{
				LockRelease(&tag, ExclusiveLock, false);
				room_error(room, ref, info, held);
			}
			if (ls.slot >= 0 && ws->slots[ls.slot].loader_pid != MyProcPid)
			{
				LockRelease(&tag, ExclusiveLock, false);
				wait_for_load(ls.slot, ls.generation);
				continue;
			}
			if (ls.slot >= 0)
				load_copy(&ls, ref, info);
			LockRelease(&tag, ExclusiveLock, false);
		}
	}
	PG_CATCH();
	{
		pfree(map);
		PG_RE_THROW();
	}
	PG_END_TRY();

	map->refs = 0;
	map->pins = 1;
	dlist_push_head(&mappings, &map->node);
	return map;
}

MaasSharedCopy *
maas_weights_attach(const MaasVersionRef *ref, const MaasWeightsInfo *info)
{
	static bool exit_registered = false;
	MaasSharedCopy *copy;
	Mapping    *map;

	Assert(maas_weights_shared());
	if (exiting)
		elog(ERROR, "backend is exiting");
	if (!exit_registered)
	{
		before_shmem_exit(weights_exit, (Datum) 0);
		exit_registered = true;
	}
	copy = MemoryContextAllocZero(TopMemoryContext, sizeof(MaasSharedCopy));

	/* mapped already (for a version with the same bytes)? */
	map = mapping_find(info->sha256);
	if (map != NULL && map->pins == 0 &&
		!slot_count(map->slot, map->generation, 0, 1))
		map = NULL;
	if (map != NULL)
		map->pins++;
	else
		map = mapping_make(ref, info);	/* counted in, pinned once */
	map->refs++;
	copy->map = map;
	copy->pinned = true;
	return copy;
}

const uint8 *
maas_weights_data(const MaasSharedCopy *copy, size_t *len)
{
	*len = copy->map->len;
	return copy->map->data;
}

bool
maas_weights_pin(MaasSharedCopy *copy)
{
	Mapping    *map = copy->map;

	if (exiting)
		return false;
	Assert(!copy->pinned);
	if (map->pins == 0 && !slot_count(map->slot, map->generation, 0, 1))
		return false;
	map->pins++;
	copy->pinned = true;
	return true;
}

void
maas_weights_unpin(MaasSharedCopy *copy)
{
	Mapping    *map = copy->map;

	if (!copy->pinned)
		return;
	copy->pinned = false;
	if (--map->pins == 0 && !exiting)
		(void) slot_count(map->slot, map->generation, 0, -1);
}

bool
maas_weights_current(const MaasSharedCopy *copy)
{
	WeightsSlot *slot = &ws->slots[copy->map->slot];
	bool		current;

	SpinLockAcquire(&slot->mutex);
	current = slot->generation == copy->map->generation;
	SpinLockRelease(&slot->mutex);
	return current;
}

void
maas_weights_detach(MaasSharedCopy *copy)
{
	Mapping    *map = copy->map;

	maas_weights_unpin(copy);
	pfree(copy);
	if (--map->refs > 0)
		return;
	if (!exiting)
		(void) slot_count(map->slot, map->generation, -1, 0);
	if (munmap((void *) map->data, map->len) < 0)
		elog(WARNING, "could not unmap shared model weights: %m");
	dlist_delete(&map->node);
	pfree(map);
}

bool
maas_weights_removed_since(uint64 *seen)
{
	uint64		now;

	if (ws == NULL)
		return false;
	now = pg_atomic_read_u64(&ws->removed);
	if (now == *seen)
		return false;
	*seen = now;
	return true;
}

/* ------------------------------------------------------------------------
 * Removing copies
 * ------------------------------------------------------------------------
 */

/*
 * Remove the copies of these weights (all copies when sha256 is NULL);
 * those in use only when force.  Returns how many went.
 */
static int
remove_copies(const uint8 *sha256, bool force)
{
	List	   *gone = NIL;
	int			removed = 0;

	LWLockAcquire(ws->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ws->n_slots; i++)
	{
		WeightsSlot *slot = &ws->slots[i];
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
		slot_free(slot, true, name);
		if (name[0] != '\0')
			gone = lappend(gone, pstrdup(name));
		removed++;
	}
	LWLockRelease(ws->lock);
	unlink_all(gone);
	return removed;
}

static List *release_pending = NIL;

static uint8 *
sha_copy(const uint8 *sha256)
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
					remove_copies((const uint8 *) lfirst(lc), true);
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

	if (ws == NULL)
		return;
	if (!registered)
	{
		RegisterXactCallback(release_xact_callback, NULL);
		registered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	release_pending = lappend(release_pending, sha_copy(sha256));
	MemoryContextSwitchTo(old);
}

/* ------------------------------------------------------------------------
 * SQL
 * ------------------------------------------------------------------------
 */

static void
require_shared(void)
{
	if (ws == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shared model weights are not enabled"),
				 errdetail("The maas library was not loaded at server start, so each backend loads its own copy of the weights it serves."),
				 errhint("Add maas to shared_preload_libraries in postgresql.conf and restart the server.")));
}

static const char *const state_names[] = {
	[SLOT_FREE] = "free",
	[SLOT_LOADING] = "loading",
	[SLOT_READY] = "ready",
	[SLOT_UNVERIFIED] = "unverified",
};

/*
 * maas_loaded_models(): every shared copy, of every database (the view
 * maas.loaded_models names the versions and filters what a role sees).
 */
PG_FUNCTION_INFO_V1(maas_loaded_models);
Datum
maas_loaded_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WeightsSlot *copies;
	int			n = 0;

	require_shared();
	InitMaterializedSRF(fcinfo, 0);

	copies = palloc(sizeof(WeightsSlot) * ws->n_slots);
	LWLockAcquire(ws->lock, LW_SHARED);
	for (int i = 0; i < ws->n_slots; i++)
	{
		WeightsSlot *slot = &ws->slots[i];

		if (slot->state == SLOT_FREE)
			continue;
		SpinLockAcquire(&slot->mutex);
		memcpy(&copies[n++], slot, sizeof(WeightsSlot));
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ws->lock);

	for (int i = 0; i < n; i++)
	{
		WeightsSlot *c = &copies[i];
		Datum		values[9];
		bool		nulls[9] = {false};
		bytea	   *sha = palloc(VARHDRSZ + MAAS_SHA256_LEN);
		bool		loaded = c->state == SLOT_READY;

		SET_VARSIZE(sha, VARHDRSZ + MAAS_SHA256_LEN);
		memcpy(VARDATA(sha), c->sha256, MAAS_SHA256_LEN);
		values[0] = PointerGetDatum(sha);
		values[1] = Int64GetDatum(c->bytes);
		values[2] = CStringGetTextDatum(state_names[c->state]);
		values[3] = Int32GetDatum(c->users);
		values[4] = Int32GetDatum(c->in_use);
		values[5] = TimestampTzGetDatum(c->loaded_at);
		nulls[5] = !loaded;
		values[6] = Float8GetDatum(c->load_ms);
		nulls[6] = !loaded;
		values[7] = TimestampTzGetDatum(c->last_used);
		nulls[7] = c->last_used == 0;
		values[8] = CStringGetTextDatum(c->from_file ? "file" : "catalog");
		nulls[8] = !loaded;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * maas_unload(model, version): remove the shared copies of a version, of
 * every version of a model (version NULL), or of everything (model NULL)
 * that no statement is using.  Backends that map one keep it until their
 * next statement.  Returns how many copies were removed.
 */
PG_FUNCTION_INFO_V1(maas_unload);
Datum
maas_unload(PG_FUNCTION_ARGS)
{
	int			removed = 0;

	require_shared();
	if (PG_ARGISNULL(0))
	{
		if (!PG_ARGISNULL(1))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("model name must not be null when a version is given")));
		PG_RETURN_INT32(remove_copies(NULL, false));
	}
	else
	{
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2] = {PG_GETARG_DATUM(0), PG_ARGISNULL(1) ? 0 : PG_GETARG_DATUM(1)};
		char		nulls[2] = {' ', PG_ARGISNULL(1) ? 'n' : ' '};
		List	   *shas = NIL;
		ListCell   *lc;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT pg_catalog.decode(v.sha256, 'hex') FROM maas.versions v "
								  "WHERE v.model OPERATOR(pg_catalog.=) $1 "
								  "AND ($2 IS NULL OR v.version OPERATOR(pg_catalog.=) $2)",
								  2, types, values, nulls, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read maas.versions");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			bytea	   *sha = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i],
															SPI_tuptable->tupdesc, 1,
															&isnull));

			if (!isnull && VARSIZE_ANY_EXHDR(sha) == MAAS_SHA256_LEN)
				shas = lappend(shas, sha_copy((const uint8 *) VARDATA_ANY(sha)));
		}
		SPI_finish();
		foreach(lc, shas)
			removed += remove_copies((const uint8 *) lfirst(lc), false);
	}
	PG_RETURN_INT32(removed);
}

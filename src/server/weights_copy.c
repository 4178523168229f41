/*
 * weights_copy.c
 *		Making a version's shared copy (writing it, checking one found
 *		after a restart, cleaning up after a failed load) and mapping it
 *		in each backend.
 *
 * See weights_shared.c for the design: the file under the data
 * directory, the slots, the loading lock, crash safety and the budget.
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

#define LOAD_LOCK_CLASS		0x6D61	/* "ma": field 4 of the loading lock */

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

static dlist_head mappings = DLIST_STATIC_INIT(mappings);
static bool exiting = false;

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
	WeightsSlot *slot = &weights_ws->slots[ls->slot];
	char		gone[MAXPGPATH] = "";

	if (ls->tmp[0] != '\0' && unlink(ls->tmp) < 0 && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", ls->tmp)));
	LWLockAcquire(weights_ws->lock, LW_EXCLUSIVE);
	if (slot->generation == ls->generation && slot->state == SLOT_LOADING)
	{
		if (ls->verifying)
		{
			slot->state = SLOT_UNVERIFIED;
			slot->loader_pid = 0;
		}
		else
			weights_slot_free(slot, false, gone);
	}
	LWLockRelease(weights_ws->lock);
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
	MaasGather	g;

	snprintf(ls->tmp, MAXPGPATH, "%s.%d.tmp", path, MyProcPid);
	fs.path = ls->tmp;
	fs.fd = OpenTransientFile(ls->tmp, O_CREAT | O_TRUNC | O_WRONLY | PG_BINARY);
	if (fs.fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", ls->tmp)));
	maas_gather_init(&g, file_sink, &fs);
	maas_weights_read(ref, info, 0, info->bytes, maas_gather_sink, &g);
	maas_gather_flush(&g);
	pfree(g.buf);
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
	buf = palloc(MAAS_WEIGHT_IO);
	for (left = info->bytes; left > 0 && ok;)
	{
		ssize_t		n;

		CHECK_FOR_INTERRUPTS();
		n = read(fd, buf, Min((int64) MAAS_WEIGHT_IO, left));
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
	WeightsSlot *slot = &weights_ws->slots[ls->slot];
	char		path[MAXPGPATH];
	instr_time	start;
	instr_time	took;
	bool		from_file = false;

	weights_copy_path(path, info->sha256);
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

	LWLockAcquire(weights_ws->lock, LW_EXCLUSIVE);
	SpinLockAcquire(&slot->mutex);
	slot->state = SLOT_READY;
	slot->loader_pid = 0;
	slot->loaded_at = GetCurrentTimestamp();
	slot->load_ms = INSTR_TIME_GET_MILLISEC(took);
	slot->from_file = from_file;
	slot->last_used = slot->loaded_at;
	SpinLockRelease(&slot->mutex);
	LWLockRelease(weights_ws->lock);
	ConditionVariableBroadcast(&slot->cv);
}

/* wait until the slot's load (by another member of our lock group) ends */
static void
wait_for_load(int slotno, uint64 generation)
{
	WeightsSlot *slot = &weights_ws->slots[slotno];

	ConditionVariablePrepareToSleep(&slot->cv);
	for (;;)
	{
		bool		loading;

		LWLockAcquire(weights_ws->lock, LW_SHARED);
		loading = slot->generation == generation && slot->state == SLOT_LOADING;
		LWLockRelease(weights_ws->lock);
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
						   (long long) info->bytes, (long long) weights_budget()),
				 errhint("Raise maas.shared_model_memory.")));
	if (room == ROOM_NO_SLOT)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no room for another shared copy of model weights"),
				 errdetail("All %d of maas.shared_models_max are in use.", weights_ws->n_slots),
				 errhint("Raise maas.shared_models_max (this needs a restart).")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("not enough shared model memory for %s", version_name(ref)),
			 errdetail("Its weights take %lld bytes; %lld of the %lld bytes of maas.shared_model_memory are held by models in use.",
					   (long long) info->bytes, (long long) held, (long long) weights_budget()),
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
		WeightsSlot *slot = &weights_ws->slots[map->slot];

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
	WeightsSlot *slot = &weights_ws->slots[slotno];
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

	weights_copy_path(path, info->sha256);
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
	WeightsSlot *slot = &weights_ws->slots[slotno];
	char		gone[MAXPGPATH] = "";
	char		path[MAXPGPATH];

	weights_copy_path(path, slot->sha256);
	ereport(LOG, (errmsg("shared copy \"%s\" of model weights %s; rebuilding it", path, why)));
	LWLockAcquire(weights_ws->lock, LW_EXCLUSIVE);
	if (slot->generation == generation)
		weights_slot_free(slot, true, gone);
	LWLockRelease(weights_ws->lock);
	weights_unlink_gone(gone);
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
			LWLockAcquire(weights_ws->lock, LW_SHARED);
			slotno = weights_slot_find(info->sha256);
			if (slotno >= 0 && weights_ws->slots[slotno].state == SLOT_READY)
			{
				int64		bytes = weights_ws->slots[slotno].bytes;

				map->slot = slotno;
				map->generation = weights_ws->slots[slotno].generation;
				(void) slot_count(slotno, map->generation, 1, 1);
				LWLockRelease(weights_ws->lock);
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
			LWLockRelease(weights_ws->lock);

			/* none: load it, or wait for whoever is loading it */
			load_lock_tag(&tag, info->sha256);
			(void) LockAcquire(&tag, ExclusiveLock, false, false);

			memset(&ls, 0, sizeof(ls));
			ls.slot = -1;
			LWLockAcquire(weights_ws->lock, LW_EXCLUSIVE);
			slotno = weights_slot_find(info->sha256);
			if (slotno >= 0 && weights_ws->slots[slotno].state == SLOT_READY)
				;				/* loaded meanwhile */
			else if (slotno >= 0 && weights_ws->slots[slotno].state == SLOT_LOADING)
			{
				/* by a member of our lock group, which the lock let through */
				ls.slot = slotno;
				ls.generation = weights_ws->slots[slotno].generation;
			}
			else
			{
				WeightsSlot *slot;

				if (slotno >= 0 && weights_ws->slots[slotno].bytes == info->bytes)
					ls.verifying = true;	/* unverified, from before a restart */
				else
				{
					if (slotno >= 0)
					{
						/* unverified, and of another size: not these weights */
						char		name[MAXPGPATH];

						weights_slot_free(&weights_ws->slots[slotno], true, name);
						if (name[0] != '\0')
							gone = lappend(gone, pstrdup(name));
					}
					room = weights_make_room(info->bytes, &slotno, &held, &gone);
					if (room == ROOM_OK)
					{
						slot = &weights_ws->slots[slotno];
						memcpy(slot->sha256, info->sha256, MAAS_SHA256_LEN);
						slot->bytes = info->bytes;
						slot->loaded_at = 0;
						slot->load_ms = 0;
						slot->from_file = false;
					}
				}
				if (room == ROOM_OK)
				{
					slot = &weights_ws->slots[slotno];
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
			LWLockRelease(weights_ws->lock);
			weights_unlink_all(gone);

			if (room != ROOM_OK)
			{
				LockRelease(&tag, ExclusiveLock, false);
				room_error(room, ref, info, held);
			}
			if (ls.slot >= 0 && weights_ws->slots[ls.slot].loader_pid != MyProcPid)
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
	WeightsSlot *slot = &weights_ws->slots[copy->map->slot];
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

	if (weights_ws == NULL)
		return false;
	now = pg_atomic_read_u64(&weights_ws->removed);
	if (now == *seen)
		return false;
	*seen = now;
	return true;
}

/*
 * weights_shared_int.h
 *		What the files of the shared weight copies share: the slots in
 *		shared memory and the functions on them (weights_shared.c), used
 *		by weights_copy.c (making and mapping a copy) and weights_views.c
 *		(maas.loaded_models, maas_unload).  Not for the rest of maas: that
 *		is weights.h.
 */
#ifndef MAAS_WEIGHTS_SHARED_INT_H
#define MAAS_WEIGHTS_SHARED_INT_H

#include "weights.h"

#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

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

/* what stopped a copy from fitting */
typedef enum RoomResult
{
	ROOM_OK,
	ROOM_TOO_BIG,				/* larger than the whole budget */
	ROOM_IN_USE,				/* the rest is held by copies in use */
	ROOM_NO_SLOT				/* every slot holds a copy in use */
} RoomResult;

/* the table of slots; NULL unless preloaded with a budget above 0 */
extern WeightsShared *weights_ws;

/* $PGDATA/pgsql_tmp_maas/<hex>, into path (MAXPGPATH) */
extern void weights_copy_path(char *path, const uint8 *sha256);
/* maas.shared_model_memory in bytes */
extern int64 weights_budget(void);

/* the slot of these weights, or -1; the LWLock held */
extern int	weights_slot_find(const uint8 *sha256);
extern void weights_slot_free(WeightsSlot *slot, bool has_file, char *gone);
extern void weights_unlink_gone(const char *gone);
extern RoomResult weights_make_room(int64 need, int *slotno, int64 *held,
									List **gone);
extern void weights_unlink_all(List *gone);

extern int	weights_remove_copies(const uint8 *sha256, bool force);
extern uint8 *weights_sha_copy(const uint8 *sha256);

#endif							/* MAAS_WEIGHTS_SHARED_INT_H */

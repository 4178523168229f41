/*
 * progress.c
 *		A slot per backend in shared memory saying what its training is doing,
 *		and the function behind the view maas.training_progress.
 *
 * PostgreSQL 15's own progress reporting (pgstat_progress_*) only knows
 * the core's commands (VACUUM, COPY, ...); borrowing one would show
 * trainings in pg_stat_progress_copy, so maas keeps its own small array:
 * MaxBackends slots, indexed by backend id, each written only by its
 * backend under its spinlock and read under the same lock.  A backend
 * updates its slot at most once per epoch or per thousands of rows.  The
 * segment is requested from shared_preload_libraries; without it the view
 * is empty and says so in a NOTICE, and training works the same.
 */
#include "registry.h"
#include "progress.h"

#include <math.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

typedef struct ProgressSlot
{
	slock_t		mutex;
	bool		active;
	int			pid;
	Oid			dbid;
	Oid			userid;
	char		model[MAAS_MODEL_NAME_MAX + 1];
	char		algorithm[32];
	int			phase;
	int64		rows;
	int			epoch;
	int			epochs;
	double		loss;
	TimestampTz started;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	n_slots = 0;
static ProgressSlot *my_slot = NULL;
static bool exit_callback_set = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static const char *const phase_names[] = {
	[MAAS_PHASE_LOADING] = "loading",
	[MAAS_PHASE_PREPROCESSING] = "preprocessing",
	[MAAS_PHASE_TRAINING] = "training",
	[MAAS_PHASE_EVALUATING] = "evaluating",
	[MAAS_PHASE_STORING] = "storing",
};

static Size
progress_size(void)
{
	return mul_size(MaxBackends, sizeof(ProgressSlot));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_size());
}

static void
progress_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	slots = ShmemInitStruct("maas training progress", progress_size(), &found);
	if (!found)
	{
		memset(slots, 0, progress_size());
		for (int i = 0; i < MaxBackends; i++)
			SpinLockInit(&slots[i].mutex);
	}
	n_slots = MaxBackends;
	LWLockRelease(AddinShmemInitLock);
}

void
maas_progress_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

static void
progress_clear(int code, Datum arg)
{
	maas_progress_end();
}

void
maas_progress_begin(const char *model, const char *algorithm)
{
	int			i = MyBackendId - 1;

	my_slot = NULL;
	if (slots == NULL || i < 0 || i >= n_slots)
		return;
	if (!exit_callback_set)
	{
		before_shmem_exit(progress_clear, (Datum) 0);
		exit_callback_set = true;
	}
	my_slot = &slots[i];
	SpinLockAcquire(&my_slot->mutex);
	my_slot->active = true;
	my_slot->pid = MyProcPid;
	my_slot->dbid = MyDatabaseId;
	my_slot->userid = GetUserId();
	strlcpy(my_slot->model, model, sizeof(my_slot->model));
	strlcpy(my_slot->algorithm, algorithm, sizeof(my_slot->algorithm));
	my_slot->phase = MAAS_PHASE_LOADING;
	my_slot->rows = 0;
	my_slot->epoch = 0;
	my_slot->epochs = 0;
	my_slot->loss = NAN;
	my_slot->started = GetCurrentTimestamp();
	SpinLockRelease(&my_slot->mutex);
}

void
maas_progress_phase(MaasTrainPhase phase, int64 rows)
{
	if (my_slot == NULL)
		return;
	SpinLockAcquire(&my_slot->mutex);
	my_slot->phase = phase;
	if (rows >= 0)
		my_slot->rows = rows;
	SpinLockRelease(&my_slot->mutex);
}

void
maas_progress_epoch(int epoch, int epochs, double loss)
{
	if (my_slot == NULL)
		return;
	SpinLockAcquire(&my_slot->mutex);
	my_slot->phase = MAAS_PHASE_TRAINING;
	my_slot->epoch = epoch;
	my_slot->epochs = epochs;
	my_slot->loss = loss;
	SpinLockRelease(&my_slot->mutex);
}

void
maas_progress_end(void)
{
	if (my_slot == NULL)
		return;
	SpinLockAcquire(&my_slot->mutex);
	my_slot->active = false;
	SpinLockRelease(&my_slot->mutex);
	my_slot = NULL;
}

/*
 * maas_training_progress(): one row per training in flight in any
 * database: pid, database, user, model, algorithm, phase, epoch, epochs,
 * rows, loss, started, elapsed.  As pg_stat_activity and the progress
 * views do, it shows every training's pid, database, user and times to
 * everyone, and what it trains and how far it is only to roles with the
 * privileges of the training's role, and to pg_read_all_stats.
 */
PG_FUNCTION_INFO_V1(maas_training_progress);
Datum
maas_training_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	if (slots == NULL)
	{
		ereport(NOTICE,
				(errmsg("training progress is not available"),
				 errhint("Add maas to shared_preload_libraries and restart the server.")));
		return (Datum) 0;
	}
	for (int i = 0; i < n_slots; i++)
	{
		ProgressSlot s;
		Datum		values[12];
		bool		nulls[12];

		SpinLockAcquire(&slots[i].mutex);
		memcpy(&s, &slots[i], sizeof(s));
		SpinLockRelease(&slots[i].mutex);
		if (!s.active)
			continue;

		memset(nulls, false, sizeof(nulls));
		if (!has_privs_of_role(GetUserId(), s.userid) &&
			!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		{
			for (int c = 3; c <= 9; c++)
				nulls[c] = true;
		}
		values[0] = Int32GetDatum(s.pid);
		values[1] = ObjectIdGetDatum(s.dbid);
		values[2] = ObjectIdGetDatum(s.userid);
		values[3] = CStringGetTextDatum(s.model);
		values[4] = CStringGetTextDatum(s.algorithm);
		values[5] = CStringGetTextDatum(phase_names[s.phase]);
		values[6] = Int32GetDatum(s.epoch);
		nulls[6] |= s.epochs == 0;
		values[7] = Int32GetDatum(s.epochs);
		nulls[7] |= s.epochs == 0;
		values[8] = Int64GetDatum(s.rows);
		values[9] = Float8GetDatum(s.loss);
		nulls[9] |= isnan(s.loss);
		values[10] = TimestampTzGetDatum(s.started);
		values[11] = Float8GetDatum((double) (now - s.started) / 1e6);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

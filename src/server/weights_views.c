/*
 * weights_views.c
 *		The SQL side of the shared copies (weights_shared.c): the
 *		maas.loaded_models view and maas_unload().
 */

#include "weights_shared_int.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

static void
require_shared(void)
{
	if (weights_ws == NULL)
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
 * The sha256 of every version of this database whose model the caller may
 * use, for a caller that is not a member of pg_read_all_stats (read from
 * maas.versions, which every role may read).
 */
static List *
usable_shas(void)
{
	List	   *shas = NIL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT pg_catalog.decode(v.sha256, 'hex') FROM maas.versions v "
					"WHERE maas_may_use(v.model)", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read maas.versions");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		bytea	   *sha;

		if (isnull)
			continue;
		sha = DatumGetByteaPP(d);
		if (VARSIZE_ANY_EXHDR(sha) == MAAS_SHA256_LEN)
			shas = lappend(shas, weights_sha_copy((const uint8 *) VARDATA_ANY(sha)));
	}
	SPI_finish();
	return shas;
}

static bool
sha_listed(List *shas, const uint8 *sha)
{
	ListCell   *lc;

	foreach(lc, shas)
	{
		if (memcmp(lfirst(lc), sha, MAAS_SHA256_LEN) == 0)
			return true;
	}
	return false;
}

/*
 * maas_loaded_models(): the shared copies the caller may see -- every one,
 * of every database, for members of pg_read_all_stats; for other roles
 * those of versions of this database's models they may use, as for the
 * statistics (the view maas.loaded_models adds the model and version).
 */
PG_FUNCTION_INFO_V1(maas_loaded_models);
Datum
maas_loaded_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WeightsSlot *copies;
	int			n = 0;

	bool		sees_all;
	List	   *shas = NIL;

	require_shared();
	sees_all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	if (!sees_all)
		shas = usable_shas();
	InitMaterializedSRF(fcinfo, 0);

	copies = palloc(sizeof(WeightsSlot) * weights_ws->n_slots);
	LWLockAcquire(weights_ws->lock, LW_SHARED);
	for (int i = 0; i < weights_ws->n_slots; i++)
	{
		WeightsSlot *slot = &weights_ws->slots[i];

		if (slot->state == SLOT_FREE)
			continue;
		SpinLockAcquire(&slot->mutex);
		memcpy(&copies[n], slot, sizeof(WeightsSlot));
		SpinLockRelease(&slot->mutex);
		if (sees_all || sha_listed(shas, copies[n].sha256))
			n++;
	}
	LWLockRelease(weights_ws->lock);

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
		PG_RETURN_INT32(weights_remove_copies(NULL, false));
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
				shas = lappend(shas, weights_sha_copy((const uint8 *) VARDATA_ANY(sha)));
		}
		SPI_finish();
		foreach(lc, shas)
			removed += weights_remove_copies((const uint8 *) lfirst(lc), false);
	}
	PG_RETURN_INT32(removed);
}

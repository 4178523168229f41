/*
 * catalog.c
 *		The registry as the serving path reads it.
 *
 * Prediction must be cheap, must work in parallel workers and on standbys,
 * and must see deployments exactly as the statement's snapshot does.  So it
 * reads maas.model and maas.version with plain index scans under the active
 * snapshot: no SPI, no planning, no writes.  A deploy committed before the
 * statement took its snapshot is seen; one committed later is not, so a
 * statement never switches versions half-way.
 *
 * The attribute numbers follow the CREATE TABLE statements in the install
 * script, which only ever adds columns at the end.
 */
#include "registry.h"
#include "weights.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* maas.model */
#define Anum_model_model_id			1
#define Anum_model_name				2
#define Anum_model_owner			3
#define Anum_model_deployed_version 5
#define Anum_model_acl				7

/* maas.version */
#define Anum_version_version_id		1
#define Anum_version_model_id		2
#define Anum_version_version		3
#define Anum_version_config			8
#define Anum_version_weights		9
#define Anum_version_sha256			10
#define Anum_version_bytes			11
#define Anum_version_train_stats	14

Oid
maas_registry_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid("maas", true);
	Oid			relid = InvalidOid;

	if (OidIsValid(nsp))
		relid = get_relname_relid(relname, nsp);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the maas registry is missing from this database"),
				 errhint("Run CREATE EXTENSION maas.")));
	return relid;
}

/* the one tuple matching the keys through index, copied, or NULL */
static HeapTuple
fetch_one(Relation rel, const char *index, int nkeys, ScanKey keys)
{
	Oid			indexid = get_relname_relid(index, RelationGetNamespace(rel));
	SysScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(indexid))
		elog(ERROR, "index maas.%s is missing", index);
	scan = systable_beginscan(rel, indexid, true, GetActiveSnapshot(), nkeys, keys);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	return tup;
}

/* the row of a version, copied, with maas.version left open in *rel */
static HeapTuple
version_row(const MaasVersionRef *ref, Relation *rel)
{
	ScanKeyData key;

	*rel = table_open(ref->catalog, AccessShareLock);
	ScanKeyInit(&key, Anum_version_version_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(ref->version_id));
	return fetch_one(*rel, "version_pkey", 1, &key);
}

/*
 * May the current user predict with the model?  Its owner and members of
 * the owner role may, superusers may, and so may roles granted USAGE in
 * the model's acl (directly, through a role they have the privileges of,
 * or through PUBLIC).
 */
bool
maas_model_usable(const char *owner, Datum acl, bool acl_isnull)
{
	Oid			user = GetUserId();
	Oid			owner_id = get_role_oid(owner, true);

	if (superuser_arg(user))
		return true;
	if (OidIsValid(owner_id) && has_privs_of_role(user, owner_id))
		return true;
	if (acl_isnull)
		return false;
	return aclmask(DatumGetAclP(acl), user, owner_id, ACL_USAGE, ACLMASK_ANY) != 0;
}

/*
 * maas_may_use(model): may the current user predict with the model?  false
 * for a model that does not exist.  Views use it to show a role only the
 * rows of models it may use.
 */
PG_FUNCTION_INFO_V1(maas_may_use);
Datum
maas_may_use(PG_FUNCTION_ARGS)
{
	Relation	rel;
	ScanKeyData key;
	HeapTuple	tup;
	bool		usable = false;

	rel = table_open(maas_registry_relid("model"), AccessShareLock);
	ScanKeyInit(&key, Anum_model_name, BTEqualStrategyNumber,
				F_TEXTEQ, PG_GETARG_DATUM(0));
	tup = fetch_one(rel, "model_name_key", 1, &key);
	if (tup != NULL)
	{
		bool		isnull;
		Name		owner = DatumGetName(heap_getattr(tup, Anum_model_owner,
													  RelationGetDescr(rel), &isnull));
		Datum		acl = heap_getattr(tup, Anum_model_acl, RelationGetDescr(rel), &isnull);

		usable = maas_model_usable(NameStr(*owner), acl, isnull);
	}
	table_close(rel, AccessShareLock);
	PG_RETURN_BOOL(usable);
}

/*
 * Resolve a model name and a version number (0: the deployed one) to the
 * version's immutable id, under the active snapshot.
 */
void
maas_lookup_version(const char *model, int32 version, MaasVersionRef *ref)
{
	Relation	rel;
	ScanKeyData keys[2];
	HeapTuple	tup;
	bool		isnull;
	int64		model_id;
	Datum		d;

	rel = table_open(maas_registry_relid("model"), AccessShareLock);
	ScanKeyInit(&keys[0], Anum_model_name, BTEqualStrategyNumber,
				F_TEXTEQ, CStringGetTextDatum(model));
	tup = fetch_one(rel, "model_name_key", 1, keys);
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model)));
	model_id = DatumGetInt64(heap_getattr(tup, Anum_model_model_id,
										  RelationGetDescr(rel), &isnull));
	{
		Name		owner = DatumGetName(heap_getattr(tup, Anum_model_owner,
													  RelationGetDescr(rel), &isnull));
		Datum		acl = heap_getattr(tup, Anum_model_acl,
									   RelationGetDescr(rel), &isnull);

		if (!maas_model_usable(NameStr(*owner), acl, isnull))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for model \"%s\"", model),
					 errhint("The model's owner can grant it with maas_grant('%s', role).",
							 model)));
	}
	if (version == 0)
	{
		d = heap_getattr(tup, Anum_model_deployed_version,
						 RelationGetDescr(rel), &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no deployed version", model),
					 errhint("Deploy one with maas_deploy('%s', 'latest'), or name a version.",
							 model)));
		version = DatumGetInt32(d);
	}
	table_close(rel, AccessShareLock);

	rel = table_open(maas_registry_relid("version"), AccessShareLock);
	ScanKeyInit(&keys[0], Anum_version_model_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(model_id));
	ScanKeyInit(&keys[1], Anum_version_version, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum(version));
	tup = fetch_one(rel, "version_model_version_key", 2, keys);
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("version %d of model \"%s\" does not exist", version, model)));
	ref->catalog = RelationGetRelid(rel);
	ref->version_id = DatumGetInt64(heap_getattr(tup, Anum_version_version_id,
												 RelationGetDescr(rel), &isnull));
	ref->version = version;
	table_close(rel, AccessShareLock);
}

/*
 * The config of a version, detoasted into the current memory context, and
 * (when info is given) what its row says of its weights: size, sha256, and
 * the weights themselves if the row holds them (a version of maas 0.1).
 */
Jsonb *
maas_fetch_config(const MaasVersionRef *ref, MaasWeightsInfo *info)
{
	Relation	rel;
	HeapTuple	tup;
	bool		isnull;
	Jsonb	   *config;

	tup = version_row(ref, &rel);
	if (tup == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model version %lld was dropped while in use",
						(long long) ref->version_id)));
	config = DatumGetJsonbP(heap_getattr(tup, Anum_version_config,
										 RelationGetDescr(rel), &isnull));
	if (info != NULL)
	{
		bytea	   *sha = DatumGetByteaPP(heap_getattr(tup, Anum_version_sha256,
													   RelationGetDescr(rel), &isnull));
		Datum		w;

		if (VARSIZE_ANY_EXHDR(sha) != MAAS_SHA256_LEN)
			elog(ERROR, "sha256 of model version %lld has %zu bytes",
				 (long long) ref->version_id, VARSIZE_ANY_EXHDR(sha));
		memcpy(info->sha256, VARDATA_ANY(sha), MAAS_SHA256_LEN);
		info->bytes = DatumGetInt64(heap_getattr(tup, Anum_version_bytes,
												 RelationGetDescr(rel), &isnull));
		w = heap_getattr(tup, Anum_version_weights, RelationGetDescr(rel), &isnull);
		info->inline_weights = isnull ? NULL : DatumGetByteaP(w);
	}
	table_close(rel, AccessShareLock);
	return config;
}

/*
 * The config and (when weights is not NULL) the weights of a version, in
 * the current memory context; the weights must fit in a bytea.
 */
void
maas_fetch_version(const MaasVersionRef *ref, Jsonb **config, bytea **weights)
{
	MaasWeightsInfo info;

	*config = maas_fetch_config(ref, weights ? &info : NULL);
	if (weights == NULL)
		return;
	if (info.inline_weights != NULL)
		*weights = info.inline_weights;
	else
	{
		if (info.bytes > (int64) (MaxAllocSize - VARHDRSZ))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("model weights are too large for a bytea"),
					 errdetail("The weights take %lld bytes; a value holds at most 1 GB.",
							   (long long) info.bytes)));
		*weights = palloc(VARHDRSZ + info.bytes);
		SET_VARSIZE(*weights, VARHDRSZ + info.bytes);
		maas_weights_read_into(ref, &info, (uint8 *) VARDATA(*weights));
	}
}

/*
 * What the monitoring views show of a version (stats_views.c): its model,
 * the model's owner, its config and training statistics, copied into the
 * current memory context.  False if the version is not in the registry
 * under the active snapshot, or belongs to an earlier maas.version.
 */
bool
maas_version_info(const MaasVersionRef *ref, MaasVersionInfo *info)
{
	Oid			nsp = get_namespace_oid("maas", true);
	Relation	rel;
	ScanKeyData key;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;
	int64		model_id;

	if (!OidIsValid(nsp) || get_relname_relid("version", nsp) != ref->catalog)
		return false;

	tup = version_row(ref, &rel);
	if (tup == NULL)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	model_id = DatumGetInt64(heap_getattr(tup, Anum_version_model_id,
										  RelationGetDescr(rel), &isnull));
	info->version = DatumGetInt32(heap_getattr(tup, Anum_version_version,
											   RelationGetDescr(rel), &isnull));
	info->config = DatumGetJsonbPCopy(heap_getattr(tup, Anum_version_config,
												   RelationGetDescr(rel), &isnull));
	d = heap_getattr(tup, Anum_version_train_stats, RelationGetDescr(rel), &isnull);
	info->train_stats = isnull ? NULL : DatumGetJsonbPCopy(d);
	table_close(rel, AccessShareLock);

	rel = table_open(maas_registry_relid("model"), AccessShareLock);
	ScanKeyInit(&key, Anum_model_model_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(model_id));
	tup = fetch_one(rel, "model_pkey", 1, &key);
	if (tup == NULL)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	info->model = TextDatumGetCString(heap_getattr(tup, Anum_model_name,
												   RelationGetDescr(rel), &isnull));
	info->owner = pstrdup(NameStr(*DatumGetName(heap_getattr(tup, Anum_model_owner,
															 RelationGetDescr(rel),
															 &isnull))));
	{
		Datum		acl = heap_getattr(tup, Anum_model_acl, RelationGetDescr(rel), &isnull);

		info->usable = maas_model_usable(info->owner, acl, isnull);
	}
	table_close(rel, AccessShareLock);
	return true;
}

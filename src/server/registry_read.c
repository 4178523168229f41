/*
 * registry_read.c
 *		The registry as the serving path reads it.
 *
 * Prediction must be cheap, must work in parallel workers and on standbys,
 * and must see deployments exactly as the statement's snapshot does.  So it
 * reads maas.model and maas.version with plain index scans under the active
 * snapshot: no SPI, no planning, no writes.  A deploy committed before the
 * statement took its snapshot is seen; one committed later is not, so a
 * statement never switches versions half-way.  The tables are locked as
 * a query locks what it reads (maas_registry_open), until the end of the
 * transaction, so DDL on the registry waits for the statements serving
 * from it.
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
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* maas.model */
#define Anum_model_model_id			1
#define Anum_model_name				2
#define Anum_model_deployed_version 5
#define Anum_model_anchor			8
/* in a registry not updated from 0.1 yet (maas_model_rights_01) */
#define Anum_model_owner_01			3
#define Anum_model_acl_01			7

/* maas.version */
#define Anum_version_version_id		1
#define Anum_version_model_id		2
#define Anum_version_version		3
#define Anum_version_config			8
#define Anum_version_weights		9
#define Anum_version_sha256			10
#define Anum_version_bytes			11
#define Anum_version_train_stats	14

/*
 * Open maas.<relname> for reading, as a query would: looked up and locked
 * together (RangeVarGetRelid retries the lookup once it holds the lock, so
 * a concurrent DROP is either waited for or seen), and the lock kept until
 * the end of the transaction.  So DDL on the registry -- DROP EXTENSION,
 * ALTER EXTENSION UPDATE -- waits for the transactions that read it, and a
 * reader that comes after it gets this clean error.  Close with NoLock.
 */
Relation
maas_registry_open(const char *relname)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("maas", (char *) relname, -1),
										 AccessShareLock, true);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the maas registry is missing from this database"),
				 errhint("Run CREATE EXTENSION maas.")));
	return table_open(relid, NoLock);
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

/*
 * The row of a version, copied, with maas.version left open in *rel; NULL
 * when the version is gone, or belongs to an earlier maas.version (the
 * extension was dropped and created again since ref was resolved).
 */
static HeapTuple
version_row(const MaasVersionRef *ref, Relation *rel)
{
	ScanKeyData key;

	*rel = maas_registry_open("version");
	if (RelationGetRelid(*rel) != ref->catalog)
		return NULL;
	ScanKeyInit(&key, Anum_version_version_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(ref->version_id));
	return fetch_one(*rel, "version_pkey", 1, &key);
}

/*
 * A model's owner and grants are its type's (sql/install/10_owners.sql):
 * read from the type's row through the syscache, which also works in
 * parallel workers and on standbys.  A model without its type (dropped
 * while sql_drop triggers were off) has no owner: only superusers may use
 * or manage it.  A type whose ACL is NULL (never so for a model's type)
 * counts as granted to nobody but its owner, not as PUBLIC's default.
 */
void
maas_model_rights(Oid anchor, MaasModelRights *r)
{
	HeapTuple	tup;
	Datum		acl;
	bool		isnull;

	r->type = anchor;
	r->owner = InvalidOid;
	r->acl = NULL;
	if (!OidIsValid(anchor))
		return;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(anchor));
	if (!HeapTupleIsValid(tup))
		return;
	r->owner = ((Form_pg_type) GETSTRUCT(tup))->typowner;
	acl = SysCacheGetAttr(TYPEOID, tup, Anum_pg_type_typacl, &isnull);
	if (!isnull)
		r->acl = DatumGetAclPCopy(acl);
	ReleaseSysCache(tup);
}

/*
 * The rights of a model of a registry not updated from 0.1 yet, which
 * records its owner by name and its grants in its own acl column: the
 * rules of 0.1 until ALTER EXTENSION maas UPDATE gives every model its type.
 */
void
maas_model_rights_01(const char *owner, Acl *acl, MaasModelRights *r)
{
	r->type = InvalidOid;
	r->owner = owner ? get_role_oid(owner, true) : InvalidOid;
	r->acl = acl;
}

/* does the registry give models types (0.2), or record names (0.1)? */
bool
maas_registry_has_types(void)
{
	Relation	rel = maas_registry_open("model");
	bool		has = RelationGetDescr(rel)->natts >= Anum_model_anchor;

	table_close(rel, NoLock);
	return has;
}

/* may role manage the model: its owner, a member of the owner role, a superuser */
bool
maas_rights_owner(const MaasModelRights *r, Oid role)
{
	return superuser_arg(role) ||
		(OidIsValid(r->owner) && has_privs_of_role(role, r->owner));
}

/*
 * May the current user predict with the model?  Those who may manage it
 * may, and so may roles granted USAGE on its type (directly, through a
 * role they have the privileges of, or through PUBLIC).
 */
bool
maas_rights_usable(const MaasModelRights *r)
{
	Oid			user = GetUserId();

	if (maas_rights_owner(r, user))
		return true;
	return r->acl != NULL && OidIsValid(r->owner) &&
		aclmask(r->acl, user, r->owner, ACL_USAGE, ACLMASK_ANY) != 0;
}

/* the rights of a maas.model row, of 0.2 or of 0.1 */
static void
row_rights(HeapTuple tup, Relation rel, MaasModelRights *r)
{
	TupleDesc	td = RelationGetDescr(rel);
	bool		isnull;
	Datum		d;

	if (td->natts >= Anum_model_anchor)
	{
		d = heap_getattr(tup, Anum_model_anchor, td, &isnull);
		maas_model_rights(isnull ? InvalidOid : DatumGetObjectId(d), r);
	}
	else
	{
		Name		owner = DatumGetName(heap_getattr(tup, Anum_model_owner_01, td, &isnull));

		d = heap_getattr(tup, Anum_model_acl_01, td, &isnull);
		maas_model_rights_01(NameStr(*owner), isnull ? NULL : DatumGetAclPCopy(d), r);
	}
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

	rel = maas_registry_open("model");
	ScanKeyInit(&key, Anum_model_name, BTEqualStrategyNumber,
				F_TEXTEQ, PG_GETARG_DATUM(0));
	tup = fetch_one(rel, "model_name_key", 1, &key);
	if (tup != NULL)
	{
		MaasModelRights r;

		row_rights(tup, rel, &r);
		usable = maas_rights_usable(&r);
	}
	table_close(rel, NoLock);
	PG_RETURN_BOOL(usable);
}

/*
 * Raise unless the current user may manage the model, if it exists: the
 * check maas_train makes before reading any row.
 */
void
maas_require_model_owner(const char *model)
{
	Relation	rel = maas_registry_open("model");
	ScanKeyData key;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_model_name, BTEqualStrategyNumber,
				F_TEXTEQ, CStringGetTextDatum(model));
	tup = fetch_one(rel, "model_name_key", 1, &key);
	if (tup != NULL)
	{
		MaasModelRights r;

		row_rights(tup, rel, &r);
		if (!maas_rights_owner(&r, GetUserId()))
			maas_not_owner(model, &r);
	}
	table_close(rel, NoLock);
}

/* the error of a caller who does not own the model */
void
maas_not_owner(const char *model, const MaasModelRights *r)
{
	char	   *owner = OidIsValid(r->owner) ? GetUserNameFromId(r->owner, true) : NULL;

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be owner of model \"%s\"", model),
			 owner ? errdetail("The model belongs to role \"%s\".", owner) :
			 errdetail("The model has no owner; only a superuser may manage it.")));
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

	rel = maas_registry_open("model");
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
		MaasModelRights r;

		row_rights(tup, rel, &r);
		if (!maas_rights_usable(&r))
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
	table_close(rel, NoLock);

	rel = maas_registry_open("version");
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
	ref->model_id = model_id;
	table_close(rel, NoLock);
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
	table_close(rel, NoLock);
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
	Relation	rel;
	ScanKeyData key;
	HeapTuple	tup;
	bool		isnull;
	Datum		d;
	int64		model_id;

	if (!OidIsValid(get_namespace_oid("maas", true)))
		return false;
	tup = version_row(ref, &rel);
	if (tup == NULL)
	{
		table_close(rel, NoLock);
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
	table_close(rel, NoLock);

	rel = maas_registry_open("model");
	ScanKeyInit(&key, Anum_model_model_id, BTEqualStrategyNumber,
				F_INT8EQ, Int64GetDatum(model_id));
	tup = fetch_one(rel, "model_pkey", 1, &key);
	if (tup == NULL)
	{
		table_close(rel, NoLock);
		return false;
	}
	info->model = TextDatumGetCString(heap_getattr(tup, Anum_model_name,
												   RelationGetDescr(rel), &isnull));
	{
		MaasModelRights r;

		row_rights(tup, rel, &r);
		info->owner = r.owner;
		info->usable = maas_rights_usable(&r);
	}
	table_close(rel, NoLock);
	return true;
}

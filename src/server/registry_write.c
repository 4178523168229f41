/*
 * registry_write.c
 *		Registering and dropping model versions, and the catalog session
 *		the registry's writers share (registry_int.h).
 *
 * The catalog tables belong to the extension's owner and nobody else may
 * write them.  These functions check the caller's right (EXECUTE, granted
 * by a DBA, and for an existing model its ownership), then do their SPI
 * work as the catalog's owner, in a restricted security context with
 * search_path pinned to pg_catalog, in the caller's transaction: a failed
 * call leaves the registry as it was.  Deploying and granting are in
 * registry_deploy.c, exporting in registry_export.c.
 *
 * Version numbers come from maas.model.last_version under a row lock, so
 * concurrent registrations of one model serialize and numbers are never
 * reused, even after a drop.
 */
#include "registry_int.h"
#include "registry.h"
#include "model.h"
#include "rollout.h"
#include "services.h"
#include "weights.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* the owner of the registry's tables (locked for reading, see registry.h) */
static Oid
catalog_owner(void)
{
	Relation	rel = maas_registry_open("model");
	Oid			owner = rel->rd_rel->relowner;

	table_close(rel, NoLock);
	return owner;
}

void
registry_catalog_begin(CatalogSession *cs)
{
	Oid			owner = catalog_owner();

	cs->caller_cxt = CurrentMemoryContext;
	cs->has_types = maas_registry_has_types();
	GetUserIdAndSecContext(&cs->save_userid, &cs->save_sec_context);
	cs->caller = cs->save_userid;
	SetUserIdAndSecContext(owner, cs->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	cs->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
registry_catalog_end(CatalogSession *cs)
{
	SPI_finish();
	AtEOXact_GUC(true, cs->save_nestlevel);
	SetUserIdAndSecContext(cs->save_userid, cs->save_sec_context);
}

/* run a query with arguments; returns the number of rows */
uint64
registry_catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
					  const char *nulls, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls,
										   false, 0);

	if (rc != expect)
		elog(ERROR, "catalog query failed (%d): %s", rc, sql);
	return SPI_processed;
}

Datum
registry_result_value(int row, int col, bool *isnull)
{
	if (SPI_tuptable == NULL || row >= SPI_processed)
		elog(ERROR, "catalog query returned %llu rows, row %d wanted",
			 (unsigned long long) SPI_processed, row + 1);
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col, isnull);
}

char *
registry_arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* raise if a model name is empty, too long or has control characters */
void
maas_check_model_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("model name must not be empty")));
	if (len > MAAS_MODEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("model name is too long"),
				 errdetail("A model name has at most %d bytes; this one has %zu.",
						   MAAS_MODEL_NAME_MAX, len)));
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("invalid model name \"%s\"", name),
					 errdetail("A model name cannot contain control characters.")));
}

char *
registry_arg_model_name(FunctionCallInfo fcinfo)
{
	char	   *name = registry_arg_text(fcinfo, 0, "model name");

	maas_check_model_name(name);
	return name;
}

/*
 * The columns of maas.model m that say who owns a model and whom it is
 * granted to: its type, or in a registry not updated from 0.1 yet, the
 * names 0.1 recorded (registry.h).  result_rights reads them back.
 */
const char *
registry_rights_columns(CatalogSession *cs)
{
	return cs->has_types ? "m.anchor::pg_catalog.oid, NULL::pg_catalog.name, NULL::pg_catalog.aclitem[]" :
		"NULL::pg_catalog.oid, m.owner, m.acl";
}

static void
result_rights(int row, int col, MaasModelRights *r)
{
	bool		isnull;
	Datum		d = registry_result_value(row, col, &isnull);

	if (!isnull)
	{
		maas_model_rights(DatumGetObjectId(d), r);
		return;
	}
	d = registry_result_value(row, col + 1, &isnull);
	if (isnull)
	{
		maas_model_rights(InvalidOid, r);
		return;
	}
	{
		char	   *owner = pstrdup(NameStr(*DatumGetName(d)));
		Datum		acl = registry_result_value(row, col + 2, &isnull);

		maas_model_rights_01(owner, isnull ? NULL : DatumGetAclPCopy(acl), r);
	}
}

/*
 * The caller must own the model (its type, registry.h): be its owner, a
 * member of the owner role, or a superuser.  The rights are in columns
 * col .. col + 2 of the row of the last query (registry_rights_columns).
 */
void
registry_check_owner(CatalogSession *cs, const char *model, int row, int col,
					 MaasModelRights *r)
{
	result_rights(row, col, r);
	if (!maas_rights_owner(r, cs->caller))
		maas_not_owner(model, r);
}

/*
 * Lock the model's row and check the caller owns it.  Returns false if
 * there is no such model and missing_ok; raises otherwise.
 */
bool
registry_lock_model(CatalogSession *cs, const char *model, bool missing_ok,
					int64 *model_id, int32 *last_version, int32 *deployed,
					MaasModelRights *rights)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};
	bool		isnull;

	if (registry_catalog_exec(psprintf("SELECT m.model_id, m.last_version, m.deployed_version, %s "
									   "FROM maas.model m WHERE m.name = $1 FOR UPDATE",
									   registry_rights_columns(cs)),
							  1, types, values, NULL, SPI_OK_SELECT) == 0)
	{
		if (missing_ok)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", model)));
	}
	registry_check_owner(cs, model, 0, 4, rights);
	*model_id = DatumGetInt64(registry_result_value(0, 1, &isnull));
	*last_version = DatumGetInt32(registry_result_value(0, 2, &isnull));
	*deployed = DatumGetInt32(registry_result_value(0, 3, &isnull));
	if (isnull)
		*deployed = 0;
	return true;
}

/* a version of the model must exist; says so if it was dropped */
void
registry_require_version(const char *model, int64 model_id, int32 last_version,
						 int32 version)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2] = {Int64GetDatum(model_id), Int32GetDatum(version)};

	if (registry_catalog_exec("SELECT 1 FROM maas.version WHERE model_id = $1 AND version = $2",
							  2, types, values, NULL, SPI_OK_SELECT) > 0)
		return;
	if (version >= 1 && version <= last_version)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("version %d of model \"%s\" does not exist", version, model),
				 errdetail("It was dropped.")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("version %d of model \"%s\" does not exist", version, model)));
}

/*
 * Safetensors bytes holding the same tensors, floating ones as F32 when
 * to_f32, with the file's metadata minus maas.* keys: the form a version
 * is stored in.  Sets *len.
 */
static uint8 *
rewrite_safetensors(const StFile *file, bool to_f32, size_t *len)
{
	MaasError	err;
	StWriteTensor *tensors = st_tensors_for_write(file, to_f32, &err);
	const char **keys = palloc(sizeof(char *) * (file->n_meta + 1));
	const char **vals = palloc(sizeof(char *) * (file->n_meta + 1));
	int			n_meta = 0;
	uint8	   *out;

	if (tensors == NULL)
		maas_raise(&err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
				   "could not write safetensors data", NULL);
	for (int i = 0; i < file->n_meta; i++)
	{
		if (strncmp(file->meta_keys[i], "maas.", 5) == 0)
			continue;
		keys[n_meta] = file->meta_keys[i];
		vals[n_meta++] = file->meta_values[i];
	}
	out = st_write(tensors, file->n_tensors, keys, vals, n_meta, len, &err);
	if (out == NULL)
		maas_raise(&err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
				   "could not write safetensors data", NULL);
	return out;
}

static void
parse_weights(const uint8 *data, size_t len, StFile *file)
{
	MaasError	err;

	if (!st_parse(data, len, file, &err))
		maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION,
				   "invalid safetensors data", NULL);
}

/*
 * The config a file written by maas_export carries in its metadata, or an
 * error saying that one must be given.
 */
Jsonb *
maas_config_from_weights(const StFile *file)
{
	const char *embedded = st_meta(file, "maas.config");

	if (embedded == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("config must not be null"),
				 errhint("Pass the model's config, or register a file written by maas_export, which carries one.")));
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(embedded)));
}

static bytea *inline_weights(const uint8 *data, size_t len);

static bool
valid_algorithm(const char *a)
{
	size_t		len = strlen(a);

	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char) a[i]) || a[i] == '_' || a[i] == '-' || a[i] == '.'))
			return false;
	return true;
}

/*
 * Store a new version of a model, creating the model if it is new: the
 * common path of maas_register and of the trainers.  Everything is checked
 * (weights, config, the caller's ownership) before anything is written;
 * floating tensors are stored as F32.  metrics, train_stats may be NULL;
 * parent_version 0 means none.  Returns the version number.
 */
int32
maas_store_version(const char *model, const char *algorithm, bytea *weights,
				   Jsonb *config, Jsonb *metrics, Jsonb *train_stats,
				   int32 parent_version)
{
	return maas_store_version_bytes(model, algorithm,
									(const uint8 *) VARDATA_ANY(weights),
									VARSIZE_ANY_EXHDR(weights),
									config, metrics, train_stats, parent_version);
}

/*
 * The same for weights of any size in memory (a bytea's data, or a file
 * mapped by registry_files.c): the row, then the weights in chunks.
 */
int32
maas_store_version_bytes(const char *model, const char *algorithm,
						 const uint8 *data, size_t len, Jsonb *config,
						 Jsonb *metrics, Jsonb *train_stats, int32 parent_version)
{
	StFile		file;
	MaasModel  *built;
	bool		rewrite = false;
	CatalogSession cs;
	int64		model_id;
	int64		version_id;
	int32		version;
	MaasModelRights rights;
	bool		isnull;
	bytea	   *sha256;
	bool		chunked = maas_weights_chunked();
	bool		quantized;
	const char *dtype = "F32";

	PreventCommandIfReadOnly("maas_register()");
	maas_check_model_name(model);
	if (!valid_algorithm(algorithm))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid algorithm name \"%s\"", algorithm),
				 errdetail("An algorithm name has 1 to 63 letters, digits, '_', '-' or '.'.")));
	maas_import_weights(algorithm, &config, &data, &len);
	parse_weights(data, len, &file);
	if (config == NULL)			/* an importer's own export: its config is inside */
		config = maas_config_from_weights(&file);
	config = maas_import_config(algorithm, config, &file);
	built = maas_model_build(config, &file);
	maas_model_check_config(config, built);

	/*
	 * A quantized version (its config says "quantization": maas_quantize,
	 * doc/optimization.md) keeps its tensors as they are: int8 with F32
	 * scales, BF16 or F16.  Otherwise floating tensors are stored as F32
	 * (int8 ones, which only a dense layer with a "scale" reads, stay).
	 */
	quantized = getKeyJsonValueFromContainer(&config->root, "quantization",
											 strlen("quantization"), NULL) != NULL;
	for (int i = 0; i < file.n_tensors; i++)
	{
		StDtype		t = file.tensors[i].dtype;

		if (t == ST_I8)
			dtype = "I8";
		else if (quantized && t == ST_BF16 && strcmp(dtype, "I8") != 0)
			dtype = "BF16";
		else if (quantized && t == ST_F16 && strcmp(dtype, "F32") == 0)
			dtype = "F16";
		if (!quantized && (t == ST_F64 || t == ST_F16 || t == ST_BF16))
			rewrite = true;
	}
	for (int i = 0; i < file.n_meta; i++)
		if (strncmp(file.meta_keys[i], "maas.", 5) == 0)
			rewrite = true;
	if (rewrite)
		data = rewrite_safetensors(&file, !quantized, &len);
	sha256 = palloc(VARHDRSZ + MAAS_SHA256_LEN);
	SET_VARSIZE(sha256, VARHDRSZ + MAAS_SHA256_LEN);
	maas_weights_sha256(data, len, (uint8 *) VARDATA(sha256));

	registry_catalog_begin(&cs);
	{
		Oid			types[2] = {TEXTOID, NAMEOID};
		Datum		values[2];

		values[0] = CStringGetTextDatum(model);
		values[1] = DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(cs.caller, false)));
		/*
		 * One statement creates the model or takes the next number under
		 * the row lock, so a concurrent drop or register cannot come
		 * between.  A new model gets its type, owned by the caller, from
		 * the insert trigger (10_owners.sql); then its row says which.
		 */
		registry_catalog_exec("INSERT INTO maas.model AS m (name, owner, last_version) VALUES ($1, $2, 1) "
							  "ON CONFLICT (name) DO UPDATE SET last_version = m.last_version + 1 "
							  "RETURNING model_id, last_version",
							  2, types, values, NULL, SPI_OK_INSERT_RETURNING);
		model_id = DatumGetInt64(registry_result_value(0, 1, &isnull));
		version = DatumGetInt32(registry_result_value(0, 2, &isnull));
	}
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(model_id)};

		registry_catalog_exec(psprintf("SELECT %s FROM maas.model m WHERE m.model_id = $1",
									   registry_rights_columns(&cs)),
							  1, types, values, NULL, SPI_OK_SELECT);
		registry_check_owner(&cs, model, 0, 1, &rights);
	}
	{
		Oid			types[15] = {INT8OID, INT4OID, TEXTOID, TEXTOID, INT4OID,
			INT4OID, JSONBOID, BYTEAOID, INT8OID, NAMEOID, JSONBOID, JSONBOID, INT4OID,
		BYTEAOID, TEXTOID};
		Datum		values[15];
		char		nulls[15];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(model_id);
		values[1] = Int32GetDatum(version);
		values[2] = CStringGetTextDatum(algorithm);
		values[3] = CStringGetTextDatum(maas_task_name(built->task));
		values[4] = Int32GetDatum(built->net.n_in);
		values[5] = Int32GetDatum(maas_model_outputs(built));
		values[6] = JsonbPGetDatum(config);
		values[7] = PointerGetDatum(sha256);
		values[8] = Int64GetDatum((int64) len);
		values[9] = DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(cs.caller, false)));
		values[10] = metrics ? JsonbPGetDatum(metrics) : (Datum) 0;
		nulls[10] = metrics ? ' ' : 'n';
		values[11] = train_stats ? JsonbPGetDatum(train_stats) : (Datum) 0;
		nulls[11] = train_stats ? ' ' : 'n';
		values[12] = Int32GetDatum(parent_version);
		nulls[12] = parent_version > 0 ? ' ' : 'n';
		/* in chunks; in the row itself in a database still at maas 0.1 */
		values[13] = chunked ? (Datum) 0 : PointerGetDatum(inline_weights(data, len));
		nulls[13] = chunked ? 'n' : ' ';
		values[14] = CStringGetTextDatum(dtype);
		registry_catalog_exec("INSERT INTO maas.version (model_id, version, algorithm, task, "
							  "n_features, n_outputs, config, sha256, bytes, dtype, created_by, "
							  "metrics, train_stats, parent_version, weights) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $15, $10, $11, $12, $13, $14) "
							  "RETURNING version_id",
							  15, types, values, nulls, SPI_OK_INSERT_RETURNING);
		version_id = DatumGetInt64(registry_result_value(0, 1, &isnull));
	}
	if (chunked)
		maas_weights_write(version_id, data, len);
	registry_catalog_end(&cs);
	return version;
}

/* the weights as one bytea, for a registry of maas 0.1, which has no chunks */
static bytea *
inline_weights(const uint8 *data, size_t len)
{
	bytea	   *b;

	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model weights are too large to store"),
				 errdetail("The weights take %zu bytes; the registry of maas 0.1 holds at most 1 GB a version.",
						   len),
				 errhint("Update the extension with ALTER EXTENSION maas UPDATE.")));
	b = palloc(VARHDRSZ + len);
	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/*
 * Catalog work as its owner for the other parts of maas (registry.h):
 * begin, queries, their results, the owner check, end.
 */
void
maas_catalog_begin(MaasCatalogSession *cs)
{
	registry_catalog_begin(cs);
}

void
maas_catalog_end(MaasCatalogSession *cs)
{
	registry_catalog_end(cs);
}

uint64
maas_catalog_query(const char *sql, int nargs, Oid *types, Datum *values,
				   const char *nulls, int expect)
{
	return registry_catalog_exec(sql, nargs, types, values, nulls, expect);
}

Datum
maas_catalog_result(int row, int col, bool *isnull)
{
	return registry_result_value(row, col, isnull);
}

/*
 * The owner of model, after checking the caller owns it; InvalidOid when
 * there is no such model.
 */
Oid
maas_catalog_model_owner(MaasCatalogSession *cs, const char *model)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(model)};
	MaasModelRights r;

	if (maas_catalog_query(psprintf("SELECT %s FROM maas.model m WHERE m.name = $1",
									registry_rights_columns(cs)),
						   1, types, values, NULL, SPI_OK_SELECT) == 0)
		return InvalidOid;
	registry_check_owner(cs, model, 0, 1, &r);
	return r.owner;
}

/*
 * Run one statement on the catalog as its owner (for parts of maas that
 * keep their own catalog tables, e.g. maas.training_run), in the caller's
 * transaction.  expect is the SPI result code it must give.
 */
void
maas_catalog_execute(const char *sql, int nargs, Oid *types, Datum *values,
					 const char *nulls, int expect)
{
	CatalogSession cs;

	registry_catalog_begin(&cs);
	registry_catalog_exec(sql, nargs, types, values, nulls, expect);
	registry_catalog_end(&cs);
}

/*
 * maas_register(model, algorithm, weights, config): store a model trained
 * elsewhere as the model's next version; returns the version number.  The
 * config may be omitted when the weights carry one (maas_export writes it
 * into the safetensors metadata).
 */
PG_FUNCTION_INFO_V1(maas_register);
Datum
maas_register(PG_FUNCTION_ARGS)
{
	char	   *model = registry_arg_model_name(fcinfo);
	char	   *algorithm = registry_arg_text(fcinfo, 1, "algorithm");
	bytea	   *weights;
	Jsonb	   *config;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("weights must not be null")));
	weights = PG_GETARG_BYTEA_P(2);

	if (!PG_ARGISNULL(3))
		config = PG_GETARG_JSONB_P(3);
	else if (maas_import_derives_config(algorithm))
		config = NULL;
	else
	{
		StFile		file;

		maas_parse_safetensors(weights, &file);
		config = maas_config_from_weights(&file);
	}

	PG_RETURN_INT32(maas_store_version(model, algorithm, weights, config,
									   NULL, NULL, 0));
}


/* the shared copies of the versions just deleted (RETURNING sha256) go at commit */
static void
release_dropped(void)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bytea	   *sha = DatumGetByteaPP(registry_result_value((int) i, 1, &isnull));

		if (!isnull && VARSIZE_ANY_EXHDR(sha) == MAAS_SHA256_LEN)
			maas_weights_release_at_commit((const uint8 *) VARDATA_ANY(sha));
	}
}

/*
 * maas_drop(model [, version]): remove one version that is not deployed,
 * or with no version the whole model.  Returns the number of versions
 * removed.  Version numbers are not reused afterwards.
 */
PG_FUNCTION_INFO_V1(maas_drop);
Datum
maas_drop(PG_FUNCTION_ARGS)
{
	char	   *model = registry_arg_model_name(fcinfo);
	CatalogSession cs;
	int64		model_id;
	int32		last_version;
	int32		deployed;
	uint64		removed;
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	MaasModelRights rights;

	PreventCommandIfReadOnly("maas_drop()");
	registry_catalog_begin(&cs);
	registry_lock_model(&cs, model, false, &model_id, &last_version, &deployed, &rights);
	values[0] = Int64GetDatum(model_id);

	if (PG_ARGISNULL(1))
	{
		removed = registry_catalog_exec("DELETE FROM maas.version WHERE model_id = $1 RETURNING sha256",
										1, types, values, NULL, SPI_OK_DELETE_RETURNING);
		release_dropped();
		registry_catalog_exec("DELETE FROM maas.model WHERE model_id = $1",
							  1, types, values, NULL, SPI_OK_DELETE);
		/* its training runs go too: a later model of the name is another's */
		{
			Oid			ttypes[1] = {TEXTOID};
			Datum		tvalues[1] = {CStringGetTextDatum(model)};

			registry_catalog_exec("DELETE FROM maas.training_run WHERE model = $1",
								  1, ttypes, tvalues, NULL, SPI_OK_DELETE);
		}
		/*
		 * and its type, as DROP TYPE would: refused while objects depend
		 * on it (columns of the type, made by roles it was granted to)
		 */
		if (OidIsValid(rights.type) && OidIsValid(rights.owner))
			registry_catalog_exec(psprintf("DROP TYPE %s",
										   format_type_extended(rights.type, -1,
																FORMAT_TYPE_FORCE_QUALIFY)),
								  0, NULL, NULL, NULL, SPI_OK_UTILITY);
	}
	else
	{
		int32		version = PG_GETARG_INT32(1);

		registry_require_version(model, model_id, last_version, version);
		if (version == deployed)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("cannot drop version %d of model \"%s\" because it is deployed",
							version, model),
					 errhint("Deploy another version first, or drop the whole model with maas_drop('%s').",
							 model)));
		values[1] = Int32GetDatum(version);
		removed = registry_catalog_exec("DELETE FROM maas.version WHERE model_id = $1 AND version = $2 "
										"RETURNING sha256",
										2, types, values, NULL, SPI_OK_DELETE_RETURNING);
		release_dropped();
	}
	registry_catalog_end(&cs);

	PG_RETURN_INT32((int32) removed);
}


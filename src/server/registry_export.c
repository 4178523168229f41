/*
 * registry_export.c
 *		Exporting a model version (maas_export, and the preparation that
 *		maas_export_file and maas_export_parts in registry_files.c share),
 *		read in the catalog session of registry_write.c (registry_int.h).
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

/*
 * What exporting a version takes (maas_export here, maas_export_file and
 * maas_export_parts in registry_files.c), after checking that the caller
 * owns the model: the version (unless given, the deployed one, or the
 * latest when none is deployed), its algorithm and config, and the header of the exported
 * file, which carries them.  The exported file is that header followed by
 * the stored bytes from data_start on (their tensors, unchanged).
 */
void
maas_export_prepare(const char *model, bool given, int32 version, MaasExport *ex)
{
	CatalogSession cs;
	bool		isnull;
	int64		version_id;

	memset(ex, 0, sizeof(MaasExport));
	registry_catalog_begin(&cs);
	{
		Oid			types[2] = {TEXTOID, INT4OID};
		Datum		values[2] = {CStringGetTextDatum(model), Int32GetDatum(0)};

		if (registry_catalog_exec(psprintf("SELECT m.model_id, %s, m.last_version, "
										   "COALESCE(m.deployed_version, "
										   "(SELECT max(version) FROM maas.version v WHERE v.model_id = m.model_id)) "
										   "FROM maas.model m WHERE m.name = $1",
										   registry_rights_columns(&cs)),
								  1, types, values, NULL, SPI_OK_SELECT) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", model)));
		{
			MaasModelRights rights;

			registry_check_owner(&cs, model, 0, 2, &rights);
		}
		if (!given)
		{
			version = DatumGetInt32(registry_result_value(0, 6, &isnull));
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("model \"%s\" has no versions", model)));
		}
		registry_require_version(model, DatumGetInt64(registry_result_value(0, 1, &isnull)),
								 DatumGetInt32(registry_result_value(0, 5, &isnull)), version);

		values[1] = Int32GetDatum(version);
		registry_catalog_exec("SELECT v.algorithm, v.config::text, v.config, v.version_id "
							  "FROM maas.version v JOIN maas.model m USING (model_id) "
							  "WHERE m.name = $1 AND v.version = $2",
							  2, types, values, NULL, SPI_OK_SELECT);
	}
	{
		MemoryContext spi_cxt = MemoryContextSwitchTo(cs.caller_cxt);

		ex->algorithm = TextDatumGetCString(registry_result_value(0, 1, &isnull));
		ex->config_text = TextDatumGetCString(registry_result_value(0, 2, &isnull));
		ex->config = DatumGetJsonbPCopy(registry_result_value(0, 3, &isnull));
		version_id = DatumGetInt64(registry_result_value(0, 4, &isnull));
		MemoryContextSwitchTo(spi_cxt);
	}
	registry_catalog_end(&cs);

	{
		Relation	rel = maas_registry_open("version");

		ex->ref.catalog = RelationGetRelid(rel);
		table_close(rel, NoLock);
	}
	ex->ref.version_id = version_id;
	ex->ref.version = version;

	/*
	 * The weights are read under a snapshot that sees what the queries
	 * above saw (a version made earlier in this transaction too), the same
	 * for every part of the export.
	 */
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	ex->snap = RegisterSnapshot(GetActiveSnapshot());
	(void) maas_fetch_config(&ex->ref, &ex->info);

	/* the stored header, read alone, and the new one */
	{
		MaasError	err;
		uint8	   *head = maas_weights_read_head(&ex->ref, &ex->info,
												  (size_t) Min(ex->info.bytes, 8));
		size_t		need;
		StFile		file;
		StWriteTensor *tensors;
		const char **keys;
		const char **vals;
		int			n_meta = 0;
		uint64		data_len;

		if (!st_header_size(head, (size_t) Min(ex->info.bytes, 8), (uint64) ex->info.bytes,
							&need, &err))
			maas_raise(&err, ERRCODE_DATA_CORRUPTED, "invalid stored safetensors data", NULL);
		head = maas_weights_read_head(&ex->ref, &ex->info, need);
		if (!st_parse_header_only(head, need, (uint64) ex->info.bytes, &file, &err) ||
			(tensors = st_tensors_for_write(&file, false, &err)) == NULL)
			maas_raise(&err, ERRCODE_DATA_CORRUPTED, "invalid stored safetensors data", NULL);

		keys = palloc(sizeof(char *) * (file.n_meta + 4));
		vals = palloc(sizeof(char *) * (file.n_meta + 4));
		for (int i = 0; i < file.n_meta; i++)
		{
			if (strncmp(file.meta_keys[i], "maas.", 5) == 0)
				continue;
			keys[n_meta] = file.meta_keys[i];
			vals[n_meta++] = file.meta_values[i];
		}
		keys[n_meta] = "maas.config";
		vals[n_meta++] = ex->config_text;
		keys[n_meta] = "maas.algorithm";
		vals[n_meta++] = ex->algorithm;
		keys[n_meta] = "maas.model";
		vals[n_meta++] = pstrdup(model);
		keys[n_meta] = "maas.version";
		vals[n_meta++] = psprintf("%d", version);
		ex->header = st_write_header(tensors, file.n_tensors, keys, vals, n_meta,
									 &ex->header_len, &data_len, &err);
		if (ex->header == NULL)
			maas_raise(&err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
					   "could not write safetensors data", NULL);
		ex->data_start = (int64) need;
		if ((int64) data_len != ex->info.bytes - ex->data_start)
			elog(ERROR, "stored tensors take %llu bytes, not %lld",
				 (unsigned long long) data_len,
				 (long long) (ex->info.bytes - ex->data_start));
		ex->total = (int64) ex->header_len + (int64) data_len;
	}
	PopActiveSnapshot();
}

/* bytes [start, end) of the stored weights of an export, into sink */
void
maas_export_read(MaasExport *ex, int64 start, int64 end, MaasWeightsSink sink, void *arg)
{
	PushActiveSnapshot(ex->snap);
	maas_weights_read(&ex->ref, &ex->info, start, end, sink, arg);
	PopActiveSnapshot();
}

void
maas_export_done(MaasExport *ex)
{
	if (ex->snap != NULL)
		UnregisterSnapshot(ex->snap);
	ex->snap = NULL;
}

typedef struct ExportInto
{
	uint8	   *dst;
	size_t		pos;
} ExportInto;

static void
export_into(void *arg, const uint8 *data, size_t len)
{
	ExportInto *e = (ExportInto *) arg;

	memcpy(e->dst + e->pos, data, len);
	e->pos += len;
}

/*
 * maas_export(model [, version]): a version's algorithm, weights and
 * config.  The weights are safetensors that also carry the config and
 * algorithm in their metadata, so the file alone registers again.  Without
 * a version, the deployed one, or the latest when none is deployed.  Up to
 * the 1 GB a bytea holds; maas_export_file and maas_export_parts export
 * any size.
 */
PG_FUNCTION_INFO_V1(maas_export);
Datum
maas_export(PG_FUNCTION_ARGS)
{
	char	   *model = registry_arg_model_name(fcinfo);
	TupleDesc	tupdesc;
	Datum		result[3];
	bool		nulls[3] = {false, false, false};
	MaasExport	ex;
	bytea	   *weights;
	ExportInto	into;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	maas_export_prepare(model, !PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1),
						&ex);
	if (ex.total > (int64) (MaxAllocSize - VARHDRSZ))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("version %d of model \"%s\" is too large to export as a bytea",
						ex.ref.version, model),
				 errdetail("The exported file takes %lld bytes; a value holds at most 1 GB.",
						   (long long) ex.total),
				 errhint("Use maas_export_file or maas_export_parts.")));
	weights = palloc(VARHDRSZ + ex.total);
	SET_VARSIZE(weights, VARHDRSZ + ex.total);
	into.dst = (uint8 *) VARDATA(weights);
	memcpy(into.dst, ex.header, ex.header_len);
	into.pos = ex.header_len;
	maas_export_read(&ex, ex.data_start, ex.info.bytes, export_into, &into);
	maas_export_done(&ex);

	result[0] = CStringGetTextDatum(ex.algorithm);
	result[1] = PointerGetDatum(weights);
	result[2] = JsonbPGetDatum(ex.config);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}


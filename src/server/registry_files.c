/*
 * registry_files.c
 *		Versions of any size in and out of the registry: registered from a
 *		file on the server or from an upload in parts, exported to a file on
 *		the server or as a set of parts.
 *
 * maas_register and maas_export take and give the weights as one bytea,
 * which stops at 1 GB.  Here the weights never need to be in a backend's
 * memory at once.  A file to register is first copied into a temporary
 * file of this backend (as an upload is written into one): a file that
 * someone truncates while it is mapped would crash the backend that maps
 * it, and a temporary file is ours alone.  That file is then mapped
 * read-only and registered by maas_store_version_bytes, which checks it
 * all (the header, the config, every value) and stores it in chunks.  An
 * export streams the stored chunks after a new header (maas_export_prepare).
 *
 * Reading and writing files on the server is for roles with the
 * privileges of pg_read_server_files and pg_write_server_files, as for
 * COPY; all of these functions are also revoked from PUBLIC, like
 * maas_register, and the registry checks ownership of the model as for
 * maas_register and maas_export.
 */
#include "model.h"
#include "weights.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "funcapi.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "safetensors.h"
#include "services.h"

/* uploads a session may have at once */
#define MAX_UPLOADS		8

typedef struct Upload
{
	int			id;				/* 0: a free slot */
	File		file;			/* a temporary file, kept across transactions */
	int64		size;
} Upload;

static Upload uploads[MAX_UPLOADS];
static int	last_upload_id = 0;

static char *
arg_text(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static char *
arg_model(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = arg_text(fcinfo, argno, "model name");

	maas_check_model_name(name);
	return name;
}

static void
require_role(Oid role, const char *what)
{
	if (!has_privs_of_role(GetUserId(), role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", what),
				 errdetail("Only roles with privileges of the \"%s\" role may %s.",
						   GetUserNameFromId(role, false), what)));
}

/*
 * Register the size bytes of a file of ours (a temporary file), mapped
 * read-only while they are checked and stored.
 */
static int32
register_file_bytes(int fd, const char *what, int64 size, const char *model,
					const char *algorithm, Jsonb *config)
{
	void	   *data;
	int32		version;

	if (size < 16)
	{
		StFile		file;
		MaasError	err;
		uint8		small[16] = {0};

		if (size > 0 && pg_pread(fd, small, (size_t) size, 0) != size)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read %s: %m", what)));
		if (!st_parse(small, (size_t) size, &file, &err))
			maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION,
					   "invalid safetensors data", NULL);
	}
	if ((uint64) size > SIZE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s is too large", what)));
	data = mmap(NULL, (size_t) size, PROT_READ, MAP_SHARED, fd, 0);
	if (data == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not map %s: %m", what)));
	PG_TRY();
	{
		if (config == NULL && !maas_import_derives_config(algorithm))
		{
			StFile		file;
			MaasError	err;

			if (!st_parse(data, (size_t) size, &file, &err))
				maas_raise(&err, ERRCODE_INVALID_BINARY_REPRESENTATION,
						   "invalid safetensors data", NULL);
			config = maas_config_from_weights(&file);
		}
		version = maas_store_version_bytes(model, algorithm, data, (size_t) size,
										   config, NULL, NULL, 0);
	}
	PG_FINALLY();
	{
		munmap(data, (size_t) size);
	}
	PG_END_TRY();
	return version;
}

/* the raw descriptor of a temporary file, open */
static int
temp_fd(File file)
{
	(void) FileSize(file);		/* reopens it if the pool closed it */
	return FileGetRawDesc(file);
}

/*
 * The SQLSTATE of a path that could not be opened: a name too long for the
 * file system (ENAMETOOLONG, which errcode_for_file_access leaves XX000) is
 * the caller's error, 42622; the rest as PostgreSQL's file functions say.
 * The caller saves errno before ereport starts.
 */
static int
open_errcode(int e)
{
	if (e == ENAMETOOLONG)
		return errcode(ERRCODE_NAME_TOO_LONG);
	return errcode_for_file_access();
}

/*
 * maas_register_file(model, algorithm, path [, config]): register the
 * safetensors file at path on the server as the model's next version, of
 * any size.  The config may be omitted when the file carries one (a file
 * written by maas_export or maas_export_file).  For roles with the
 * privileges of pg_read_server_files.
 */
PG_FUNCTION_INFO_V1(maas_register_file);
Datum
maas_register_file(PG_FUNCTION_ARGS)
{
	char	   *model = arg_model(fcinfo, 0);
	char	   *algorithm = arg_text(fcinfo, 1, "algorithm");
	char	   *path = arg_text(fcinfo, 2, "path");
	Jsonb	   *config = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	int			src;
	struct stat st;
	File		tmp;
	char	   *buf;
	int64		size = 0;
	int32		version;
	char	   *what;

	require_role(ROLE_PG_READ_SERVER_FILES, "register a model from a file");
	PreventCommandIfReadOnly("maas_register_file()");

	src = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (src < 0)
	{
		int			save_errno = errno;

		ereport(ERROR,
				(open_errcode(save_errno),
				 errmsg("could not open file \"%s\" for reading: %m", path)));
	}
	if (fstat(src, &st) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", path)));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a regular file", path)));

	/* a copy of our own, which nobody can change under the mapping */
	tmp = OpenTemporaryFile(false);
	buf = palloc(MAAS_WEIGHT_IO);
	for (;;)
	{
		ssize_t		n;

		CHECK_FOR_INTERRUPTS();
		n = read(src, buf, MAAS_WEIGHT_IO);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", path)));
		if (n == 0)
			break;
		if (FileWrite(tmp, buf, (int) n, (off_t) size, PG_WAIT_EXTENSION) != n)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write temporary file: %m")));
		size += n;
	}
	pfree(buf);
	CloseTransientFile(src);

	what = psprintf("file \"%s\"", path);
	version = register_file_bytes(temp_fd(tmp), what, size, model, algorithm, config);
	FileClose(tmp);
	PG_RETURN_INT32(version);
}

/* ------------------------------------------------------------------------
 * Uploads
 * ------------------------------------------------------------------------
 */

static Upload *
find_upload(FunctionCallInfo fcinfo)
{
	int			id;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("upload must not be null")));
	id = PG_GETARG_INT32(0);
	for (int i = 0; i < MAX_UPLOADS; i++)
		if (uploads[i].id == id && id > 0)
			return &uploads[i];
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("upload %d does not exist", id),
			 errdetail("An upload belongs to the session that began it, until it is registered or the session ends."),
			 errhint("Begin one with maas_upload_begin().")));
	return NULL;				/* keep compiler quiet */
}

/*
 * maas_upload_begin(): begin uploading weights in parts, in this session;
 * returns the upload's number, for maas_upload_append and
 * maas_register_upload.  The parts go to a temporary file, which goes
 * away with the session if the upload is never registered.
 */
PG_FUNCTION_INFO_V1(maas_upload_begin);
Datum
maas_upload_begin(PG_FUNCTION_ARGS)
{
	for (int i = 0; i < MAX_UPLOADS; i++)
	{
		if (uploads[i].id != 0)
			continue;
		uploads[i].file = OpenTemporaryFile(true);
		uploads[i].size = 0;
		uploads[i].id = ++last_upload_id;
		PG_RETURN_INT32(uploads[i].id);
	}
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("this session already has %d uploads", MAX_UPLOADS),
			 errhint("Register them with maas_register_upload, or end the session.")));
	PG_RETURN_NULL();
}

/*
 * maas_upload_append(upload, data): add the next part of an upload;
 * returns the bytes uploaded so far.
 */
PG_FUNCTION_INFO_V1(maas_upload_append);
Datum
maas_upload_append(PG_FUNCTION_ARGS)
{
	Upload	   *up = find_upload(fcinfo);
	bytea	   *data;
	size_t		len;
	size_t		done = 0;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("data must not be null")));
	data = PG_GETARG_BYTEA_PP(1);
	len = VARSIZE_ANY_EXHDR(data);
	while (done < len)
	{
		int			part = (int) Min(len - done, (size_t) MAAS_WEIGHT_IO);

		CHECK_FOR_INTERRUPTS();
		if (FileWrite(up->file, VARDATA_ANY(data) + done, part,
					  (off_t) (up->size + done), PG_WAIT_EXTENSION) != part)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write temporary file: %m")));
		done += part;
	}
	up->size += (int64) len;
	PG_RETURN_INT64(up->size);
}

/*
 * maas_register_upload(upload, model, algorithm [, config]): register what
 * was uploaded as the model's next version, as maas_register_file does a
 * file; the upload is then gone.  One that fails to register stays, to be
 * registered again (with another config, say).
 */
PG_FUNCTION_INFO_V1(maas_register_upload);
Datum
maas_register_upload(PG_FUNCTION_ARGS)
{
	Upload	   *up = find_upload(fcinfo);
	char	   *model = arg_model(fcinfo, 1);
	char	   *algorithm = arg_text(fcinfo, 2, "algorithm");
	Jsonb	   *config = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	int32		version;

	PreventCommandIfReadOnly("maas_register_upload()");
	version = register_file_bytes(temp_fd(up->file), psprintf("upload %d", up->id),
								  up->size, model, algorithm, config);
	FileClose(up->file);
	up->id = 0;
	up->size = 0;
	PG_RETURN_INT32(version);
}

/* ------------------------------------------------------------------------
 * Exports
 * ------------------------------------------------------------------------
 */

typedef struct FileOut
{
	int			fd;
	const char *path;
} FileOut;

static void
file_out(void *arg, const uint8 *data, size_t len)
{
	FileOut    *fo = (FileOut *) arg;

	while (len > 0)
	{
		ssize_t		n = write(fo->fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			if (n == 0)
				errno = ENOSPC;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", fo->path)));
		}
		data += n;
		len -= (size_t) n;
	}
}

/*
 * maas_export_file(model, path [, version]): write a version as a
 * safetensors file at path on the server, carrying its config and
 * algorithm like maas_export's; returns its size.  Never overwrites a
 * file.  For roles with the privileges of pg_write_server_files.
 */
PG_FUNCTION_INFO_V1(maas_export_file);
Datum
maas_export_file(PG_FUNCTION_ARGS)
{
	char	   *model = arg_model(fcinfo, 0);
	char	   *path = arg_text(fcinfo, 1, "path");
	MaasExport	ex;
	FileOut		fo;
	MaasGather	g;

	require_role(ROLE_PG_WRITE_SERVER_FILES, "export a model to a file");
	maas_export_prepare(model, !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2),
						&ex);

	fo.path = path;
	fo.fd = OpenTransientFilePerm(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY,
								  S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH);
	if (fo.fd < 0)
	{
		int			save_errno = errno;

		ereport(ERROR,
				(open_errcode(save_errno),
				 errmsg("could not create file \"%s\": %m", path)));
	}
	PG_TRY();
	{
		file_out(&fo, ex.header, ex.header_len);
		maas_gather_init(&g, file_out, &fo);
		maas_export_read(&ex, ex.data_start, ex.info.bytes, maas_gather_sink, &g);
		maas_gather_flush(&g);
		if (pg_fsync(fo.fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not fsync file \"%s\": %m", path)));
		if (CloseTransientFile(fo.fd) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not close file \"%s\": %m", path)));
	}
	PG_CATCH();
	{
		/* nothing half-written stays */
		unlink(path);
		PG_RE_THROW();
	}
	PG_END_TRY();
	maas_export_done(&ex);
	PG_RETURN_INT64(ex.total);
}

typedef struct PartsState
{
	MaasExport	ex;
	int64		pos;			/* next stored byte to return */
	int32		part;			/* parts returned */
} PartsState;

/* the query is done with the parts, all read or not (not called on error) */
static void
parts_shutdown(Datum arg)
{
	maas_export_done(&((PartsState *) DatumGetPointer(arg))->ex);
}

typedef struct PartOut
{
	bytea	   *out;
	size_t		pos;
} PartOut;

static void
part_out(void *arg, const uint8 *data, size_t len)
{
	PartOut    *po = (PartOut *) arg;

	memcpy(VARDATA(po->out) + po->pos, data, len);
	po->pos += len;
}

/*
 * maas_export_parts(model [, version]): the file maas_export would give, of
 * any size, as rows (part, data) of up to 1 MB each, in order: part 1 is
 * the header, then the tensors.  Their concatenation in part order is the
 * file.
 */
PG_FUNCTION_INFO_V1(maas_export_parts);
Datum
maas_export_parts(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	PartsState *ps;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		char	   *model = arg_model(fcinfo, 0);
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		ps = palloc0(sizeof(PartsState));
		maas_export_prepare(model, !PG_ARGISNULL(1), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1),
							&ps->ex);
		ps->pos = ps->ex.data_start;
		funcctx->user_fctx = ps;
		RegisterExprContextCallback(((ReturnSetInfo *) fcinfo->resultinfo)->econtext,
									parts_shutdown, PointerGetDatum(ps));
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	ps = (PartsState *) funcctx->user_fctx;

	if (ps->part == 0 || ps->pos < ps->ex.info.bytes)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};
		PartOut		po;

		if (ps->part == 0)
		{
			po.out = palloc(VARHDRSZ + ps->ex.header_len);
			memcpy(VARDATA(po.out), ps->ex.header, ps->ex.header_len);
			SET_VARSIZE(po.out, VARHDRSZ + ps->ex.header_len);
		}
		else
		{
			/* to the next multiple of 1 MB of the stored bytes */
			int64		end = Min(ps->ex.info.bytes,
								  (ps->pos / MAAS_WEIGHT_IO + 1) * MAAS_WEIGHT_IO);

			po.out = palloc(VARHDRSZ + (end - ps->pos));
			po.pos = 0;
			maas_export_read(&ps->ex, ps->pos, end, part_out, &po);
			SET_VARSIZE(po.out, VARHDRSZ + (end - ps->pos));
			ps->pos = end;
		}
		ps->part++;
		values[0] = Int32GetDatum(ps->part);
		values[1] = PointerGetDatum(po.out);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	/* the context ps is in goes now: so does its callback */
	UnregisterExprContextCallback(((ReturnSetInfo *) fcinfo->resultinfo)->econtext,
								  parts_shutdown, PointerGetDatum(ps));
	maas_export_done(&ps->ex);
	SRF_RETURN_DONE(funcctx);
}

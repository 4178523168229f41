/*
 * text_shared.c
 *		A text model's tokenizer, built once per server and mapped by every
 *		backend that serves the model.
 *
 * GPT-2's tokenizer is 50,257 tokens and 50,000 merges in the config's
 * JSON; building it takes tens of milliseconds and, with the JSON tree it
 * is built from, tens of MB, in every backend.  Its tables, once built, are
 * immutable, so the first backend that loads a version writes their flat
 * form (tokenizer.h) to a file beside the shared weight copies,
 *
 *		$PGDATA/pgsql_tmp_maas/tok<format>_<sha256 of the config>_<context>
 *
 * and every backend maps that file read-only and runs the tokenizer on the
 * mapped tables: one copy a server, a millisecond to attach.  The file is
 * named after the whole config (which holds the tokenizer's files) and the
 * context the tokenizer truncates to, so it never goes stale; the same
 * config in two databases shares it.  It is written to a temporary name and
 * renamed, so a file with the final name is complete; and since it comes
 * from disk, it is checked when mapped (maas_tokenizer_from_flat: a
 * checksum and every bound), and a damaged one is rebuilt.  The server
 * removes these files when it starts (weights_shared.c removes everything
 * in the directory that is not a weight copy), so they never outlive a
 * restart or a crash.
 *
 * Without shared copies (maas.shared_model_memory = 0, or maas not
 * preloaded) each backend builds the tokenizer and keeps only its flat form,
 * a few MB, in the model's memory context.  Registration builds it that
 * way too, so the tokenizer of a stored version is always one that builds.
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "model.h"
#include "services.h"
#include "text.h"
#include "weights.h"

#define TOKENIZER_FILE_DIR	"pgsql_tmp_maas"

/* an unmapping when the model's memory context goes */
typedef struct TokMapping
{
	MemoryContextCallback cb;
	void	   *addr;
	size_t		len;
} TokMapping;

static void
tok_unmap(void *arg)
{
	TokMapping *m = (TokMapping *) arg;

	if (munmap(m->addr, m->len) != 0)
		elog(LOG, "maas: could not unmap a tokenizer: %m");
}

/*
 * The tokenizer of the mapped file at path, in the current memory context,
 * or NULL (no such file, or a damaged one, which is removed).
 */
static const MaasTokenizer *
tok_map(const char *path)
{
	int			fd = open(path, O_RDONLY | PG_BINARY, 0);
	struct stat st;
	void	   *addr;
	MaasTokenizer *tok;
	TokMapping *m;
	MaasError	err;

	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", path)));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || st.st_size <= 0)
	{
		close(fd);
		return NULL;
	}
	addr = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (addr == MAP_FAILED)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not map file \"%s\": %m", path)));
		return NULL;
	}
	/* the unmapping is registered first, so that an error below unmaps */
	m = palloc(sizeof(TokMapping));
	m->addr = addr;
	m->len = (size_t) st.st_size;
	m->cb.func = tok_unmap;
	m->cb.arg = m;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &m->cb);

	tok = maas_tokenizer_from_flat(addr, (size_t) st.st_size, &err);
	if (tok == NULL)
	{
		if (err.status == MAAS_ERR_NOMEM)
			maas_raise(&err, 0, NULL, NULL);
		ereport(LOG,
				(errmsg("removing damaged tokenizer file \"%s\": %s", path, err.msg)));
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", path)));
		return NULL;
	}
	return tok;
}

/*
 * Write bytes to path through a temporary file and a rename, so that the
 * name only ever holds a complete file.  False (logged) when it could not:
 * the caller then keeps its own copy.  Nothing here raises, so nothing is
 * left behind but by a crash, and the server removes that at startup.
 */
static bool
tok_write(const char *path, const uint8 *bytes, size_t len)
{
	char		tmp[MAXPGPATH];
	int			fd;
	size_t		done = 0;

	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, MyProcPid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, pg_file_create_mode);
	if (fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmp)));
		return false;
	}
	while (done < len)
	{
		ssize_t		n = write(fd, bytes + done, len - done);

		if (n <= 0)
		{
			if (n < 0 && errno == EINTR)
				continue;
			if (n == 0)
				errno = ENOSPC;
			break;
		}
		done += (size_t) n;
	}
	if (done < len || close(fd) != 0 || rename(tmp, path) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmp)));
		if (done < len)
			close(fd);
		unlink(tmp);
		return false;
	}
	return true;
}

/*
 * Build the tokenizer of a config's "tokenizer" value (raises when there is
 * none or it does not build) and return its flat form, allocated in cxt;
 * what building takes goes with a context of its own.
 */
static uint8 *
tok_build_flat(Jsonb *config, int32 max_length, MemoryContext cxt, size_t *len)
{
	MemoryContext build = AllocSetContextCreate(CurrentMemoryContext, "maas tokenizer build",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext caller = MemoryContextSwitchTo(build);
	JsonbValue	v;
	Jsonb	   *sub;
	char	   *text;
	MaasJson   *spec;
	MaasTokenizer *tok;
	MaasError	err;
	uint8	   *flat;

	if (getKeyJsonValueFromContainer(&config->root, "tokenizer", 9, &v) == NULL ||
		v.type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model config"),
				 errdetail("A text model's config needs a \"tokenizer\"."),
				 errhint("Add the tokenizer's files: jsonb_build_object('tokenizer', jsonb_build_object('vocab', ..., 'merges', ...)), or Hugging Face's tokenizer.json.")));
	sub = JsonbValueToJsonb(&v);
	text = JsonbToCString(NULL, &sub->root, VARSIZE(sub));
	spec = maas_json_parse(text, strlen(text), 0, &maas_text_tick, &err);
	if (spec == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "invalid tokenizer", NULL);
	tok = maas_tokenizer_build(spec, max_length, &maas_text_tick, &err);
	if (tok == NULL)
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, "invalid tokenizer", NULL);

	MemoryContextSwitchTo(cxt);
	flat = maas_tokenizer_flatten(tok, len, &err);
	MemoryContextSwitchTo(caller);
	if (flat == NULL)
		maas_raise(&err, 0, "could not store the tokenizer", NULL);
	MemoryContextDelete(build);
	return flat;
}

/* a flat form in memory as a tokenizer, or raise (it was just made) */
static const MaasTokenizer *
tok_from_memory(const uint8 *flat, size_t len)
{
	MaasError	err;
	MaasTokenizer *tok = maas_tokenizer_from_flat(flat, len, &err);

	if (tok == NULL)
		maas_raise(&err, 0, "could not read the tokenizer", NULL);
	return tok;
}

const MaasTokenizer *
maas_text_tokenizer(Jsonb *config, int32 max_length, bool share)
{
	uint8		sha[MAAS_SHA256_LEN];
	char		hex[2 * MAAS_SHA256_LEN + 1];
	char		path[MAXPGPATH];
	const MaasTokenizer *tok;
	MemoryContext scratch;
	uint8	   *flat;
	size_t		len;

	if (!share || !maas_weights_shared())
	{
		flat = tok_build_flat(config, max_length, CurrentMemoryContext, &len);
		return tok_from_memory(flat, len);
	}

	maas_weights_sha256((const uint8 *) VARDATA_ANY(config), VARSIZE_ANY_EXHDR(config), sha);
	maas_sha256_hex(sha, hex);
	snprintf(path, sizeof(path), "%s/tok%d_%s_%d", TOKENIZER_FILE_DIR,
			 MAAS_TOKENIZER_FLAT_FORMAT, hex, (int) max_length);
	if ((tok = tok_map(path)) != NULL)
		return tok;

	/* the first backend: build, write, then map what it wrote */
	scratch = AllocSetContextCreate(CurrentMemoryContext, "maas tokenizer flat",
									ALLOCSET_DEFAULT_SIZES);
	flat = tok_build_flat(config, max_length, scratch, &len);
	if (tok_write(path, flat, len) && (tok = tok_map(path)) != NULL)
	{
		MemoryContextDelete(scratch);
		return tok;
	}
	/* no file: this backend keeps its own copy (scratch is the caller's child) */
	return tok_from_memory(flat, len);
}

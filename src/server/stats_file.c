/*
 * stats_file.c
 *		Saving a shared hash table of serving statistics across a clean
 *		restart: stats.c's table and stats_window.c's windows.
 *
 * An entry of such a table is a fixed head (its hash key first, a
 * spinlock, the model's name and an int32 n_features among the rest),
 * then a tail of n_features means and n_features M2s.  The file is a
 * header (magic, format, the head's size, the count of entries), the
 * caller's extra header bytes, then each entry's head and its tail of
 * 2 * n_features doubles.  It is written to a temporary file renamed into
 * place, and read back with every count checked before it is used: an
 * entry whose head the caller finds insane, or a short file, discards the
 * whole table (the counters start afresh, with a LOG line), and the file
 * is removed once read.
 */
#include "serve.h"

#include <unistd.h>

#include "storage/fd.h"
#include "storage/spin.h"

#include "stats.h"

typedef struct StatsFileHeader
{
	uint32		magic;
	uint32		format;
	uint32		fixed_size;
	int32		count;
} StatsFileHeader;

static inline int32 *
entry_n_features(const MaasStatsFile *f, void *e)
{
	return (int32 *) ((char *) e + f->n_features_at);
}

static inline double *
entry_data(const MaasStatsFile *f, void *e)
{
	return (double *) ((char *) e + f->head_size);
}

/*
 * At a clean shutdown (with the setting on), with no lock needed: the
 * postmaster alone is left.
 */
void
maas_stats_file_save(const MaasStatsFile *f, HTAB *hash, const void *extra)
{
	char		tmp[MAXPGPATH];
	FILE	   *file;
	StatsFileHeader hdr;
	HASH_SEQ_STATUS hs;
	void	   *e;

	if (!maas_stats_save || !maas_stats_shut_down_cleanly())
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	file = AllocateFile(tmp, PG_BINARY_W);
	if (file == NULL)
		goto error;

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = f->magic;
	hdr.format = f->format;
	hdr.fixed_size = f->head_size;
	hdr.count = (int32) hash_get_num_entries(hash);
	if (fwrite(&hdr, sizeof(hdr), 1, file) != 1 ||
		(f->extra_size > 0 && fwrite(extra, f->extra_size, 1, file) != 1))
		goto error;

	hash_seq_init(&hs, hash);
	while ((e = hash_seq_search(&hs)) != NULL)
	{
		int32		n = *entry_n_features(f, e);

		if (fwrite(e, f->head_size, 1, file) != 1 ||
			(n > 0 && fwrite(entry_data(f, e), 2 * sizeof(double), n, file) != n))
		{
			hash_seq_term(&hs);
			goto error;
		}
	}
	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(tmp, f->path, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", tmp)));
	if (file)
		FreeFile(file);
	unlink(tmp);
}

/*
 * At startup, into the empty table.  True if the file was there and read
 * whole (then extra holds its extra header bytes); false if there was
 * none, or it could not be read or held invalid data (then the table is
 * left empty).
 */
bool
maas_stats_file_load(const MaasStatsFile *f, HTAB *hash, long max_entries,
					 int max_features, void *extra)
{
	FILE	   *file;
	StatsFileHeader hdr;
	char	   *buf = NULL;
	double	   *feat = NULL;

	file = AllocateFile(f->path, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			goto read_error;
		return false;
	}
	if (fread(&hdr, sizeof(hdr), 1, file) != 1 ||
		(f->extra_size > 0 && fread(extra, f->extra_size, 1, file) != 1))
		goto read_error;
	if (hdr.magic != f->magic || hdr.format != f->format ||
		hdr.fixed_size != f->head_size || hdr.count < 0)
		goto data_error;
	buf = palloc(f->head_size);
	for (int i = 0; i < hdr.count; i++)
	{
		char	   *e;
		bool		found;
		int32		n;
		int			keep;

		if (fread(buf, f->head_size, 1, file) != 1)
			goto read_error;
		/* every count the views index with must be sane, and consistent */
		if (!f->head_ok(buf))
			goto data_error;
		n = *entry_n_features(f, buf);
		feat = feat ? repalloc(feat, 2 * sizeof(double) * Max(n, 1)) :
			palloc(2 * sizeof(double) * Max(n, 1));
		if (n > 0 && fread(feat, 2 * sizeof(double), n, file) != n)
			goto read_error;
		if (hash_get_num_entries(hash) >= max_entries)
			continue;			/* the table shrank: keep the first ones */

		e = hash_search(hash, buf, HASH_ENTER, &found);
		if (found)
			continue;
		keep = Min(n, max_features);
		memcpy(e + f->key_size, buf + f->key_size, f->head_size - f->key_size);
		SpinLockInit((slock_t *) (e + f->mutex_at));
		e[f->model_at + MAAS_MODEL_NAME_MAX] = '\0';
		*entry_n_features(f, e) = keep;
		memcpy(entry_data(f, e), feat, sizeof(double) * keep);
		memcpy(entry_data(f, e) + keep, feat + n, sizeof(double) * keep);
	}
	FreeFile(file);
	pfree(buf);
	if (feat)
		pfree(feat);
	unlink(f->path);
	return true;

read_error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not read file \"%s\": %m", f->path)));
	goto fail;
data_error:
	ereport(LOG,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ignoring invalid data in file \"%s\"", f->path)));
fail:
	if (file)
		FreeFile(file);
	/* start from an empty table */
	{
		HASH_SEQ_STATUS hs;
		void	   *e;

		hash_seq_init(&hs, hash);
		while ((e = hash_seq_search(&hs)) != NULL)
			hash_search(hash, e, HASH_REMOVE, NULL);
	}
	unlink(f->path);
	return false;
}

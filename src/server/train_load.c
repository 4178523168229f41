/*
 * train_load.c
 *		maas_train's data: the source's columns planned (the target, and
 *		each feature as a number, a flattened array or a one-hot category),
 *		every row read in one pass into a float32 matrix bounded by
 *		maas.max_training_memory (and, for linear least squares, its normal
 *		equations summed as they come).  The task and classes are decided
 *		in train_task.c, the split and preprocessing in train_prep.c.
 */
#include "train_job.h"
#include "progress.h"
#include "services.h"
#include "source.h"

#include <math.h>
#include <sys/mman.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/tupmacs.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

typedef struct LoadReceiver
{
	MaasSourceReader reader;	/* must be first */
	TrainJob   *job;
	bool		reals;			/* every input is a number of type real */
	int			first;			/* reals in consecutive columns from this
								 * one (0-based), each a slot in order; or -1 */
	const MaasBlas *blas;		/* job->gram's */

	/*
	 * Reading a heap tuple's columns in place (plan_in_place): the
	 * descriptor the plan is for, whether its columns allow it, how many
	 * attributes a tuple must have, and the offsets in a tuple's data of
	 * each attribute (of the first feature, when they follow one another,
	 * or -1) and of the target.
	 */
	TupleDesc	in_place_desc;
	bool		in_place;
	int			in_place_natts;
	int		   *in_place_off;
	int			in_place_first;
	int			in_place_target;
	bool		in_place_target_f8;
} LoadReceiver;


static int
find_column(TupleDesc td, const char *name)
{
	return maas_find_column(td, name, "source");
}

static void
plan_feature(TrainJob *job, MaasInput *in, TupleDesc td, int attno)
{
	Form_pg_attribute att = TupleDescAttr(td, attno - 1);
	Oid			elem = get_element_type(getBaseType(att->atttypid));

	in->name = pstrdup(NameStr(att->attname));
	if (!maas_feature_kind(att->atttypid, &in->kind))
	{
		if (OidIsValid(elem))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("array column \"%s\" must hold numbers", in->name),
					 errdetail("Its type is %s.", format_type_be(att->atttypid)),
					 errhint("Leave the column out with params.features.")));
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" has type %s, which cannot be a feature",
						in->name, format_type_be(att->atttypid)),
				 errhint("Features are numbers, booleans, numeric arrays, text and enums; "
						 "leave the column out with params.features.")));
	}
	maas_bind_column(td, attno, &job->bind[in - job->inputs.in]);
	switch (in->kind)
	{
		case MAAS_INPUT_NUMBER:
			in->width = 1;
			break;
		case MAAS_INPUT_CATEGORY:
			in->width = 1;		/* the index, until the split */
			in->collect = maas_string_set_create(MAAS_MAX_CATEGORIES);
			break;
		case MAAS_INPUT_ARRAY:
			{
				const char *col = quote_identifier(in->name);
				char	   *q = psprintf("SELECT pg_catalog.cardinality(%s) FROM (%s) AS s "
										 "WHERE %s IS NOT NULL LIMIT 1",
										 col, job->source_sql, col);
				bool		isnull;
				int			len = 0;

				if (SPI_execute(q, true, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not read the length of array column \"%s\"", in->name);
				/* SPI returns to its own context, which SPI_finish frees */
				MemoryContextSwitchTo(job->cxt);
				if (SPI_processed == 1)
					len = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
				if (SPI_processed == 0 || len <= 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("array column \"%s\" has no non-empty values", in->name),
							 errhint("Leave the column out with params.features.")));
				in->length = in->width = len;
				break;
			}
	}
}

void
maas_train_plan_columns(TrainJob *job)
{
	TupleDesc	td;
	int			n = 0;
	Oid			ttype;
	MaasInputKind tkind;

	td = maas_source_describe(job->source_sql);
	job->source_desc = td;

	/* no target: k-means, whose every column is a feature */
	job->target_attno = job->target ? find_column(td, job->target) : 0;
	if (job->target && job->target_attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("target column \"%s\" does not exist", job->target)));
	if (job->target)
	{
		maas_bind_column(td, job->target_attno, &job->target_b);
		ttype = TupleDescAttr(td, job->target_attno - 1)->atttypid;
		if (!maas_feature_kind(ttype, &tkind) || tkind == MAAS_INPUT_ARRAY)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("target column \"%s\" has type %s, which cannot be a target",
							job->target, format_type_be(ttype)),
					 errhint("A target is a number, a boolean, text or an enum.")));
		job->target_is_text = tkind == MAAS_INPUT_CATEGORY;
	}

	job->inputs.in = palloc0(sizeof(MaasInput) * Max(td->natts, 1));
	job->bind = palloc0(sizeof(MaasBinding) * Max(td->natts, 1));
	job->inputs.impute = job->p.impute;
	if (job->p.n_features > 0)
	{
		for (int i = 0; i < job->p.n_features; i++)
		{
			int			attno = find_column(td, job->p.features[i]);

			if (attno == 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column \"%s\" does not exist", job->p.features[i]),
						 errdetail("It is named in parameter \"features\".")));
			if (attno == job->target_attno)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the target column \"%s\" cannot also be a feature", job->target)));
			plan_feature(job, &job->inputs.in[n++], td, attno);
			job->inputs.n = n;
		}
	}
	else
	{
		/* every column but the target: each is read by its name later */
		maas_check_column_names(td, "source");
		for (int i = 0; i < td->natts; i++)
		{
			if (TupleDescAttr(td, i)->attisdropped || i + 1 == job->target_attno)
				continue;
			plan_feature(job, &job->inputs.in[n++], td, i + 1);
			job->inputs.n = n;
		}
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the source has no feature columns"),
				 errdetail("Every column but the target \"%s\" is a feature, and there is none.",
						   job->target ? job->target : "")));

	job->raw_width = 0;
	for (int i = 0; i < n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];

		in->offset = job->raw_width;
		if (in->width > 100000000 - job->raw_width)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the source has too many feature values per row")));
		job->raw_width += in->width;
	}

	/*
	 * What each input value of a row will cost besides the rows, up to the
	 * stored version, is known now: fail before reading a row if even that
	 * does not fit (train_job.h).
	 */
	job->reserved = (Size) job->raw_width *
		(TRAIN_READ_BYTES_PER_SLOT + TRAIN_PREP_BYTES_PER_RAW +
		 TRAIN_PREP_BYTES_PER_SLOT + TRAIN_REPORT_BYTES_PER_SLOT);
	maas_train_check_memory(job, psprintf("Preparing %d input values a row", job->raw_width), 0);
}

/*
 * The rows a table source has by its statistics, with some margin, so that
 * a large matrix (64 MB and more) is allocated once: growing moves it, and
 * a move splits its huge pages.  What is left over is given back after the
 * scan.  0 when they are not known (a query, a view, a table never
 * analyzed).
 */
static int64
estimated_rows(TrainJob *job)
{
	HeapTuple	tup;
	int64		rows = 0;

	if (!OidIsValid(job->source_relid))
		return 0;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(job->source_relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class rel = (Form_pg_class) GETSTRUCT(tup);

		if ((rel->relkind == RELKIND_RELATION || rel->relkind == RELKIND_MATVIEW) &&
			rel->reltuples > 0 && rel->reltuples < (float4) INT32_MAX)
			rows = (int64) rel->reltuples + (int64) rel->reltuples / 32 + 1024;
		ReleaseSysCache(tup);
	}
	return rows;
}

/*
 * The matrix in transparent huge pages where the system gives them on
 * request: a page fault per 2 MB instead of per 4 kB as the rows are
 * written, and fewer TLB misses as the split shuffles them in random
 * order (about a tenth of a 1M x 50 ridge's time).  Only advice: without
 * it nothing changes but the time.
 */
static void
huge_pages(void *p, Size bytes)
{
#ifdef MADV_HUGEPAGE
	uintptr_t	start = TYPEALIGN(4096, (uintptr_t) p);
	uintptr_t	end = TYPEALIGN_DOWN(4096, (uintptr_t) p + bytes);

	if (bytes >= ((Size) 4 << 20) && end > start)
		(void) madvise((void *) start, end - start, MADV_HUGEPAGE);
#endif
}

/*
 * Room for more rows: from as many as fit in 4 MB (at most 1024), doubling,
 * within what the limit leaves besides the rest of the training.
 */
static void
grow_rows(TrainJob *job)
{
	Size		per_row = sizeof(float) * (Size) job->raw_width + sizeof(double);
	Size		matrix = per_row * (Size) job->cap;
	Size		other = MemoryContextMemAllocated(job->cxt, true) - Min(matrix, MemoryContextMemAllocated(job->cxt, true));
	Size		room = job->limit > other + job->reserved ? job->limit - other - job->reserved : 0;
	Size		max_rows = room / per_row;
	int64		cap = job->cap == 0 ? (int64) Max(1, Min(1024, ((Size) 4 << 20) / per_row)) :
		job->cap * 2;

	/* a large table's rows at once (estimated_rows) */
	job->cap_estimated = false;
	if (job->cap == 0 && (Size) estimated_rows(job) * per_row >= ((Size) 64 << 20))
	{
		cap = estimated_rows(job);
		job->cap_estimated = true;
	}

	if ((Size) cap > max_rows)
		cap = (int64) max_rows;
	if (cap > (int64) INT32_MAX - 1)
		cap = (int64) INT32_MAX - 1;
	if (cap <= job->n)
		maas_train_memory_error(job, psprintf("Reading more than %lld rows of %d values",
											  (long long) job->n, job->raw_width),
								other + job->reserved + (Size) (job->n + 1) * per_row);
	if (job->x == NULL)
	{
		job->x = MemoryContextAllocExtended(job->cxt, sizeof(float) * job->raw_width * cap,
											MCXT_ALLOC_HUGE);
		job->y = MemoryContextAllocExtended(job->cxt, sizeof(double) * cap, MCXT_ALLOC_HUGE);
	}
	else
	{
		job->x = repalloc_huge(job->x, sizeof(float) * job->raw_width * cap);
		job->y = repalloc_huge(job->y, sizeof(double) * cap);
	}
	job->cap = cap;
	huge_pages(job->x, sizeof(float) * job->raw_width * cap);
}

static void
add_target_value(TrainJob *job, double v)
{
	bool		found;

	if (job->n_target_values > MAAS_MAX_CLASSES)
		return;
	hash_search(job->target_values, &v, HASH_ENTER, &found);
	if (!found)
		job->n_target_values++;
}

/*
 * Whether the rows of a slot with descriptor td can be read in place: the
 * features are all real and the target real or double precision, and
 * every attribute up to the last of them has a fixed length, so that in a
 * tuple without NULLs each is at an offset known in advance (the offsets
 * heap_fill_tuple gives them).
 */
static void
plan_in_place(LoadReceiver *r, TupleDesc td)
{
	TrainJob   *job = r->job;
	int			last = job->target_attno;
	int			off = 0;
	Oid			ttype;

	r->in_place_desc = td;
	r->in_place = false;
	if (!r->reals || job->target_attno == 0 || job->target_is_text ||
		job->target_attno > td->natts)
		return;
	ttype = TupleDescAttr(td, job->target_attno - 1)->atttypid;
	if (ttype != FLOAT4OID && ttype != FLOAT8OID)
		return;
	for (int i = 0; i < job->inputs.n; i++)
	{
		int			a = job->bind[i].attno;

		if (a > td->natts || TupleDescAttr(td, a - 1)->atttypid != FLOAT4OID)
			return;
		last = Max(last, a);
	}
	if (r->in_place_off == NULL)
		r->in_place_off = MemoryContextAlloc(job->cxt, sizeof(int) * td->natts);
	else
		r->in_place_off = repalloc(r->in_place_off, sizeof(int) * td->natts);
	for (int a = 0; a < last; a++)
	{
		Form_pg_attribute att = TupleDescAttr(td, a);

		if (att->attlen <= 0 || att->attisdropped)
			return;
		off = att_align_nominal(off, att->attalign);
		r->in_place_off[a] = off;
		off += att->attlen;
	}
	r->in_place_first = r->first >= 0 ? r->in_place_off[r->first] : -1;
	r->in_place_target = r->in_place_off[job->target_attno - 1];
	r->in_place_target_f8 = ttype == FLOAT8OID;
	r->in_place_natts = last;
	r->in_place = true;
}

/*
 * The data of the slot's heap tuple when its columns can be read in place
 * (plan_in_place) and it has no NULL, or NULL: then the slot is deformed
 * as usual.  A table's sequential scan hands the receiver the heap tuple
 * in its buffer, whose deforming into Datums would cost as much as the
 * rest of the row's work.
 */
static const char *
in_place_data(LoadReceiver *r, TupleTableSlot *slot)
{
	HeapTuple	tuple;

	if (!r->reals || !(TTS_IS_BUFFERTUPLE(slot) || TTS_IS_HEAPTUPLE(slot)))
		return NULL;
	if (slot->tts_tupleDescriptor != r->in_place_desc)
		plan_in_place(r, slot->tts_tupleDescriptor);
	tuple = ((HeapTupleTableSlot *) slot)->tuple;
	if (!r->in_place || tuple == NULL)
		return NULL;

	/*
	 * A page holds its tuples one below the other: ask for the one after
	 * the next (the next is too close to arrive in time).  A prefetch
	 * cannot fault.
	 */
	{
		const char *ahead = (const char *) tuple->t_data - 2 * (Size) tuple->t_len;

		for (Size off = 0; off < tuple->t_len && off < 1024; off += 64)
			__builtin_prefetch(ahead + off);
	}
	if (HeapTupleHasNulls(tuple) ||
		HeapTupleHeaderGetNatts(tuple->t_data) < r->in_place_natts)
		return NULL;
	return (const char *) tuple->t_data + tuple->t_data->t_hoff;
}

/* the row's features from the tuple's data; false if one is not finite */
static bool
in_place_row(LoadReceiver *r, const char *tp, float *row)
{
	TrainJob   *job = r->job;

	if (r->in_place_first >= 0)
		return maas_prep_copy_finite(tp + r->in_place_first, job->inputs.n, row);
	for (int i = 0; i < job->inputs.n; i++)
		memcpy(row + job->inputs.in[i].offset,
			   tp + r->in_place_off[job->bind[i].attno - 1], sizeof(float));
	return maas_all_finite(row, (size_t) job->raw_width);
}

static void
load_receive(MaasSourceReader *reader, TupleTableSlot *slot)
{
	LoadReceiver *r = (LoadReceiver *) reader;
	TrainJob   *job = r->job;
	MemoryContext old;
	Datum		tv;
	bool		tnull;
	float	   *row;
	bool		finite = false; /* every value of the row is known finite */
	int64		rowno = job->n + job->skipped + 1;
	const char *tp = in_place_data(r, slot);

	if (tp)
	{
		if (r->in_place_target_f8)
		{
			double		v;

			memcpy(&v, tp + r->in_place_target, sizeof(v));
			tv = Float8GetDatum(v);
		}
		else
		{
			float		v;

			memcpy(&v, tp + r->in_place_target, sizeof(v));
			tv = Float4GetDatum(v);
		}
		tnull = false;
	}
	else
	{
		slot_getallattrs(slot);
		tv = job->target_attno ? slot->tts_values[job->target_attno - 1] : (Datum) 0;
		tnull = job->target_attno ? slot->tts_isnull[job->target_attno - 1] : false;
	}
	if (tnull)
	{
		job->skipped++;
		return;
	}
	if (job->n == job->cap)
		grow_rows(job);
	if ((job->n & 4095) == 0)
	{
		CHECK_FOR_INTERRUPTS();
		maas_progress_phase(MAAS_PHASE_LOADING, job->n);
	}

	old = MemoryContextSwitchTo(job->row_cxt);
	row = job->x + (size_t) job->n * job->raw_width;
	if (tp)
	{
		if (in_place_row(r, tp, row))
		{
			finite = true;
			goto target;
		}
		/* not finite: as any other row, which reports it */
		slot_getallattrs(slot);
	}
	/* a row of reals only, none NULL or not finite: in one plain loop */
	if (r->first >= 0)
	{
		int			first = r->first;

		StaticAssertStmt(sizeof(Datum) == sizeof(uint64), "a Datum is 64 bits");
		if (maas_prep_float_words((const uint64 *) slot->tts_values + first,
								  slot->tts_isnull + first, job->inputs.n, row))
		{
			finite = true;
			goto target;
		}
	}
	else if (r->reals)
	{
		int			i;

		for (i = 0; i < job->inputs.n; i++)
		{
			int			a = job->bind[i].attno - 1;
			float		f = DatumGetFloat4(slot->tts_values[a]);

			if (slot->tts_isnull[a] || !isfinite(f))
				break;
			row[job->inputs.in[i].offset] = f;
		}
		if (i == job->inputs.n)
		{
			finite = true;
			goto target;
		}
	}
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];
		int			a = job->bind[i].attno - 1;
		Datum		d = slot->tts_values[a];

		/* the common scalar types inline; anything else, or trouble, encodes */
		if (in->kind == MAAS_INPUT_NUMBER && !slot->tts_isnull[a])
		{
			float		f;

			switch (job->bind[i].typid)
			{
				case FLOAT4OID:
					f = DatumGetFloat4(d);
					break;
				case FLOAT8OID:
					f = (float) DatumGetFloat8(d);
					break;
				case INT4OID:
					f = (float) DatumGetInt32(d);
					break;
				case INT8OID:
					f = (float) DatumGetInt64(d);
					break;
				default:
					f = NAN;
					break;
			}
			if (isfinite(f))
			{
				row[in->offset] = f;
				continue;
			}
		}
		maas_encode(&job->inputs, in, &job->bind[i], d, slot->tts_isnull[a],
					row + in->offset, false, rowno);
	}

target:
	if (job->target_attno == 0)
		job->y[job->n] = 0;
	else if (job->target_is_text)
	{
		bool		full;
		int			idx = maas_string_set_add(job->target_set,
											  maas_datum_text(tv, &job->target_b), &full);

		if (full)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("target column \"%s\" has more than %d classes",
							job->target, MAAS_MAX_CLASSES)));
		job->y[job->n] = idx;
	}
	else
	{
		double		v = maas_datum_number(tv, job->target_b.typid);

		if (v == 0)
			v = 0;				/* -0 and 0 are one value, and one class */
		if (!isfinite(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target column \"%s\" holds a value that is not finite", job->target),
					 errdetail("The value in row %lld is %s.", (long long) rowno,
							   isnan(v) ? "NaN" : "infinite")));
		job->y[job->n] = v;
		MemoryContextSwitchTo(job->cxt);
		add_target_value(job, v);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(job->row_cxt);

	/* the normal equations, while the row is in the cache */
	if (job->gram)
	{
		if (finite || maas_all_finite(row, (size_t) job->raw_width))
			maas_gram_add(r->blas, job->gram, row,
						  (float) job->y[job->n]);
		else
			job->gram = NULL;	/* a NULL: split and imputed as usual */
	}
	job->n++;
}

/*
 * Sum linear least squares' normal equations while reading (train_job.h),
 * when maas_train asks and the columns allow it: numbers, no category, no
 * min-max scaling, a numeric target, at most MAX_GRAM_WIDTH slots, and the
 * sums fit in maas.max_training_memory beside the rest.
 */
#define MAX_GRAM_WIDTH	1024

static void
start_gram(TrainJob *job, LoadReceiver *r)
{
	Size		need;
	MaasError	err;
	MaasGram   *gram;

	job->gram = NULL;
	if (!job->want_gram || job->target_is_text || job->target_attno == 0 ||
		job->p.scale == MAAS_SCALE_MINMAX || job->raw_width > MAX_GRAM_WIDTH)
		return;
	for (int i = 0; i < job->inputs.n; i++)
		if (job->inputs.in[i].kind == MAAS_INPUT_CATEGORY)
			return;
	/* g and buf, their rows padded to 8 (maas_gram_init) */
	need = sizeof(double) * (Size) (job->raw_width + 9) * (job->raw_width + 9 + MAAS_GRAM_BLOCK) +
		sizeof(float) * (Size) job->raw_width;
	if (MemoryContextMemAllocated(job->cxt, true) + job->reserved + need > job->limit)
		return;
	gram = palloc(sizeof(MaasGram));
	if (!maas_gram_init(gram, job->raw_width, &err))
		maas_raise(&err, 0, "out of memory while training", NULL);
	r->blas = maas_get_blas_threads(maas_train_threads());
	job->gram = gram;
}

static int
cmp_float(const void *a, const void *b)
{
	float		x = *(const float *) a;
	float		y = *(const float *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* a column of the source table's primary key? */
static bool
in_primary_key(TrainJob *job, const char *name)
{
	Oid			constraint;
	Bitmapset  *pk;
	int			k = -1;

	if (!OidIsValid(job->source_relid))
		return false;
	pk = get_primary_key_attnos(job->source_relid, false, &constraint);
	while ((k = bms_next_member(pk, k)) >= 0)
	{
		char	   *att = get_attname(job->source_relid, k + FirstLowInvalidHeapAttributeNumber, true);

		if (att && strcmp(att, name) == 0)
			return true;
	}
	return false;
}

/*
 * A feature that looks like a key is said in a NOTICE: a column of the
 * table's primary key, or an integer column whose training values are all
 * different (from 20 rows on).  A model that learns from the number a row
 * was given learns nothing that holds for new rows.  The check of the
 * values sorts a copy of the column; it is left out when the copy would
 * not fit in maas.max_training_memory.
 */
static void
notice_key_features(TrainJob *job)
{
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];
		Oid			typid = job->bind[i].typid;
		const char *why = NULL;

		if (in_primary_key(job, in->name))
			why = "it is the primary key of the source table";
		else if (in->kind == MAAS_INPUT_NUMBER && job->n >= 20 &&
				 (typid == INT2OID || typid == INT4OID || typid == INT8OID) &&
				 MemoryContextMemAllocated(job->cxt, true) + job->reserved +
				 sizeof(float) * (Size) job->n <= job->limit)
		{
			float	   *v = MemoryContextAllocExtended(job->cxt, sizeof(float) * (Size) job->n,
													   MCXT_ALLOC_HUGE);
			bool		unique = true;

			for (int64 r = 0; r < job->n && unique; r++)
			{
				v[r] = job->x[(size_t) r * job->raw_width + in->offset];
				unique = !isnan(v[r]);
			}
			if (unique)
			{
				qsort(v, job->n, sizeof(float), cmp_float);
				for (int64 r = 1; r < job->n && unique; r++)
					unique = v[r] != v[r - 1];
			}
			pfree(v);
			if (unique)
				why = "its values are different integers in every row";
		}
		if (why)
			ereport(NOTICE,
					(errmsg("feature column \"%s\" looks like a key: %s", in->name, why),
					 errhint("A model learns nothing from a row's key that holds for new rows: "
							 "leave the column out with params.features.")));
	}
}

void
maas_train_load_rows(TrainJob *job)
{
	LoadReceiver r;

	memset(&r, 0, sizeof(r));
	r.reader.planned = job->source_desc;
	r.reader.receive = load_receive;
	r.job = job;
	r.reals = true;
	for (int i = 0; i < job->inputs.n; i++)
		if (job->inputs.in[i].kind != MAAS_INPUT_NUMBER || job->bind[i].typid != FLOAT4OID)
			r.reals = false;
	r.first = r.reals ? job->bind[0].attno - 1 : -1;
	for (int i = 0; i < job->inputs.n && r.first >= 0; i++)
		if (job->bind[i].attno - 1 != r.first + i || job->inputs.in[i].offset != i)
			r.first = -1;

	{
		MemoryContext old = MemoryContextSwitchTo(job->cxt);
		HASHCTL		ctl;

		if (job->target_is_text)
			job->target_set = maas_string_set_create(MAAS_MAX_CLASSES);
		else
		{
			ctl.keysize = sizeof(double);
			ctl.entrysize = sizeof(double);
			ctl.hcxt = job->cxt;
			job->target_values = hash_create("maas target values", 64, &ctl,
											 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		}
		MemoryContextSwitchTo(old);
	}

	start_gram(job, &r);
	maas_source_scan(job->source_sql, &r.reader, false);
	if (job->gram)
		maas_gram_flush(r.blas, job->gram);
	/* what an estimate of the rows left unused */
	if (job->n > 0 && job->cap > job->n && job->cap_estimated)
	{
		job->x = repalloc_huge(job->x, sizeof(float) * job->raw_width * job->n);
		job->y = repalloc_huge(job->y, sizeof(double) * job->n);
		job->cap = job->n;
	}
	maas_progress_phase(MAAS_PHASE_PREPROCESSING, job->n);
	job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));
	notice_key_features(job);
}

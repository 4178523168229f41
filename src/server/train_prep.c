/*
 * train_prep.c
 *		maas_train's rows, once read (train_load.c), split into training and
 *		holdout rows and preprocessed for a trainer: NULLs imputed,
 *		categories one-hot encoded, every slot scaled.  When the normal
 *		equations were summed while reading (train_job.h), the rows stay
 *		where they are and the statistics come from the sums.
 */
#include "train_job.h"
#include "services.h"

#include "miscadmin.h"
#include "utils/memutils.h"

static void
too_few_rows(TrainJob *job, int64 n_train, int64 n_test)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("too few rows to train"),
			 errdetail("The source has %lld rows with a target; with a test_size of %g "
					   "the holdout would have %lld rows and the training set %lld.",
					   (long long) job->n, job->p.test_size,
					   (long long) n_test, (long long) n_train),
			 errhint("Training needs at least 2 rows and the holdout at least 1; "
					 "add rows or change test_size.")));
}

/*
 * The holdout rows out of job->gram: they were summed with the others as
 * they were read.  Their targets are yf[n_train ..], in the order of
 * job->holdout; each row is asked for a few ahead, as they are spread over
 * the matrix.
 */
#define HOLDOUT_AHEAD	8

static void
remove_holdout(TrainJob *job)
{
	const MaasBlas *blas = maas_get_blas_threads(maas_train_threads());
	size_t		rw = (size_t) job->raw_width;

	maas_gram_remove_begin(blas, job->gram);
	for (int64 i = 0; i < job->n_test; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		if (i + HOLDOUT_AHEAD < job->n_test)
		{
			const char *p = (const char *) (job->x + job->holdout[i + HOLDOUT_AHEAD] * rw);

			for (size_t off = 0; off < rw * sizeof(float) && off < 4096; off += 64)
				__builtin_prefetch(p + off);
		}
		maas_gram_add(blas, job->gram, job->x + job->holdout[i] * rw, job->yf[job->n_train + i]);
	}
	maas_gram_flush(blas, job->gram);
}

/*
 * Split the rows (stratified for classification) and permute them so that
 * the training rows come first, then impute NULLs with the training rows'
 * means, expand categories to one-hot (those seen only in holdout rows are
 * dropped, as at predict time) and scale every slot by the training rows'
 * statistics: the arithmetic is the kernel's (preprocess.h).  What the
 * split needs of the size of the rows lives in a context of its own, freed
 * before the rest, and the raw matrix is freed once expanded.
 */
void
maas_train_preprocess(TrainJob *job)
{
	const MaasTick *tick = &maas_interrupts_tick;
	MaasError	err;
	MemoryContext split_cxt;
	int32	   *order;
	int64		n_test;
	MaasPrepSet set;

	/*
	 * The split and permutation: an order, its scratch, a flag a row; or,
	 * with the sums (job->gram), an order, the holdout's rows and targets.
	 */
	maas_train_check_memory(job, "Splitting the rows",
							(Size) job->n * (job->gram ? 3 * sizeof(int32) :
											 2 * sizeof(int32) + sizeof(bool)) +
							sizeof(float) * (Size) job->raw_width);
	split_cxt = AllocSetContextCreate(job->cxt, "maas training split",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(split_cxt);
	order = palloc_extended(sizeof(int32) * job->n, MCXT_ALLOC_HUGE);
	if (!maas_prep_split(job->n, job->task == MAAS_TASK_CLASSIFICATION ? job->cls : NULL,
						 job->n_classes, job->p.test_size, job->p.seed, order,
						 &n_test, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	job->n_test = n_test;
	job->n_train = job->n - n_test;
	/* test_size 0: no holdout, asked for */
	if ((job->n_test < 1 && job->p.test_size > 0) || job->n_train < 2)
		too_few_rows(job, job->n_train, job->n_test);
	if (job->gram)
	{
		/*
		 * The rows stay where they are: the holdout rows listed, their
		 * targets after the training rows' (yf[n_train ..], the rest of yf
		 * is not read again), the rows taken away from the sums.
		 */
		float	   *yt;

		MemoryContextSwitchTo(job->cxt);
		job->holdout = palloc_extended(sizeof(int32) * Max(job->n_test, 1), MCXT_ALLOC_HUGE);
		memcpy(job->holdout, order + job->n_train, sizeof(int32) * job->n_test);
		MemoryContextSwitchTo(split_cxt);
		yt = palloc_extended(sizeof(float) * Max(job->n_test, 1), MCXT_ALLOC_HUGE);
		for (int64 i = 0; i < job->n_test; i++)
			yt[i] = job->yf[job->holdout[i]];
		memcpy(job->yf + job->n_train, yt, sizeof(float) * job->n_test);
	}
	else if (!maas_prep_permute(job->n, order, job->x, job->raw_width, job->cls, job->yf,
								tick, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	MemoryContextSwitchTo(job->cxt);
	MemoryContextDelete(split_cxt);
	if (job->gram)
		remove_holdout(job);

	memset(&set, 0, sizeof(set));
	set.n = job->n;
	set.n_train = job->n_train;
	set.raw_width = job->raw_width;
	set.x = job->x;
	set.n_columns = job->inputs.n;
	set.columns = palloc0(sizeof(MaasPrepColumn) * Max(job->inputs.n, 1));
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];
		MaasPrepColumn *col = &set.columns[i];

		col->name = in->name;
		col->category = in->kind == MAAS_INPUT_CATEGORY;
		col->offset = in->offset;
		col->width = in->width;
		if (col->category)
		{
			col->n_seen = in->collect->n;
			col->seen = in->collect->items;
		}
	}
	if (job->gram)
	{
		/* the statistics from the sums: the rows hold no NaN */
		double	   *mean = palloc(sizeof(double) * Max(job->raw_width, 1));
		double	   *var = palloc(sizeof(double) * Max(job->raw_width, 1));

		maas_gram_moments(job->gram, mean, var);
		if (!maas_prep_moments(&set, job->p.impute, job->p.scale, mean, var, &err))
			maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	}
	else if (!maas_prep_impute(&set, job->p.impute, tick, &err) ||
			 !maas_prep_categories(&set, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL,
				   err.status == MAAS_ERR_INVALID ?
				   "Leave the column out with params.features." : NULL);
	job->width = set.width;

	/*
	 * The model's input slots are known: what scaling and the report take
	 * of each (a category's slot is named by its text in the statistics and
	 * the config, as text and as Jsonb), with the raw rows read.
	 */
	job->reserved = (Size) set.width * (TRAIN_PREP_BYTES_PER_SLOT + TRAIN_REPORT_BYTES_PER_SLOT);
	for (int i = 0; i < job->inputs.n; i++)
		for (int c = 0; c < set.columns[i].n_categories; c++)
			job->reserved += 4 * strlen(set.columns[i].categories[c]);
	maas_train_check_memory(job, psprintf("Preprocessing %d input slots", set.width), 0);

	if (set.has_categories)
	{
		Size		need = sizeof(float) * (Size) set.width * job->n;
		float	   *x;

		maas_train_check_memory(job, "One-hot encoding the rows", need);
		x = MemoryContextAllocExtended(job->cxt, need, MCXT_ALLOC_HUGE);
		job->peak = Max(job->peak, MemoryContextMemAllocated(job->cxt, true));
		maas_prep_onehot(&set, x, tick);
		pfree(job->x);
		job->x = set.x = x;
	}

	/* the inputs as the model reads them */
	for (int i = 0; i < job->inputs.n; i++)
	{
		MaasInput  *in = &job->inputs.in[i];
		MaasPrepColumn *col = &set.columns[i];

		in->offset = col->out_offset;
		in->width = col->out_width;
		in->fill = col->fill;
		in->n_categories = col->n_categories;
		in->categories = col->categories;
	}
	job->inputs.width = set.width;

	/* with the sums, the holdout rows are scaled as they are scored (train.c) */
	if (!job->gram && !maas_prep_scale(&set, job->p.scale, tick, &err))
		maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
	job->mean = set.mean;
	job->std = set.std;
	job->var = set.var;
	job->shift = set.shift;
	job->div = set.div;
}

/*
 * train_task.c
 *		maas_train's task, once the rows are read (train_load.c): regression
 *		or classification, by the parameters or the target's type and
 *		values, and the classes numbered 0..k-1 in sorted label order.
 */
#include "train_job.h"
#include "services.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/float.h"
#include "utils/json.h"

/* integer targets with at most this many values are classes by default */
#define AUTO_CLASS_LIMIT		20

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static char *
json_number_text(double v)
{
	return float8out_internal(v);
}

/* decide the task, number the classes 0..k-1 in sorted label order */
void
maas_train_resolve_task(TrainJob *job)
{
	Oid			base = job->target_b.typid;
	bool		integer = base == INT2OID || base == INT4OID || base == INT8OID;

	if (job->n == 0)
	{
		if (job->skipped > 0)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("target column \"%s\" has only null values", job->target),
					 errdetail("The source has %lld rows.", (long long) job->skipped)));
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("the source has no rows")));
	}

	if (job->p.task_set)
		job->task = job->p.task;
	else if (job->target_is_text || base == BOOLOID)
		job->task = MAAS_TASK_CLASSIFICATION;
	else if (integer && job->n_target_values <= AUTO_CLASS_LIMIT)
		job->task = MAAS_TASK_CLASSIFICATION;
	else
		job->task = MAAS_TASK_REGRESSION;

	maas_train_check_memory(job, "The targets", sizeof(float) * (Size) job->n);
	if (job->task == MAAS_TASK_REGRESSION)
	{
		if (job->target_is_text)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("target column \"%s\" is not numeric, so it cannot be a regression target",
							job->target),
					 errhint("Use params.task \"classification\".")));
		job->yf = MemoryContextAllocExtended(job->cxt, sizeof(float) * job->n, MCXT_ALLOC_HUGE);
		for (int64 r = 0; r < job->n; r++)
			job->yf[r] = (float) job->y[r];
		return;
	}

	job->cls = MemoryContextAllocExtended(job->cxt, sizeof(int32) * job->n, MCXT_ALLOC_HUGE);
	if (job->target_is_text)
	{
		MaasStringSet *set = job->target_set;
		int		   *index = palloc(sizeof(int) * Max(set->n, 1));
		int		   *map = palloc(sizeof(int) * Max(set->n, 1));
		MaasError	err;

		job->n_classes = set->n;
		job->label_json = palloc(sizeof(char *) * Max(set->n, 1));
		job->label_text = palloc(sizeof(char *) * Max(set->n, 1));
		for (int i = 0; i < set->n; i++)
		{
			job->label_text[i] = set->items[i];
			index[i] = i;
		}
		if (!maas_sort_texts(set->n, job->label_text, index, &err))
			maas_raise(&err, ERRCODE_INVALID_PARAMETER_VALUE, NULL, NULL);
		for (int i = 0; i < set->n; i++)
		{
			StringInfoData s;

			map[index[i]] = i;
			initStringInfo(&s);
			escape_json(&s, job->label_text[i]);
			job->label_json[i] = s.data;
		}
		for (int64 r = 0; r < job->n; r++)
			job->cls[r] = map[(int) job->y[r]];
	}
	else
	{
		HASH_SEQ_STATUS seq;
		double	   *e;
		double	   *values;
		int			k = 0;

		if (job->n_target_values > MAAS_MAX_CLASSES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("target column \"%s\" has more than %d classes",
							job->target, MAAS_MAX_CLASSES),
					 errhint("Use params.task \"regression\" for a continuous target.")));
		values = palloc(sizeof(double) * Max(job->n_target_values, 1));
		hash_seq_init(&seq, job->target_values);
		while ((e = hash_seq_search(&seq)) != NULL)
			values[k++] = *e;
		qsort(values, k, sizeof(double), cmp_double);
		job->n_classes = k;
		job->label_json = palloc(sizeof(char *) * Max(k, 1));
		job->label_text = palloc(sizeof(char *) * Max(k, 1));
		for (int i = 0; i < k; i++)
		{
			if (base == BOOLOID)
				job->label_json[i] = pstrdup(values[i] != 0 ? "true" : "false");
			else
				job->label_json[i] = json_number_text(values[i]);
			job->label_text[i] = job->label_json[i];
		}
		for (int64 r = 0; r < job->n; r++)
		{
			double	   *hit = bsearch(&job->y[r], values, k, sizeof(double), cmp_double);

			if ((r & 65535) == 0)
				CHECK_FOR_INTERRUPTS();

			job->cls[r] = (int32) (hit - values);
		}
	}
	if (job->n_classes < 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target column \"%s\" has only one class", job->target),
				 errdetail("Every row with a target has the value \"%s\".", job->label_text[0]),
				 errhint("A classifier needs at least two classes.")));
}

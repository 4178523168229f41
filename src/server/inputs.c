/*
 * inputs.c
 *		Encoding table columns as model input slots (see inputs.h).
 */
#include "inputs.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

static const char *const impute_names[] = {
	[MAAS_IMPUTE_MEAN] = "mean",
	[MAAS_IMPUTE_ZERO] = "zero",
	[MAAS_IMPUTE_ERROR] = "error",
	[MAAS_IMPUTE_NONE] = "none",
};

static const char *const kind_names[] = {
	[MAAS_INPUT_NUMBER] = "number",
	[MAAS_INPUT_ARRAY] = "array",
	[MAAS_INPUT_CATEGORY] = "category",
};

const char *
maas_impute_name(MaasImpute impute)
{
	return impute_names[impute];
}

bool
maas_type_is_number(Oid typid)
{
	switch (getBaseType(typid))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
		case BOOLOID:
			return true;
		default:
			return false;
	}
}

static bool
type_is_text_like(Oid typid)
{
	Oid			base = getBaseType(typid);

	return base == TEXTOID || base == VARCHAROID || base == BPCHAROID;
}

bool
maas_feature_kind(Oid typid, MaasInputKind *kind)
{
	Oid			base = getBaseType(typid);
	Oid			elem;

	if (maas_type_is_number(base))
		*kind = MAAS_INPUT_NUMBER;
	else if (type_is_text_like(base) || type_is_enum(base))
		*kind = MAAS_INPUT_CATEGORY;
	else if ((elem = get_element_type(base)) != InvalidOid && maas_type_is_number(elem))
		*kind = MAAS_INPUT_ARRAY;
	else
		return false;
	return true;
}

void
maas_bind_column(TupleDesc tupdesc, int attno, MaasBinding *b)
{
	Oid			typid = TupleDescAttr(tupdesc, attno - 1)->atttypid;
	bool		varlena;

	memset(b, 0, sizeof(*b));
	b->attno = attno;
	b->typid = getBaseType(typid);
	b->elemtype = get_element_type(b->typid);
	if (OidIsValid(b->elemtype))
	{
		get_typlenbyvalalign(b->elemtype, &b->elmlen, &b->elmbyval, &b->elmalign);
		b->elembase = getBaseType(b->elemtype);
	}
	b->text_like = type_is_text_like(b->typid);
	getTypeOutputInfo(b->typid, &b->outfunc, &varlena);
}

/*
 * The column of tupdesc named name (1-based), or 0 if there is none.  A
 * name maas reads must name one column: training, serving and evaluation
 * all find columns by name, so two columns of one name would be read by
 * position in one place and by name in another.  where says what tupdesc
 * is, for the message ("source", "row").
 */
int
maas_find_column(TupleDesc tupdesc, const char *name, const char *where)
{
	int			found = 0;

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), name) != 0)
			continue;
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_COLUMN),
					 errmsg("column \"%s\" appears more than once in the %s", name, where),
					 errdetail("Columns %d and %d are both named \"%s\".", found, i + 1, name),
					 errhint("Give each column its own name, for example with AS.")));
		found = i + 1;
	}
	return found;
}

/* raise unless every column of tupdesc has a name of its own */
void
maas_check_column_names(TupleDesc tupdesc, const char *where)
{
	MaasStringSet *names = maas_string_set_create(tupdesc->natts);

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		int			before = names->n;
		bool		full;

		if (att->attisdropped)
			continue;
		(void) maas_string_set_add(names, NameStr(att->attname), &full);
		if (names->n == before)
			(void) maas_find_column(tupdesc, NameStr(att->attname), where);	/* raises */
	}
	maas_string_set_free(names);
}

void
maas_bind_input(const MaasInput *in, TupleDesc tupdesc, MaasBinding *b,
				const char *where, const char *missing_hint)
{
	MaasInputKind kind;
	int			attno = maas_find_column(tupdesc, in->name, where);
	Form_pg_attribute att;

	if (attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" does not exist", in->name),
				 errdetail("The model reads a column of that name."),
				 missing_hint ? errhint("%s", missing_hint) : 0));
	att = TupleDescAttr(tupdesc, attno - 1);
	maas_bind_column(tupdesc, attno, b);
	if (!maas_feature_kind(att->atttypid, &kind) || kind != in->kind)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" has type %s, but the model reads it as a %s",
						in->name, format_type_be(att->atttypid), kind_names[in->kind])));
}

/* typid is a base type (MaasBinding.typid): no lookup per value */
double
maas_datum_number(Datum value, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return (double) DatumGetInt16(value);
		case INT4OID:
			return (double) DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case FLOAT4OID:
			return (double) DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value));
		case BOOLOID:
			return DatumGetBool(value) ? 1.0 : 0.0;
		default:
			elog(ERROR, "type %u is not a number", typid);
	}
	return 0.0;					/* keep compiler quiet */
}

char *
maas_datum_text(Datum value, const MaasBinding *b)
{
	if (b->text_like)
		return TextDatumGetCString(value);
	return OidOutputFunctionCall(b->outfunc, value);
}

/* ---- string sets ---- */

typedef struct StringEntry
{
	char	   *key;			/* hash key: must be first */
	int			index;
} StringEntry;

static uint32
maas_string_hash_fn(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, (int) strlen(s));
}

static int
maas_string_match_fn(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * A set of at most max strings, in a memory context of its own under the
 * current one (maas_string_set_free releases it).  Adding and finding are
 * hash lookups, so checking n strings for duplicates costs O(n).
 */
MaasStringSet *
maas_string_set_create(int max)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "maas string set",
											  ALLOCSET_DEFAULT_SIZES);
	MaasStringSet *set = MemoryContextAllocZero(cxt, sizeof(MaasStringSet));
	HASHCTL		ctl;

	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(StringEntry);
	ctl.hash = maas_string_hash_fn;
	ctl.match = maas_string_match_fn;
	ctl.hcxt = cxt;
	set->hash = hash_create("maas string set", Min(Max(max, 16), 65536), &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	set->max = max;
	set->items = MemoryContextAllocExtended(cxt, sizeof(char *) * Max(max, 1),
											MCXT_ALLOC_HUGE);
	return set;
}

void
maas_string_set_free(MaasStringSet *set)
{
	MemoryContextDelete(GetMemoryChunkContext(set));
}

/* the index of s, or -1 if it is not in the set */
int
maas_string_set_find(MaasStringSet *set, const char *s)
{
	StringEntry *e = hash_search(set->hash, &s, HASH_FIND, NULL);

	return e ? e->index : -1;
}

/* the index of s, added if new; -1 with *full when the set is full */
int
maas_string_set_add(MaasStringSet *set, const char *s, bool *full)
{
	StringEntry *e;
	bool		found;

	*full = false;
	e = hash_search(set->hash, &s, HASH_FIND, NULL);
	if (e)
		return e->index;
	if (set->n >= set->max)
	{
		*full = true;
		return -1;
	}
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(set->items));
		char	   *copy = pstrdup(s);

		MemoryContextSwitchTo(old);
		e = hash_search(set->hash, &copy, HASH_ENTER, &found);
		e->key = copy;
		e->index = set->n;
		set->items[set->n++] = copy;
	}
	return e->index;
}

/* index of s in sorted[0..n) (strcmp order), or -1 */
int
maas_string_index(char **sorted, int n, const char *s)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(sorted[mid], s);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * The slot of a category value among the input's, or -1 if it is none of
 * them.  The categories are in slot order; by_text, when set, numbers them
 * in strcmp order for the binary search (training writes them sorted).
 */
static int
category_slot(const MaasInput *in, const char *s)
{
	int			lo = 0,
				hi = in->n_categories - 1;

	if (in->by_text == NULL)
		return maas_string_index(in->categories, in->n_categories, s);
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(in->categories[in->by_text[mid]], s);

		if (c == 0)
			return in->by_text[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/* ---- encoding ---- */

static char *
row_text(int64 rowno)
{
	return rowno > 0 ? psprintf("row %lld", (long long) rowno) : pstrdup("the row");
}

static void
null_feature(const MaasInputs *inputs, const MaasInput *in, int64 rowno)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("column \"%s\" is null in %s", in->name, row_text(rowno)),
			 errdetail("The model's impute policy is \"error\"."),
			 errhint("Train with params.impute set to \"mean\" or \"zero\" to replace nulls.")));
}

static float
checked_float(const MaasInputs *inputs, const MaasInput *in, double v, int64 rowno)
{
	float		f = (float) v;

	/* impute "none" (boosted trees): NaN is a missing value, as NULL is */
	if (isnan(v) && inputs->impute == MAAS_IMPUTE_NONE)
		return NAN;
	if (!isfinite(f))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" holds a value that is not a finite real number", in->name),
				 errdetail("The value in %s is %s.", row_text(rowno),
						   isnan(v) ? "NaN" : isinf(v) ? "infinite" : "out of range for real"),
				 errhint("Replace NaN with NULL, or leave the column out.")));
	return f;
}

static void
encode_null(const MaasInputs *inputs, const MaasInput *in, float *dst,
			int first, int count, bool fill, int64 rowno)
{
	if (inputs->impute == MAAS_IMPUTE_ERROR)
		null_feature(inputs, in, rowno);
	for (int j = first; j < first + count; j++)
		dst[j] = fill && in->fill ? in->fill[j] : NAN;
}

void
maas_encode(const MaasInputs *inputs, MaasInput *in, const MaasBinding *b,
			Datum value, bool isnull, float *dst, bool fill, int64 rowno)
{
	switch (in->kind)
	{
		case MAAS_INPUT_NUMBER:
			if (isnull)
				encode_null(inputs, in, dst, 0, 1, fill, rowno);
			else
				dst[0] = checked_float(inputs, in, maas_datum_number(value, b->typid), rowno);
			break;

		case MAAS_INPUT_ARRAY:
			{
				ArrayType  *arr;
				int			nitems;

				if (isnull)
				{
					encode_null(inputs, in, dst, 0, in->length, fill, rowno);
					break;
				}
				arr = DatumGetArrayTypeP(value);
				nitems = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
				if (nitems != in->length)
					ereport(ERROR,
							(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
							 errmsg("array column \"%s\" has arrays of different lengths", in->name),
							 errdetail("The model takes %d elements; the array in %s has %d.",
									   in->length, row_text(rowno), nitems)));
				if (ARR_ELEMTYPE(arr) == FLOAT4OID && !ARR_HASNULL(arr))
				{
					memcpy(dst, ARR_DATA_PTR(arr), sizeof(float) * nitems);
					if (!maas_all_finite(dst, nitems))
						for (int j = 0; j < nitems; j++)
							checked_float(inputs, in, dst[j], rowno);
				}
				else
				{
					Datum	   *elems;
					bool	   *nulls;
					int			n;

					deconstruct_array(arr, ARR_ELEMTYPE(arr), b->elmlen, b->elmbyval,
									  b->elmalign, &elems, &nulls, &n);
					for (int j = 0; j < n; j++)
					{
						if (nulls[j])
							encode_null(inputs, in, dst, j, 1, fill, rowno);
						else
							dst[j] = checked_float(inputs, in, maas_datum_number(elems[j], b->elembase),
												   rowno);
					}
					pfree(elems);
					pfree(nulls);
				}
				if ((Pointer) arr != DatumGetPointer(value))
					pfree(arr);
				break;
			}

		case MAAS_INPUT_CATEGORY:
			{
				char	   *s;

				if (in->collect)
				{
					bool		full;
					int			idx;

					if (isnull)
					{
						dst[0] = -1.0f;
						break;
					}
					s = maas_datum_text(value, b);
					idx = maas_string_set_add(in->collect, s, &full);
					if (full)
						ereport(ERROR,
								(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
								 errmsg("column \"%s\" has more than %d distinct values",
										in->name, MAAS_MAX_CATEGORIES),
								 errdetail("Text columns are one-hot encoded, one input per distinct value."),
								 errhint("Leave the column out with params.features, or encode it as a number.")));
					dst[0] = (float) idx;
					pfree(s);
					break;
				}
				memset(dst, 0, sizeof(float) * in->width);
				if (isnull)
					break;
				s = maas_datum_text(value, b);
				{
					int			idx = category_slot(in, s);

					if (idx >= 0)
						dst[idx] = 1.0f;
				}
				pfree(s);
				break;
			}
	}
}

/* ---- the config ---- */

static void
append_float(StringInfo out, float v)
{
	appendStringInfo(out, "%.9g", (double) v);
}

void
maas_inputs_to_json(const MaasInputs *inputs, StringInfo out)
{
	appendStringInfo(out, "\"impute\": \"%s\", \"inputs\": [", impute_names[inputs->impute]);
	for (int i = 0; i < inputs->n; i++)
	{
		const MaasInput *in = &inputs->in[i];

		appendStringInfoString(out, i ? ", {\"name\": " : "{\"name\": ");
		escape_json(out, in->name);
		appendStringInfo(out, ", \"kind\": \"%s\"", kind_names[in->kind]);
		if (in->kind == MAAS_INPUT_ARRAY)
			appendStringInfo(out, ", \"length\": %d", in->length);
		if (in->kind == MAAS_INPUT_CATEGORY)
		{
			appendStringInfoString(out, ", \"categories\": [");
			for (int c = 0; c < in->n_categories; c++)
			{
				if ((c & 4095) == 0)
					CHECK_FOR_INTERRUPTS();
				if (c)
					appendStringInfoString(out, ", ");
				escape_json(out, in->categories[c]);
			}
			appendStringInfoChar(out, ']');
		}
		else if (in->fill)
		{
			appendStringInfoString(out, ", \"fill\": ");
			if (in->kind == MAAS_INPUT_NUMBER)
				append_float(out, in->fill[0]);
			else
			{
				appendStringInfoChar(out, '[');
				for (int j = 0; j < in->width; j++)
				{
					if ((j & 4095) == 0)
						CHECK_FOR_INTERRUPTS();
					if (j)
						appendStringInfoString(out, ", ");
					append_float(out, in->fill[j]);
				}
				appendStringInfoChar(out, ']');
			}
		}
		appendStringInfoChar(out, '}');
	}
	appendStringInfoChar(out, ']');
}

#define inputs_error(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE), \
			 errmsg("invalid model config"), \
			 errdetail(__VA_ARGS__)))

static JsonbValue *
get_key(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

static bool
is_container(JsonbValue *v, bool object)
{
	return v != NULL && v->type == jbvBinary &&
		(object ? JsonContainerIsObject(v->val.binary.data) :
		 JsonContainerIsArray(v->val.binary.data));
}

static double
json_number(JsonbValue *v, const char *what)
{
	if (v == NULL || v->type != jbvNumeric)
		inputs_error("%s must be a number.", what);
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											  NumericGetDatum(v->val.numeric)));
}

/* a fill value: a number that is finite as a real, as the input slot holds it */
static float
json_fill(JsonbValue *v, const MaasInput *in)
{
	double		d;
	float		f;

	if (v == NULL || v->type != jbvNumeric)
		inputs_error("The \"fill\" of input \"%s\" must be %s.", in->name,
					 in->kind == MAAS_INPUT_NUMBER ? "a number" : "an array of numbers");
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v->val.numeric)));
	f = (float) d;
	if (!isfinite(f))
		inputs_error("The \"fill\" of input \"%s\" holds a number out of range for real.",
					 in->name);
	return f;
}

/* qsort_arg: category indexes by their text */
static int
cmp_category(const void *a, const void *b, void *arg)
{
	char	  **cats = (char **) arg;

	return strcmp(cats[*(const int *) a], cats[*(const int *) b]);
}

/*
 * The categories of input in, from its config entry: strings, in slot
 * order, each at most once.  by_text is set unless they are sorted already.
 */
static void
read_categories(MaasInput *in, JsonbContainer *obj)
{
	JsonbValue *f = get_key(obj, "categories");
	JsonbContainer *cats;
	bool		sorted = true;

	if (!is_container(f, false))
		inputs_error("Input \"%s\" needs an array of \"categories\".", in->name);
	cats = f->val.binary.data;
	in->n_categories = in->width = JsonContainerSize(cats);
	if (in->width == 0)
		inputs_error("Input \"%s\" has no categories.", in->name);
	in->categories = palloc_extended(sizeof(char *) * in->n_categories, MCXT_ALLOC_HUGE);
	for (int c = 0; c < in->n_categories; c++)
	{
		JsonbValue *cv = getIthJsonbValueFromContainer(cats, c);

		CHECK_FOR_INTERRUPTS();
		if (cv->type != jbvString)
			inputs_error("The categories of input \"%s\" must be strings.", in->name);
		in->categories[c] = pnstrdup(cv->val.string.val, cv->val.string.len);
		pfree(cv);
		if (c > 0 && strcmp(in->categories[c - 1], in->categories[c]) >= 0)
			sorted = false;
	}
	if (sorted)
		return;

	/* any order is the slots' order; duplicates are neighbours once sorted */
	in->by_text = palloc_extended(sizeof(int) * in->n_categories, MCXT_ALLOC_HUGE);
	for (int c = 0; c < in->n_categories; c++)
		in->by_text[c] = c;
	qsort_arg(in->by_text, in->n_categories, sizeof(int), cmp_category, in->categories);
	for (int c = 1; c < in->n_categories; c++)
		if (strcmp(in->categories[in->by_text[c - 1]], in->categories[in->by_text[c]]) == 0)
			inputs_error("Category \"%s\" of input \"%s\" appears more than once.",
						 in->categories[in->by_text[c]], in->name);
}

/*
 * The inputs a model's config declares, or NULL if it declares none (a
 * model registered from elsewhere).  Every loop here may run millions of
 * times (entries, categories, fill values), so each checks for interrupts,
 * and input names are checked for duplicates by hashing.
 */
MaasInputs *
maas_inputs_from_config(Jsonb *config)
{
	JsonbValue *v = get_key(&config->root, "inputs");
	JsonbContainer *arr;
	MaasInputs *inputs;
	MaasStringSet *names;
	int			offset = 0;

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (!is_container(v, false))
		inputs_error("\"inputs\" must be an array.");
	arr = v->val.binary.data;
	inputs = palloc0(sizeof(MaasInputs));
	inputs->n = JsonContainerSize(arr);
	inputs->in = palloc_extended(sizeof(MaasInput) * Max(inputs->n, 1),
								 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	inputs->impute = MAAS_IMPUTE_MEAN;
	if ((v = get_key(&config->root, "impute")) != NULL && v->type != jbvNull)
	{
		bool		known = false;

		for (int i = 0; v->type == jbvString && i < lengthof(impute_names); i++)
			if (strlen(impute_names[i]) == (size_t) v->val.string.len &&
				memcmp(impute_names[i], v->val.string.val, v->val.string.len) == 0)
			{
				inputs->impute = (MaasImpute) i;
				known = true;
			}
		if (!known)
			inputs_error("\"impute\" must be \"mean\", \"zero\", \"error\" or \"none\".");
	}

	names = maas_string_set_create(inputs->n);
	for (int i = 0; i < inputs->n; i++)
	{
		MaasInput  *in = &inputs->in[i];
		JsonbValue *iv = getIthJsonbValueFromContainer(arr, i);
		JsonbContainer *obj;
		JsonbValue *f;
		bool		known = false;
		bool		full;

		CHECK_FOR_INTERRUPTS();
		if (!is_container(iv, true))
			inputs_error("Input %d must be a JSON object.", i + 1);
		obj = iv->val.binary.data;
		if ((f = get_key(obj, "name")) == NULL || f->type != jbvString)
			inputs_error("Input %d has no \"name\".", i + 1);
		in->name = pnstrdup(f->val.string.val, f->val.string.len);
		if (maas_string_set_add(names, in->name, &full) != i)
			inputs_error("Input \"%s\" appears more than once.", in->name);
		if ((f = get_key(obj, "kind")) == NULL || f->type != jbvString)
			inputs_error("Input \"%s\" has no \"kind\".", in->name);
		for (int k = 0; k < lengthof(kind_names); k++)
			if (strlen(kind_names[k]) == (size_t) f->val.string.len &&
				memcmp(kind_names[k], f->val.string.val, f->val.string.len) == 0)
			{
				in->kind = (MaasInputKind) k;
				known = true;
			}
		if (!known)
			inputs_error("Input \"%s\" has an unknown kind.", in->name);

		switch (in->kind)
		{
			case MAAS_INPUT_NUMBER:
				in->width = 1;
				break;
			case MAAS_INPUT_ARRAY:
				{
					double		len = json_number(get_key(obj, "length"), "\"length\"");

					if (!(len >= 1 && len <= 100000000) || len != floor(len))
						inputs_error("Input \"%s\" has an invalid \"length\".", in->name);
					in->length = in->width = (int) len;
					break;
				}
			case MAAS_INPUT_CATEGORY:
				read_categories(in, obj);
				break;
		}
		in->offset = offset;
		if (in->width > 100000000 - offset)
			inputs_error("The inputs are too wide.");
		offset += in->width;

		f = get_key(obj, "fill");
		if (f != NULL && in->kind != MAAS_INPUT_CATEGORY)
		{
			in->fill = palloc_extended(sizeof(float) * in->width, MCXT_ALLOC_HUGE);
			if (in->kind == MAAS_INPUT_NUMBER)
				in->fill[0] = json_fill(f, in);
			else
			{
				if (!is_container(f, false) ||
					JsonContainerSize(f->val.binary.data) != (uint32) in->width)
					inputs_error("The \"fill\" of input \"%s\" must be an array of %d numbers.",
								 in->name, in->width);
				for (int j = 0; j < in->width; j++)
				{
					JsonbValue *fv = getIthJsonbValueFromContainer(f->val.binary.data, j);

					if ((j & 4095) == 0)
						CHECK_FOR_INTERRUPTS();
					in->fill[j] = json_fill(fv, in);
					pfree(fv);
				}
			}
		}
		else if (in->kind != MAAS_INPUT_CATEGORY && inputs->impute != MAAS_IMPUTE_ERROR &&
				 inputs->impute != MAAS_IMPUTE_NONE)
		{
			in->fill = palloc_extended(sizeof(float) * in->width,
									   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		}
		pfree(iv);
	}
	maas_string_set_free(names);
	inputs->width = offset;
	return inputs;
}

/* raise unless the inputs make the n_in features the model takes */
void
maas_check_inputs_width(const MaasInputs *inputs, int n_in)
{
	if (inputs->width != n_in)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model config"),
				 errdetail_plural("The inputs make %d feature; the model takes %d.",
								  "The inputs make %d features; the model takes %d.",
								  inputs->width, inputs->width, n_in)));
}

/*
 * batch_features.c
 *		A batch's feature arrays read when the batch is scored (see
 *		batch_features.h).
 */
#include "postgres.h"

#include "access/toast_compression.h"
#include "catalog/pg_type.h"
#include "utils/datum.h"
#include "utils/memutils.h"

#include "batch_features.h"

/*
 * The bytes before the elements of a one-dimensional array without nulls,
 * after its varlena header: ndim, dataoffset, elemtype, the length and the
 * lower bound.  A real[n_in] has these and 4 x n_in bytes of elements.
 */
#define FLAT_HEAD	((int32) (ARR_OVERHEAD_NONULLS(1) - VARHDRSZ))

typedef struct FlatHead
{
	int32		ndim;
	int32		dataoffset;
	Oid			elemtype;
	int32		dim;
	int32		lbound;
} FlatHead;

StaticAssertDecl(sizeof(FlatHead) == FLAT_HEAD, "an array's header is five int32");

void
maas_features_init(MaasBatchFeatures *bf, MaasServeState *st, MemoryContext parent)
{
	memset(bf, 0, sizeof(*bf));
	bf->st = st;
	maas_toast_batch_init(&bf->toast, parent);
	bf->cxt = AllocSetContextCreate(parent, "maas batch features", ALLOCSET_DEFAULT_SIZES);
	bf->current = -1;
	bf->threads = 1;
}

/* the size of a real[n_in] without nulls: it can go straight to the matrix */
static inline bool
flat_size(const MaasBatchFeatures *bf, int32 size)
{
	return size == FLAT_HEAD + (int64) sizeof(float) * bf->st->m->net.n_in;
}

/*
 * A real[n_in]'s size, compressed in its row by pglz: it is decoded with
 * the others waiting (the header and the elements are checked then)
 */
static inline bool
pglz_flat(const MaasBatchFeatures *bf, const struct varlena *attr)
{
	return VARATT_IS_COMPRESSED(attr) &&
		VARDATA_COMPRESSED_GET_COMPRESS_METHOD(attr) == TOAST_PGLZ_COMPRESSION_ID &&
		flat_size(bf, VARDATA_COMPRESSED_GET_EXTSIZE(attr));
}

bool
maas_features_defer(MaasBatchFeatures *bf, Datum d, int row, uint64 rownum, float *x)
{
	struct varlena *attr = (struct varlena *) DatumGetPointer(d);
	int			i = bf->n;
	bool		batchable = maas_toast_batchable(d);
	bool		packed = !batchable && pglz_flat(bf, attr);

	if (batchable || packed)
		;
	else if (bf->n == 0)
		return false;			/* nothing waits: read it now */
	else if (VARATT_IS_EXTERNAL(attr) && !VARATT_IS_EXTERNAL_ONDISK(attr) &&
			 !VARATT_IS_EXTERNAL_EXPANDED(attr))
		return false;			/* a pointer to memory that may not last */

	if (bf->n == bf->cap)
	{
		int			cap = bf->cap == 0 ? 64 : bf->cap * 2;
		MemoryContext old = MemoryContextSwitchTo(MemoryContextGetParent(bf->cxt));

		bf->row = bf->row ? repalloc(bf->row, sizeof(int) * cap) : palloc(sizeof(int) * cap);
		bf->rownum = bf->rownum ? repalloc(bf->rownum, sizeof(uint64) * cap) :
			palloc(sizeof(uint64) * cap);
		bf->value = bf->value ? repalloc(bf->value, sizeof(int) * cap) : palloc(sizeof(int) * cap);
		bf->copy = bf->copy ? repalloc(bf->copy, sizeof(Datum) * cap) : palloc(sizeof(Datum) * cap);
		bf->packed = bf->packed ? repalloc(bf->packed, sizeof(int) * cap) :
			palloc(sizeof(int) * cap);
		bf->arrays = bf->arrays ? repalloc(bf->arrays, sizeof(MaasPglzArray) * cap) :
			palloc(sizeof(MaasPglzArray) * cap);
		MemoryContextSwitchTo(old);
		bf->cap = cap;
	}
	bf->row[i] = row;
	bf->rownum[i] = rownum;
	bf->copy[i] = (Datum) 0;
	bf->value[i] = -1;
	bf->packed[i] = -1;
	if (!batchable)
	{
		/*
		 * a copy, read in its turn: an inline value (maybe compressed), a
		 * compressed one's TOAST pointer, an expanded array flattened
		 */
		MemoryContext old = MemoryContextSwitchTo(bf->cxt);
		struct varlena *copy;

		bf->copy[i] = datumCopy(d, false, -1);
		copy = (struct varlena *) DatumGetPointer(bf->copy[i]);
		bf->bytes += VARSIZE_ANY(copy);
		MemoryContextSwitchTo(old);
		if (packed)
		{
			MaasPglzArray *a = &bf->arrays[bf->n_arrays];

			a->src = (const uint8 *) copy + VARHDRSZ_COMPRESSED;
			a->srclen = VARSIZE(copy) - VARHDRSZ_COMPRESSED;
			a->row = x;
			a->ok = false;
			bf->packed[i] = bf->n_arrays++;
		}
	}
	else if (flat_size(bf, maas_toast_batch_size(d)))
		bf->value[i] = maas_toast_batch_add_into(&bf->toast, d, x, FLAT_HEAD);
	else
		bf->value[i] = maas_toast_batch_add(&bf->toast, d);
	bf->n++;
	return true;
}

/*
 * Decode the compressed arrays waiting into their rows, on the
 * batch's threads.  A clean real[n_in]'s header is this one but for its
 * lower bound (which maas_serve_features does not look at either).
 */
static void
decode_arrays(MaasBatchFeatures *bf)
{
	int			n_in = bf->st->m->net.n_in;
	FlatHead	head = {1, 0, FLOAT4OID, n_in, 1};

	if (bf->n_arrays == 0)
		return;
	if (bf->scratch == NULL)
		bf->scratch = MemoryContextAlloc(MemoryContextGetParent(bf->cxt),
										 (size_t) bf->threads *
										 (FLAT_HEAD + sizeof(float) * n_in));
	maas_pglz_arrays(bf->arrays, bf->n_arrays, &head, FLAT_HEAD, offsetof(FlatHead, lbound),
					 n_in, bf->scratch, bf->threads);
	bf->n_decoded += bf->n_arrays;
}

/* an error while the rows are fetched or checked names the row */
static void
resolve_error_context(void *arg)
{
	MaasBatchFeatures *bf = (MaasBatchFeatures *) arg;
	int			i = bf->current;

	/* while fetching, the row of the value a chunk was read for */
	if (i < 0 && bf->toast.current >= 0)
		for (int k = 0; k < bf->n; k++)
			if (bf->value[k] == bf->toast.current)
				i = k;
	if (i >= 0)
		errcontext("scoring the row with key %lld (row %llu of the query)",
				   (long long) bf->keys[bf->row[i]], (unsigned long long) bf->rownum[i]);
}

void
maas_features_resolve(MaasBatchFeatures *bf, float *x, const int64 *keys)
{
	ErrorContextCallback errcb;
	int			n_in = bf->st->m->net.n_in;
	MemoryContext old;

	if (bf->n == 0)
		return;
	bf->keys = keys;
	bf->current = -1;
	errcb.callback = resolve_error_context;
	errcb.arg = bf;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	maas_toast_batch_fetch(&bf->toast);
	decode_arrays(bf);
	/* what a row's check allocates (a decompressed copy) goes with the copies */
	old = MemoryContextSwitchTo(bf->cxt);
	for (int i = 0; i < bf->n; i++)
	{
		float	   *row = x + (size_t) bf->row[i] * n_in;
		int			v = bf->value[i];

		bf->current = i;
		if (bf->packed[i] >= 0 && bf->arrays[bf->packed[i]].ok)
			continue;
		/* a bad or unclean one goes PostgreSQL's way, and raises its error */
		if (v < 0)
		{
			maas_serve_features(bf->st, DatumGetArrayTypeP(bf->copy[i]), row);
			continue;
		}
		if (flat_size(bf, maas_toast_batch_size_of(&bf->toast, v)))
		{
			FlatHead	h;

			/* a real[n_in] without nulls of finite numbers is its elements */
			memcpy(&h, maas_toast_batch_head(&bf->toast, v), sizeof(h));
			if (h.ndim == 1 && h.dataoffset == 0 && h.elemtype == FLOAT4OID &&
				h.dim == n_in && maas_all_finite(row, n_in))
				continue;
		}
		/* anything else is checked, and copied, as maas_predict's input */
		maas_serve_features(bf->st, (ArrayType *) maas_toast_batch_value(&bf->toast, v), row);
	}
	MemoryContextSwitchTo(old);
	error_context_stack = errcb.previous;

	MemoryContextReset(bf->cxt);
	maas_toast_batch_reset(&bf->toast);
	bf->n = 0;
	bf->n_arrays = 0;
	bf->bytes = 0;
	bf->current = -1;
}

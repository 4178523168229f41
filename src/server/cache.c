/*
 * cache.c
 *		Per-backend cache of models ready to run.
 *
 * Keyed by (OID of maas.version, version id).  A version never changes
 * once written and its id is never reused, so an entry never goes stale and
 * needs no invalidation; the OID in the key keeps a dropped and re-created
 * extension from meeting its predecessor's entries.  Each entry owns a
 * memory context under CacheMemoryContext with the model's layers and the
 * few small vectors derived from its weights.  The weights themselves are
 * the server's shared copy, mapped read-only (weights_copy.c), when maas
 * is preloaded and maas.shared_model_memory is above 0; otherwise the
 * entry reads its own copy from the catalog into its context, as every
 * backend did before shared copies.  The private memory is bounded by
 * maas.cache_size: least recently used entries are evicted, but never one
 * that is pinned by a running statement (pins are released when the
 * statement's function context goes away, even on error).
 *
 * A statement pins its entry, and the entry's first pin pins the shared
 * copy too, so that the copy is not evicted while a statement uses it.  A
 * copy can still be removed from the table (evicted while this backend
 * only kept it mapped, or its version dropped): the mapping stays valid,
 * but at the next pin, or at the end of a transaction after a removal, the
 * entry is dropped and the model loaded again through the table, so that
 * an evicted copy does not stay in memory for an idle cache.
 */
#include "cache.h"
#include "services.h"
#include "weights.h"

#include "access/xact.h"
#include "lib/ilist.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

typedef struct MaasCacheKey
{
	Oid			catalog;
	int64		version_id;
} MaasCacheKey;

struct MaasCacheEntry
{
	MaasCacheKey key;			/* hash key: must be first */
	MaasModel  *model;			/* NULL while loading */
	MemoryContext cxt;
	MaasSharedCopy *copy;		/* the shared weights, or NULL (in cxt) */
	Size		bytes;			/* private memory: cxt */
	int			pins;
	dlist_node	lru;			/* head = most recently used */
};

static int	cache_size_kb = 65536;

static HTAB *model_cache = NULL;
static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size cache_bytes = 0;
static uint64 removed_seen = 0;

void
maas_cache_init(void)
{
	DefineCustomIntVariable("maas.cache_size",
							"Memory each backend may keep for deserialized models.",
							"Least recently used models are evicted beyond it; "
							"a model in use by a running statement is never evicted.",
							&cache_size_kb,
							65536, 0, MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
}

static void cache_xact_callback(XactEvent event, void *arg);

static void
cache_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(MaasCacheKey);
	ctl.entrysize = sizeof(MaasCacheEntry);
	ctl.hcxt = CacheMemoryContext;
	model_cache = hash_create("maas model cache", 32, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	RegisterXactCallback(cache_xact_callback, NULL);
}

static void
cache_remove(MaasCacheEntry *entry)
{
	dlist_delete(&entry->lru);
	cache_bytes -= entry->bytes;
	/* the model points into the copy: it goes first */
	if (entry->cxt)
		MemoryContextDelete(entry->cxt);
	if (entry->copy)
		maas_weights_detach(entry->copy);
	hash_search(model_cache, &entry->key, HASH_REMOVE, NULL);
}

/* evict unpinned entries, oldest first, until the cache fits its budget */
static void
cache_shrink(void)
{
	Size		limit = (Size) cache_size_kb * 1024;
	dlist_node *node = cache_lru.head.prev;

	while (cache_bytes > limit && node != &cache_lru.head)
	{
		dlist_node *older = node->prev;
		MaasCacheEntry *entry = dlist_container(MaasCacheEntry, lru, node);

		if (entry->pins == 0)
			cache_remove(entry);
		node = older;
	}
}

/* drop unpinned entries whose shared copy has been removed from the table */
static void
cache_drop_removed(void)
{
	dlist_mutable_iter it;

	if (model_cache == NULL || !maas_weights_removed_since(&removed_seen))
		return;
	dlist_foreach_modify(it, &cache_lru)
	{
		MaasCacheEntry *entry = dlist_container(MaasCacheEntry, lru, it.cur);

		if (entry->pins == 0 && entry->copy != NULL && entry->model != NULL &&
			!maas_weights_current(entry->copy))
			cache_remove(entry);
	}
}

static void
cache_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
		cache_drop_removed();
}

/* load the model of a half-made entry: its config, its weights, its layers */
static void
cache_load(MaasCacheEntry *entry, const MaasVersionRef *ref)
{
	MaasWeightsInfo info;
	MemoryContext load;
	Jsonb	   *config;
	const uint8 *bytes;
	size_t		len;
	StFile		file;
	MaasError	err;

	/*
	 * The config is read in a context of its own, gone once the model is
	 * built: a text model's holds its tokenizer's files (a MB or more), which
	 * the model does not keep (text_shared.c).  Weights kept in the row (a
	 * 0.1 version) stay with the model, which uses them in place.
	 */
	load = AllocSetContextCreate(CurrentMemoryContext, "maas model config",
								 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(load);
	config = maas_fetch_config(ref, &info);
	MemoryContextSwitchTo(load->parent);
	if (info.inline_weights != NULL)
	{
		bytea	   *w = palloc_extended(VARSIZE(info.inline_weights), MCXT_ALLOC_HUGE);

		memcpy(w, info.inline_weights, VARSIZE(info.inline_weights));
		info.inline_weights = w;
	}
	if (maas_weights_shared())
	{
		entry->copy = maas_weights_attach(ref, &info);
		bytes = maas_weights_data(entry->copy, &len);
	}
	else
	{
		bytes = maas_weights_read_all(ref, &info);
		len = (size_t) info.bytes;
	}
	if (!st_parse(bytes, len, &file, &err))
		maas_raise(&err, ERRCODE_DATA_CORRUPTED, "invalid stored safetensors data", NULL);
	/* a shared copy has the bytes that were checked when they were registered */
	if (entry->copy)
		entry->model = maas_model_load(config, &file);
	else
		entry->model = maas_model_build(config, &file);

	/*
	 * Packing (maas_model_pack) copies the weights into this backend, which
	 * a shared copy is there to avoid, and oneDNN's packed layout of a
	 * narrow layer can be many times its weights (a 600000 -> 1 layer:
	 * 2.4 MB of weights, 150 MB packed).  So a model on a shared copy runs
	 * on its shared weights, unpacked, as text models do, but for its
	 * convolutions, whose packed copies are about their weights' size; a
	 * private load packs.
	 */
	maas_model_pack(entry->model, entry->copy != NULL);
	MemoryContextDelete(load);
}

/*
 * Pin the model of a version, loading it on a miss.  The caller must
 * unpin it exactly once.
 */
MaasCacheEntry *
maas_cache_pin(const MaasVersionRef *ref)
{
	MaasCacheKey key;
	MaasCacheEntry *entry;
	bool		found;
	MemoryContext caller = CurrentMemoryContext;

	if (model_cache == NULL)
		cache_init();
	cache_drop_removed();

	memset(&key, 0, sizeof(key));
	key.catalog = ref->catalog;
	key.version_id = ref->version_id;
	entry = hash_search(model_cache, &key, HASH_ENTER, &found);

	if (found && entry->model != NULL)
	{
		/* its first pin pins the shared copy, if that is still the table's */
		if (entry->pins == 0 && entry->copy != NULL && !maas_weights_pin(entry->copy))
		{
			cache_remove(entry);
			return maas_cache_pin(ref);
		}
		dlist_move_head(&cache_lru, &entry->lru);
		entry->pins++;
		return entry;
	}

	/* a miss; on error the half-made entry is removed before re-throwing */
	entry->model = NULL;
	entry->cxt = NULL;
	entry->copy = NULL;
	entry->bytes = 0;
	entry->pins = 0;
	dlist_push_head(&cache_lru, &entry->lru);

	PG_TRY();
	{
		entry->cxt = AllocSetContextCreate(CacheMemoryContext, "maas model",
										   ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(entry->cxt);
		cache_load(entry, ref);
		MemoryContextSwitchTo(caller);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		cache_remove(entry);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* the shared copy came pinned */
	entry->bytes = MemoryContextMemAllocated(entry->cxt, true);
	cache_bytes += entry->bytes;
	entry->pins = 1;
	cache_shrink();
	return entry;
}

void
maas_cache_unpin(MaasCacheEntry *entry)
{
	Assert(entry->pins > 0);
	entry->pins--;
	if (entry->pins == 0)
	{
		if (entry->copy)
			maas_weights_unpin(entry->copy);
		cache_shrink();
	}
}

MaasModel *
maas_cache_model(MaasCacheEntry *entry)
{
	return entry->model;
}

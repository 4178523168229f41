/*
 * cache.c
 *		Per-backend cache of models ready to run.
 *
 * Keyed by (OID of maas.version, version id).  A version never changes
 * once written and its id is never reused, so an entry never goes stale and
 * needs no invalidation; the OID in the key keeps a dropped and re-created
 * extension from meeting its predecessor's entries.  Each entry owns a
 * memory context under CacheMemoryContext.  The total is bounded by
 * maas.cache_size: least recently used entries are evicted, but never one
 * that is pinned by a running statement (pins are released when the
 * statement's function context goes away, even on error).
 */
#include "cache.h"
#include "services.h"
#include "weights.h"

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
	Size		bytes;
	int			pins;
	dlist_node	lru;			/* head = most recently used */
};

static int	cache_size_kb = 65536;

static HTAB *model_cache = NULL;
static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size cache_bytes = 0;

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

static void
cache_init(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(MaasCacheKey);
	ctl.entrysize = sizeof(MaasCacheEntry);
	ctl.hcxt = CacheMemoryContext;
	model_cache = hash_create("maas model cache", 32, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
cache_remove(MaasCacheEntry *entry)
{
	dlist_delete(&entry->lru);
	cache_bytes -= entry->bytes;
	if (entry->cxt)
		MemoryContextDelete(entry->cxt);
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

	memset(&key, 0, sizeof(key));
	key.catalog = ref->catalog;
	key.version_id = ref->version_id;
	entry = hash_search(model_cache, &key, HASH_ENTER, &found);

	if (found && entry->model != NULL)
	{
		dlist_move_head(&cache_lru, &entry->lru);
		entry->pins++;
		return entry;
	}

	/* a miss; on error the half-made entry is removed before re-throwing */
	entry->model = NULL;
	entry->cxt = NULL;
	entry->bytes = 0;
	entry->pins = 0;
	dlist_push_head(&cache_lru, &entry->lru);

	PG_TRY();
	{
		MaasWeightsInfo info;
		Jsonb	   *config;
		uint8	   *weights;
		StFile		file;
		MaasError	err;

		/* the model uses its weights in place: they live in its context */
		entry->cxt = AllocSetContextCreate(CacheMemoryContext, "maas model",
										   ALLOCSET_DEFAULT_SIZES);
		MemoryContextSwitchTo(entry->cxt);
		config = maas_fetch_config(ref, &info);
		weights = maas_weights_read_all(ref, &info);
		if (!st_parse(weights, (size_t) info.bytes, &file, &err))
			maas_raise(&err, ERRCODE_DATA_CORRUPTED, "invalid stored safetensors data", NULL);
		entry->model = maas_model_build(config, &file);
		MemoryContextSwitchTo(caller);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		cache_remove(entry);
		PG_RE_THROW();
	}
	PG_END_TRY();

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
		cache_shrink();
}

MaasModel *
maas_cache_model(MaasCacheEntry *entry)
{
	return entry->model;
}

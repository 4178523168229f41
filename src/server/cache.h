/*
 * cache.h
 *		Per-backend cache of models ready to run (cache.c), keyed by the
 *		immutable version, bounded by maas.cache_size.
 */
#ifndef MAAS_CACHE_H
#define MAAS_CACHE_H

#include "model.h"
#include "registry.h"

typedef struct MaasCacheEntry MaasCacheEntry;

/* maas.cache_size, from _PG_init */
extern void maas_cache_init(void);

/* pin a version's model, loading it on a miss; unpin exactly once */
extern MaasCacheEntry *maas_cache_pin(const MaasVersionRef *ref);
extern void maas_cache_unpin(MaasCacheEntry *entry);
extern MaasModel *maas_cache_model(MaasCacheEntry *entry);

#endif							/* MAAS_CACHE_H */

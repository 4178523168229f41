/*
 * weights.h
 *		A version's weights: stored as chunks in maas.weight_chunk
 *		(weights_store.c), and served from one copy per server, a file under
 *		the data directory that every backend maps read-only
 *		(weights_shared.c, weights_copy.c; weights_views.c has the SQL).
 */
#ifndef MAAS_WEIGHTS_H
#define MAAS_WEIGHTS_H

#include "postgres.h"

#include "registry.h"
#include "sha256.h"

/*
 * Chunk n of a version's weights holds bytes [n * 8120, (n + 1) * 8120):
 * a row of maas.weight_chunk then fills one 8 KB heap page, its bytes in
 * line (weights_store.c).  Stored data: changing it changes the table.
 */
#define MAAS_WEIGHT_CHUNK	8120

/* the buffers that copy weights from and to files, and maas_export_parts' parts */
#define MAAS_WEIGHT_IO		(1024 * 1024)

/* what a version's row says of its weights (maas_fetch_config) */
typedef struct MaasWeightsInfo
{
	uint8		sha256[MAAS_SHA256_LEN];
	int64		bytes;
	bytea	   *inline_weights; /* kept in the row (a 0.1 version), or NULL */
} MaasWeightsInfo;

/* ---- weights_store.c ---- */

/* takes the next bytes of a version's weights; raises on failure */
typedef void (*MaasWeightsSink) (void *arg, const uint8 *data, size_t len);

/* does the registry keep chunks (not before ALTER EXTENSION maas UPDATE from 0.1)? */
extern bool maas_weights_chunked(void);

/* store data as the chunks of a version (in a catalog session, registry_write.c) */
extern void maas_weights_write(int64 version_id, const uint8 *data, size_t len);

/*
 * Read bytes [start, end) of a version's stored weights, in order, into
 * sink, a chunk at a time: never more than a chunk in memory.  The chunks
 * are checked against the row (numbered from 0, full but for the last,
 * adding up to its size); a mismatch is a data-corrupted error.
 */
extern void maas_weights_read(const MaasVersionRef *ref, const MaasWeightsInfo *info,
							  int64 start, int64 end, MaasWeightsSink sink, void *arg);

/*
 * A sink in front of another, handing it the bytes in pieces of
 * MAAS_WEIGHT_IO (for sinks that write files); flush at the end.
 */
typedef struct MaasGather
{
	MaasWeightsSink sink;
	void	   *arg;
	uint8	   *buf;
	size_t		fill;
} MaasGather;

extern void maas_gather_init(MaasGather *g, MaasWeightsSink sink, void *arg);
extern void maas_gather_sink(void *arg, const uint8 *data, size_t len);
extern void maas_gather_flush(MaasGather *g);

/* all of a version's bytes into dst (info->bytes), or one huge allocation */
extern void maas_weights_read_into(const MaasVersionRef *ref,
								   const MaasWeightsInfo *info, uint8 *dst);
extern uint8 *maas_weights_read_all(const MaasVersionRef *ref,
									const MaasWeightsInfo *info);

/* the first bytes of a version's weights (its safetensors header) */
extern uint8 *maas_weights_read_head(const MaasVersionRef *ref,
									 const MaasWeightsInfo *info, size_t len);

/*
 * SHA-256 with PostgreSQL's implementation, OpenSSL's when the server is
 * built with it (SHA-NI: several times the kernel's plain C, sha256.c)
 */
extern void maas_weights_sha256(const uint8 *data, size_t len, uint8 *out);

/* ---- storing a version (registry_write.c), exporting one (registry_export.c) ---- */

extern int32 maas_store_version_bytes(const char *model, const char *algorithm,
									  const uint8 *data, size_t len, Jsonb *config,
									  Jsonb *metrics, Jsonb *train_stats,
									  int32 parent_version);

/* a version to export (maas_export_prepare) */
typedef struct MaasExport
{
	MaasVersionRef ref;
	MaasWeightsInfo info;
	char	   *algorithm;
	char	   *config_text;
	Jsonb	   *config;
	uint8	   *header;			/* the exported file's first header_len bytes */
	size_t		header_len;
	int64		data_start;		/* then the stored bytes from here on */
	int64		total;			/* the exported file's size */
	struct SnapshotData *snap;	/* the weights are read under it */
} MaasExport;

/* not given: the deployed version, else the latest; raises unless the caller owns the model */
extern void maas_export_prepare(const char *model, bool given, int32 version,
								MaasExport *ex);
extern void maas_export_read(MaasExport *ex, int64 start, int64 end,
							 MaasWeightsSink sink, void *arg);
/* when it went well (after an error, the transaction cleans up) */
extern void maas_export_done(MaasExport *ex);

/* ---- weights_shared.c ---- */

/* a backend's mapping of the shared copy of some weights */
typedef struct MaasSharedCopy MaasSharedCopy;

/* maas.shared_model_memory, maas.shared_models_max; shared memory */
extern void maas_weights_init(void);

/* are versions served from shared copies (preloaded, a budget above 0)? */
extern bool maas_weights_shared(void);

/* ---- weights_copy.c ---- */

/*
 * Map the shared copy of a version's weights, making it first when there
 * is none (or verifying one found on disk after a restart), or waiting for
 * the backend that is making it.  Returns it pinned: in use by a statement.
 */
extern MaasSharedCopy *maas_weights_attach(const MaasVersionRef *ref,
										   const MaasWeightsInfo *info);
extern const uint8 *maas_weights_data(const MaasSharedCopy *copy, size_t *len);

/* a statement starts using a mapped copy: false if it was evicted or dropped */
extern bool maas_weights_pin(MaasSharedCopy *copy);
extern void maas_weights_unpin(MaasSharedCopy *copy);

/* unmap; the copy stays for other backends */
extern void maas_weights_detach(MaasSharedCopy *copy);

/* has any copy been removed since the last call (then check each mapping)? */
extern bool maas_weights_removed_since(uint64 *seen);
extern bool maas_weights_current(const MaasSharedCopy *copy);

/* ---- weights_shared.c ---- */

/* remove the copy of these weights when the transaction commits (a drop) */
extern void maas_weights_release_at_commit(const uint8 *sha256);

#endif							/* MAAS_WEIGHTS_H */

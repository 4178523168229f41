/*
 * registry.h
 *		The model registry: read on the serving path without SPI
 *		(registry_read.c), written as its owner after checking the caller
 *		(registry_write.c, registry_deploy.c, registry_export.c; what these
 *		share is in registry_int.h).
 */
#ifndef MAAS_REGISTRY_H
#define MAAS_REGISTRY_H

#include "postgres.h"

#include "utils/acl.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

#define MAAS_MODEL_NAME_MAX		200

/* ---- registry_read.c ---- */

typedef struct MaasVersionRef
{
	Oid			catalog;		/* OID of maas.version: part of the cache key */
	int64		version_id;		/* immutable, never reused */
	int32		version;		/* number within the model */
	int64		model_id;		/* the model's (maas_lookup_version) */
} MaasVersionRef;

struct MaasWeightsInfo;

/* maas.<relname>, locked for reading until the end of the transaction */
extern Relation maas_registry_open(const char *relname);

/* a model's owner and grants: those of its type (maas.model.anchor) */
typedef struct MaasModelRights
{
	Oid			type;			/* the model's type, or InvalidOid */
	Oid			owner;			/* InvalidOid if the type is gone */
	Acl		   *acl;			/* USAGE: who may predict; NULL: nobody else */
} MaasModelRights;

extern void maas_model_rights(Oid anchor, MaasModelRights *r);
extern void maas_model_rights_01(const char *owner, Acl *acl, MaasModelRights *r);
extern bool maas_registry_has_types(void);
extern bool maas_rights_owner(const MaasModelRights *r, Oid role);
extern bool maas_rights_usable(const MaasModelRights *r);
extern void maas_not_owner(const char *model, const MaasModelRights *r)
			pg_attribute_noreturn();
extern void maas_require_model_owner(const char *model);
extern void maas_lookup_version(const char *model, int32 version,
								MaasVersionRef *ref);
extern Jsonb *maas_fetch_config(const MaasVersionRef *ref,
								struct MaasWeightsInfo *info);
extern void maas_fetch_version(const MaasVersionRef *ref,
							   Jsonb **config, bytea **weights);

/* what the monitoring views show of a version (stats_views.c) */
typedef struct MaasVersionInfo
{
	char	   *model;
	Oid			owner;			/* the model's owner, or InvalidOid */
	bool		usable;			/* may the current user predict with it */
	int32		version;
	Jsonb	   *config;
	Jsonb	   *train_stats;	/* NULL when training stored none */
} MaasVersionInfo;

extern bool maas_version_info(const MaasVersionRef *ref, MaasVersionInfo *info);

/* ---- registry_write.c (maas_deploy_version: registry_deploy.c) ---- */

struct StFile;

extern void maas_check_model_name(const char *name);
extern Jsonb *maas_config_from_weights(const struct StFile *file);
extern int32 maas_store_version(const char *model, const char *algorithm,
								bytea *weights, Jsonb *config, Jsonb *metrics,
								Jsonb *train_stats, int32 parent_version);
extern int32 maas_deploy_version(const char *model, int32 version,
								 const char *strategy);
extern void maas_catalog_execute(const char *sql, int nargs, Oid *types,
								 Datum *values, const char *nulls, int expect);

/*
 * Several statements on the catalog as its owner, in a restricted security
 * context with search_path pinned, for parts of maas that keep tables of
 * their own (the secrets of remote models): begin, queries (SPI result
 * codes as expect) and their results, end.  caller is who called.
 */
typedef struct MaasCatalogSession
{
	Oid			caller;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	MemoryContext caller_cxt;
	bool		has_types;		/* models have types (0.2), or names (0.1) */
} MaasCatalogSession;

extern void maas_catalog_begin(MaasCatalogSession *cs);
extern void maas_catalog_end(MaasCatalogSession *cs);
extern uint64 maas_catalog_query(const char *sql, int nargs, Oid *types,
								 Datum *values, const char *nulls, int expect);
extern Datum maas_catalog_result(int row, int col, bool *isnull);

/* the model's owner after checking the caller owns it, or InvalidOid */
extern Oid	maas_catalog_model_owner(MaasCatalogSession *cs, const char *model);

#endif							/* MAAS_REGISTRY_H */

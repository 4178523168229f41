/*
 * registry_int.h
 *		What the registry's writers share (registry_write.c, registry_deploy.c,
 *		registry_export.c): the catalog session as the catalog's owner, the
 *		arguments they read, and the model's rights and row lock.
 */
#ifndef MAAS_REGISTRY_INT_H
#define MAAS_REGISTRY_INT_H

#include "registry.h"

#include "fmgr.h"

/* a session of catalog work as the catalog's owner (registry.h) */
typedef MaasCatalogSession CatalogSession;

extern void registry_catalog_begin(CatalogSession *cs);
extern void registry_catalog_end(CatalogSession *cs);
/* run a query with arguments; returns the number of rows */
extern uint64 registry_catalog_exec(const char *sql, int nargs, Oid *types,
									Datum *values, const char *nulls, int expect);
/* a column of a row of the last query */
extern Datum registry_result_value(int row, int col, bool *isnull);

/* a text argument that must not be null; the model name (argument 0), checked */
extern char *registry_arg_text(FunctionCallInfo fcinfo, int argno, const char *what);
extern char *registry_arg_model_name(FunctionCallInfo fcinfo);

/*
 * The columns of maas.model m that say who owns a model and whom it is
 * granted to (three, from col on), and the check that the caller owns it.
 */
extern const char *registry_rights_columns(CatalogSession *cs);
extern void registry_check_owner(CatalogSession *cs, const char *model, int row,
								 int col, MaasModelRights *r);

/* lock the model's row and check the caller owns it (registry_write.c) */
extern bool registry_lock_model(CatalogSession *cs, const char *model,
								bool missing_ok, int64 *model_id,
								int32 *last_version, int32 *deployed,
								MaasModelRights *rights);
/* a version of the model must exist; says so if it was dropped */
extern void registry_require_version(const char *model, int64 model_id,
									 int32 last_version, int32 version);

#endif							/* MAAS_REGISTRY_INT_H */

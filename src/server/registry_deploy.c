/*
 * registry_deploy.c
 *		Deploying and rolling back model versions, and granting and
 *		revoking the right to predict with a model: as the catalog's owner,
 *		in the catalog session of registry_write.c (registry_int.h).
 */
#include "registry_int.h"
#include "registry.h"
#include "model.h"
#include "rollout.h"
#include "services.h"
#include "weights.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* a strategy that is a version number written as text ('2') */
static bool
strategy_is_number(const char *strategy)
{
	size_t		len = strlen(strategy);

	return len > 0 && len < 10 && strspn(strategy, "0123456789") == len;
}

/* the version a deploy strategy names, under the model's row lock */
static int32
resolve_strategy(const char *model, int64 model_id, int32 last_version,
				 const char *strategy)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(model_id)};
	bool		isnull;
	Datum		d;

	if (strcmp(strategy, "latest") == 0)
	{
		registry_catalog_exec("SELECT max(version) FROM maas.version WHERE model_id = $1",
							  1, types, values, NULL, SPI_OK_SELECT);
		d = registry_result_value(0, 1, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no versions", model)));
		return DatumGetInt32(d);
	}
	if (strcmp(strategy, "previous") == 0)
	{
		int32		version;

		/* the last deploy that changed the live version: not a canary's or shadow's */
		if (registry_catalog_exec("SELECT previous_version FROM maas.deployment "
								  "WHERE model_id = $1 AND strategy <> ALL ('{canary,shadow}') "
								  "ORDER BY deployment_id DESC LIMIT 1",
								  1, types, values, NULL, SPI_OK_SELECT) == 0 ||
			(d = registry_result_value(0, 1, &isnull), isnull))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no previous deployment to roll back to", model)));
		version = DatumGetInt32(d);
		registry_require_version(model, model_id, last_version, version);
		return version;
	}
	if (strcmp(strategy, "best") == 0)
	{
		/* the task's primary metric: macro F1 for classifiers, R² otherwise */
		registry_catalog_exec("SELECT version FROM maas.version WHERE model_id = $1 "
							  "AND (metrics->>(CASE task WHEN 'classification' THEN 'f1' ELSE 'r2' END)) IS NOT NULL "
							  "ORDER BY (metrics->>(CASE task WHEN 'classification' THEN 'f1' ELSE 'r2' END))::float8 DESC, "
							  "version DESC LIMIT 1",
							  1, types, values, NULL, SPI_OK_SELECT);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no version of model \"%s\" has metrics to compare", model),
					 errhint("Deploy a version by number, or train versions with maas_train, which records metrics.")));
		return DatumGetInt32(registry_result_value(0, 1, &isnull));
	}
	if (strategy_is_number(strategy))
		return (int32) atoi(strategy);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown deploy strategy \"%s\"", strategy),
			 errhint("Use a version number, 'latest', 'previous' or 'best'.")));
	return 0;					/* keep compiler quiet */
}

/*
 * Deploy a version of a model, chosen by number (version > 0) or by a
 * strategy ('latest', 'previous', 'best', or digits); the common path of
 * maas_deploy and of the trainers' deploy rule.  Returns the version.
 */
int32
maas_deploy_version(const char *model, int32 version, const char *strategy)
{
	CatalogSession cs;
	int64		model_id;
	int32		last_version;
	int32		deployed;
	bool		by_number = (strategy == NULL);
	MaasModelRights rights;

	PreventCommandIfReadOnly("maas_deploy()");
	registry_catalog_begin(&cs);
	registry_lock_model(&cs, model, false, &model_id, &last_version, &deployed, &rights);
	if (!by_number)
		version = resolve_strategy(model, model_id, last_version, strategy);
	registry_require_version(model, model_id, last_version, version);
	/* any deploy ends a canary or shadow (rollout.c) */
	maas_rollout_end(model_id);

	if (version == deployed)
		ereport(NOTICE,
				(errmsg("version %d of model \"%s\" is already deployed", version, model)));
	else
	{
		Oid			types[5] = {INT8OID, INT4OID, INT4OID, TEXTOID, NAMEOID};
		Datum		values[5];
		char		nulls[5] = {' ', ' ', deployed ? ' ' : 'n', ' ', ' '};

		values[0] = Int64GetDatum(model_id);
		values[1] = Int32GetDatum(version);
		values[2] = Int32GetDatum(deployed);
		values[3] = CStringGetTextDatum(by_number || strategy_is_number(strategy) ?
										"version" : strategy);
		values[4] = DirectFunctionCall1(namein,
										CStringGetDatum(GetUserNameFromId(cs.caller, false)));
		registry_catalog_exec("UPDATE maas.model SET deployed_version = $2 WHERE model_id = $1",
							  2, types, values, NULL, SPI_OK_UPDATE);
		registry_catalog_exec("INSERT INTO maas.deployment (model_id, version, previous_version, "
							  "strategy, deployed_by) VALUES ($1, $2, $3, $4, $5)",
							  5, types, values, nulls, SPI_OK_INSERT);
	}
	registry_catalog_end(&cs);
	return version;
}

/*
 * maas_deploy(model, version | strategy): make a version the one that
 * maas_predict serves.  It takes effect when the transaction commits, for
 * every backend's next statement.  Returns the deployed version.
 */
PG_FUNCTION_INFO_V1(maas_deploy);
Datum
maas_deploy(PG_FUNCTION_ARGS)
{
	char	   *model = registry_arg_model_name(fcinfo);
	bool		by_number = get_fn_expr_argtype(fcinfo->flinfo, 1) == INT4OID;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", by_number ? "version" : "strategy")));
	if (by_number)
		PG_RETURN_INT32(maas_deploy_version(model, PG_GETARG_INT32(1), NULL));
	PG_RETURN_INT32(maas_deploy_version(model, 0,
										text_to_cstring(PG_GETARG_TEXT_PP(1))));
}


/* the role named by a grantee argument: a role name, or PUBLIC (InvalidOid) */
static Oid
grantee_oid(const char *grantee)
{
	if (pg_strcasecmp(grantee, "public") == 0)
		return ACL_ID_PUBLIC;
	return get_role_oid(grantee, false);
}

/* a grantee as GRANT writes it */
static const char *
grantee_sql(Oid grantee)
{
	if (grantee == ACL_ID_PUBLIC)
		return "PUBLIC";
	return quote_identifier(GetUserNameFromId(grantee, false));
}

/*
 * A grant or revoke in a registry not updated from 0.1 yet: in the model's
 * acl column, as 0.1 did.
 */
static void
change_usage_01(CatalogSession *cs, int64 model_id, bool grant, Oid grantee)
{
	Oid			types[3] = {INT8OID, OIDOID, OIDOID};
	Datum		values[3];

	values[0] = Int64GetDatum(model_id);
	values[1] = ObjectIdGetDatum(grantee);
	values[2] = ObjectIdGetDatum(cs->caller);
	registry_catalog_exec("UPDATE maas.model SET acl = NULLIF(ARRAY("
						  "SELECT a FROM unnest(acl) a "
						  "WHERE (SELECT e.grantee FROM aclexplode(ARRAY[a]) e LIMIT 1) <> $2"
						  "), '{}') WHERE model_id = $1",
						  2, types, values, NULL, SPI_OK_UPDATE);
	if (grant)
		registry_catalog_exec("UPDATE maas.model SET acl = "
							  "COALESCE(acl, '{}') || makeaclitem($2, $3, 'USAGE', false) "
							  "WHERE model_id = $1",
							  3, types, values, NULL, SPI_OK_UPDATE);
}

/* add (grant) or take away (revoke) the grantee's USAGE on the model */
static void
change_usage(FunctionCallInfo fcinfo, bool grant)
{
	char	   *model = registry_arg_model_name(fcinfo);
	Oid			grantee = grantee_oid(registry_arg_text(fcinfo, 1, "grantee"));
	CatalogSession cs;
	int64		model_id;
	int32		last_version;
	int32		deployed;
	MaasModelRights rights;
	char	   *type;

	PreventCommandIfReadOnly(grant ? "maas_grant()" : "maas_revoke()");
	registry_catalog_begin(&cs);
	registry_lock_model(&cs, model, false, &model_id, &last_version, &deployed, &rights);
	if (!cs.has_types)
	{
		change_usage_01(&cs, model_id, grant, grantee);
		registry_catalog_end(&cs);
		return;
	}
	if (!OidIsValid(rights.owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no type to grant it with", model),
				 errhint("Drop the model with maas_drop('%s').", model)));

	/*
	 * A grant on the model's type, made as its owner (a superuser's GRANT
	 * is): PostgreSQL records it and its grantee's dependency on the type.
	 * A revoke takes back the grants the grantee got through it, too.
	 */
	type = format_type_extended(rights.type, -1, FORMAT_TYPE_FORCE_QUALIFY);
	registry_catalog_exec(grant ? psprintf("GRANT USAGE ON TYPE %s TO %s", type, grantee_sql(grantee)) :
						  psprintf("REVOKE USAGE ON TYPE %s FROM %s CASCADE", type, grantee_sql(grantee)),
						  0, NULL, NULL, NULL, SPI_OK_UTILITY);
	registry_catalog_end(&cs);
}

/*
 * maas_grant(model, grantee): let a role (or PUBLIC) predict with the
 * model.  Its owner may always; managing it stays with the owner.
 */
PG_FUNCTION_INFO_V1(maas_grant);
Datum
maas_grant(PG_FUNCTION_ARGS)
{
	change_usage(fcinfo, true);
	PG_RETURN_VOID();
}

/* maas_revoke(model, grantee): take a grant of maas_grant back */
PG_FUNCTION_INFO_V1(maas_revoke);
Datum
maas_revoke(PG_FUNCTION_ARGS)
{
	change_usage(fcinfo, false);
	PG_RETURN_VOID();
}


/*
 * remote_secret.c
 *		The secrets remote models send (API keys): maas_secret_set and
 *		maas_secret_drop, and reading a value on the serving path.
 *
 * A secret is a row of maas.secret (name, anchor, value), a table of the
 * extension's owner on which nobody else has any privilege; its owner is
 * that of its type, anchor (maas.secret_<hash>, sql/install/60_remote.sql),
 * which PostgreSQL's shared dependencies track as they do a model's type:
 * DROP ROLE of the owner fails, REASSIGN OWNED and DROP OWNED handle it, a
 * rename keeps it.  Users see the names and owners of their own secrets
 * through maas.secrets, never a value.  A remote model's config names a
 * secret; its value is read under the statement's snapshot, with an index
 * scan (no SPI, so it works in parallel workers and on standbys), and only
 * when the model's owner has the privileges of the secret's owner:
 * granting USAGE on a model lets a role call it with the owner's key,
 * never read the key or point it at a server of its own.  The table is not
 * in pg_dump's output (its types are: a restored secret has no value until
 * its owner sets it again), and values are never in a message: errors here
 * hide their statement from the log, and the HTTP client scrubs them from
 * servers' answers.  doc/remote-models.md has the threat model.
 */
#include "remote.h"
#include "registry.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

/* maas.secret, as 60_remote.sql creates it */
#define Anum_secret_name	1
#define Anum_secret_anchor	2
#define Anum_secret_value	3

/*
 * The owner of a secret is its type's (maas.secret.anchor), read through
 * the syscache; InvalidOid for a type that is gone (dropped while sql_drop
 * triggers were off): then only superusers may change the secret, and no
 * model may use it.
 */
static Oid
anchor_owner(Oid anchor)
{
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(anchor))
		return InvalidOid;
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(anchor));
	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_type) GETSTRUCT(tup))->typowner;
	ReleaseSysCache(tup);
	return owner;
}

/* a role's name for a message */
static const char *
role_name(Oid role)
{
	char	   *n = OidIsValid(role) ? GetUserNameFromId(role, true) : NULL;

	return n ? n : "(none)";
}

/* the owner and value of a secret, or false when there is none */
static bool
secret_row(const char *name, Oid *owner, char **value)
{
	Oid			nsp = get_namespace_oid("maas", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("secret", nsp) : InvalidOid;
	Oid			indexid = OidIsValid(nsp) ? get_relname_relid("secret_pkey", nsp) : InvalidOid;
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the maas secrets are missing from this database"),
				 errhint("Update the extension with ALTER EXTENSION maas UPDATE.")));
	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&key, Anum_secret_name, BTEqualStrategyNumber,
				F_TEXTEQ, CStringGetTextDatum(name));
	scan = systable_beginscan(rel, indexid, true, GetActiveSnapshot(), 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		*owner = anchor_owner(DatumGetObjectId(heap_getattr(tup, Anum_secret_anchor,
															RelationGetDescr(rel), &isnull)));
		if (value != NULL)
			*value = TextDatumGetCString(heap_getattr(tup, Anum_secret_value,
													  RelationGetDescr(rel), &isnull));
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/* may a model of role owner_id use a secret of role secret_owner? */
static bool
may_use(Oid owner_id, Oid secret_owner)
{
	return OidIsValid(owner_id) && OidIsValid(secret_owner) &&
		has_privs_of_role(owner_id, secret_owner);
}

char *
maas_secret_value(const char *name, Oid owner, const char *model)
{
	Oid			secret_owner;
	char	   *value;

	if (!secret_row(name, &secret_owner, &value))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secret \"%s\" of remote model \"%s\" does not exist", name, model),
				 errhint("Its owner sets it with maas_secret_set('%s', ...).", name)));
	if (!may_use(owner, secret_owner))
	{
		explicit_bzero(value, strlen(value));
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("remote model \"%s\" may not use secret \"%s\"", model, name),
				 errdetail("The secret belongs to role \"%s\", whose privileges the model's owner \"%s\" does not have.",
						   role_name(secret_owner), role_name(owner))));
	}
	return value;
}

void
maas_secret_check(const char *name, Oid owner)
{
	Oid			secret_owner;

	if (!secret_row(name, &secret_owner, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secret \"%s\" does not exist", name),
				 errhint("Set it first with maas_secret_set('%s', ...).", name)));
	if (!may_use(owner, secret_owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for secret \"%s\"", name),
				 errdetail("The secret belongs to role \"%s\"; the model's owner \"%s\" does not have its privileges.",
						   role_name(secret_owner), role_name(owner))));
}

/* a secret's name: 1 to 63 letters, digits, '_', '-', '.' (as ops_remote.c) */
static char *
arg_secret_name(FunctionCallInfo fcinfo)
{
	char	   *name;
	size_t		len;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("secret name must not be null"),
				 errhidestmt(true)));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	len = strlen(name);
	if (len == 0 || len > MAAS_REMOTE_NAME_MAX ||
		strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid secret name \"%s\"", name),
				 errdetail("A secret name has 1 to %d letters, digits, '_', '-' or '.'.",
						   MAAS_REMOTE_NAME_MAX),
				 errhidestmt(true)));
	return name;
}

/* the caller may change a secret of owner: a member of it, or a superuser */
static void
check_secret_owner(MaasCatalogSession *cs, const char *name, Oid owner)
{
	if (superuser_arg(cs->caller) ||
		(OidIsValid(owner) && has_privs_of_role(cs->caller, owner)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("must be owner of secret \"%s\"", name),
			 errdetail("The secret belongs to role \"%s\".", role_name(owner)),
			 errhidestmt(true)));
}

/* what find_secret found */
typedef enum SecretFound
{
	SECRET_NONE,				/* no such secret */
	SECRET_ROW,					/* a secret (its row, now locked) */
	SECRET_TYPE					/* its type only: restored from a dump */
} SecretFound;

/*
 * Lock the secret's row and set *anchor to its type; or, when there is no
 * row, find the type a secret of that name has, which pg_dump dumped
 * without the row.  The caller's session is under way.  Setting and
 * dropping secrets take turns (SHARE ROW EXCLUSIVE, which readers on the
 * serving path do not wait for), so that two sessions setting a new name
 * do not both make its type: the second finds the first's row.
 */
static SecretFound
find_secret(const char *name, Oid *anchor)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	Datum		d;

	maas_catalog_query("LOCK TABLE maas.secret IN SHARE ROW EXCLUSIVE MODE",
					   0, NULL, NULL, NULL, SPI_OK_UTILITY);
	if (maas_catalog_query("SELECT anchor::pg_catalog.oid FROM maas.secret WHERE name = $1 FOR UPDATE",
						   1, types, values, NULL, SPI_OK_SELECT) == 1)
	{
		*anchor = DatumGetObjectId(maas_catalog_result(0, 1, &isnull));
		return SECRET_ROW;
	}
	maas_catalog_query("SELECT pg_catalog.to_regtype('maas.' OPERATOR(pg_catalog.||) "
					   "pg_catalog.quote_ident(maas.secret_type_name($1)))::pg_catalog.oid",
					   1, types, values, NULL, SPI_OK_SELECT);
	d = maas_catalog_result(0, 1, &isnull);
	*anchor = isnull ? InvalidOid : DatumGetObjectId(d);
	return OidIsValid(*anchor) ? SECRET_TYPE : SECRET_NONE;
}

/*
 * maas_secret_set(name, value): create a secret owned by the caller, or
 * give one of the caller's a new value (or its value again, after a
 * restore).  Nothing shows the value again; remote models name the secret
 * in their endpoint.
 */
PG_FUNCTION_INFO_V1(maas_secret_set);
Datum
maas_secret_set(PG_FUNCTION_ARGS)
{
	char	   *name = arg_secret_name(fcinfo);
	text	   *value;
	const char *v;
	int			len;
	MaasCatalogSession cs;
	SecretFound found;
	Oid			anchor;

	PreventCommandIfReadOnly("maas_secret_set()");
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("secret value must not be null"),
				 errhidestmt(true)));
	value = PG_GETARG_TEXT_PP(1);
	v = VARDATA_ANY(value);
	len = VARSIZE_ANY_EXHDR(value);
	/* it goes into an HTTP header: printable ASCII, no line breaks */
	if (len < 1 || len > MAAS_REMOTE_SECRET_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret value must have 1 to %d bytes", MAAS_REMOTE_SECRET_MAX),
				 errdetail("It has %d.", len),
				 errhidestmt(true)));
	for (int i = 0; i < len; i++)
		if ((unsigned char) v[i] < 0x20 || (unsigned char) v[i] > 0x7e)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("secret value must be printable ASCII"),
					 errdetail("Byte %d is not; the value is sent in an HTTP header.", i + 1),
					 errhidestmt(true)));

	maas_catalog_begin(&cs);
	found = find_secret(name, &anchor);
	if (found != SECRET_NONE)
		check_secret_owner(&cs, name, anchor_owner(anchor));
	if (found == SECRET_ROW)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};
		Datum		values[2] = {CStringGetTextDatum(name), PointerGetDatum(value)};

		maas_catalog_query("UPDATE maas.secret SET value = $2, updated_at = pg_catalog.now() "
						   "WHERE name = $1", 2, types, values, NULL, SPI_OK_UPDATE);
	}
	else
	{
		Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
		Datum		values[3];
		bool		isnull;

		values[0] = CStringGetTextDatum(name);
		if (found == SECRET_NONE)
		{
			/* its type, owned by the caller */
			Oid			mtypes[2] = {TEXTOID, OIDOID};
			Datum		mvalues[2] = {values[0], ObjectIdGetDatum(cs.caller)};

			maas_catalog_query("SELECT maas.make_anchor_type(maas.secret_type_name($1), "
							   "pg_catalog.format('owner of maas secret %s', pg_catalog.quote_literal($1)), "
							   "pg_catalog.pg_get_userbyid($2))::pg_catalog.oid",
							   2, mtypes, mvalues, NULL, SPI_OK_SELECT);
			anchor = DatumGetObjectId(maas_catalog_result(0, 1, &isnull));
		}
		values[1] = ObjectIdGetDatum(anchor);
		values[2] = PointerGetDatum(value);
		maas_catalog_query("INSERT INTO maas.secret (name, anchor, value) "
						   "VALUES ($1, $2::pg_catalog.regtype, $3)",
						   3, types, values, NULL, SPI_OK_INSERT);
	}
	maas_catalog_end(&cs);
	PG_RETURN_VOID();
}

/*
 * maas_secret_drop(name): remove one of the caller's secrets, and its
 * type.  Remote models that name it fail from then on, until it is set
 * again.
 */
PG_FUNCTION_INFO_V1(maas_secret_drop);
Datum
maas_secret_drop(PG_FUNCTION_ARGS)
{
	char	   *name = arg_secret_name(fcinfo);
	MaasCatalogSession cs;
	SecretFound found;
	Oid			anchor;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	PreventCommandIfReadOnly("maas_secret_drop()");
	maas_catalog_begin(&cs);
	found = find_secret(name, &anchor);
	if (found == SECRET_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secret \"%s\" does not exist", name)));
	check_secret_owner(&cs, name, anchor_owner(anchor));
	values[0] = CStringGetTextDatum(name);
	maas_catalog_query("DELETE FROM maas.secret WHERE name = $1",
					   1, types, values, NULL, SPI_OK_DELETE);
	if (SearchSysCacheExists1(TYPEOID, ObjectIdGetDatum(anchor)))
		maas_catalog_query(psprintf("DROP TYPE %s", format_type_be_qualified(anchor)),
						   0, NULL, NULL, NULL, SPI_OK_UTILITY);
	maas_catalog_end(&cs);
	PG_RETURN_VOID();
}

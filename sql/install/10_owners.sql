/* 10_owners.sql: a model's owner and grants are its type's (part of the install script) */

/*
 * Each model owns a type, maas.model_<model_id>: an empty enum that
 * nothing uses, whose owner is the model's owner and whose ACL (USAGE) is
 * who may predict with it.  PostgreSQL tracks both in pg_shdepend, so
 * models follow its rules for owned objects: DROP ROLE of an owner or a
 * grantee fails ("some objects depend on it"), REASSIGN OWNED gives models
 * to another role, DROP OWNED drops them (with sql_drop below), a renamed
 * role keeps them, and a grant to a dropped role cannot remain.  A type,
 * rather than a sequence or a function, because only roles granted USAGE
 * on it can make objects depend on it (columns, casts), its one privilege
 * is USAGE, and pg_dump dumps it with its owner, grants and comment, before
 * the registry's rows, whose anchor (regtype) names it.  (Why it is built
 * so: doc/privileges.md.)
 *
 * make_anchor_type makes maas.<type_name>, such an empty enum, commented
 * about, owned by owner (the caller when owner is NULL) and usable by
 * nobody else: a model's here, a secret's in 60_remote.sql.
 *
 * make_model_type makes a model's type from a role name and grants: those
 * of the caller for a new model, and those 0.1 recorded by name for a model
 * updated from 0.1 or restored from a 0.1 dump.  A 0.1 owner that no longer
 * exists (0.1 let its role be dropped) leaves the model to the registry's
 * owner, and grants to dropped roles are left out.
 */
CREATE FUNCTION maas.make_anchor_type(type_name text, about text, owner name)
RETURNS pg_catalog.regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t regtype;
BEGIN
	EXECUTE format('CREATE TYPE maas.%I AS ENUM ()', type_name);
	t := to_regtype(format('maas.%I', type_name));
	EXECUTE format('COMMENT ON TYPE %s IS %L', t, about);
	IF owner IS NOT NULL THEN
		EXECUTE format('ALTER TYPE %s OWNER TO %I', t, owner);
	END IF;
	EXECUTE format('REVOKE ALL ON TYPE %s FROM PUBLIC', t);
	RETURN t;
END
$$;
REVOKE ALL ON FUNCTION maas.make_anchor_type(text, text, name) FROM PUBLIC;

CREATE FUNCTION maas.make_model_type(model_id bigint, model text, owner name, acl aclitem[])
RETURNS pg_catalog.regtype
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	known boolean := to_regrole(quote_ident(owner)) IS NOT NULL;
	t regtype;
	grantee oid;
BEGIN
	t := maas.make_anchor_type('model_' || model_id,
							   format('owner and grants of maas model %s', quote_literal(model)),
							   CASE WHEN known THEN owner END);
	IF NOT known THEN
		RAISE WARNING 'role "%", the owner of model "%", does not exist', owner, model
			USING DETAIL = 'The model now belongs to the owner of the maas registry.',
				  HINT = format('Give it to a role with ALTER TYPE %s OWNER TO role.', t);
	END IF;
	FOR grantee IN SELECT DISTINCT e.grantee FROM aclexplode(acl) e WHERE e.privilege_type = 'USAGE'
	LOOP
		IF grantee = 0 THEN
			EXECUTE format('GRANT USAGE ON TYPE %s TO PUBLIC', t);
		ELSIF EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = grantee) THEN
			EXECUTE format('GRANT USAGE ON TYPE %s TO %I', t, pg_get_userbyid(grantee));
		END IF;
	END LOOP;
	RETURN t;
END
$$;
REVOKE ALL ON FUNCTION maas.make_model_type(bigint, text, name, aclitem[]) FROM PUBLIC;

-- a model inserted without its type gets it: new models, and 0.1 rows restored
CREATE FUNCTION maas.model_type_trigger() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	UPDATE maas.model
	   SET anchor = maas.make_model_type(NEW.model_id, NEW.name, NEW.owner, NEW.acl),
		   owner = NULL, acl = NULL
	 WHERE model_id OPERATOR(pg_catalog.=) NEW.model_id;
	RETURN NULL;
END
$$;
CREATE TRIGGER model_type AFTER INSERT ON maas.model
	FOR EACH ROW WHEN (NEW.anchor IS NULL) EXECUTE FUNCTION maas.model_type_trigger();

/*
 * A model whose type is dropped -- by DROP OWNED, DROP TYPE, DROP SCHEMA
 * CASCADE of a schema its owner moved it to -- is dropped with it, with
 * its versions, deployments and training runs; so is a secret
 * (maas.secret, 60_remote.sql, read only when the trigger fires: no part
 * of the install or upgrade scripts drops a type or schema).  The
 * function runs for any role that drops (it can drop only its own types),
 * as the registry's owner, and deletes only the models and secrets of the
 * types just dropped.
 */
CREATE FUNCTION maas.anchors_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	DELETE FROM maas.training_run r
	 USING maas.model m, pg_event_trigger_dropped_objects() d
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::regclass
	   AND m.anchor::oid OPERATOR(pg_catalog.=) d.objid
	   AND r.model OPERATOR(pg_catalog.=) m.name;
	DELETE FROM maas.model m
	 USING pg_event_trigger_dropped_objects() d
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::regclass
	   AND m.anchor::oid OPERATOR(pg_catalog.=) d.objid;
	DELETE FROM maas.secret s
	 USING pg_event_trigger_dropped_objects() d
	 WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::regclass
	   AND s.anchor::oid OPERATOR(pg_catalog.=) d.objid;
END
$$;
REVOKE ALL ON FUNCTION maas.anchors_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER maas_anchors_dropped ON sql_drop
	WHEN TAG IN ('DROP TYPE', 'DROP OWNED', 'DROP SCHEMA')
	EXECUTE FUNCTION maas.anchors_dropped();

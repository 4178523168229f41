/*
 * source.c
 *		Reading a source's rows: a table, a view or a query, described before
 *		any row is read, then run once to completion through a receiver.
 *
 * maas_train, maas_evaluate and maas_predict_batch read their rows alike:
 * SPI runs the query, read only, and hands each row to the caller's
 * receiver, which copies what it needs into a matrix of its own; nothing is
 * materialised in between.  A receiver given the planned columns refuses
 * rows of another shape.  The caller holds the SPI connection; these
 * functions return in the memory context they were called in.
 */
#include "source.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

static bool
source_is_query(const char *source)
{
	static const char *const words[] = {"select", "with", "values", "table", NULL};

	while (*source == ' ' || *source == '\t' || *source == '\n' || *source == '\r' ||
		   *source == '(')
		source++;
	for (const char *const *w = words; *w; w++)
	{
		size_t		len = strlen(*w);

		if (pg_strncasecmp(source, *w, len) == 0 &&
			(source[len] == '\0' || !(isalnum((unsigned char) source[len]) || source[len] == '_')))
			return true;
	}
	return false;
}

/* a query reading the source: a table or view name, or a query */
char *
maas_source_sql(const char *source)
{
	List	   *names;
	RangeVar   *rv;
	Oid			relid;

	if (source_is_query(source))
	{
		/*
		 * Exactly one SELECT: several statements would send rows of other
		 * shapes than the one planned to the receivers.
		 */
		List	   *stmts = NIL;
		MemoryContext cxt = CurrentMemoryContext;

		PG_TRY();
		{
			stmts = raw_parser(source, RAW_PARSE_DEFAULT);
		}
		PG_CATCH();
		{
			ErrorData  *e;

			MemoryContextSwitchTo(cxt);
			e = CopyErrorData();
			FlushErrorState();
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("source is not a valid query"),
					 errdetail("%s", e->message)));
		}
		PG_END_TRY();

		if (list_length(stmts) != 1 ||
			!IsA(((RawStmt *) linitial(stmts))->stmt, SelectStmt))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("source must be a table, a view or a single query"),
					 errhint("Pass the text of one SELECT, VALUES, TABLE or WITH command, without a semicolon.")));
		return psprintf("SELECT * FROM (%s) AS maas_source", source);
	}
	names = stringToQualifiedNameList(source);
	rv = makeRangeVarFromNameList(names);
	relid = RangeVarGetRelid(rv, AccessShareLock, false);
	return psprintf("SELECT * FROM %s",
					quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   get_rel_name(relid)));
}

/*
 * The table or view a source names, or InvalidOid for a query (resolved as
 * maas_source_sql resolves it).
 */
Oid
maas_source_relid(const char *source)
{
	if (source_is_query(source))
		return InvalidOid;
	return RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(source)),
							AccessShareLock, false);
}

/*
 * The rows a receiver gets must have the shape the columns were planned
 * from; they always do for one SELECT, and this keeps it so.
 */
void
maas_check_source_shape(TupleDesc planned, TupleDesc actual)
{
	bool		same = planned->natts == actual->natts;

	for (int i = 0; same && i < planned->natts; i++)
		same = TupleDescAttr(planned, i)->atttypid == TupleDescAttr(actual, i)->atttypid;
	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("source returned rows of another shape than it was planned with")));
}

/* the columns of a source query (it runs with LIMIT 0), copied */
TupleDesc
maas_source_describe(const char *sql)
{
	MemoryContext caller = CurrentMemoryContext;

	if (SPI_execute(psprintf("%s LIMIT 0", sql), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not describe the source");
	/* SPI returns to its own context, which SPI_finish frees */
	MemoryContextSwitchTo(caller);
	return CreateTupleDescCopy(SPI_tuptable->tupdesc);
}

static void
source_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	MaasSourceReader *reader = (MaasSourceReader *) self;

	if (reader->planned)
		maas_check_source_shape(reader->planned, desc);
	if (reader->startup)
		reader->startup(reader, desc);
}

static bool
source_receive(TupleTableSlot *slot, DestReceiver *self)
{
	MaasSourceReader *reader = (MaasSourceReader *) self;

	reader->receive(reader, slot);
	return true;
}

static void
source_nothing(DestReceiver *self)
{
}

/*
 * Run sql, one SELECT, to completion, each row to reader.  parallel lets
 * the planner use parallel workers (the rows then come in no set order).
 */
void
maas_source_scan(const char *sql, MaasSourceReader *reader, bool parallel)
{
	MemoryContext caller = CurrentMemoryContext;
	SPIPrepareOptions popts;
	SPIExecuteOptions eopts;
	SPIPlanPtr	plan;
	int			rc;

	reader->pub.receiveSlot = source_receive;
	reader->pub.rStartup = source_startup;
	reader->pub.rShutdown = source_nothing;
	reader->pub.rDestroy = source_nothing;
	/* not DestSPI: SPI must not look for a tuple table of its own */
	reader->pub.mydest = DestNone;

	memset(&popts, 0, sizeof(popts));
	popts.cursorOptions = parallel ? CURSOR_OPT_PARALLEL_OK : 0;
	plan = SPI_prepare_extended(sql, &popts);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare_extended failed: %s",
			 SPI_result_code_string(SPI_result));
	if (!SPI_is_cursor_plan(plan))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("query must be a single SELECT"),
				 errhint("Pass the text of one SELECT, VALUES or TABLE command.")));

	memset(&eopts, 0, sizeof(eopts));
	eopts.read_only = true;
	eopts.dest = &reader->pub;
	rc = SPI_execute_plan_extended(plan, &eopts);
	/* with a receiver of type DestNone, SPI reports a SELECT as utility */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "could not read the source: %s", SPI_result_code_string(rc));
	MemoryContextSwitchTo(caller);
}

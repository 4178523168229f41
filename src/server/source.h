/*
 * source.h
 *		Reading the rows of a source (source.c): a table, a view or a query,
 *		described first, then run once through a receiver.
 */
#ifndef MAAS_SOURCE_H
#define MAAS_SOURCE_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "tcop/dest.h"

/* a query reading the source: SELECT * FROM the table, or the query */
extern char *maas_source_sql(const char *source);
extern Oid	maas_source_relid(const char *source);

/* the columns a source query yields, before any row is read */
extern TupleDesc maas_source_describe(const char *sql);

/* rows must have the column types they were planned from */
extern void maas_check_source_shape(TupleDesc planned, TupleDesc actual);

/*
 * A receiver of a source's rows, the first member of the caller's state.
 * The caller sets receive, and planned (the columns the rows must have) or
 * startup (its own check of the columns), or both; maas_source_scan sets
 * the rest.
 */
typedef struct MaasSourceReader
{
	DestReceiver pub;
	TupleDesc	planned;
	void		(*startup) (struct MaasSourceReader *reader, TupleDesc desc);
	void		(*receive) (struct MaasSourceReader *reader, TupleTableSlot *slot);
} MaasSourceReader;

/* run sql (one SELECT) to completion, each row to reader */
extern void maas_source_scan(const char *sql, MaasSourceReader *reader,
							 bool parallel);

#endif							/* MAAS_SOURCE_H */

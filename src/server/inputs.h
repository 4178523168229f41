/*
 * inputs.h
 *		From table columns to a model's input row, and back to the config.
 *
 * A trained model records in its config which columns it reads and how
 * each becomes input slots (the "inputs" key, doc/training.md):
 *
 *	number		a numeric or boolean column: 1 slot
 *	array		a fixed-length numeric array, flattened: "length" slots
 *	category	a text, varchar, char or enum column, one-hot: one slot per
 *				category seen in training; NULL and unseen values give all
 *				zeros
 *
 * plus the value that replaces a NULL number ("fill", one per slot) unless
 * the impute policy is "error" or "none" (boosted trees: a NULL is NaN,
 * which the trees route).  maas_train writes it, and maas_evaluate and
 * maas_predict(model, row) read it to encode rows by column name, so the
 * three agree on what a row means.
 */
#ifndef MAAS_INPUTS_H
#define MAAS_INPUTS_H

#include "model.h"
#include "preprocess.h"
#include "train.h"

#include "access/tupdesc.h"
#include "utils/hsearch.h"

#define MAAS_MAX_CATEGORIES		1000
#define MAAS_MAX_CLASSES		1000

typedef enum MaasInputKind
{
	MAAS_INPUT_NUMBER,
	MAAS_INPUT_ARRAY,
	MAAS_INPUT_CATEGORY
} MaasInputKind;

/* a set of distinct strings, numbered in order of arrival */
typedef struct MaasStringSet
{
	HTAB	   *hash;
	int			n;
	int			max;
	char	  **items;			/* max entries */
} MaasStringSet;

typedef struct MaasInput
{
	char	   *name;
	MaasInputKind kind;
	int			width;			/* slots in the model input */
	int			offset;			/* first slot in the model input */
	int			length;			/* array: elements */
	/*
	 * category: the categories in slot order, each slot the one-hot input of
	 * its category (by_text numbers them in strcmp order, or is NULL when
	 * they are in that order already), or the set being collected
	 */
	int			n_categories;
	char	  **categories;
	int		   *by_text;
	MaasStringSet *collect;
	float	   *fill;			/* width values for NULLs, or NULL */
} MaasInput;

typedef struct MaasInputs
{
	int			n;
	MaasInput  *in;
	int			width;			/* n_features */
	MaasImpute	impute;
} MaasInputs;

/* how one input is read from a row type */
typedef struct MaasBinding
{
	int			attno;			/* 1-based */
	Oid			typid;
	Oid			elemtype;		/* arrays */
	Oid			elembase;		/* its base type */
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Oid			outfunc;		/* categories of non-text types */
	bool		text_like;
} MaasBinding;

extern const char *maas_impute_name(MaasImpute impute);

/* the kind a column of this type can be, or false */
extern bool maas_feature_kind(Oid typid, MaasInputKind *kind);
extern bool maas_type_is_number(Oid typid);

/*
 * Columns by name: a name maas reads names one column, or it raises
 * (where is "source" or "row", for the message); 0 if there is none.
 */
extern int	maas_find_column(TupleDesc tupdesc, const char *name, const char *where);
extern void maas_check_column_names(TupleDesc tupdesc, const char *where);

/* bind an input to a column of tupdesc (by name, raising if missing) */
extern void maas_bind_input(const MaasInput *in, TupleDesc tupdesc,
							MaasBinding *b, const char *where,
							const char *missing_hint);
extern void maas_bind_column(TupleDesc tupdesc, int attno, MaasBinding *b);

/*
 * Encode one column's value into dst (the input's slots).  NULLs become
 * NaN (to be imputed later) or, when the input has fill values and fill is
 * true, the fill; with impute "error" a NULL raises.  Categories being
 * collected write their index (-1 for NULL) into one slot.  rowno (from
 * 1, or 0 for a single row) is for messages.
 */
extern void maas_encode(const MaasInputs *inputs, MaasInput *in,
						const MaasBinding *b, Datum value, bool isnull,
						float *dst, bool fill, int64 rowno);

/* a value as a double, for number columns and numeric targets; typid is
 * the base type, as in MaasBinding */
extern double maas_datum_number(Datum value, Oid typid);

/* the text of a value, for categories and text labels */
extern char *maas_datum_text(Datum value, const MaasBinding *b);

/* string sets */
extern MaasStringSet *maas_string_set_create(int max);
extern void maas_string_set_free(MaasStringSet *set);
extern int	maas_string_set_add(MaasStringSet *set, const char *s, bool *full);
extern int	maas_string_set_find(MaasStringSet *set, const char *s);
extern int	maas_string_index(char **sorted, int n, const char *s);

/* the config's "inputs" and "impute" keys, to and from JSON */
extern void maas_inputs_to_json(const MaasInputs *inputs, StringInfo out);
extern MaasInputs *maas_inputs_from_config(Jsonb *config);
extern void maas_check_inputs_width(const MaasInputs *inputs, int n_in);

/* train.c, shared with evaluate.c */
extern Size maas_max_training_memory(void);
extern void maas_append_class_metrics(StringInfo s, const MaasClassMetrics *m);
extern void maas_append_reg_metrics(StringInfo s, const MaasRegMetrics *m);

#endif							/* MAAS_INPUTS_H */

/*
 * safetensors_int.h
 *		What the safetensors reader and writer share (safetensors.c); not
 *		for use outside them.
 */
#ifndef MAAS_SAFETENSORS_INT_H
#define MAAS_SAFETENSORS_INT_H

#include "safetensors.h"

#define ST_METADATA_KEY		"__metadata__"

/* a message about the file (MAAS_ERR_INVALID) in err, and false */
extern bool st_error(MaasError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * The first of a set of strings that occurs twice, or NULL; *oom is set
 * when the copy it sorts cannot be made.
 */
extern const char *st_find_duplicate(const char *const *strings, int n,
									 bool *oom);

/* numel of a shape, or false when it does not fit in int64 */
extern bool st_shape_numel(const int64_t *shape, int ndim, int64_t *numel);

#endif							/* MAAS_SAFETENSORS_INT_H */

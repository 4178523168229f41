/*
 * remote_proto_int.h
 *		What remote_proto.c (OpenAI) and remote_kserve.c (KServe v2) share:
 *		reading a response's JSON field by field, with messages that name
 *		the field as a path ("data[3].embedding[7]").
 */
#ifndef MAAS_REMOTE_PROTO_INT_H
#define MAAS_REMOTE_PROTO_INT_H

#include "remote_proto.h"
#include "json.h"

#define PATH_MAX_LEN 96			/* of a field path in a message */
#define MAX_ITEMS	(1 << 24)	/* rows of a request, values of a tensor */

extern bool remote_field_error(MaasError *err, const char *path, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern bool remote_wrong_type(MaasError *err, const char *path, MaasJsonType want,
							  const MaasJson *v);
extern const MaasJson *remote_member(const MaasJson *obj, const char *at,
									 const char *key, MaasJsonType type,
									 bool required, bool *failed, MaasError *err);
extern char *remote_copy_string(const MaasJson *v, MaasError *err);
extern const MaasJson *remote_parse_root(const char *body, size_t len,
										 const MaasTick *tick, MaasError *err);
extern bool remote_check_text(const char *s, const char *what, MaasError *err);
extern bool remote_check_count(int n, const char *what, MaasError *err);
extern bool remote_buf_done(MaasBuf *out, MaasError *err);

#endif							/* MAAS_REMOTE_PROTO_INT_H */

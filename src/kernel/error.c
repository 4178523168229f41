/*
 * error.c
 *		The kernels' one error convention (see kernel.h).
 */
#include "kernel.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
	[MAAS_OK] = "ok",
	[MAAS_ERR_INVALID] = "invalid",
	[MAAS_ERR_UNSUPPORTED] = "unsupported",
	[MAAS_ERR_LIMIT] = "limit",
	[MAAS_ERR_NOMEM] = "nomem",
	[MAAS_ERR_DIVERGED] = "diverged",
	[MAAS_ERR_LIBRARY] = "library",
	[MAAS_ERR_IO] = "io",
	[MAAS_ERR_CANCELED] = "canceled",
};

const char *
maas_status_name(MaasStatus status)
{
	if ((int) status < 0 ||
		(size_t) status >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[status];
}

bool
maas_error(MaasError *err, MaasStatus status, const char *fmt,...)
{
	va_list		ap;
	size_t		len;
	size_t		i;

	if (err == NULL)
		return false;
	err->status = status;
	err->hint = NULL;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);

	/*
	 * When a long value cut the message short, drop a partial UTF-8
	 * sequence left at the end.
	 */
	len = strlen(err->msg);
	i = len;
	while (i > 0 && len - i < 4 && ((uint8_t) err->msg[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && ((uint8_t) err->msg[i - 1] & 0x80) != 0)
	{
		uint8_t		lead = (uint8_t) err->msg[i - 1];
		size_t		need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;

		if (len - (i - 1) < need)
			err->msg[i - 1] = '\0';
	}
	return false;
}

bool
maas_error_hint(MaasError *err, const char *hint)
{
	if (err != NULL)
		err->hint = hint;
	return false;
}

bool
maas_error_nomem(MaasError *err)
{
	return maas_error(err, MAAS_ERR_NOMEM, "out of memory");
}

/*
 * http_guard.c
 *		The allow-list of remote hosts, the URL check, and the address
 *		classes behind the guard against server-side request forgery (see
 *		http.h for the rules).
 *
 * URLs are parsed with libcurl's URL API, the same parser curl connects
 * with: it already folds the numeric IPv4 spellings ("0x7f000001", "127.1",
 * "2130706433") into dotted decimal and decodes percent-escapes in the
 * host, so what is compared here is what would be connected to.  The
 * allow-list is parsed here, strictly: a host name is letters, digits,
 * hyphens and underscores in dot-separated labels, and anything numeric
 * must be a dotted-decimal IPv4 address, so no entry can be read two ways.
 */
#include "http.h"
#include "http_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ---- address classes ---- */

static MaasAddrClass
ipv4_class(const uint8_t *a)
{
	if (a[0] == 0)
		return MAAS_ADDR_UNSPECIFIED;	/* 0/8, "this network" */
	if (a[0] == 10)
		return MAAS_ADDR_PRIVATE;
	if (a[0] == 100 && (a[1] & 0xC0) == 64)
		return MAAS_ADDR_SHARED;	/* 100.64/10 */
	if (a[0] == 127)
		return MAAS_ADDR_LOOPBACK;
	if (a[0] == 169 && a[1] == 254)
		return MAAS_ADDR_LINK_LOCAL;	/* with 169.254.169.254, metadata */
	if (a[0] == 172 && (a[1] & 0xF0) == 16)
		return MAAS_ADDR_PRIVATE;	/* 172.16/12 */
	if (a[0] == 192 && a[1] == 168)
		return MAAS_ADDR_PRIVATE;
	if (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))
		return MAAS_ADDR_RESERVED;	/* protocol assignments, TEST-NET-1 */
	if (a[0] == 192 && a[1] == 88 && a[2] == 99)
		return MAAS_ADDR_RESERVED;	/* 6to4 relay anycast */
	if (a[0] == 198 && (a[1] & 0xFE) == 18)
		return MAAS_ADDR_RESERVED;	/* 198.18/15, benchmarking */
	if ((a[0] == 198 && a[1] == 51 && a[2] == 100) ||
		(a[0] == 203 && a[1] == 0 && a[2] == 113))
		return MAAS_ADDR_RESERVED;	/* TEST-NET-2, -3 */
	if ((a[0] & 0xF0) == 224)
		return MAAS_ADDR_MULTICAST;
	if ((a[0] & 0xF0) == 240)
		return MAAS_ADDR_RESERVED;	/* 240/4, with 255.255.255.255 */
	return MAAS_ADDR_PUBLIC;
}

static bool
all_zero(const uint8_t *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != 0)
			return false;
	return true;
}

MaasAddrClass
maas_addr_class(int family, const uint8_t *a)
{
	static const uint8_t aws_metadata[16] = {
		0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54
	};

	if (family == AF_INET)
		return ipv4_class(a);
	if (family != AF_INET6)
		return MAAS_ADDR_RESERVED;

	if (all_zero(a, 10))
	{
		if (a[10] == 0xff && a[11] == 0xff)
			return ipv4_class(a + 12);	/* ::ffff:a.b.c.d, mapped */
		if (a[10] == 0 && a[11] == 0)
		{
			if (all_zero(a + 12, 3) && a[15] <= 1)
				return a[15] == 0 ? MAAS_ADDR_UNSPECIFIED : MAAS_ADDR_LOOPBACK;
			return ipv4_class(a + 12);	/* ::a.b.c.d, compatible */
		}
	}
	if (all_zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
		return ipv4_class(a + 12);	/* ::ffff:0:a.b.c.d, translated */
	if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b)
	{
		if (all_zero(a + 4, 8))
			return ipv4_class(a + 12);	/* 64:ff9b::/96, NAT64 */
		if (a[4] == 0 && a[5] == 1)
			return MAAS_ADDR_PRIVATE;	/* 64:ff9b:1::/48, local NAT64 */
	}
	if (a[0] == 0x20 && a[1] == 0x02)
		return ipv4_class(a + 2);	/* 2002::/16, 6to4 */
	if (a[0] == 0x01 && a[1] == 0x00 && all_zero(a + 2, 6))
		return MAAS_ADDR_RESERVED;	/* 100::/64, discard */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return MAAS_ADDR_RESERVED;	/* 2001:db8::/32, documentation */
	if (memcmp(a, aws_metadata, 16) == 0)
		return MAAS_ADDR_LINK_LOCAL;	/* a metadata service, as 169.254.169.254 */
	if ((a[0] & 0xFE) == 0xFC)
		return MAAS_ADDR_PRIVATE;	/* fc00::/7 */
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
		return MAAS_ADDR_LINK_LOCAL;	/* fe80::/10 */
	if (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0)
		return MAAS_ADDR_RESERVED;	/* fec0::/10, old site-local */
	if (a[0] == 0xFF)
		return MAAS_ADDR_MULTICAST;
	return MAAS_ADDR_PUBLIC;
}

const char *
maas_addr_class_name(MaasAddrClass c)
{
	switch (c)
	{
		case MAAS_ADDR_PUBLIC:
			return "public";
		case MAAS_ADDR_LOOPBACK:
			return "loopback";
		case MAAS_ADDR_PRIVATE:
			return "private";
		case MAAS_ADDR_SHARED:
			return "shared (carrier-grade NAT)";
		case MAAS_ADDR_LINK_LOCAL:
			return "link-local";
		case MAAS_ADDR_UNSPECIFIED:
			return "unspecified";
		case MAAS_ADDR_MULTICAST:
			return "multicast";
		case MAAS_ADDR_RESERVED:
			return "reserved";
	}
	return "unknown";
}

bool
maas_http_address_allowed(const MaasUrlTarget *target, int family,
						  const uint8_t *addr, MaasAddrClass *why)
{
	MaasAddrClass c = maas_addr_class(family, addr);

	*why = c;
	if (target->kind == MAAS_HOST_IPV4)
		return family == AF_INET && memcmp(addr, target->addr, 4) == 0 &&
			target->explicit_entry;
	if (target->kind == MAAS_HOST_IPV6)
		return family == AF_INET6 && memcmp(addr, target->addr, 16) == 0 &&
			target->explicit_entry;
	if (c == MAAS_ADDR_PUBLIC)
		return true;
	if (!target->explicit_entry)
		return false;
	return c == MAAS_ADDR_LOOPBACK || c == MAAS_ADDR_PRIVATE ||
		c == MAAS_ADDR_SHARED;
}

/* ---- the allow-list ---- */

static bool
is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		c == '_';
}

/*
 * A DNS name in lower case without a trailing dot: labels of 1-63 label
 * characters, not starting or ending with a hyphen, the last not all
 * digits (a numeric host must be an IPv4 address).
 */
static bool
valid_host_name(const char *s)
{
	size_t		len = strlen(s);
	size_t		start = 0;

	if (len == 0 || len > MAAS_HOST_MAXLEN)
		return false;
	while (start <= len)
	{
		size_t		end = start;
		bool		numeric = true;

		while (end < len && s[end] != '.')
		{
			if (!is_label_char(s[end]))
				return false;
			if (s[end] < '0' || s[end] > '9')
				numeric = false;
			end++;
		}
		if (end == start || end - start > 63 || s[start] == '-' ||
			s[end - 1] == '-')
			return false;
		if (end == len)
			return !numeric;
		start = end + 1;
	}
	return false;
}

/* "127.1", "2130706433", "0x7f.1": numeric, but no dotted-decimal IPv4 */
static bool
last_label_numeric(const char *s)
{
	const char *last = strrchr(s, '.');

	last = last != NULL ? last + 1 : s;
	return last[0] != '\0' && strspn(last, "0123456789") == strlen(last);
}

static void
lower_copy(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++)
	{
		char		c = src[i];

		dst[i] = (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
	}
	dst[len] = '\0';
}

/* entry e ("text" of len bytes) into *h; msgs quote the entry */
static bool
parse_entry(const char *e, size_t len, MaasAllowedHost *h, MaasError *err)
{
	char		host[MAAS_HOST_MAXLEN + 2];
	const char *port_at = NULL;
	size_t		host_len;
	int			shown = len > 80 ? 80 : (int) len;

	memset(h, 0, sizeof(*h));
	if (memchr(e, '/', len) != NULL || memchr(e, '@', len) != NULL)
		return maas_error(err, MAAS_ERR_INVALID,
						  "allowed host \"%.*s\" is not a host: write \"host\" or \"host:port\", not a URL",
						  shown, e);

	if (e[0] == '[')
	{
		const char *close = memchr(e, ']', len);

		if (close == NULL)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" lacks the \"]\" closing its IPv6 address",
							  shown, e);
		host_len = (size_t) (close - e - 1);
		if (close + 1 < e + len)
		{
			if (close[1] != ':')
				return maas_error(err, MAAS_ERR_INVALID,
								  "allowed host \"%.*s\" has text after its IPv6 address",
								  shown, e);
			port_at = close + 2;
		}
		if (memchr(e, '%', len) != NULL)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" has a zone id, which is not supported",
							  shown, e);
		if (host_len > 45)
			host_len = 46;		/* longer than any address: fails below */
		memcpy(host, e + 1, host_len);
		host[host_len] = '\0';
		if (inet_pton(AF_INET6, host, h->addr) != 1)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" is not a valid IPv6 address",
							  shown, e);
		h->kind = MAAS_HOST_IPV6;
		lower_copy(h->host, host, host_len);
	}
	else
	{
		const char *colon = memchr(e, ':', len);

		if (colon != NULL && memchr(colon + 1, ':', (size_t) (e + len - colon - 1)) != NULL)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" looks like an IPv6 address: write it in brackets, as \"[::1]:8080\"",
							  shown, e);
		host_len = colon != NULL ? (size_t) (colon - e) : len;
		if (colon != NULL)
			port_at = colon + 1;
		if (host_len > 0 && e[host_len - 1] == '.')
			host_len--;			/* "example.com." is "example.com" */
		if (host_len == 0)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" has no host name", shown, e);
		if (host_len > MAAS_HOST_MAXLEN)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s...\" is longer than %d bytes",
							  shown, e, MAAS_HOST_MAXLEN);
		lower_copy(host, e, host_len);

		if (host[0] == '*')
		{
			const char *rest = host + 1;
			const char *dot;

			if (rest[0] != '.' || !valid_host_name(rest + 1))
				return maas_error(err, MAAS_ERR_INVALID,
								  "allowed host \"%.*s\" is not a valid wildcard: write \"*.example.com\"",
								  shown, e);
			dot = strchr(rest + 1, '.');
			if (dot == NULL)
				return maas_error(err, MAAS_ERR_INVALID,
								  "allowed host \"%.*s\" is too wide: a wildcard needs at least two labels after \"*.\"",
								  shown, e);
			h->kind = MAAS_HOST_WILDCARD;
			strcpy(h->host, rest);	/* ".example.com" */
		}
		else if (inet_pton(AF_INET, host, h->addr) == 1)
		{
			h->kind = MAAS_HOST_IPV4;
			strcpy(h->host, host);
		}
		else if (valid_host_name(host))
		{
			h->kind = MAAS_HOST_NAME;
			strcpy(h->host, host);
		}
		else if (last_label_numeric(host))
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" is not a valid IPv4 address: write four decimal numbers, as \"10.0.0.5\"",
							  shown, e);
		else
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" is not a valid host name", shown, e);
	}

	if (port_at != NULL)
	{
		long		port = 0;
		const char *p = port_at;

		if (p == e + len)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" has an empty port", shown, e);
		for (; p < e + len; p++)
		{
			if (*p < '0' || *p > '9' || port > 65535)
			{
				port = -1;
				break;
			}
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed host \"%.*s\" has an invalid port: it must be a number from 1 to 65535",
							  shown, e);
		h->port = (uint16_t) port;
	}
	return true;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool
maas_allowlist_parse(const char *text, MaasAllowList *list, MaasError *err)
{
	const char *p = text;
	int			n = 1;
	int			k = 0;

	list->n = 0;
	list->hosts = NULL;
	while (*p != '\0' && is_blank(*p))
		p++;
	if (*p == '\0')
		return true;
	for (const char *q = p; *q != '\0'; q++)
		if (*q == ',')
			n++;
	if (n > MAAS_ALLOW_MAX_HOSTS)
		return maas_error(err, MAAS_ERR_LIMIT,
						  "allowed hosts has %d entries, more than the limit of %d",
						  n, MAAS_ALLOW_MAX_HOSTS);
	list->hosts = maas_kalloc_array((size_t) n, sizeof(MaasAllowedHost));
	if (list->hosts == NULL)
		return maas_error_nomem(err);

	for (;;)
	{
		const char *end = strchr(p, ',');
		const char *stop = end != NULL ? end : p + strlen(p);
		const char *a = p;
		const char *b = stop;

		while (a < b && is_blank(*a))
			a++;
		while (b > a && is_blank(b[-1]))
			b--;
		if (a == b)
			return maas_error(err, MAAS_ERR_INVALID,
							  "allowed hosts entry %d is empty", k + 1);
		for (const char *c = a; c < b; c++)
			if ((unsigned char) *c < 0x21 || (unsigned char) *c > 0x7e)
				return maas_error(err, MAAS_ERR_INVALID,
								  "allowed hosts entry %d has a blank or a character that is not printable ASCII",
								  k + 1);
		if (!parse_entry(a, (size_t) (b - a), &list->hosts[k], err))
			return false;
		k++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	list->n = k;
	return true;
}

/* ---- the URL check ---- */

/* does entry h allow target t (its host, kind and port filled in)? */
static bool
entry_matches(const MaasAllowedHost *h, const MaasUrlTarget *t)
{
	uint16_t	want = h->port != 0 ? h->port : (t->https ? 443 : 80);

	if (t->port != want)
		return false;
	switch ((MaasHostKind) h->kind)
	{
		case MAAS_HOST_NAME:
			return t->kind == MAAS_HOST_NAME && strcmp(h->host, t->host) == 0;
		case MAAS_HOST_WILDCARD:
			{
				size_t		hl = strlen(h->host);
				size_t		tl = strlen(t->host);

				return t->kind == MAAS_HOST_NAME && tl > hl &&
					strcmp(t->host + tl - hl, h->host) == 0;
			}
		case MAAS_HOST_IPV4:
			return t->kind == MAAS_HOST_IPV4 && memcmp(h->addr, t->addr, 4) == 0;
		case MAAS_HOST_IPV6:
			return t->kind == MAAS_HOST_IPV6 && memcmp(h->addr, t->addr, 16) == 0;
	}
	return false;
}

static bool
url_part(CURLU *u, CURLUPart part, char **out)
{
	*out = NULL;
	return curl_url_get(u, part, out, part == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0) == CURLUE_OK &&
		*out != NULL;
}

static bool
check_parsed(const MaasAllowList *list, CURLU *u, MaasUrlTarget *t, MaasError *err)
{
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *part = NULL;
	bool		ok = false;
	size_t		len;
	long		port_no;

	if (!url_part(u, CURLUPART_SCHEME, &scheme))
	{
		maas_error(err, MAAS_ERR_INVALID, "URL has no scheme");
		goto done;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
	{
		char		shown[24];

		maas_http_sanitize(scheme, strlen(scheme), 16, shown);
		maas_error(err, MAAS_ERR_INVALID,
				   "URL scheme \"%s\" is not allowed: only http and https are", shown);
		goto done;
	}
	t->https = scheme[4] == 's';
	if (url_part(u, CURLUPART_USER, &part) || url_part(u, CURLUPART_PASSWORD, &part) ||
		url_part(u, CURLUPART_OPTIONS, &part))
	{
		curl_free(part);
		maas_error(err, MAAS_ERR_INVALID,
				   "URL must not contain a user name or password");
		maas_error_hint(err, "Give a key as the model's secret: it is sent in a header, never in the URL.");
		goto done;
	}
	if (url_part(u, CURLUPART_ZONEID, &part))
	{
		curl_free(part);
		maas_error(err, MAAS_ERR_INVALID, "URL must not contain an IPv6 zone id");
		goto done;
	}
	if (!url_part(u, CURLUPART_HOST, &host) || host[0] == '\0')
	{
		maas_error(err, MAAS_ERR_INVALID, "URL has no host");
		goto done;
	}
	if (!url_part(u, CURLUPART_PORT, &port))
	{
		maas_error(err, MAAS_ERR_INVALID, "URL has no port");
		goto done;
	}
	port_no = strtol(port, NULL, 10);
	if (port_no < 1 || port_no > 65535)
	{
		maas_error(err, MAAS_ERR_INVALID, "URL port \"%ld\" is not valid", port_no);
		goto done;
	}
	t->port = (uint16_t) port_no;

	len = strlen(host);
	if (host[0] == '[' && len >= 2 && host[len - 1] == ']' && len - 2 <= 45)
	{
		lower_copy(t->host, host + 1, len - 2);
		if (inet_pton(AF_INET6, t->host, t->addr) != 1)
		{
			maas_error(err, MAAS_ERR_INVALID, "URL host is not a valid IPv6 address");
			goto done;
		}
		t->kind = MAAS_HOST_IPV6;
		snprintf(t->where, sizeof(t->where), "[%s]:%u", t->host, t->port);
	}
	else
	{
		if (len > 0 && host[len - 1] == '.')
			len--;
		if (len == 0 || len > MAAS_HOST_MAXLEN)
		{
			maas_error(err, MAAS_ERR_INVALID, "URL host is empty or too long");
			goto done;
		}
		lower_copy(t->host, host, len);
		if (inet_pton(AF_INET, t->host, t->addr) == 1)
			t->kind = MAAS_HOST_IPV4;
		else if (valid_host_name(t->host))
			t->kind = MAAS_HOST_NAME;
		else
		{
			char		shown[72];

			maas_http_sanitize(t->host, strlen(t->host), 64, shown);
			maas_error(err, MAAS_ERR_INVALID,
					   "URL host \"%s\" is not a valid host name", shown);
			goto done;
		}
		snprintf(t->where, sizeof(t->where), "%s:%u", t->host, t->port);
	}

	t->explicit_entry = false;
	ok = false;
	for (int i = 0; list != NULL && i < list->n; i++)
	{
		if (entry_matches(&list->hosts[i], t))
		{
			ok = true;
			if (list->hosts[i].kind != MAAS_HOST_WILDCARD)
			{
				t->explicit_entry = true;
				break;
			}
		}
	}
	if (!ok)
	{
		maas_error(err, MAAS_ERR_INVALID,
				   "host \"%s\" is not in the allowed hosts", t->where);
		maas_error_hint(err, "A superuser lists the hosts remote models may reach, as host:port, in maas.remote_allowed_hosts.");
	}

done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return ok;
}

bool
maas_http_check_curlu(const MaasAllowList *list, CURLU *u, MaasUrlTarget *t,
					  MaasError *err)
{
	memset(t, 0, sizeof(*t));
	return check_parsed(list, u, t, err);
}

bool
maas_http_parse_url(CURLU *u, const char *url, MaasError *err)
{
	CURLUcode	rc;

	for (const char *c = url; *c != '\0'; c++)
		if ((unsigned char) *c <= 0x20 || (unsigned char) *c == 0x7f)
			return maas_error(err, MAAS_ERR_INVALID,
							  "URL contains a blank or a control character");
	rc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	switch (rc)
	{
		case CURLUE_OK:
			return true;
		case CURLUE_OUT_OF_MEMORY:
			return maas_error_nomem(err);
		case CURLUE_BAD_SCHEME:
		case CURLUE_MALFORMED_INPUT:
			return maas_error(err, MAAS_ERR_INVALID,
							  "URL is malformed: write it as \"https://host[:port]/path\"");
		case CURLUE_BAD_PORT_NUMBER:
			return maas_error(err, MAAS_ERR_INVALID,
							  "URL port is not a number from 1 to 65535");
		case CURLUE_BAD_HOSTNAME:
		case CURLUE_BAD_IPV6:
		case CURLUE_NO_HOST:
			return maas_error(err, MAAS_ERR_INVALID, "URL host is not valid");
		default:
			return maas_error(err, MAAS_ERR_INVALID, "URL is malformed (%s)",
							  curl_url_strerror(rc));
	}
}

bool
maas_http_check_url(const MaasAllowList *list, const char *url,
					MaasUrlTarget *target, MaasError *err)
{
	MaasUrlTarget local;
	CURLU	   *u = curl_url();
	bool		ok;

	if (u == NULL)
		return maas_error_nomem(err);
	if (target == NULL)
		target = &local;
	ok = maas_http_parse_url(u, url, err) &&
		maas_http_check_curlu(list, u, target, err);
	curl_url_cleanup(u);
	return ok;
}

/*
 * policy.c - retry decisions, back-off, headers and URLs of the queue
 * worker (see policy.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"
#include "http.h"
#include "policy.h"
#include "banned.h"

void policy_retry(unsigned attempts, int64_t min_wait_ms, int64_t max_wait_ms,
		  const struct wire_map *ann, struct wire_retry *out)
{
	struct wire_retry def;

	wire_retry_defaults(&def);
	if (attempts)
		def.attempts = attempts;
	if (min_wait_ms > 0)
		def.min_wait_ms = min_wait_ms;
	if (max_wait_ms > 0)
		def.max_wait_ms = max_wait_ms;
	if (def.max_wait_ms < def.min_wait_ms)
		def.max_wait_ms = def.min_wait_ms;
	if (!ann || !ann->n) {
		*out = def;
		return;
	}
	if (!wire_retry_from_annotations(ann, &def, out, NULL) ||
	    !wire_retry_from_annotations(ann, NULL, out, NULL))
		return;
	*out = def;
}

enum policy_verdict policy_classify(const struct wire_retry *r, int status)
{
	if (status <= 0)
		return POLICY_RETRY;
	if (status < 400)
		return POLICY_SUCCEEDED;
	return wire_retry_code(r, status) ? POLICY_RETRY : POLICY_FAILED;
}

int64_t policy_backoff_ms(const struct wire_retry *r, unsigned attempt, double rnd)
{
	int64_t d = r->min_wait_ms > 0 ? r->min_wait_ms : 0;
	unsigned i;

	for (i = 1; i < attempt && d < r->max_wait_ms; i++)
		d *= 2;
	if (d > r->max_wait_ms)
		d = r->max_wait_ms;
	if (rnd < 0 || rnd >= 1)
		rnd = 0;
	return d / 2 + (int64_t)((double)(d - d / 2) * rnd);
}

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* "Sun, 06 Nov 1994 08:49:37 GMT" into Unix ms; -1 if not that form. */
static int64_t imf_fixdate(const char *s)
{
	char wday[4], mon[4], zone[4];
	int day, year, h, m, sec, i, n = 0;
	struct tm tm;

	if (sscanf(s, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wday, &day, mon, &year, &h, &m, &sec,
		   zone, &n) != 8 ||
	    s[n] || strcmp(zone, "GMT"))
		return -1;
	memset(&tm, 0, sizeof(tm));
	for (i = 0; i < 12; i++)
		if (!strcmp(mon, month_names[i]))
			break;
	if (i == 12 || day < 1 || day > 31 || h > 23 || m > 59 || sec > 60 || year < 1970)
		return -1;
	tm.tm_mon = i;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm) * 1000;
}

int64_t policy_retry_after_ms(const char *value, int64_t now_unix_ms)
{
	int64_t ms;
	size_t i;

	if (!value)
		return -1;
	while (*value == ' ')
		value++;
	if (!*value)
		return -1;
	for (i = 0; isdigit((unsigned char)value[i]); i++)
		;
	if (i && (value[i] == '\0' || value[i] == ' ')) {
		if (i > 9)
			return POLICY_RETRY_AFTER_MAX_MS;
		ms = strtoll(value, NULL, 10) * 1000;
	} else {
		ms = imf_fixdate(value);
		if (ms < 0)
			return -1;
		ms -= now_unix_ms;
		if (ms < 0)
			ms = 0;
	}
	return ms > POLICY_RETRY_AFTER_MAX_MS ? POLICY_RETRY_AFTER_MAX_MS : ms;
}

int64_t policy_delay_ms(const struct wire_retry *r, unsigned attempt, const char *retry_after,
			int64_t now_unix_ms, double rnd)
{
	int64_t d = policy_backoff_ms(r, attempt, rnd);
	int64_t ra = policy_retry_after_ms(retry_after, now_unix_ms);

	return ra > d ? ra : d;
}

/* Percent-encodes what cannot stand in a URL path; '/' and the
 * sub-delimiters stay. */
static int encode_path(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~/!$&'()*+,;=:@", c)) {
			rc = buf_addc(out, (char)c);
		} else {
			char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
			rc = buf_add(out, esc, 3);
		}
	}
	return rc;
}

int policy_function_url(struct buf *out, const char *gateway, const struct callmsg *m)
{
	size_t glen = strlen(gateway);
	int rc;

	while (glen && gateway[glen - 1] == '/')
		glen--;
	rc = buf_add(out, gateway, glen);
	if (!rc)
		rc = buf_printf(out, "/function/%s", m->function);
	if (!rc && m->namespace && strcmp(m->namespace, WIRE_DEFAULT_NAMESPACE))
		rc = buf_printf(out, ".%s", m->namespace);
	if (!rc && m->path && *m->path)
		rc = encode_path(out, m->path);
	if (!rc && m->query && *m->query)
		rc = buf_printf(out, "?%s", m->query);
	return rc;
}

bool policy_forward_header(const char *name)
{
	static const char *const drop[] = {
		"Host", "Content-Length", "Expect", "X-Callback-Url",
	};
	size_t i;

	if (http_hop_by_hop(name))
		return false;
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (!strcasecmp(name, drop[i]))
			return false;
	return true;
}

bool policy_callback_header(const char *name)
{
	static const char *const drop[] = {
		"Content-Length", "Date", "Server", "X-Call-Id", "X-Function-Name",
		"X-Function-Status", "X-Duration-Seconds", "X-Attempts",
	};
	size_t i;

	if (http_hop_by_hop(name))
		return false;
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (!strcasecmp(name, drop[i]))
			return false;
	return true;
}

#include <ctype.h>
#include <string.h>

#include "err.h"
#include "parse.h"
#include "banned.h"

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -ERR_PARSE;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -ERR_PARSE;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERR_PARSE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Reads "123" or "1.25" as a fixed-point value scaled by 1e9. */
static int read_number(const char **sp, uint64_t *nano)
{
	const char *s = *sp;
	uint64_t whole = 0, frac = 0, scale = 1000000000ull;
	int digits = 0;

	while (isdigit((unsigned char)*s)) {
		if (whole > 1000000000ull * 1000)
			return -ERR_PARSE;
		whole = whole * 10 + (uint64_t)(*s++ - '0');
		digits++;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*s - '0') * scale;
			}
			s++;
			digits++;
		}
	}
	if (!digits)
		return -ERR_PARSE;
	*nano = whole * 1000000000ull + frac;
	*sp = s;
	return 0;
}

int parse_duration_ms(const char *s, int64_t *out_ms)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 },
		{ "s", 1000000000ull }, { "m", 60000000000ull },
		{ "h", 3600000000000ull },
	};
	uint64_t total_ns = 0, v;
	size_t i;

	if (!s || !*s)
		return -ERR_PARSE;
	if (parse_uint(s, 1000000000ull, &v) == 0) {
		*out_ms = (int64_t)(v * 1000);
		return 0;
	}
	while (*s) {
		size_t best = 0, best_len = 0;
		uint64_t nano;

		if (read_number(&s, &nano))
			return -ERR_PARSE;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);
			if (strncmp(s, units[i].unit, n) == 0 && n > best_len)
				best = i, best_len = n;
		}
		if (!best_len)
			return -ERR_PARSE;
		/* "1m" must not swallow the m of "ms": longest unit wins. */
		s += best_len;
		/* nano is value * 1e9; value * unit_ns = nano * unit_ns / 1e9. */
		if (nano > UINT64_MAX / units[best].ns) {
			v = nano / 1000000000ull * units[best].ns;
		} else {
			v = nano * units[best].ns / 1000000000ull;
		}
		if (v > (uint64_t)1 << 62 || total_ns + v > (uint64_t)1 << 62)
			return -ERR_PARSE;
		total_ns += v;
	}
	*out_ms = (int64_t)((total_ns + 999999) / 1000000);
	return 0;
}

bool parse_bool(const char *s)
{
	return s && strcmp(s, "true") == 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; uint64_t mul; } sfx[] = {
		{ "", 1 }, { "k", 1000 }, { "K", 1000 }, { "M", 1000000 },
		{ "G", 1000000000ull }, { "Ki", 1024 }, { "Mi", 1048576 },
		{ "Gi", 1073741824ull }, { "T", 1000000000000ull },
		{ "Ti", 1099511627776ull },
	};
	const char *p = s;
	uint64_t v = 0;
	size_t i;

	if (!s || !isdigit((unsigned char)*s))
		return -ERR_PARSE;
	while (isdigit((unsigned char)*p)) {
		if (v > UINT64_MAX / 10 - 10)
			return -ERR_PARSE;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(p, sfx[i].suffix) == 0) {
			if (v > UINT64_MAX / sfx[i].mul)
				return -ERR_PARSE;
			*out = v * sfx[i].mul;
			return 0;
		}
	}
	return -ERR_PARSE;
}

int parse_cpu_millis(const char *s, uint64_t *out)
{
	size_t n = s ? strlen(s) : 0;
	uint64_t nano, v;
	const char *p = s;

	if (n > 1 && s[n - 1] == 'm') {
		char tmp[32];
		if (n - 1 >= sizeof(tmp))
			return -ERR_PARSE;
		memcpy(tmp, s, n - 1);
		tmp[n - 1] = '\0';
		if (parse_uint(tmp, 1000000000ull, &v))
			return -ERR_PARSE;
		*out = v;
		return 0;
	}
	if (!n || read_number(&p, &nano) || *p)
		return -ERR_PARSE;
	*out = nano / 1000000ull;
	return 0;
}

/*
 * util - small helpers shared by every module.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"

void
random_bytes(void *p, size_t n)
{
	unsigned char *c = p;

	while (n > 0) {
		ssize_t r = getrandom(c, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		c += r;
		n -= (size_t)r;
	}
}

uint32_t
random_u32(void)
{
	uint32_t v;

	random_bytes(&v, sizeof(v));
	return v;
}

void
random_id(char out[ID_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ID_HEX_LEN / 2];

	random_bytes(raw, sizeof(raw));
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[ID_HEX_LEN] = '\0';
}

void
rfc5322_date(time_t t, char *out, size_t outlen)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	char sign;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(out, outlen, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday], tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
}

int
parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
parse_suffixed(const char *s, const char *suffixes, const uint64_t *mult,
    uint64_t *out)
{
	size_t len = strlen(s);
	uint64_t m = 1, v;
	const char *p;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	if (len == 0)
		return -1;
	if ((p = strchr(suffixes, tolower((unsigned char)s[len - 1]))) != NULL &&
	    s[len - 1] != '\0') {
		m = mult[p - suffixes];
		len--;
	}
	if (parse_u64(s, len, UINT64_MAX / m, &v) < 0)
		return -1;
	*out = v * m;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1024ULL, 1024ULL * 1024,
	    1024ULL * 1024 * 1024, 1024ULL * 1024 * 1024 * 1024 };

	return parse_suffixed(s, "kmgt", mult, out);
}

int
parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400, 7ULL * 86400 };

	return parse_suffixed(s, "smhdw", mult, out);
}

int
parse_bool(const char *s, bool *out)
{
	static const char *yes[] = { "yes", "on", "true", "1" };
	static const char *no[] = { "no", "off", "false", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

void
ascii_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

bool
ascii_strcaseeq_n(const char *s, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return n == len && strncasecmp(s, lit, n) == 0;
}

bool
domain_valid(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		/* Bytes >= 0x80 (U-labels, RFC 6531 SMTPUTF8) pass through. */
		if (c == '-') {
			if (label == 0)
				return false;
		} else if (!isalnum(c) && c < 0x80)
			return false;
		if (++label > 63)
			return false;
	}
	return label != 0 && s[len - 1] != '-';
}

bool
addr_literal_valid(const char *s, size_t len)
{
	char tmp[64];
	unsigned char bin[16];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len - 2 >= sizeof(tmp))
		return false;
	if (len > 7 && strncasecmp(s + 1, "IPv6:", 5) == 0) {
		memcpy(tmp, s + 6, len - 7);
		tmp[len - 7] = '\0';
		return inet_pton(AF_INET6, tmp, bin) == 1;
	}
	memcpy(tmp, s + 1, len - 2);
	tmp[len - 2] = '\0';
	return inet_pton(AF_INET, tmp, bin) == 1;
}

static int
netmask_parse(const char *s, size_t len, struct netmask *m)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	unsigned max;
	uint64_t bits;

	if (alen == 0 || alen >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, alen);
	tmp[alen] = '\0';
	memset(m, 0, sizeof(*m));
	if (inet_pton(AF_INET, tmp, m->addr) == 1) {
		m->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, m->addr) == 1) {
		m->family = AF_INET6;
		max = 128;
	} else
		return -1;
	bits = max;
	if (slash != NULL && parse_u64(slash + 1, len - alen - 1, max,
	    &bits) < 0)
		return -1;
	m->bits = (unsigned)bits;
	return 0;
}

int
netlist_parse(const char *s, struct netmask **list_r)
{
	struct netmask *list = NULL;
	int n = 0;

	while (*s != '\0') {
		size_t len;

		s += strspn(s, ", \t");
		if ((len = strcspn(s, ", \t")) == 0)
			break;
		list = xgrowarray(list, (size_t)n, sizeof(*list));
		if (netmask_parse(s, len, &list[n]) < 0) {
			free(list);
			*list_r = NULL;
			return -1;
		}
		n++;
		s += len;
	}
	*list_r = list;
	return n;
}

static bool
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return rest == 0 || ((a[bytes] ^ b[bytes]) &
	    (uint8_t)(0xff << (8 - rest))) == 0;
}

bool
netlist_match(const struct netmask *list, size_t n, const char *ip)
{
	uint8_t a[16];
	int family;

	if (inet_pton(AF_INET, ip, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		family = AF_INET6;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else
		return false;
	for (size_t i = 0; i < n; i++)
		if (list[i].family == family &&
		    prefix_eq(list[i].addr, a, list[i].bits))
			return true;
	return false;
}

void
ip_limit_key(const char *ip, unsigned v6_bits, char *out, size_t size)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	uint8_t a[16];
	char text[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET6, ip, a) != 1 || v6_bits >= 128 ||
	    memcmp(a, mapped, sizeof(mapped)) == 0) {
		/* IPv4 (the session writes mapped ones as IPv4 already). */
		if (inet_pton(AF_INET6, ip, a) == 1 &&
		    memcmp(a, mapped, sizeof(mapped)) == 0 &&
		    inet_ntop(AF_INET, a + 12, text, sizeof(text)) != NULL)
			ip = text;
		snprintf(out, size, "%s", ip);
		return;
	}
	for (unsigned i = 0; i < 16; i++) {
		if (i * 8 >= v6_bits)
			a[i] = 0;
		else if (i * 8 + 8 > v6_bits)
			a[i] &= (uint8_t)(0xff << (8 - (v6_bits - i * 8)));
	}
	if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
		snprintf(text, sizeof(text), "%s", ip);
	snprintf(out, size, "%s/%u", text, v6_bits);
}

bool
timingsafe_eq(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

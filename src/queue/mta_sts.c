/*
 * mta_sts - MTA-STS TXT records, policy files and MX matching (RFC 8461).
 *
 * Both formats are parsed strictly after their ABNF (3.1, 3.2): what is
 * malformed means "no policy" (TXT) or a failed fetch (policy file), never
 * a guess.  The input is untrusted (anyone's DNS, anyone's web server):
 * lengths are explicit, nothing is assumed NUL-terminated.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "core/xmalloc.h"
#include "mta_sts.h"

#define IS_ALPHA(c)	(((c) >= 'a' && (c) <= 'z') || \
			    ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')
#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

static bool
ext_name_char(unsigned char c, bool first)
{
	if (IS_ALPHA(c) || IS_DIGIT(c))
		return true;
	return !first && (c == '_' || c == '-' || c == '.');
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no ';', '=' or space. */
static bool
txt_value_char(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';' && c != '=';
}

static int
txt_parse(const char *s, size_t len, char id[STS_ID_MAX + 1])
{
	size_t i = 7;
	bool have_id = false;

	/* sts-version = %s"v=STSv1", then a delimiter. */
	if (len < 7 || memcmp(s, "v=STSv1", 7) != 0)
		return 0;
	if (len > 7 && !IS_WSP(s[7]) && s[7] != ';')
		return 0;		/* "v=STSv10": not ours */
	for (;;) {
		size_t ns, nl, vs, vl;

		/* sts-field-delim = *WSP ";" *WSP */
		while (i < len && IS_WSP(s[i]))
			i++;
		if (i == len)
			break;
		if (s[i] != ';')
			return -1;
		i++;
		while (i < len && IS_WSP(s[i]))
			i++;
		if (i == len)
			break;		/* the optional final delimiter */
		/* sts-field: name "=" value */
		ns = i;
		while (i < len && i - ns < 32 &&
		    ext_name_char((unsigned char)s[i], i == ns))
			i++;
		nl = i - ns;
		if (nl == 0 || i >= len || s[i] != '=')
			return -1;
		i++;
		vs = i;
		while (i < len && txt_value_char((unsigned char)s[i]))
			i++;
		vl = i - vs;
		if (vl == 0)
			return -1;
		if (nl == 2 && memcmp(s + ns, "id", 2) == 0) {
			/* sts-id = %s"id=" 1*32(ALPHA / DIGIT) */
			if (vl > STS_ID_MAX)
				return -1;
			for (size_t k = vs; k < vs + vl; k++)
				if (!IS_ALPHA(s[k]) && !IS_DIGIT(s[k]))
					return -1;
			if (!have_id) {
				memcpy(id, s + vs, vl);
				id[vl] = '\0';
				have_id = true;
			}
		}
	}
	return have_id ? 1 : -1;
}

int
sts_txt_parse(const char *s, size_t len, char id[STS_ID_MAX + 1])
{
	char tmp[STS_ID_MAX + 1];
	int r = txt_parse(s, len, tmp);

	if (r == 1)
		memcpy(id, tmp, sizeof(tmp));
	else
		id[0] = '\0';
	return r;
}

int
sts_txt_select(const char *const *txt, const size_t *len, size_t n,
    char id[STS_ID_MAX + 1], const char **why_r)
{
	size_t found = 0;
	int r = 0;

	id[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char one[STS_ID_MAX + 1];
		int k = sts_txt_parse(txt[i], len[i], one);

		if (k == 0)
			continue;
		found++;
		r = k;
		if (k == 1)
			memcpy(id, one, sizeof(one));
	}
	if (found == 0) {
		*why_r = "no STSv1 TXT record";
		return 0;
	}
	if (found > 1) {
		id[0] = '\0';
		*why_r = "more than one STSv1 TXT record";
		return 0;
	}
	if (r < 0) {
		*why_r = "malformed STSv1 TXT record";
		return 0;
	}
	return 1;
}

/* sts-policy-vchar [*(%x20 / sts-policy-vchar) sts-policy-vchar] */
static bool
policy_value_ok(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		/* VCHAR or UTF-8 (sts-policy-vchar = VCHAR / UTF8-2..4). */
		if (c == ' ' && i > 0 && i + 1 < n)
			continue;
		if (c < 0x21 || c == 0x7f)
			return false;
	}
	return true;
}

static void
add_mx(struct sts_policy *p, const char *v, size_t n)
{
	p->mx = xgrowarray(p->mx, p->nmx, sizeof(char *));
	p->mx[p->nmx] = xstrndup(v, n);
	ascii_lower(p->mx[p->nmx]);
	p->nmx++;
}

/* sts-policy-mx-value = ["*."] Domain */
static bool
mx_pattern_ok(const char *v, size_t n)
{
	if (n > 2 && v[0] == '*' && v[1] == '.') {
		v += 2;
		n -= 2;
	}
	return memchr(v, '*', n) == NULL && domain_valid(v, n);
}

int
sts_policy_parse(const char *s, size_t len, struct sts_policy *p,
    const char **error_r)
{
	bool have_version = false, have_mode = false, have_age = false;
	size_t pos = 0;

	memset(p, 0, sizeof(*p));
	if (len > STS_POLICY_MAX) {
		*error_r = "policy larger than 64 KB";
		return -1;
	}
	while (pos < len) {
		const char *line = s + pos, *nl = memchr(line, '\n',
		    len - pos), *k, *v;
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		size_t kl, vl;

		pos += n + (nl ? 1 : 0);
		/* sts-policy-term = LF / CRLF */
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			continue;
		k = line;
		for (kl = 0; kl < n && kl < 32 &&
		    ext_name_char((unsigned char)k[kl], kl == 0); kl++)
			;
		if (kl == 0 || kl >= n || k[kl] != ':') {
			*error_r = "malformed policy line";
			goto bad;
		}
		/* sts-policy-field-delim = ":" *WSP; the field *WSP. */
		v = k + kl + 1;
		vl = n - kl - 1;
		while (vl > 0 && IS_WSP(*v)) {
			v++;
			vl--;
		}
		while (vl > 0 && IS_WSP(v[vl - 1]))
			vl--;
		if (!policy_value_ok(v, vl)) {
			*error_r = "malformed policy value";
			goto bad;
		}
#define KEY(name) (kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
		if (KEY("version")) {
			if (have_version)
				continue;
			have_version = true;
			if (vl != 5 || memcmp(v, "STSv1", 5) != 0) {
				*error_r = "policy version is not STSv1";
				goto bad;
			}
		} else if (KEY("mode")) {
			if (have_mode)
				continue;
			have_mode = true;
			if (vl == 7 && memcmp(v, "enforce", 7) == 0)
				p->mode = STS_MODE_ENFORCE;
			else if (vl == 7 && memcmp(v, "testing", 7) == 0)
				p->mode = STS_MODE_TESTING;
			else if (vl == 4 && memcmp(v, "none", 4) == 0)
				p->mode = STS_MODE_NONE;
			else {
				*error_r = "bad policy mode";
				goto bad;
			}
		} else if (KEY("max_age")) {
			uint64_t age = 0;

			if (have_age)
				continue;
			have_age = true;
			/* sts-policy-max-age-value = 1*10(DIGIT) */
			if (vl > 10) {
				*error_r = "bad policy max_age";
				goto bad;
			}
			for (size_t i = 0; i < vl; i++) {
				if (!IS_DIGIT(v[i])) {
					*error_r = "bad policy max_age";
					goto bad;
				}
				age = age * 10 + (uint64_t)(v[i] - '0');
			}
			p->max_age = age > STS_MAX_AGE_MAX ? STS_MAX_AGE_MAX :
			    (uint32_t)age;
		} else if (KEY("mx")) {
			if (!mx_pattern_ok(v, vl)) {
				*error_r = "bad policy mx pattern";
				goto bad;
			}
			add_mx(p, v, vl);
		}
		/* Anything else is an extension: ignored (3.2). */
#undef KEY
	}
	if (!have_version) {
		*error_r = "policy without version";
		goto bad;
	}
	if (!have_mode) {
		*error_r = "policy without mode";
		goto bad;
	}
	if (!have_age) {
		*error_r = "policy without max_age";
		goto bad;
	}
	if (p->mode != STS_MODE_NONE && p->nmx == 0) {
		*error_r = "policy without mx";
		goto bad;
	}
	return 0;
bad:
	sts_policy_free(p);
	return -1;
}

void
sts_policy_free(struct sts_policy *p)
{
	for (size_t i = 0; i < p->nmx; i++)
		free(p->mx[i]);
	free(p->mx);
	memset(p, 0, sizeof(*p));
}

void
sts_policy_copy(struct sts_policy *dst, const struct sts_policy *src)
{
	*dst = *src;
	dst->mx = xcalloc(src->nmx + 1, sizeof(char *));
	for (size_t i = 0; i < src->nmx; i++)
		dst->mx[i] = xstrdup(src->mx[i]);
}

bool
sts_pattern_match(const char *pattern, const char *host)
{
	size_t hl = strlen(host), pl = strlen(pattern);
	const char *dot;

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (hl == 0)
		return false;
	if (pl > 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* Exactly one label in place of the '*'. */
		dot = memchr(host, '.', hl);
		if (dot == NULL || dot == host)
			return false;
		dot++;
		return (size_t)(host + hl - dot) == pl - 2 &&
		    strncasecmp(dot, pattern + 2, pl - 2) == 0;
	}
	return hl == pl && strncasecmp(host, pattern, hl) == 0;
}

bool
sts_mx_match(const struct sts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->nmx; i++)
		if (sts_pattern_match(p->mx[i], host))
			return true;
	return false;
}

const char *
sts_mode_name(enum sts_mode m)
{
	switch (m) {
	case STS_MODE_ENFORCE:
		return "enforce";
	case STS_MODE_TESTING:
		return "testing";
	default:
		return "none";
	}
}

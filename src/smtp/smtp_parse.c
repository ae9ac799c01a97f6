/*
 * smtp_parse - pure parsers for SMTP command lines and their arguments.
 *
 * Every scan is bounded by the RFC limit before anything is copied: a path
 * is only looked at up to SMTP_PATH_MAX bytes past its '<', so a hostile
 * multi-kilobyte "address" costs no more than a legitimate one, and the
 * fixed arrays in struct smtp_path cannot overflow (each raw byte of the
 * path produces at most one byte of output).
 */
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/util.h"
#include "smtp/smtp_parse.h"

static const struct {
	const char		*name;
	enum smtp_cmd_verb	 verb;
} smtp_verbs[] = {
	{ "HELO", SMTP_CMD_HELO },
	{ "EHLO", SMTP_CMD_EHLO },
	{ "MAIL", SMTP_CMD_MAIL },
	{ "RCPT", SMTP_CMD_RCPT },
	{ "DATA", SMTP_CMD_DATA },
	{ "RSET", SMTP_CMD_RSET },
	{ "NOOP", SMTP_CMD_NOOP },
	{ "QUIT", SMTP_CMD_QUIT },
	{ "VRFY", SMTP_CMD_VRFY },
	{ "EXPN", SMTP_CMD_EXPN },
	{ "HELP", SMTP_CMD_HELP },
	{ "STARTTLS", SMTP_CMD_STARTTLS },
	{ "AUTH", SMTP_CMD_AUTH },
	{ "BDAT", SMTP_CMD_BDAT },
};

/* Reply lines, per command, for the errors a path can have. */
struct path_errors {
	const char	*syntax;
	const char	*bad_addr;
	const char	*too_long;
	const char	*local_long;
	const char	*bad_utf8;
	const char	*need_utf8;
};

static const struct path_errors mail_errors = {
	"501 5.5.4 Syntax: MAIL FROM:<address>",
	"501 5.1.7 Bad sender address syntax",
	"501 5.1.7 Sender path too long",
	"501 5.1.7 Sender local part too long",
	"501 5.1.7 Sender address is not valid UTF-8",
	"553 5.6.7 Non-ASCII sender address requires SMTPUTF8",
};

static const struct path_errors rcpt_errors = {
	"501 5.5.4 Syntax: RCPT TO:<address>",
	"501 5.1.3 Bad recipient address syntax",
	"501 5.1.3 Recipient path too long",
	"501 5.1.3 Recipient local part too long",
	"501 5.1.3 Recipient address is not valid UTF-8",
	"553 5.6.7 Non-ASCII recipient address requires SMTPUTF8",
};

static const char err_param_syntax[] = "501 5.5.4 Malformed parameter";
static const char err_param_dup[] = "501 5.5.4 Duplicate parameter";
static const char err_param_many[] = "501 5.5.4 Too many parameters";

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static char
to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static char
to_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* RFC 5322 atext; bytes >= 0x80 are UTF-8 (RFC 6532), checked later. */
static bool
is_atext(unsigned char c)
{
	if (is_alnum(c) || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* RFC 5321 qtextSMTP (+ UTF-8). */
static bool
is_qtext(unsigned char c)
{
	return (c >= 32 && c <= 126 && c != '"' && c != '\\') || c >= 0x80;
}

/*
 * Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF.
 */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (len - i - 1 < n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

int
smtp_cmd_split(const char *line, size_t len, struct smtp_cmd *out)
{
	size_t vlen, i;

	out->verb = SMTP_CMD_UNKNOWN;
	out->name = NULL;
	out->arg = line;
	out->arg_len = 0;
	if (len > 0 && memchr(line, '\0', len) != NULL)
		return -1;

	for (vlen = 0; vlen < len && !is_blank(line[vlen]); vlen++)
		;
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
		if (ascii_strcaseeq_n(line, vlen, smtp_verbs[i].name)) {
			out->verb = smtp_verbs[i].verb;
			out->name = smtp_verbs[i].name;
			break;
		}
	}

	for (i = vlen; i < len && is_blank(line[i]); i++)
		;
	while (len > i && is_blank(line[len - 1]))
		len--;
	out->arg = line + i;
	out->arg_len = len - i;
	return 0;
}

/*
 * Lower-case an address literal in place but keep the RFC 5321 tag
 * spelled "IPv6:".
 */
static void
literal_normalize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		s[i] = to_lower(s[i]);
	if (len > 6 && memcmp(s, "[ipv6:", 6) == 0)
		memcpy(s + 1, "IPv6", 4);
}

int
smtp_parse_helo_arg(const char *arg, size_t len,
    char name_r[SMTP_DOMAIN_MAX + 1])
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return -1;
	if (arg[0] == '[') {
		if (!addr_literal_valid(arg, len))
			return -1;
		memcpy(name_r, arg, len);
		name_r[len] = '\0';
		literal_normalize(name_r, len);
		return 0;
	}
	/* EHLO comes before SMTPUTF8 can be negotiated: ASCII only. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)arg[i] >= 0x80)
			return -1;
	/*
	 * Underscores are not RFC 5321 syntax, but machine names such as
	 * DESKTOP_1 reach us from real mail programs: let them through
	 * (helo_strict refuses them on port 25).
	 */
	for (size_t i = 0; i < len; i++)
		name_r[i] = arg[i] == '_' ? 'u' : arg[i];
	if (!domain_valid(name_r, len))
		return -1;
	for (size_t i = 0; i < len; i++)
		name_r[i] = to_lower(arg[i]);
	name_r[len] = '\0';
	return 0;
}

/* Domain characters as RFC 5321 allows them, plus UTF-8 bytes. */
static bool
is_domain_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c >= 0x80;
}

/*
 * Scan a Domain at s[*pos] (end is the scan bound); returns its length,
 * 0 when no domain character is there.
 */
static size_t
scan_domain(const char *s, size_t *pos, size_t end)
{
	size_t start = *pos;

	while (*pos < end && is_domain_char((unsigned char)s[*pos]))
		(*pos)++;
	return *pos - start;
}

/* A dot-string: 1*atext *("." 1*atext). */
static bool
is_dot_string(const char *s, size_t len)
{
	if (len == 0 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i - 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i]))
			return false;
	}
	return true;
}

/*
 * Parse "<...>" at arg[*pos].  On success *pos is just past the '>' and
 * *eightbit_r tells whether the path held bytes >= 0x80 (validated by the
 * caller, which knows whether SMTPUTF8 applies).
 */
static int
parse_path(const char *arg, size_t len, size_t *pos, bool is_mail,
    struct smtp_path *out, bool *eightbit_r, const char **error_r)
{
	const struct path_errors *e = is_mail ? &mail_errors : &rcpt_errors;
	char local[SMTP_PATH_MAX + 1];
	size_t llen = 0, start = *pos, end, p, dstart, dlen;
	bool quoted = false, eightbit = false;

	if (start >= len || arg[start] != '<') {
		*error_r = e->syntax;
		return -1;
	}
	/* The whole path, brackets included, is at most SMTP_PATH_MAX. */
	end = len - start > SMTP_PATH_MAX ? start + SMTP_PATH_MAX : len;
	p = start + 1;

	if (p < end && arg[p] == '>') {
		if (!is_mail) {
			*error_r = e->bad_addr;
			return -1;
		}
		out->null_path = true;
		*pos = p + 1;
		*eightbit_r = false;
		return 0;
	}

	/* Source route: "@a,@b:" -- syntax-checked, then ignored. */
	if (p < end && arg[p] == '@') {
		for (;;) {
			if (p >= end || arg[p] != '@')
				goto bad;
			p++;
			dstart = p;
			dlen = scan_domain(arg, &p, end);
			if (!domain_valid(arg + dstart, dlen))
				goto bad;
			if (p < end && arg[p] == ',') {
				p++;
				continue;
			}
			if (p < end && arg[p] == ':') {
				p++;
				break;
			}
			goto bad;
		}
		out->had_route = true;
	}

	/* Local-part = Dot-string / Quoted-string */
	if (p < end && arg[p] == '"') {
		quoted = true;
		for (p++;; p++) {
			unsigned char c;

			if (p >= end)
				goto bad;
			c = (unsigned char)arg[p];
			if (c == '"')
				break;
			if (c == '\\') {
				if (++p >= end)
					goto bad;
				c = (unsigned char)arg[p];
				if (c < 32 || c > 126)
					goto bad;
			} else if (!is_qtext(c))
				goto bad;
			local[llen++] = (char)c;
		}
		p++;
	} else {
		while (p < end && (is_atext((unsigned char)arg[p]) ||
		    arg[p] == '.'))
			local[llen++] = arg[p++];
		if (!is_dot_string(local, llen))
			goto bad;
	}
	if (llen == 0)
		goto bad;

	if (p < end && arg[p] == '>' && !is_mail && !quoted &&
	    ascii_strcaseeq_n(local, llen, "postmaster") && !out->had_route) {
		out->postmaster = true;
		memcpy(out->local, "postmaster", sizeof("postmaster"));
		memcpy(out->addr, "postmaster", sizeof("postmaster"));
		*pos = p + 1;
		*eightbit_r = false;
		return 0;
	}
	if (p >= end || arg[p] != '@')
		goto bad;
	p++;

	/* Domain / address-literal */
	dstart = p;
	if (p < end && arg[p] == '[') {
		while (p < end && arg[p] != ']') {
			unsigned char c = (unsigned char)arg[p];

			if (c < 33 || c > 126 || c == '\\' ||
			    (c == '[' && p != dstart))
				goto bad;
			p++;
		}
		if (p >= end)
			goto bad;
		p++;
		dlen = p - dstart;
		if (!addr_literal_valid(arg + dstart, dlen))
			goto bad;
	} else {
		dlen = scan_domain(arg, &p, end);
		if (!domain_valid(arg + dstart, dlen))
			goto bad;
	}
	if (p >= end || arg[p] != '>')
		goto bad;
	p++;
	*pos = p;

	/* RFC 6531: well-formed UTF-8 or nothing; SMTPUTF8 is the caller's. */
	for (size_t i = start; i < p; i++)
		if ((unsigned char)arg[i] >= 0x80)
			eightbit = true;
	if (eightbit && !utf8_valid((const unsigned char *)arg + start,
	    p - start)) {
		*error_r = e->bad_utf8;
		return -1;
	}

	/* Canonical local part: quote only when it is not a dot-string. */
	if (quoted && !is_dot_string(local, llen)) {
		size_t need = llen + 2, n = 0;

		for (size_t i = 0; i < llen; i++)
			if (local[i] == '"' || local[i] == '\\')
				need++;
		if (need > SMTP_LOCAL_MAX) {
			*error_r = e->local_long;
			return -1;
		}
		out->quoted = true;
		out->local[n++] = '"';
		for (size_t i = 0; i < llen; i++) {
			if (local[i] == '"' || local[i] == '\\')
				out->local[n++] = '\\';
			out->local[n++] = local[i];
		}
		out->local[n++] = '"';
		out->local[n] = '\0';
	} else {
		if (llen > SMTP_LOCAL_MAX) {
			*error_r = e->local_long;
			return -1;
		}
		memcpy(out->local, local, llen);
		out->local[llen] = '\0';
	}

	memcpy(out->domain, arg + dstart, dlen);
	out->domain[dlen] = '\0';
	if (out->domain[0] == '[')
		literal_normalize(out->domain, dlen);
	else
		for (size_t i = 0; i < dlen; i++)
			out->domain[i] = to_lower(out->domain[i]);

	/* Fits: canonical local + '@' + domain <= raw path - 2. */
	{
		size_t ln = strlen(out->local);

		memcpy(out->addr, out->local, ln);
		out->addr[ln] = '@';
		memcpy(out->addr + ln + 1, out->domain, dlen + 1);
	}
	*eightbit_r = eightbit;
	return 0;

bad:
	if (end < len && p >= end)
		*error_r = e->too_long;
	else
		*error_r = e->bad_addr;
	return -1;
}

static bool
is_esmtp_value_char(unsigned char c, bool utf8)
{
	if (c >= 0x80)
		return utf8;
	return c >= 33 && c <= 126 && c != '=';
}

static int
parse_params(const char *arg, size_t len, size_t pos, bool utf8,
    struct smtp_path *out, const char **error_r)
{
	for (;;) {
		struct smtp_param *prm;
		size_t kstart, klen;

		if (pos >= len)
			return 0;
		/* Between path and parameters, and between parameters: SP. */
		if (arg[pos] != ' ') {
			*error_r = err_param_syntax;
			return -1;
		}
		while (pos < len && arg[pos] == ' ')
			pos++;
		if (pos >= len)
			return 0;

		if (out->nparams >= SMTP_PARAMS_MAX) {
			*error_r = err_param_many;
			return -1;
		}
		prm = &out->params[out->nparams];
		kstart = pos;
		if (!is_alnum((unsigned char)arg[pos])) {
			*error_r = err_param_syntax;
			return -1;
		}
		while (pos < len && (is_alnum((unsigned char)arg[pos]) ||
		    arg[pos] == '-'))
			pos++;
		klen = pos - kstart;
		if (klen > SMTP_PARAM_KEYWORD_MAX) {
			*error_r = err_param_syntax;
			return -1;
		}
		for (size_t i = 0; i < klen; i++)
			prm->keyword[i] = to_upper(arg[kstart + i]);
		prm->keyword[klen] = '\0';
		prm->value = NULL;
		prm->value_len = 0;

		if (pos < len && arg[pos] == '=') {
			size_t vstart = ++pos;

			while (pos < len &&
			    is_esmtp_value_char((unsigned char)arg[pos], utf8))
				pos++;
			if (pos == vstart) {
				*error_r = err_param_syntax;
				return -1;
			}
			prm->value = arg + vstart;
			prm->value_len = pos - vstart;
		}
		for (size_t i = 0; i < out->nparams; i++) {
			if (strcmp(out->params[i].keyword, prm->keyword) == 0) {
				*error_r = err_param_dup;
				return -1;
			}
		}
		out->nparams++;
	}
}

static int
parse_mail_rcpt(const char *arg, size_t len,
    const struct smtp_parse_opts *opts, struct smtp_path *out,
    const char **error_r, bool is_mail)
{
	const struct path_errors *e = is_mail ? &mail_errors : &rcpt_errors;
	const char *kw = is_mail ? "FROM:" : "TO:";
	size_t kwlen = strlen(kw), pos;
	bool utf8_opt = opts != NULL && opts->smtputf8, eightbit, utf8_ok;

	memset(out, 0, sizeof(*out));
	if (len < kwlen || !ascii_strcaseeq_n(arg, kwlen, kw)) {
		*error_r = e->syntax;
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (c < 32 || c == 127) {
			*error_r = c == '\t' ? e->syntax : e->bad_addr;
			return -1;
		}
	}
	pos = kwlen;
	while (pos < len && arg[pos] == ' ')
		pos++;
	if (parse_path(arg, len, &pos, is_mail, out, &eightbit, error_r) < 0)
		return -1;
	if (parse_params(arg, len, pos, utf8_opt, out, error_r) < 0)
		return -1;

	if (eightbit) {
		utf8_ok = utf8_opt;
		if (is_mail && smtp_path_param(out, "SMTPUTF8") == NULL)
			utf8_ok = false;
		if (!utf8_ok) {
			*error_r = e->need_utf8;
			return -1;
		}
		out->utf8 = true;
	}
	return 0;
}

int
smtp_parse_mail_from(const char *arg, size_t len,
    const struct smtp_parse_opts *opts, struct smtp_path *out,
    const char **error_r)
{
	return parse_mail_rcpt(arg, len, opts, out, error_r, true);
}

int
smtp_parse_rcpt_to(const char *arg, size_t len,
    const struct smtp_parse_opts *opts, struct smtp_path *out,
    const char **error_r)
{
	return parse_mail_rcpt(arg, len, opts, out, error_r, false);
}

const struct smtp_param *
smtp_path_param(const struct smtp_path *path, const char *keyword)
{
	for (size_t i = 0; i < path->nparams; i++)
		if (strcasecmp(path->params[i].keyword, keyword) == 0)
			return &path->params[i];
	return NULL;
}

static bool
value_is(const struct smtp_param *p, const char *lit)
{
	return p->value != NULL && ascii_strcaseeq_n(p->value, p->value_len,
	    lit);
}

int
smtp_param_size(const struct smtp_param *p, uint64_t *size_r)
{
	if (p->value == NULL)
		return -1;
	return parse_u64(p->value, p->value_len, UINT64_MAX, size_r);
}

int
smtp_param_body(const struct smtp_param *p, enum smtp_body *body_r)
{
	if (value_is(p, "7BIT"))
		*body_r = SMTP_BODY_7BIT;
	else if (value_is(p, "8BITMIME"))
		*body_r = SMTP_BODY_8BITMIME;
	else if (value_is(p, "BINARYMIME"))
		*body_r = SMTP_BODY_BINARYMIME;
	else
		return -1;
	return 0;
}

int
smtp_param_flag(const struct smtp_param *p)
{
	return p->value == NULL ? 0 : -1;
}

int
smtp_param_ret(const struct smtp_param *p, enum smtp_ret *ret_r)
{
	if (value_is(p, "FULL"))
		*ret_r = SMTP_RET_FULL;
	else if (value_is(p, "HDRS"))
		*ret_r = SMTP_RET_HDRS;
	else
		return -1;
	return 0;
}

int
smtp_param_notify(const struct smtp_param *p, unsigned *notify_r)
{
	static const struct {
		const char	*name;
		unsigned	 bit;
	} words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	unsigned bits = 0;
	size_t i = 0;

	if (p->value == NULL)
		return -1;
	while (i <= p->value_len) {
		size_t j = i, w;

		while (j < p->value_len && p->value[j] != ',')
			j++;
		for (w = 0; w < sizeof(words) / sizeof(words[0]); w++)
			if (ascii_strcaseeq_n(p->value + i, j - i,
			    words[w].name))
				break;
		if (w == sizeof(words) / sizeof(words[0]) ||
		    (bits & words[w].bit) != 0)
			return -1;
		bits |= words[w].bit;
		i = j + 1;
	}
	if ((bits & SMTP_NOTIFY_NEVER) != 0 && bits != SMTP_NOTIFY_NEVER)
		return -1;
	*notify_r = bits;
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smtp_xtext_decode(const char *s, size_t len, struct buf *out)
{
	size_t i = 0, span = 0;

	/* Append runs of plain xchars in one call. */
	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '+') {
			int hi, lo;

			buf_append(out, s + span, i - span);
			if (len - i < 3 || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return -1;
			buf_putc(out, (char)(hi << 4 | lo));
			i += 3;
			span = i;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return -1;
		i++;
	}
	buf_append(out, s + span, i - span);
	return 0;
}

int
smtp_param_envid(const struct smtp_param *p, struct buf *out)
{
	buf_reset(out);
	if (p->value == NULL || smtp_xtext_decode(p->value, p->value_len,
	    out) < 0)
		return -1;
	if (out->len == 0 || out->len > SMTP_ENVID_MAX)
		return -1;
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] < 32 || out->data[i] > 126)
			return -1;
	return 0;
}

int
smtp_param_orcpt(const struct smtp_param *p, const char **type_r,
    size_t *type_len_r, struct buf *out)
{
	const char *semi;
	size_t tlen;

	buf_reset(out);
	if (p->value == NULL || p->value_len > SMTP_ORCPT_MAX)
		return -1;
	if ((semi = memchr(p->value, ';', p->value_len)) == NULL)
		return -1;
	tlen = (size_t)(semi - p->value);
	if (tlen == 0)
		return -1;
	for (size_t i = 0; i < tlen; i++) {
		unsigned char c = (unsigned char)p->value[i];

		if (c >= 0x80 || !is_atext(c))
			return -1;
	}
	if (smtp_xtext_decode(semi + 1, p->value_len - tlen - 1, out) < 0 ||
	    out->len == 0)
		return -1;
	for (size_t i = 0; i < out->len; i++) {
		unsigned char c = (unsigned char)out->data[i];

		if (c < 32 || c == 127)
			return -1;
	}
	if (!utf8_valid((const unsigned char *)out->data, out->len))
		return -1;
	*type_r = p->value;
	*type_len_r = tlen;
	return 0;
}

bool
smtp_addr_has_relay_tricks(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t llen = at != NULL ? (size_t)(at - addr) : strlen(addr);

	for (size_t i = 0; i < llen; i++)
		if (addr[i] == '%' || addr[i] == '!' || addr[i] == '@')
			return true;
	return false;
}

/*
 * fuzz_smtp_cmd - SMTP command lines through smtp_parse (smtp/smtp_parse.h).
 *
 * Input: a pipelined client transcript; each line (split at LF, a CR before
 * it dropped) goes through smtp_cmd_split() and, by verb, through
 * smtp_parse_helo_arg(), smtp_parse_mail_from() or smtp_parse_rcpt_to()
 * (ASCII-only and SMTPUTF8), every smtp_param_*() helper on every
 * parameter, smtp_path_param(), smtp_addr_has_relay_tricks() and
 * smtp_xtext_decode().  Checked:
 *  - the argument lies inside the line, with no blank at either end;
 *  - paths and names are NUL-terminated within their arrays and within
 *    the RFC 5321 limits; addr is local "@" domain, the domain lower
 *    case (but an "IPv6:" tag); ASCII mode never accepts 8-bit; keywords are upper case; values lie inside the input;
 *  - canonical forms are fixed points: re-parsing "FROM:<addr>" or the
 *    normalized HELO name gives the same result;
 *  - ENVID decodes to printable ASCII of at most SMTP_ENVID_MAX bytes;
 *  - SRS (smtp/srs.h) on every parsed address: srs_reverse_ours() of a
 *    made-up address gives a terminated address or an error; an address
 *    we forward (srs_forward()) reverses to itself, and no longer once
 *    SRS_MAX_AGE_DAYS have passed; an SRS0 one, to itself but for case.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "smtp/smtp_parse.h"
#include "smtp/srs.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void
check_params(const struct smtp_path *p, const char *arg, size_t len)
{
	struct buf b = BUF_INIT;

	FUZZ_CHECK(p->nparams <= SMTP_PARAMS_MAX, "nparams %zu", p->nparams);
	for (size_t i = 0; i < p->nparams; i++) {
		const struct smtp_param *sp = &p->params[i];
		uint64_t size;
		enum smtp_body body;
		enum smtp_ret ret;
		unsigned notify;
		const char *type;
		size_t type_len;
		size_t kl = strnlen(sp->keyword, sizeof(sp->keyword));

		FUZZ_CHECK(kl > 0 && kl <= SMTP_PARAM_KEYWORD_MAX,
		    "keyword length %zu", kl);
		for (size_t k = 0; k < kl; k++)
			FUZZ_CHECK(sp->keyword[k] < 'a' || sp->keyword[k] > 'z',
			    "keyword not upper case: %s", sp->keyword);
		if (sp->value == NULL) {
			FUZZ_CHECK(sp->value_len == 0, "NULL value, length");
		} else {
			FUZZ_CHECK(sp->value_len > 0, "empty value");
			FUZZ_CHECK(sp->value >= arg &&
			    sp->value + sp->value_len <= arg + len,
			    "value outside the argument");
		}
		FUZZ_CHECK(smtp_path_param(p, sp->keyword) == sp,
		    "smtp_path_param(%s) is not the parameter", sp->keyword);

		(void)smtp_param_size(sp, &size);
		(void)smtp_param_body(sp, &body);
		(void)smtp_param_flag(sp);
		(void)smtp_param_ret(sp, &ret);
		if (smtp_param_notify(sp, &notify) == 0)
			FUZZ_CHECK(notify != 0 && ((notify & SMTP_NOTIFY_NEVER)
			    == 0 || notify == SMTP_NOTIFY_NEVER),
			    "NOTIFY bits %#x", notify);
		buf_reset(&b);
		if (smtp_param_envid(sp, &b) == 0) {
			FUZZ_CHECK(b.len <= SMTP_ENVID_MAX, "ENVID %zu bytes",
			    b.len);
			for (size_t k = 0; k < b.len; k++)
				FUZZ_CHECK(b.data[k] >= 0x20 &&
				    b.data[k] < 0x7f, "ENVID byte %#x",
				    (unsigned char)b.data[k]);
		}
		buf_reset(&b);
		if (smtp_param_orcpt(sp, &type, &type_len, &b) == 0) {
			FUZZ_CHECK(sp->value != NULL && type != NULL &&
			    type >= sp->value && type_len > 0 &&
			    type + type_len <= sp->value + sp->value_len,
			    "ORCPT type outside the value");
			FUZZ_CHECK(sp->value_len <= SMTP_ORCPT_MAX,
			    "ORCPT %zu bytes accepted", sp->value_len);
		}
	}
	buf_free(&b);
}

static void
check_path(const struct smtp_path *p, const struct smtp_parse_opts *opts,
    bool mail, const char *arg, size_t len)
{
	size_t al = strnlen(p->addr, sizeof(p->addr));
	size_t ll = strnlen(p->local, sizeof(p->local));
	size_t dl = strnlen(p->domain, sizeof(p->domain));
	struct smtp_path again;
	struct smtp_parse_opts o2 = { true };
	struct buf b = BUF_INIT;
	const char *err;
	int rc;

	FUZZ_CHECK(al <= SMTP_PATH_MAX && ll <= SMTP_LOCAL_MAX &&
	    dl <= SMTP_DOMAIN_MAX, "lengths %zu %zu %zu", al, ll, dl);
	if (opts == NULL || !opts->smtputf8) {
		FUZZ_CHECK(!p->utf8, "utf8 set in ASCII mode");
		for (size_t i = 0; i < al; i++)
			FUZZ_CHECK((unsigned char)p->addr[i] < 0x80,
			    "8-bit address accepted in ASCII mode");
	}
	if (p->null_path) {
		FUZZ_CHECK(mail && al == 0, "null path with addr '%s'",
		    p->addr);
	} else if (p->postmaster) {
		FUZZ_CHECK(!mail && strcmp(p->addr, "postmaster") == 0,
		    "postmaster addr '%s'", p->addr);
	} else {
		FUZZ_CHECK(al == ll + 1 + dl && memcmp(p->addr, p->local,
		    ll) == 0 && p->addr[ll] == '@' &&
		    strcmp(p->addr + ll + 1, p->domain) == 0,
		    "addr '%s' is not '%s'@'%s'", p->addr, p->local,
		    p->domain);
		/* Address literals keep the tag spelled "IPv6:". */
		for (size_t i = p->domain[0] == '[' &&
		    strncmp(p->domain, "[IPv6:", 6) == 0 ? 6 : 0; i < dl; i++)
			FUZZ_CHECK(p->domain[i] < 'A' || p->domain[i] > 'Z',
			    "domain not lower case: %s", p->domain);
	}
	check_params(p, arg, len);
	(void)smtp_addr_has_relay_tricks(p->addr);

	/* The canonical address must parse back to itself. */
	buf_printf(&b, "%s:<%s>%s", mail ? "FROM" : "TO", p->addr,
	    mail && p->utf8 ? " SMTPUTF8" : "");
	if (mail)
		rc = smtp_parse_mail_from(b.data, b.len, p->utf8 ? &o2 : opts,
		    &again, &err);
	else
		rc = smtp_parse_rcpt_to(b.data, b.len, p->utf8 ? &o2 : opts,
		    &again, &err);
	FUZZ_CHECK(rc == 0, "canonical form '%s' refused: %s", b.data, err);
	FUZZ_CHECK(strcmp(again.addr, p->addr) == 0,
	    "canonical form '%s' re-parsed as '%s'", p->addr, again.addr);
	FUZZ_CHECK(again.utf8 == p->utf8 && again.quoted == p->quoted,
	    "flags changed on re-parse of '%s'", p->addr);
	buf_free(&b);
}

#define SRS_DOMAIN	"fwd.example"
#define SRS_NOW		1790000000

static const unsigned char srs_secret[SRS_SECRET_LEN] = "posthorn-fuzz-srs-secret-32bytes";

static void
check_srs(const char *addr)
{
	char fwd[SRS_ADDR_MAX], back[SRS_ADDR_MAX];
	const char *err = NULL;
	int r;

	r = srs_reverse_ours(srs_secret, SRS_DOMAIN, addr, SRS_NOW, back,
	    sizeof(back), &err);
	FUZZ_CHECK(r >= -1 && r <= 1, "srs_reverse_ours: %d", r);
	if (r == 1)
		FUZZ_CHECK(memchr(back, '\0', sizeof(back)) != NULL &&
		    strchr(back, '@') != NULL, "reversed '%s' to no address",
		    addr);
	else if (r == -1)
		FUZZ_CHECK(err != NULL && err[0] != '\0', "no error");
	if (addr[0] == '\0' || strchr(addr, '@') == NULL ||
	    srs_forward(srs_secret, addr, SRS_DOMAIN, SRS_NOW, fwd,
	    sizeof(fwd)) < 0)
		return;
	FUZZ_CHECK(memchr(fwd, '\0', sizeof(fwd)) != NULL && srs_is_srs(fwd),
	    "forward of '%s' is '%s'", addr, fwd);
	r = srs_reverse_ours(srs_secret, SRS_DOMAIN, fwd, SRS_NOW + 86400,
	    back, sizeof(back), &err);
	FUZZ_CHECK(r == 1, "'%s' (from '%s') does not reverse: %s", fwd, addr,
	    r < 0 ? err : "not ours");
	/*
	 * An SRS1 address forwarded again keeps its first hop, to which a
	 * bounce goes straight (libsrs2's scheme); it has no time of its
	 * own, the first hop checks that of its SRS0.
	 */
	if (!srs_is_srs(addr)) {
		FUZZ_CHECK(strcmp(back, addr) == 0, "'%s' -> '%s' -> '%s'",
		    addr, fwd, back);
		FUZZ_CHECK(srs_reverse(srs_secret, fwd, SRS_NOW + 86400 *
		    (SRS_MAX_AGE_DAYS + 2), back, sizeof(back), &err) < 0,
		    "'%s' reverses after %d days", fwd, SRS_MAX_AGE_DAYS + 2);
	} else if (strncasecmp(addr, "SRS0=", 5) == 0)
		FUZZ_CHECK(strcasecmp(back, addr) == 0, "'%s' -> '%s' -> '%s'",
		    addr, fwd, back);
}

static void
one_line(const char *line, size_t len)
{
	struct smtp_cmd cmd;
	struct smtp_path path;
	struct smtp_parse_opts utf8 = { true };
	char name[SMTP_DOMAIN_MAX + 1], name2[SMTP_DOMAIN_MAX + 1];
	struct buf b = BUF_INIT;
	const char *err;

	if (smtp_cmd_split(line, len, &cmd) < 0) {
		FUZZ_CHECK(memchr(line, '\0', len) != NULL,
		    "split refused a line without NUL");
		FUZZ_CHECK(cmd.verb == SMTP_CMD_UNKNOWN && cmd.arg_len == 0,
		    "refused line left a verb or argument");
		return;
	}
	FUZZ_CHECK(memchr(line, '\0', len) == NULL, "NUL accepted");
	FUZZ_CHECK((cmd.verb == SMTP_CMD_UNKNOWN) == (cmd.name == NULL),
	    "verb %d with name %p", (int)cmd.verb, (const void *)cmd.name);
	if (cmd.arg_len == 0)
		return;
	FUZZ_CHECK(cmd.arg >= line && cmd.arg + cmd.arg_len <= line + len,
	    "argument outside the line");
	FUZZ_CHECK(!is_blank(cmd.arg[0]) && !is_blank(cmd.arg[cmd.arg_len - 1]),
	    "argument not trimmed");

	(void)smtp_xtext_decode(cmd.arg, cmd.arg_len, &b);
	buf_free(&b);

	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		if (smtp_parse_helo_arg(cmd.arg, cmd.arg_len, name) == 0) {
			size_t nl = strnlen(name, sizeof(name));

			FUZZ_CHECK(nl > 0 && nl <= SMTP_DOMAIN_MAX,
			    "name length %zu", nl);
			FUZZ_CHECK(smtp_parse_helo_arg(name, nl, name2) == 0 &&
			    strcmp(name, name2) == 0,
			    "normalized name '%s' is not a fixed point", name);
		}
		break;
	case SMTP_CMD_MAIL:
		if (smtp_parse_mail_from(cmd.arg, cmd.arg_len, NULL, &path,
		    &err) == 0)
			check_path(&path, NULL, true, cmd.arg, cmd.arg_len);
		else
			FUZZ_CHECK(err != NULL && err[0] != '\0', "no error");
		if (smtp_parse_mail_from(cmd.arg, cmd.arg_len, &utf8, &path,
		    &err) == 0) {
			check_path(&path, &utf8, true, cmd.arg, cmd.arg_len);
			check_srs(path.addr);
		}
		break;
	case SMTP_CMD_RCPT:
		if (smtp_parse_rcpt_to(cmd.arg, cmd.arg_len, NULL, &path,
		    &err) == 0)
			check_path(&path, NULL, false, cmd.arg, cmd.arg_len);
		else
			FUZZ_CHECK(err != NULL && err[0] != '\0', "no error");
		if (smtp_parse_rcpt_to(cmd.arg, cmd.arg_len, &utf8, &path,
		    &err) == 0) {
			check_path(&path, &utf8, false, cmd.arg, cmd.arg_len);
			check_srs(path.addr);
		}
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((lf != NULL ? lf : end) - p);
		size_t m = n;

		if (m > 0 && p[m - 1] == '\r')
			m--;
		/* A copy, so ASan sees reads past the line's end. */
		char *line = malloc(m > 0 ? m : 1);

		memcpy(line, p, m);
		one_line(line, m);
		free(line);
		p += n + (lf != NULL);
	}
	return 0;
}

/*
 * smtp_parse - pure parsers for SMTP command lines (RFC 5321 4.1) and the
 * arguments of HELO/EHLO, MAIL FROM and RCPT TO, with the ESMTP parameters
 * of RFC 1869/1870 (SIZE), 6152 (8BITMIME), 3030 (BINARYMIME), 6531
 * (SMTPUTF8) and 3461 (DSN: RET, ENVID, NOTIFY, ORCPT).
 *
 *	smtp_cmd_split()	line -> verb + argument (zero-copy)
 *	smtp_parse_helo_arg()	EHLO/HELO argument -> normalized name
 *	smtp_parse_mail_from()	"FROM:<path> [params]"
 *	smtp_parse_rcpt_to()	"TO:<path> [params]"
 *	smtp_param_*()		typed checks of one ESMTP parameter
 *	smtp_xtext_decode()	RFC 3461 xtext
 *	smtp_addr_has_relay_tricks()
 *
 * Nothing here touches sockets, the store or global state, and nothing is
 * allocated: results live in caller-provided structs (fixed-size arrays
 * sized by the RFC limits) or point into the caller's input.
 */
#ifndef POSTHORN_SMTP_PARSE_H
#define POSTHORN_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* RFC 5321 4.5.3.1: local-part 64, domain 255, path 256 octets. */
#define SMTP_LOCAL_MAX		64
#define SMTP_DOMAIN_MAX		255
#define SMTP_PATH_MAX		256
/* More parameters than this on one MAIL/RCPT is an error. */
#define SMTP_PARAMS_MAX		16
#define SMTP_PARAM_KEYWORD_MAX	32
/* RFC 3461 4.4 / 4.2 (ENVID decoded, ORCPT value as sent). */
#define SMTP_ENVID_MAX		100
#define SMTP_ORCPT_MAX		500

enum smtp_cmd_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_HELO,
	SMTP_CMD_EHLO,
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_RSET,
	SMTP_CMD_NOOP,
	SMTP_CMD_QUIT,
	SMTP_CMD_VRFY,
	SMTP_CMD_EXPN,
	SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS,
	SMTP_CMD_AUTH,
	SMTP_CMD_BDAT,
};

struct smtp_cmd {
	enum smtp_cmd_verb	 verb;
	/* Canonical upper-case verb name ("MAIL"); NULL for UNKNOWN. */
	const char		*name;
	/*
	 * The argument, pointing into the line passed to smtp_cmd_split()
	 * (valid as long as that line is): leading blanks after the verb and
	 * trailing blanks are removed.  arg_len == 0 when there is none.
	 */
	const char		*arg;
	size_t			 arg_len;
};

/*
 * Split one command line, given WITHOUT its CRLF.  The verb is the text up
 * to the first SP or HTAB, matched case-insensitively against the table; any
 * other verb (including an empty line or "MAILX") gives SMTP_CMD_UNKNOWN
 * with the rest of the line as argument.
 * Returns 0, or -1 when the line contains a NUL byte (the session answers
 * "500 5.5.2 Syntax error"); *out is then set to UNKNOWN with no argument.
 * CR/LF bytes inside the line are the line reader's business and are not
 * checked here; every argument parser below rejects control characters.
 */
int	 smtp_cmd_split(const char *line, size_t len, struct smtp_cmd *out);

/*
 * Validate an EHLO/HELO argument: an RFC 5321 Domain (domain_valid(), ASCII
 * only) or an address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]").
 * On success writes the normalized name, NUL-terminated, to name_r: ASCII
 * lower-cased; an address literal keeps the tag spelled "IPv6:".  Returns 0,
 * or -1 for anything else (empty, several words, "_", a trailing dot, bad
 * literal); the session answers "501 5.5.2".
 */
int	 smtp_parse_helo_arg(const char *arg, size_t len,
	    char name_r[SMTP_DOMAIN_MAX + 1]);

struct smtp_parse_opts {
	/*
	 * UTF-8 in addresses (RFC 6531).  For MAIL: the server advertises
	 * SMTPUTF8; a non-ASCII reverse-path is then accepted only when the
	 * same command carries the SMTPUTF8 parameter.  For RCPT: the
	 * transaction's MAIL FROM carried SMTPUTF8.  Without it every byte
	 * >= 0x80 in a path is refused ("553 5.6.7").  UTF-8 is always checked
	 * for well-formedness (no overlongs, surrogates or bytes > U+10FFFF).
	 */
	bool	smtputf8;
};

/*
 * One ESMTP parameter as sent.  keyword is upper-cased and NUL-terminated;
 * value points into the caller's argument (NOT NUL-terminated, valid as
 * long as that argument is) and is NULL with value_len 0 for a bare
 * keyword ("SMTPUTF8").  A parameter with "=" always has a non-empty value.
 */
struct smtp_param {
	char		 keyword[SMTP_PARAM_KEYWORD_MAX + 1];
	const char	*value;
	size_t		 value_len;
};

struct smtp_path {
	/*
	 * "local@domain" with the local part as sent in canonical form (a
	 * quoted string only when the content is not a dot-string, with only
	 * '"' and '\' escaped) and the domain ASCII lower-cased.  "" for the
	 * null reverse-path, "postmaster" for a domain-less RCPT <Postmaster>.
	 */
	char		 addr[SMTP_PATH_MAX + 1];
	/* The two halves of addr; local is canonical as in addr. */
	char		 local[SMTP_LOCAL_MAX + 1];
	char		 domain[SMTP_DOMAIN_MAX + 1];
	bool		 null_path;	/* MAIL FROM:<> */
	bool		 postmaster;	/* RCPT TO:<Postmaster> (no domain) */
	bool		 had_route;	/* a source route was dropped */
	bool		 quoted;	/* local part needs quoting */
	bool		 utf8;		/* non-ASCII bytes in the address */
	size_t		 nparams;
	struct smtp_param params[SMTP_PARAMS_MAX];
};

/*
 * Parse the argument of MAIL ("FROM:<path> [SP params]") or RCPT
 * ("TO:<path> [SP params]"), as returned by smtp_cmd_split().  The keyword
 * is case-insensitive; blanks after the colon are tolerated (Postfix does),
 * the angle brackets are not optional.  Source routes ("<@a,@b:u@d>") are
 * validated and dropped (RFC 5321 4.1.1.3 / C).  opts may be NULL (ASCII
 * only).  Parameters are split and checked for ESMTP syntax and duplicates
 * (case-insensitive) but not interpreted: the session decides which it
 * supports and checks them with the smtp_param_*() helpers.
 *
 * Returns 0, or -1 with *error_r set to a static, complete reply line
 * without CRLF ("501 5.1.7 Bad sender address syntax"), for the session to
 * send as is.  *out is undefined after an error.
 */
int	 smtp_parse_mail_from(const char *arg, size_t len,
	    const struct smtp_parse_opts *opts, struct smtp_path *out,
	    const char **error_r);
int	 smtp_parse_rcpt_to(const char *arg, size_t len,
	    const struct smtp_parse_opts *opts, struct smtp_path *out,
	    const char **error_r);

/* The parameter named keyword (case-insensitive) or NULL. */
const struct smtp_param *smtp_path_param(const struct smtp_path *,
	    const char *keyword);

enum smtp_body {
	SMTP_BODY_7BIT = 0,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_FULL = 1,
	SMTP_RET_HDRS,
};

/* NOTIFY bits; NEVER is alone by definition. */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

/*
 * Typed checks of one parameter; each returns 0 with the result stored, or
 * -1 when the value is missing, present where none is allowed, or malformed.
 *	size	SIZE=1*DIGIT, overflow-checked into a uint64_t
 *	body	BODY=7BIT|8BITMIME|BINARYMIME (case-insensitive)
 *	flag	a keyword that takes no value (SMTPUTF8, REQUIRETLS)
 *	ret	RET=FULL|HDRS
 *	notify	NOTIFY=NEVER | 1#(SUCCESS|FAILURE|DELAY), no repeats
 *	envid	ENVID=xtext, decoded into out (reset first): printable ASCII,
 *		at most SMTP_ENVID_MAX bytes
 *	orcpt	ORCPT=addr-type;xtext, at most SMTP_ORCPT_MAX bytes as sent:
 *		the addr-type (an RFC 5322 atom: "rfc822", "utf-8") is
 *		returned in type_r and type_len_r, pointing into the value;
 *		the decoded address goes to out
 */
int	 smtp_param_size(const struct smtp_param *, uint64_t *size_r);
int	 smtp_param_body(const struct smtp_param *, enum smtp_body *body_r);
int	 smtp_param_flag(const struct smtp_param *);
int	 smtp_param_ret(const struct smtp_param *, enum smtp_ret *ret_r);
int	 smtp_param_notify(const struct smtp_param *, unsigned *notify_r);
int	 smtp_param_envid(const struct smtp_param *, struct buf *out);
int	 smtp_param_orcpt(const struct smtp_param *, const char **type_r,
	    size_t *type_len_r, struct buf *out);

/*
 * Decode RFC 3461 xtext (xchar = '!'..'~' except '+' and '='; "+XX" with
 * two hex digits, accepted in either case) and append it to out.  Returns 0,
 * or -1 on a bad character or a truncated/invalid "+XX"; out may then hold
 * a partial result.
 */
int	 smtp_xtext_decode(const char *, size_t, struct buf *out);

/*
 * True when the local part of addr (everything before its last '@') holds
 * '%', '!' or another '@', quoted or not: the old relay hacks
 * ("user%other@local", "host!user@local", "\"a@b\"@local") that the session
 * refuses for local delivery.  addr is a NUL-terminated smtp_path.addr.
 */
bool	 smtp_addr_has_relay_tricks(const char *addr);

#endif

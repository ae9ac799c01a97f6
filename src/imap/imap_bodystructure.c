/*
 * imap_bodystructure - ENVELOPE / BODY / BODYSTRUCTURE writer (API and
 * the choices it makes are in imap_bodystructure.h).
 *
 * Recursion follows the part tree, whose depth the parser and the
 * deserializer cap at MIME_DEPTH_HARD_MAX.
 */
#include <string.h>

#include "core/buf.h"
#include "imap/imap_bodystructure.h"
#include "imap/imap_quote.h"
#include "mime/mime.h"
#include "mime/mime_addr.h"

static void
write_str(struct buf *b, const char *s)
{
	imap_write_string(b, s, strlen(s));
}

void
imap_write_address_list(struct buf *b, const char *raw)
{
	struct mime_addr *list, *a;

	list = raw != NULL ? mime_addr_parse(raw, strlen(raw)) : NULL;
	if (list == NULL) {
		buf_puts(b, "NIL");
		return;
	}
	buf_putc(b, '(');
	for (a = list; a != NULL; a = a->next) {
		buf_putc(b, '(');
		imap_write_nstring(b, a->name);
		buf_putc(b, ' ');
		imap_write_nstring(b, a->adl);
		buf_putc(b, ' ');
		imap_write_nstring(b, a->mailbox);
		buf_putc(b, ' ');
		imap_write_nstring(b, a->host);
		buf_putc(b, ')');
	}
	buf_putc(b, ')');
	mime_addr_free(&list);
}

/* Sender / Reply-To: From when absent or without any address. */
static void
write_defaulted(struct buf *b, const char *raw, const char *from)
{
	struct mime_addr *list;

	if (raw != NULL) {
		list = mime_addr_parse(raw, strlen(raw));
		if (list != NULL) {
			mime_addr_free(&list);
			imap_write_address_list(b, raw);
			return;
		}
	}
	imap_write_address_list(b, from);
}

void
imap_write_envelope(struct buf *b, const struct mime_envelope *env)
{
	if (env == NULL) {
		buf_puts(b, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		return;
	}
	buf_putc(b, '(');
	imap_write_nstring(b, env->date);
	buf_putc(b, ' ');
	imap_write_nstring(b, env->subject);
	buf_putc(b, ' ');
	imap_write_address_list(b, env->from);
	buf_putc(b, ' ');
	write_defaulted(b, env->sender, env->from);
	buf_putc(b, ' ');
	write_defaulted(b, env->reply_to, env->from);
	buf_putc(b, ' ');
	imap_write_address_list(b, env->to);
	buf_putc(b, ' ');
	imap_write_address_list(b, env->cc);
	buf_putc(b, ' ');
	imap_write_address_list(b, env->bcc);
	buf_putc(b, ' ');
	imap_write_nstring(b, env->in_reply_to);
	buf_putc(b, ' ');
	imap_write_nstring(b, env->message_id);
	buf_putc(b, ')');
}

static void
write_params(struct buf *b, const struct mime_param *params,
    bool default_charset)
{
	const struct mime_param *p;

	if (params == NULL && !default_charset) {
		buf_puts(b, "NIL");
		return;
	}
	buf_putc(b, '(');
	for (p = params; p != NULL; p = p->next) {
		if (p != params)
			buf_putc(b, ' ');
		write_str(b, p->name);
		buf_putc(b, ' ');
		write_str(b, p->value);
	}
	if (default_charset && mime_param_get(params, "charset") == NULL) {
		if (params != NULL)
			buf_putc(b, ' ');
		buf_puts(b, "\"charset\" \"us-ascii\"");
	}
	buf_putc(b, ')');
}

/* Content-Language: 1#Language-tag, separated by ',' and CFWS. */
static void
write_language(struct buf *b, const char *raw)
{
	size_t i = 0, start, n = 0;
	unsigned depth;

	if (raw == NULL) {
		buf_puts(b, "NIL");
		return;
	}
	for (;;) {
		while (raw[i] == ' ' || raw[i] == '\t' || raw[i] == ',' ||
		    raw[i] == '(') {
			if (raw[i] != '(') {
				i++;
				continue;
			}
			for (depth = 0; raw[i] != '\0'; i++) {
				if (raw[i] == '(')
					depth++;
				else if (raw[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
		}
		if (raw[i] == '\0')
			break;
		start = i;
		while (raw[i] != '\0' && raw[i] != ' ' && raw[i] != '\t' &&
		    raw[i] != ',' && raw[i] != '(')
			i++;
		buf_puts(b, n++ == 0 ? "(" : " ");
		imap_write_string(b, raw + start, i - start);
	}
	buf_puts(b, n > 0 ? ")" : "NIL");
}

/* body-ext-1part / body-ext-mpart after md5 or params: dsp lang loc */
static void
write_ext_tail(struct buf *b, const struct mime_part *p)
{
	buf_putc(b, ' ');
	if (p->disposition == NULL) {
		buf_puts(b, "NIL");
	} else {
		buf_putc(b, '(');
		write_str(b, p->disposition);
		buf_putc(b, ' ');
		write_params(b, p->disp_params, false);
		buf_putc(b, ')');
	}
	buf_putc(b, ' ');
	write_language(b, p->language);
	buf_putc(b, ' ');
	imap_write_nstring(b, p->location);
}

static void write_part(struct buf *, const struct mime_part *, bool);

static void
write_empty_part(struct buf *b, bool extended)
{
	buf_puts(b, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 0 0");
	if (extended)
		buf_puts(b, " NIL NIL NIL NIL");
	buf_putc(b, ')');
}

static void
write_multipart(struct buf *b, const struct mime_part *p, bool extended)
{
	const struct mime_part *c;

	buf_putc(b, '(');
	if (p->children == NULL)
		write_empty_part(b, extended);
	for (c = p->children; c != NULL; c = c->next)
		write_part(b, c, extended);
	buf_putc(b, ' ');
	write_str(b, p->subtype);
	if (extended) {
		buf_putc(b, ' ');
		write_params(b, p->params, false);
		write_ext_tail(b, p);
	}
	buf_putc(b, ')');
}

static void
write_single(struct buf *b, const struct mime_part *p, bool extended)
{
	bool text = strcmp(p->type, "text") == 0;
	bool message = mime_part_is_message(p) && p->children != NULL;

	buf_putc(b, '(');
	if (mime_part_is_message(p) && !message) {
		/* Not parsed (limit): we cannot write envelope and body. */
		buf_puts(b, "\"application\" \"octet-stream\"");
	} else {
		write_str(b, p->type);
		buf_putc(b, ' ');
		write_str(b, p->subtype);
	}
	buf_putc(b, ' ');
	write_params(b, p->params, text);
	buf_putc(b, ' ');
	imap_write_nstring(b, p->id);
	buf_putc(b, ' ');
	imap_write_nstring(b, p->description);
	buf_putc(b, ' ');
	write_str(b, p->encoding != NULL ? p->encoding : "7bit");
	buf_putc(b, ' ');
	buf_put_u64(b, p->body_len);
	if (text) {
		buf_putc(b, ' ');
		buf_put_u64(b, p->body_lines);
	} else if (message) {
		buf_putc(b, ' ');
		imap_write_envelope(b, p->children->env);
		buf_putc(b, ' ');
		write_part(b, p->children, extended);
		buf_putc(b, ' ');
		buf_put_u64(b, p->body_lines);
	}
	if (extended) {
		buf_putc(b, ' ');
		imap_write_nstring(b, p->md5);
		write_ext_tail(b, p);
	}
	buf_putc(b, ')');
}

static void
write_part(struct buf *b, const struct mime_part *p, bool extended)
{
	if (mime_part_is_multipart(p))
		write_multipart(b, p, extended);
	else
		write_single(b, p, extended);
}

void
imap_write_bodystructure(struct buf *b, const struct mime_part *root,
    bool extended)
{
	write_part(b, root, extended);
}

/*
 * pop3_parse - POP3 command lines and response byte-stuffing.
 */
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/util.h"
#include "pop3_parse.h"

static const struct {
	const char	*name;
	enum pop3_verb	 verb;
} verbs[] = {
	{ "USER", POP3_USER }, { "PASS", POP3_PASS }, { "APOP", POP3_APOP },
	{ "AUTH", POP3_AUTH }, { "STLS", POP3_STLS }, { "CAPA", POP3_CAPA },
	{ "QUIT", POP3_QUIT }, { "STAT", POP3_STAT }, { "LIST", POP3_LIST },
	{ "RETR", POP3_RETR }, { "DELE", POP3_DELE }, { "NOOP", POP3_NOOP },
	{ "RSET", POP3_RSET }, { "TOP", POP3_TOP }, { "UIDL", POP3_UIDL },
};

int
pop3_parse_line(const char *line, size_t len, struct pop3_cmd *out)
{
	size_t k = 0;

	out->verb = POP3_UNKNOWN;
	out->arg = line + len;
	out->arg_len = 0;
	if (memchr(line, '\0', len) != NULL)
		return -1;
	while (k < len && line[k] != ' ')
		k++;
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == k &&
		    strncasecmp(verbs[i].name, line, k) == 0)
			out->verb = verbs[i].verb;
	if (out->verb == POP3_UNKNOWN)
		return -1;
	if (k < len) {
		out->arg = line + k + 1;
		out->arg_len = len - k - 1;
	}
	return 0;
}

uint32_t
pop3_parse_msgnum(const char *s, size_t len, uint32_t max)
{
	uint64_t n;

	if (max == 0 || parse_u64(s, len, max, &n) < 0 || n == 0)
		return 0;
	return (uint32_t)n;
}

int
pop3_parse_top(const char *s, size_t len, uint32_t max, uint32_t *msg,
    uint64_t *lines)
{
	const char *sp = memchr(s, ' ', len);
	size_t nlen;

	if (sp == NULL)
		return -1;
	nlen = (size_t)(sp - s);
	if ((*msg = pop3_parse_msgnum(s, nlen, max)) == 0)
		return -1;
	if (parse_u64(sp + 1, len - nlen - 1, UINT64_MAX, lines) < 0)
		return -1;
	return 0;
}

void
pop3_stuff_init(struct pop3_stuff *st)
{
	st->line_start = true;
}

void
pop3_stuff_feed(struct pop3_stuff *st, const char *p, size_t n,
    struct buf *out)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		if (st->line_start && p[i] == '.') {
			/* Copy what precedes, then the extra dot. */
			buf_append(out, p + from, i - from);
			buf_putc(out, '.');
			from = i;
		}
		st->line_start = p[i] == '\n';
	}
	buf_append(out, p + from, n - from);
}

void
pop3_stuff_finish(struct pop3_stuff *st, struct buf *out)
{
	if (!st->line_start)
		buf_append(out, "\r\n", 2);
	buf_append(out, ".\r\n", 3);
	st->line_start = true;
}

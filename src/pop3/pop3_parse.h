/*
 * pop3_parse - pure helpers for POP3 (RFC 1939): splitting a command line,
 * reading message-number arguments, and the byte-stuffing of multi-line
 * responses, which runs over a message in chunks of any size.
 */
#ifndef POSTHORN_POP3_PARSE_H
#define POSTHORN_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum pop3_verb {
	POP3_UNKNOWN = 0,
	POP3_USER, POP3_PASS, POP3_APOP, POP3_AUTH, POP3_STLS, POP3_CAPA,
	POP3_QUIT, POP3_STAT, POP3_LIST, POP3_RETR, POP3_DELE, POP3_NOOP,
	POP3_RSET, POP3_TOP, POP3_UIDL,
};

struct pop3_cmd {
	enum pop3_verb	 verb;
	const char	*arg;		/* points into the line */
	size_t		 arg_len;	/* 0 when there is none */
};

/*
 * Splits a line (without CRLF): keyword (case-insensitive, 3-4 letters)
 * and the rest after one space.  Returns 0, or -1 for a NUL byte or a
 * keyword that is not a known one (verb POP3_UNKNOWN).
 */
int	 pop3_parse_line(const char *, size_t, struct pop3_cmd *);
/* A message number 1..max; returns it, or 0 when invalid. */
uint32_t pop3_parse_msgnum(const char *, size_t, uint32_t max);
/* "msg n" of TOP; returns 0, or -1 when malformed. */
int	 pop3_parse_top(const char *, size_t, uint32_t max, uint32_t *msg,
	    uint64_t *lines);

/*
 * Byte-stuffing (RFC 1939 3): a line that begins with "." gets one more.
 * Feed the message in chunks; finish appends CRLF if the last line had no
 * line end, then the terminating ".\r\n".
 */
struct pop3_stuff {
	bool	 line_start;
};

void	 pop3_stuff_init(struct pop3_stuff *);
void	 pop3_stuff_feed(struct pop3_stuff *, const char *, size_t,
	    struct buf *out);
void	 pop3_stuff_finish(struct pop3_stuff *, struct buf *out);

#endif

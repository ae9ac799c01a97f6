/*
 * smtp_data - the DATA body in both directions, streamed.
 *
 * Inbound (RFC 5321 4.5.2, and no SMTP smuggling):
 *	smtp_data_init(&r);
 *	while ((ret = smtp_data_feed(&r, in, inlen, &used, emit, ctx)) == 0)
 *		... read more ...
 *	... the bytes of in after `used` are the next pipelined command ...
 *
 * The reader keeps a few bytes of state and never buffers message data:
 * each call hands the unstuffed content to emit() in spans as large as the
 * input allows.
 *
 * Rules, chosen so that no two MTAs can disagree about where a message
 * ends (SEC Consult, "SMTP Smuggling", 2023):
 *  - ONLY <CR><LF>.<CR><LF> ends the data (and ".<CR><LF>" as the very
 *    first line, i.e. an empty message).  "\n.\n", "\n.\r\n", "\r.\r",
 *    "\r\n.\n", "\r.\r\n" ... never do.
 *  - A line starts after <CR><LF> or after a bare <LF>; a '.' that starts
 *    a line is dropped (dot-unstuffing), whatever ends that line.  So
 *    "\n.\r\n" yields "\r\n\r\n" and "\r\n.\n" yields "\r\n\r\n".
 *  - A bare <LF> is emitted as <CR><LF> (Postfix smtpd_forbid_bare_newline
 *    = normalize); saw_bare_lf is set.
 *  - A bare <CR> (not followed by <LF>) is emitted as is and does NOT start
 *    a line: "\r.x" keeps its dot.  Content with bare CRs is therefore
 *    passed on unchanged; smtp_dot_stuff() below turns them into CRLF
 *    before the data leaves us again, so a lenient next hop cannot take
 *    "\r.\r" for an end of data.
 *
 * Outbound (the SMTP client, a later issue):
 *	struct smtp_stuff_state st = SMTP_STUFF_INIT;
 *	smtp_dot_stuff(&out, chunk, len, &st);		(any number of times)
 *	smtp_dot_stuff_finish(&out, &st);		(appends ".\r\n")
 */
#ifndef POSTHORN_SMTP_DATA_H
#define POSTHORN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct smtp_data_reader {
	int		 state;		/* private */
	/* Statistics over what was emitted, for the session's checks. */
	uint64_t	 bytes;		/* emitted bytes (size limit) */
	uint64_t	 lines;		/* emitted LFs (each ends a line) */
	uint64_t	 line_len;	/* bytes in the current line so far */
	uint64_t	 max_line_len;	/* longest line, without its CRLF */
	bool		 saw_bare_lf;	/* a bare LF was normalized to CRLF */
	bool		 saw_bare_cr;	/* a bare CR was passed through */
	bool		 saw_8bit;	/* a byte >= 0x80 */
	bool		 saw_nul;	/* a NUL byte (may be refused) */
	bool		 done;		/* the end-of-data line was seen */
};

void	 smtp_data_init(struct smtp_data_reader *);

/*
 * Feed inlen bytes of DATA input.  Message content (unstuffed, bare LF
 * normalized) is passed to emit(ctx, ...) in one or more spans that may
 * point into `in` or at static storage; they are valid only during the
 * call.  emit is never called with a zero length.
 *
 * Returns 0 when more input is needed (all of `in` was used, *consumed_r ==
 * inlen), or 1 when the end-of-data line was seen: *consumed_r is the
 * number of bytes of `in` up to and including that line's LF; what follows
 * belongs to the next command.  Once done, further calls return 1 with
 * *consumed_r == 0 until smtp_data_init() is called again.
 *
 * The terminating "<CR><LF>.<CR><LF>": its first CRLF ends the last line of
 * the message and IS emitted; ".<CR><LF>" is not.
 */
int	 smtp_data_feed(struct smtp_data_reader *, const char *in,
	    size_t inlen, size_t *consumed_r,
	    void (*emit)(void *ctx, const char *, size_t), void *ctx);

struct smtp_stuff_state {
	bool	line_start;	/* next byte begins a line */
	bool	after_cr;	/* the previous byte was CR (emitted as CRLF) */
};

#define SMTP_STUFF_INIT	{ true, false }

void	 smtp_stuff_init(struct smtp_stuff_state *);

/*
 * Append `len` bytes of message content to out, dot-stuffed (a '.' that
 * begins a line is doubled) and with every line ending made canonical:
 * CRLF stays, a bare LF and a bare CR each become CRLF.  Chunks may be cut
 * anywhere, including between CR and LF.
 */
void	 smtp_dot_stuff(struct buf *out, const char *, size_t,
	    struct smtp_stuff_state *);

/*
 * Finish the message: complete a pending CR, append CRLF when the content
 * did not end with a line ending (nothing for empty content), then
 * ".\r\n".  The state is reset for the next message.
 */
void	 smtp_dot_stuff_finish(struct buf *out, struct smtp_stuff_state *);

#endif

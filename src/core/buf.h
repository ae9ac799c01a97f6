/*
 * buf - a length-carrying, growable byte buffer (Postfix VSTRING, Redis sds).
 *
 * All protocol data lives in a struct buf or is referenced by (pointer,
 * length); a NUL is kept after the data so buf_cstr() is free, but the data
 * itself may contain NUL bytes.  buf_append() and friends abort on allocation
 * failure; limits are the caller's business and must be checked before the
 * append (see core/limits.h).
 */
#ifndef POSTHORN_BUF_H
#define POSTHORN_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char	*data;		/* NULL until first use; always NUL-terminated after */
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT	{ NULL, 0, 0 }

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
/* Wipes the contents before freeing (passwords). */
void	 buf_free_secret(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_reserve(struct buf *, size_t);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_putc(struct buf *, char);
void	 buf_puts(struct buf *, const char *);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes. */
void	 buf_consume(struct buf *, size_t);
void	 buf_truncate(struct buf *, size_t);
/* Always a valid C string (empty when nothing was appended). */
const char *buf_cstr(const struct buf *);
/* Hand the data over to the caller (free() it); the buf is reset. */
char	*buf_steal(struct buf *);

/*
 * IMAP/JSON-agnostic helpers used by several protocols.
 */
/* Append an unsigned decimal number. */
void	 buf_put_u64(struct buf *, uint64_t);

#endif

/*
 * xmalloc - allocation wrappers that never return NULL.
 *
 * Running out of memory is an environment failure we cannot recover from in
 * the middle of a protocol exchange, so these abort with a log line instead
 * of making every caller handle NULL (Postfix mymalloc, Dovecot i_malloc).
 */
#ifndef POSTHORN_XMALLOC_H
#define POSTHORN_XMALLOC_H

#include <stddef.h>
#include <stdarg.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
/* xreallocarray: realloc of nmemb * size with an overflow check. */
void	*xreallocarray(void *, size_t, size_t);
/*
 * Makes room for element n of an array that holds n elements, growing it
 * geometrically (appending one at a time stays linear): call before every
 * append as p = xgrowarray(p, n, sizeof(*p)).
 */
void	*xgrowarray(void *, size_t n, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));
/* Overwrite then free; for passwords and keys. */
void	 xfree_secret(void *, size_t);

#endif

/*
 * psl - the Public Suffix List (https://publicsuffix.org/list/), for the
 * DMARC organizational domain (RFC 7489 3.2).
 *
 *	bool fallback;
 *	struct psl *psl = psl_load(NULL, &fallback, &error);	at startup
 *	org = psl_org_domain(psl, "mail.example.co.uk");	"example.co.uk"
 *	psl_free(&psl);
 *
 * The list is read from the file Debian's "publicsuffix" package installs
 * (both its ICANN and PRIVATE sections are used, as DMARC implementations
 * commonly do); when the file does not exist a small built-in list of
 * common multi-label suffixes is used instead.  Rules in Unicode are
 * converted to A-labels (punycode), so names are matched in their ASCII
 * form; matching is ASCII case-insensitive.  The algorithm is the one of
 * the list's web page: the exception rule if one matches, else the rule
 * with the most labels, else the implicit "*".
 *
 * A struct psl is immutable once built: share one between threads.
 */
#ifndef POSTHORN_PSL_H
#define POSTHORN_PSL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define PSL_DEFAULT_PATH	"/usr/share/publicsuffix/public_suffix_list.dat"
/* Larger files are refused (the real list is ~250 KB). */
#define PSL_FILE_MAX		(16L * 1024 * 1024)

struct psl;

/*
 * Reads the list at path (NULL: PSL_DEFAULT_PATH).  When the file does not
 * exist, returns the built-in list and sets *fallback_r (may be NULL) so
 * the caller can log it.  Other failures (unreadable, too large, no rule
 * in it) return NULL with *error_r.
 */
struct psl *psl_load(const char *path, bool *fallback_r, const char **error_r);
/* Builds a list from text in the file's format; bad lines are skipped. */
struct psl *psl_parse(const char *, size_t);
/* The built-in fallback list. */
struct psl *psl_builtin(void);
/* Number of rules. */
size_t	 psl_count(const struct psl *);
void	 psl_free(struct psl **);

/*
 * The public suffix of name, and its organizational domain (the public
 * suffix plus one label).  name is an ASCII domain (A-labels); a trailing
 * dot is allowed and kept in the result.  Both return a pointer into name
 * (its tail), or NULL: psl_org_domain() when name is itself a public
 * suffix, both when name is not a domain (empty, empty label).
 */
const char *psl_public_suffix(const struct psl *, const char *name);
const char *psl_org_domain(const struct psl *, const char *name);

/*
 * Appends the ASCII form of a domain to out: ASCII lower-cased, every
 * label holding non-ASCII UTF-8 punycoded with "xn--" (RFC 3492).  This is
 * not full IDNA2008 (no normalization or mapping beyond that).  Returns 0,
 * or -1 on invalid UTF-8 or a label that would exceed 63 bytes (out is
 * then left as it was).
 */
int	 psl_to_ascii(const char *, size_t, struct buf *out);

#endif

/*
 * crypt_region - keeps yescrypt's working memory between hashes.
 *
 * libxcrypt maps a fresh 16 MiB region for every yescrypt hash and unmaps
 * it afterwards, so the kernel faults in and zeroes 4,096 pages per login:
 * on a virtual machine that is most of a login's CPU.  Between
 * crypt_region_enter() and crypt_region_leave(), the thread's first large
 * anonymous mapping is served from a region this thread kept from its last
 * hash, and unmapping it only hands it back.  The hash is the same
 * computation over the same amount of memory; only the page faults go.
 */
#ifndef POSTHORN_CRYPT_REGION_H
#define POSTHORN_CRYPT_REGION_H

#include <stddef.h>

/* Around a call into libxcrypt on this thread. */
void	 crypt_region_enter(void);
void	 crypt_region_leave(void);
/* Gives this thread's kept region back to the kernel. */
void	 crypt_region_release(void);

/* This thread's counts, for tests: regions mapped, and lent again. */
struct crypt_region_stats {
	unsigned long	 maps;
	unsigned long	 reuses;
	size_t		 kept;		/* bytes held now */
};
void	 crypt_region_stats(struct crypt_region_stats *);

#endif

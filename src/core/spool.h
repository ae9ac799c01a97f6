/*
 * spool - a message being received: kept in memory while small, moved to an
 * unlinked temporary file in data_dir/tmp once it grows past a threshold, so
 * a connection never holds more than SPOOL_MEM_MAX bytes of message in RAM.
 *
 * Written by one thread at a time (the connection's, then handed to a worker
 * for the durable commit).  Reading is positional and does not disturb
 * appending.
 */
#ifndef POSTHORN_SPOOL_H
#define POSTHORN_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define SPOOL_MEM_MAX	((size_t)256 * 1024)

struct spool {
	struct buf	 mem;
	int		 fd;		/* -1 while in memory */
	uint64_t	 size;
	const char	*tmpdir;	/* not owned */
	int		 error;		/* errno of the first failed write */
};

void	 spool_init(struct spool *, const char *tmpdir);
/* Returns 0, or -1 on a write error (also remembered in ->error). */
int	 spool_write(struct spool *, const void *, size_t);
/* Reads up to len bytes at off; returns bytes read, 0 at end, -1 on error. */
ssize_t	 spool_pread(const struct spool *, void *, size_t, uint64_t off);
void	 spool_reset(struct spool *);
void	 spool_free(struct spool *);
/* Moves src into dst (dst must be unused); src becomes empty. */
void	 spool_move(struct spool *dst, struct spool *src);

#endif

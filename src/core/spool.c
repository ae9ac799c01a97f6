/*
 * spool - in memory while small, an unlinked temporary file beyond that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

void
spool_init(struct spool *s, const char *tmpdir)
{
	buf_init(&s->mem);
	s->fd = -1;
	s->size = 0;
	s->tmpdir = tmpdir;
	s->error = 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
spool_to_file(struct spool *s)
{
	int fd;

	fd = open(s->tmpdir ? s->tmpdir : "/tmp", O_TMPFILE | O_RDWR |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		s->error = errno;
		log_warn("spool: cannot create a temporary file in %s",
		    s->tmpdir ? s->tmpdir : "/tmp");
		return -1;
	}
	if (s->mem.len > 0 && write_all(fd, s->mem.data, s->mem.len) < 0) {
		s->error = errno;
		close(fd);
		return -1;
	}
	s->fd = fd;
	buf_free(&s->mem);
	return 0;
}

int
spool_write(struct spool *s, const void *p, size_t n)
{
	if (s->error != 0)
		return -1;
	if (s->fd < 0 && s->mem.len + n > SPOOL_MEM_MAX &&
	    spool_to_file(s) < 0)
		return -1;
	if (s->fd >= 0) {
		if (write_all(s->fd, p, n) < 0) {
			s->error = errno;
			return -1;
		}
	} else
		buf_append(&s->mem, p, n);
	s->size += n;
	return 0;
}

ssize_t
spool_pread(const struct spool *s, void *p, size_t n, uint64_t off)
{
	if (off >= s->size)
		return 0;
	if (n > s->size - off)
		n = (size_t)(s->size - off);
	if (s->fd < 0) {
		memcpy(p, s->mem.data + off, n);
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t r = pread(s->fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

void
spool_reset(struct spool *s)
{
	const char *tmpdir = s->tmpdir;

	spool_free(s);
	spool_init(s, tmpdir);
}

void
spool_free(struct spool *s)
{
	buf_free(&s->mem);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->size = 0;
	s->error = 0;
}

void
spool_move(struct spool *dst, struct spool *src)
{
	*dst = *src;
	spool_init(src, src->tmpdir);
}

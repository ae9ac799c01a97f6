/*
 * crypt_region - keeps yescrypt's working memory between hashes.
 *
 * libxcrypt (alg-yescrypt) takes its region with mmap(MAP_PRIVATE |
 * MAP_ANONYMOUS) and gives it back with munmap() of the same range, both
 * through the dynamic linker.  This file defines mmap() and munmap() in
 * the executable, which the dynamic linker then binds libcrypt's calls to.
 * Outside crypt_region_enter()/crypt_region_leave() on the calling thread,
 * and for every mapping that is not a plain large anonymous one, they are
 * the system calls and nothing else.  Inside, the first such mapping is
 * served from the thread's kept region (mapped afresh when the size
 * differs), and its munmap() keeps it.  yescrypt writes its region before
 * it reads it, so memory left by the last hash changes nothing: the hash
 * is checked against libxcrypt's own result in tests/unit/test_password.c.
 *
 * glibc's own mappings (malloc) do not come through here: libc calls its
 * internal entry points.  Only Linux on x86-64 and arm64, where the mmap
 * system call takes its six arguments as they are, gets the interposers;
 * elsewhere enter and leave do nothing and libxcrypt maps as it always did.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "crypt_region.h"

#if defined(__linux__) && defined(SYS_mmap) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define CRYPT_REGION_INTERPOSE 1
#endif

/* Smaller mappings are not worth keeping (yescrypt's default is 16 MiB). */
#define REGION_MIN	((size_t)1 << 20)

struct region {
	void		*base;
	size_t		 len;
	bool		 armed;		/* inside enter/leave */
	bool		 lent;		/* libxcrypt holds it now */
	unsigned long	 maps, reuses;
};

static _Thread_local struct region rg;

#ifdef CRYPT_REGION_INTERPOSE
static void *
sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static int
sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

static bool
lendable(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return rg.armed && !rg.lent && addr == NULL && fd == -1 &&
	    off == 0 && len >= REGION_MIN &&
	    prot == (PROT_READ | PROT_WRITE) &&
	    flags == (MAP_PRIVATE | MAP_ANONYMOUS);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;

	if (!lendable(addr, len, prot, flags, fd, off))
		return sys_mmap(addr, len, prot, flags, fd, off);
	if (rg.base != NULL && rg.len == len) {
		rg.lent = true;
		rg.reuses++;
		return rg.base;
	}
	crypt_region_release();
	if ((p = sys_mmap(NULL, len, prot, flags, -1, 0)) == MAP_FAILED)
		return p;
	rg.base = p;
	rg.len = len;
	rg.lent = true;
	rg.maps++;
	return p;
}

int
munmap(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)rg.base;

	if (rg.base != NULL && addr == rg.base && len == rg.len && rg.lent) {
		rg.lent = false;
		return 0;
	}
	/* Any other overlap with the kept region: stop keeping it. */
	if (rg.base != NULL && a < b + rg.len && b < a + len) {
		(void)sys_munmap(rg.base, rg.len);
		rg.base = NULL;
		rg.len = 0;
		rg.lent = false;
	}
	return sys_munmap(addr, len);
}
#endif

void
crypt_region_enter(void)
{
	rg.armed = true;
}

void
crypt_region_leave(void)
{
	rg.armed = false;
	/* libxcrypt failed between its mmap and munmap: not ours to keep. */
	if (rg.lent) {
		rg.base = NULL;
		rg.len = 0;
		rg.lent = false;
	}
}

void
crypt_region_release(void)
{
#ifdef CRYPT_REGION_INTERPOSE
	if (rg.base != NULL && !rg.lent)
		(void)sys_munmap(rg.base, rg.len);
#endif
	if (!rg.lent) {
		rg.base = NULL;
		rg.len = 0;
	}
}

void
crypt_region_stats(struct crypt_region_stats *st)
{
	st->maps = rg.maps;
	st->reuses = rg.reuses;
	st->kept = rg.lent ? 0 : rg.len;
}

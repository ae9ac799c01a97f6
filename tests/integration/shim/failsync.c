/*
 * failsync - an LD_PRELOAD shim for tests/integration/test_faults.py: while
 * the file named by $FAILSYNC_TRIGGER exists, fsync() and fdatasync() fail
 * with EIO without syncing; otherwise they call the real functions.
 *
 * The trigger path is read from the environment once, when the shim is
 * loaded (the server may change its environment later), and looked up
 * with access(2) on every call, so the test turns the fault on and off by
 * creating and removing the file.  Each failure is also counted: one byte
 * is appended to $FAILSYNC_TRIGGER.count (if it can be opened), so the
 * test can see that the fault was really hit.
 *
 * Built at test time:  gcc -shared -fPIC -o failsync.so failsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char	 trigger[PATH_MAX];
static char	 counter[PATH_MAX];

__attribute__((constructor)) static void
failsync_init(void)
{
	const char *p = getenv("FAILSYNC_TRIGGER");

	if (p == NULL || *p == '\0' || strlen(p) + 7 > sizeof(trigger))
		return;
	snprintf(trigger, sizeof(trigger), "%s", p);
	snprintf(counter, sizeof(counter), "%s.count", p);
}

/* True (and counted) when the fault is on. */
static int
failsync_fail(void)
{
	int saved = errno, fd;

	if (trigger[0] == '\0' || access(trigger, F_OK) != 0) {
		errno = saved;
		return 0;
	}
	fd = open(counter, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd >= 0) {
		if (write(fd, "x", 1) != 1) {
			/* Only a count; the fault is injected anyway. */
		}
		close(fd);
	}
	errno = EIO;
	return 1;
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (failsync_fail())
		return -1;
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (failsync_fail())
		return -1;
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}

/*
 * failsync - an LD_PRELOAD shim for tests/integration/test_faults.py: while
 * the file named by $FAILSYNC_TRIGGER exists, fsync() and fdatasync() fail
 * with EIO without syncing; otherwise they call the real functions.
 *
 * The trigger path is read from the environment once, when the shim is
 * loaded (the server may change its environment later), and looked up
 * with access(2) on every call, so the test turns the fault on and off by
 * creating and removing the file.  Each failure is also counted: one byte
 * is appended to $FAILSYNC_TRIGGER.count, opened when the shim is loaded
 * (before the server's sandbox forbids writes outside data_dir), so the
 * test can see that the fault was really hit.
 *
 * With $FAILSYNC_TRACE set, each call that goes through also appends the
 * path of the file or directory synced ("/proc/self/fd/N" read back) and a
 * newline to that file, so a test can see what was made durable.
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
static int	 counter_fd = -1;
static int	 trace_fd = -1;

__attribute__((constructor)) static void
failsync_init(void)
{
	const char *p = getenv("FAILSYNC_TRIGGER");
	const char *t = getenv("FAILSYNC_TRACE");
	char counter[PATH_MAX];

	if (t != NULL && *t != '\0')
		trace_fd = open(t, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0666);
	if (p == NULL || *p == '\0' || strlen(p) + 7 > sizeof(trigger))
		return;
	snprintf(trigger, sizeof(trigger), "%s", p);
	snprintf(counter, sizeof(counter), "%s.count", p);
	counter_fd = open(counter, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0666);
}

/* True (and counted) when the fault is on. */
static int
failsync_fail(void)
{
	int saved = errno;

	if (trigger[0] == '\0' || access(trigger, F_OK) != 0) {
		errno = saved;
		return 0;
	}
	if (counter_fd >= 0 && write(counter_fd, "x", 1) != 1) {
		/* Only a count; the fault is injected anyway. */
	}
	errno = EIO;
	return 1;
}

/* Appends the path of fd to the trace, if there is one. */
static void
failsync_trace(int fd)
{
	char link[64], path[PATH_MAX + 1];
	ssize_t n;
	int saved = errno;

	if (trace_fd < 0)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		n = snprintf(path, sizeof(path), "?");
	path[n++] = '\n';
	if (write(trace_fd, path, (size_t)n) != n) {
		/* A short trace shows in the test. */
	}
	errno = saved;
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (failsync_fail())
		return -1;
	failsync_trace(fd);
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
	failsync_trace(fd);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}

/*
 * sandbox - landlock and seccomp for the serving process (see sandbox.h).
 *
 * Landlock: read anything (certificates, the CA store, the public suffix
 * list, iconv modules and time zones are read lazily), write only below
 * data_dir, execute nothing.  Seccomp: an allowlist of the system calls
 * the server makes (collected with strace over the integration tests);
 * anything else fails with EPERM, and the calls that would only serve an
 * attacker (exec, ptrace, mount, module loading, kexec, bpf ...) kill the
 * process.  no_new_privs is set first, as both require.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <seccomp.h>

#include "log.h"
#include "sandbox.h"

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER	(1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)
#endif

static int
ll_create_ruleset(const struct landlock_ruleset_attr *attr, size_t size,
    uint32_t flags)
{
	return (int)syscall(__NR_landlock_create_ruleset, attr, size, flags);
}

static int
ll_add_rule(int fd, enum landlock_rule_type type, const void *attr,
    uint32_t flags)
{
	return (int)syscall(__NR_landlock_add_rule, fd, type, attr, flags);
}

static int
ll_restrict_self(int fd, uint32_t flags)
{
	return (int)syscall(__NR_landlock_restrict_self, fd, flags);
}

static int
ll_allow(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb;
	int fd, r;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return -1;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access;
	pb.parent_fd = fd;
	r = ll_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	close(fd);
	return r;
}

/* Returns the ABI applied, 0 when the kernel has no landlock, -1. */
static int
landlock_apply(const char *data_dir)
{
	struct landlock_ruleset_attr attr;
	uint64_t read_rights, write_rights, all;
	int abi, fd;

	abi = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return 0;
	read_rights = LANDLOCK_ACCESS_FS_READ_FILE |
	    LANDLOCK_ACCESS_FS_READ_DIR;
	write_rights = LANDLOCK_ACCESS_FS_WRITE_FILE |
	    LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
	    LANDLOCK_ACCESS_FS_MAKE_SYM | LANDLOCK_ACCESS_FS_MAKE_CHAR |
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK;
	if (abi >= 2)
		write_rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		write_rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	all = read_rights | write_rights | LANDLOCK_ACCESS_FS_EXECUTE;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = all;
	if ((fd = ll_create_ruleset(&attr, sizeof(attr), 0)) < 0)
		return -1;
	/* /dev/null is opened for writing by libraries (O_WRONLY). */
	if (ll_allow(fd, "/", read_rights) < 0 ||
	    ll_allow(fd, data_dir, read_rights | write_rights) < 0 ||
	    (access("/dev/null", F_OK) == 0 && ll_allow(fd, "/dev/null",
	    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE) <
	    0) ||
	    ll_restrict_self(fd, 0) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return abi;
}

/* What the server calls, in the order of the strace summary. */
static const char *const allowed[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "openat", "open", "close", "close_range", "fstat",
	"newfstatat", "statx", "stat", "lstat", "lseek", "mmap", "munmap",
	"mremap", "mprotect", "madvise", "brk", "rt_sigaction",
	"rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
	"ioctl", "fcntl", "flock", "fsync", "fdatasync", "ftruncate",
	"fallocate", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"mkdir", "mkdirat", "rmdir", "getdents64", "getcwd", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "umask", "fchmod",
	"fchmodat", "fchown", "utimensat", "statfs", "fstatfs", "linkat",
	"socket", "socketpair", "connect", "accept", "accept4", "bind",
	"listen", "getsockname", "getpeername", "getsockopt", "setsockopt",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"shutdown", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "select", "pselect6", "eventfd2",
	"pipe2", "dup", "dup2", "dup3", "futex", "futex_waitv",
	"set_robust_list", "get_robust_list", "rseq", "clone", "clone3",
	"exit", "exit_group", "gettid", "getpid", "getppid", "tgkill",
	"sched_yield", "sched_getaffinity", "setpriority", "nanosleep",
	"clock_nanosleep",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom",
	"prctl", "prlimit64", "getrlimit", "uname", "sysinfo", "getuid",
	"geteuid", "getgid", "getegid", "getgroups", "getresuid",
	"getresgid", "membarrier", "restart_syscall", "set_tid_address",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
};

/* Never of use to the server; a sign of an attack: kill at once. */
static const char *const killing[] = {
	"execve", "execveat", "ptrace", "process_vm_readv",
	"process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
	"init_module", "finit_module", "delete_module", "kexec_load",
	"kexec_file_load", "bpf", "perf_event_open", "setuid", "setgid",
	"setreuid", "setregid", "setresuid", "setresgid", "setgroups",
	"unshare", "setns", "keyctl", "add_key", "request_key", "reboot",
	"swapon", "swapoff", "acct", "userfaultfd", "open_by_handle_at",
};

static int
seccomp_apply(void)
{
	scmp_filter_ctx ctx;
	int r = -1;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr != __NR_SCMP_ERROR &&
		    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
			goto out;
	}
	for (size_t i = 0; i < sizeof(killing) / sizeof(killing[0]); i++) {
		int nr = seccomp_syscall_resolve_name(killing[i]);

		if (nr != __NR_SCMP_ERROR &&
		    seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0) < 0)
			goto out;
	}
	r = seccomp_load(ctx) < 0 ? -1 : 0;
out:
	seccomp_release(ctx);
	return r;
}

int
sandbox_enter(const char *data_dir, struct sandbox_report *rep,
    const char **error_r)
{
	int abi;

	memset(rep, 0, sizeof(*rep));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*error_r = "prctl(PR_SET_NO_NEW_PRIVS) failed";
		return -1;
	}
	if ((abi = landlock_apply(data_dir)) < 0) {
		*error_r = "landlock could not be applied";
		return -1;
	}
	rep->landlock_abi = abi;
	if (seccomp_apply() < 0) {
		*error_r = "the seccomp filter could not be loaded";
		return -1;
	}
	rep->seccomp = 1;
	return 0;
}

/* In the child: 0 when the outcome is what the sandbox must give. */
static int
check_child(const char *data_dir, int what)
{
	struct sandbox_report rep;
	const char *err;
	char path[4096];
	int fd;

	if (sandbox_enter(data_dir, &rep, &err) < 0)
		return 10;
	switch (what) {
	case 0:		/* writing outside data_dir is refused */
		if (rep.landlock_abi == 0)
			return 11;
		fd = open("/tmp/posthorn-sandbox-check", O_WRONLY | O_CREAT |
		    O_TRUNC, 0600);
		return fd < 0 && errno == EACCES ? 0 : 1;
	case 1:		/* writing inside works */
		snprintf(path, sizeof(path), "%s/.sandbox-check", data_dir);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
			return 1;
		close(fd);
		unlink(path);
		return 0;
	default:	/* exec kills the process */
		execl("/bin/true", "true", (char *)NULL);
		return 1;
	}
}

int
sandbox_check(const char *data_dir)
{
	static const char *const names[] = {
		"write outside the data directory is refused",
		"write inside the data directory works",
		"exec kills the process",
	};
	int bad = 0;

	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(check_child(data_dir, i));
		if (waitpid(pid, &st, 0) < 0)
			return 1;
		if ((i < 2 && WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
		    (i == 2 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)) {
			printf("ok   %s\n", names[i]);
			continue;
		}
		bad++;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 11)
			printf("skip %s (the kernel has no landlock)\n",
			    names[i]);
		else
			printf("FAIL %s\n", names[i]);
	}
	unlink("/tmp/posthorn-sandbox-check");
	return bad > 0;
}

/*
 * sandbox - what the server may still do once it is serving: landlock
 * (the data directory is the only place it writes; nothing can be
 * executed) and a seccomp filter that allows only the system calls the
 * server makes.  Applied once, before the I/O threads and workers start,
 * so every thread inherits it.  Either layer may be missing from the
 * kernel; then a warning is logged and the other one still applies.
 */
#ifndef POSTHORN_SANDBOX_H
#define POSTHORN_SANDBOX_H

struct sandbox_report {
	int	 landlock_abi;		/* 0: not applied */
	int	 seccomp;		/* 1: applied */
};

/* Returns 0, or -1 with *error_r when a layer failed to apply at all. */
int	 sandbox_enter(const char *data_dir, struct sandbox_report *,
	    const char **error_r);

/*
 * `posthorn sandbox-check`: enters the sandbox in a child process, tries
 * what it must refuse and what it must allow, and prints one line per
 * check.  Returns 0 when every check came out as it should.
 */
int	 sandbox_check(const char *data_dir);

#endif

/*
 * password - account password hashing with yescrypt (libxcrypt).
 *
 * Hashing and verifying are deliberately slow (tens of milliseconds): call
 * them on a worker thread, never on an I/O thread (DESIGN.md).
 */
#ifndef POSTHORN_PASSWORD_H
#define POSTHORN_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

/* Returns a new "$y$..." string (free() it) or NULL if libxcrypt failed. */
char	*password_hash(const char *password);
/*
 * Constant-time verification of password against hash.  A NULL or
 * unusable hash still spends the same work on a dummy hash, so an unknown
 * user can't be told apart from a wrong password by timing.
 */
bool	 password_verify(const char *password, const char *hash);
/*
 * For tests and fuzzing, whose accounts have hashes with cheap parameters:
 * use hash as that dummy, so that an unknown user still costs what a real
 * check costs.  Call once, before the first password_verify().
 */
void	 password_set_dummy(const char *hash);
/*
 * Hashing keeps its working memory (16 MiB) on the thread for the next
 * hash: give it back when the thread has nothing to hash for a while.
 */
void	 password_idle(void);
/* A random password of len characters from an unambiguous alphabet. */
char	*password_generate(size_t len);

#endif

/*
 * password - yescrypt hashing and verification via libxcrypt.
 */
#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "crypt_region.h"
#include "password.h"

/*
 * libxcrypt's default yescrypt cost (5): 16 MiB and ~15 ms of CPU per
 * hash with the region kept (crypt_region.c), ~80 ms on this project's
 * test VM when each hash faults its region in afresh.
 */
#define YESCRYPT_COST	0

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void
dummy_init(void)
{
	if (dummy_hash == NULL)
		dummy_hash = password_hash("posthorn-dummy-password");
}

void
password_set_dummy(const char *hash)
{
	PH_ASSERT(dummy_hash == NULL);
	dummy_hash = xstrdup(hash);
}

char *
password_hash(const char *password)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	char rnd[32];
	char *out = NULL;

	random_bytes(rnd, sizeof(rnd));
	if (crypt_gensalt_rn("$y$", YESCRYPT_COST, rnd, sizeof(rnd), salt,
	    sizeof(salt)) == NULL)
		return NULL;
	cd = xcalloc(1, sizeof(*cd));
	crypt_region_enter();
	if (crypt_rn(password, salt, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*')
		out = xstrdup(cd->output);
	crypt_region_leave();
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return out;
}

bool
password_verify(const char *password, const char *hash)
{
	struct crypt_data *cd;
	bool ok = false, real = true;

	pthread_once(&dummy_once, dummy_init);
	if (hash == NULL || hash[0] != '$') {
		hash = dummy_hash;
		real = false;
	}
	if (hash == NULL)
		return false;
	cd = xcalloc(1, sizeof(*cd));
	crypt_region_enter();
	if (crypt_rn(password, hash, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*') {
		size_t n = strlen(hash);

		ok = strlen(cd->output) == n &&
		    timingsafe_eq(cd->output, hash, n);
	}
	crypt_region_leave();
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok && real;
}

void
password_idle(void)
{
	crypt_region_release();
}

char *
password_generate(size_t len)
{
	/* No 0/O, 1/l/I: passwords get read aloud and typed on phones. */
	static const char alphabet[] =
	    "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t n = sizeof(alphabet) - 1;
	char *p = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++) {
		uint32_t v;

		/* Rejection sampling keeps the distribution uniform. */
		do {
			v = random_u32();
		} while (v >= UINT32_MAX - UINT32_MAX % n);
		p[i] = alphabet[v % n];
	}
	p[len] = '\0';
	return p;
}

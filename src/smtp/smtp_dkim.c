/*
 * smtp_dkim - DKIM signing of the mail our users send (RFC 6376, 8463).
 *
 * The keys of every domain (store_dkim_list) are loaded into a keyring the
 * first time a message is signed, and loaded again when the directory
 * generation changes (`posthorn dkim generate` while the server runs).  A
 * keyring is immutable and reference-counted, so the workers sign in
 * parallel and only take the lock to pick the current one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"
#include "dmarc/dmarc.h"
#include "mime/mime.h"
#include "server.h"
#include "smtp/smtp_int.h"
#include "store/store.h"

struct keyring {
	unsigned		 refs;
	uint64_t		 gen;
	struct dkim_signer	**signers;	/* sorted by domain */
	size_t			 n;
};

static pthread_mutex_t ring_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct keyring *ring;

static void
ring_unref(struct keyring *r)
{
	bool last;

	if (r == NULL)
		return;
	pthread_mutex_lock(&ring_mtx);
	last = --r->refs == 0;
	pthread_mutex_unlock(&ring_mtx);
	if (!last)
		return;
	for (size_t i = 0; i < r->n; i++)
		dkim_signer_free(&r->signers[i]);
	free(r->signers);
	free(r);
}

static void
load_cb(void *ctx, const struct dkim_key_row *k)
{
	struct keyring *r = ctx;
	struct dkim_signer *s;
	const char *err;

	if ((s = dkim_signer_load(k->domain, k->selector, k->file,
	    &err)) == NULL) {
		log_warnx("dkim key %s of %s not usable (%s): %s", k->selector,
		    k->domain, k->file, err);
		return;
	}
	r->signers = xgrowarray(r->signers, r->n, sizeof(struct dkim_signer *));
	r->signers[r->n++] = s;
}

/* The current keyring, loaded again when the directory changed. */
static struct keyring *
ring_get(void)
{
	struct keyring *r;
	uint64_t gen = 0;

	(void)store_directory_generation(srv->store, &gen);
	pthread_mutex_lock(&ring_mtx);
	if ((r = ring) != NULL && r->gen == gen) {
		r->refs++;
		pthread_mutex_unlock(&ring_mtx);
		return r;
	}
	pthread_mutex_unlock(&ring_mtx);

	r = xcalloc(1, sizeof(*r));
	r->refs = 2;			/* the caller's and the global one */
	r->gen = gen;
	if (store_dkim_list(srv->store, NULL, load_cb, r) < 0)
		log_warnx("dkim: cannot list the keys");
	if (r->n > 0)
		log_info("dkim: %zu signing key(s) loaded", r->n);

	pthread_mutex_lock(&ring_mtx);
	if (ring != NULL && ring->gen >= gen) {
		/* Another worker was quicker: use its ring. */
		struct keyring *mine = r;

		r = ring;
		r->refs++;
		pthread_mutex_unlock(&ring_mtx);
		mine->refs = 1;
		ring_unref(mine);
		return r;
	}
	{
		struct keyring *old = ring;

		ring = r;
		pthread_mutex_unlock(&ring_mtx);
		ring_unref(old);
	}
	return r;
}

/* Signers of this domain, or of the nearest parent domain that has any. */
static size_t
find_signers(const struct keyring *r, const char *domain, size_t *first)
{
	for (const char *d = domain; d != NULL && *d != '\0';) {
		size_t n = 0;

		for (size_t i = 0; i < r->n; i++) {
			if (strcasecmp(dkim_signer_domain(r->signers[i]),
			    d) != 0)
				continue;
			if (n++ == 0)
				*first = i;
		}
		if (n > 0)
			return n;
		if ((d = strchr(d, '.')) != NULL)
			d++;
		if (d != NULL && strchr(d, '.') == NULL)
			break;		/* never a top-level domain */
	}
	return 0;
}

int
smtp_dkim_sign(const struct mime_part *root, const char *mail_from,
    const struct spool *sp, struct buf *out)
{
	struct keyring *r = ring_get();
	struct buf dom = BUF_INIT;
	const char *from = NULL, *err;
	size_t first = 0, n = 0;
	int signed_n = 0;

	if (r->n == 0) {
		ring_unref(r);
		return 0;
	}
	/* The author's domain (RFC 5322.From), else the envelope's. */
	if (root != NULL && root->env != NULL && root->env->from != NULL &&
	    dmarc_from_domain(root->env->from, strlen(root->env->from),
	    &dom) == DMARC_FROM_OK)
		from = buf_cstr(&dom);
	if (from != NULL)
		n = find_signers(r, from, &first);
	if (n == 0 && (from = strrchr(mail_from, '@')) != NULL)
		n = find_signers(r, ++from, &first);
	for (size_t i = 0, done = 0; done < n && first + i < r->n; i++) {
		const struct dkim_signer *s = r->signers[first + i];

		if (strcasecmp(dkim_signer_domain(s),
		    dkim_signer_domain(r->signers[first])) != 0)
			continue;
		done++;
		if (dkim_sign(s, sp, time(NULL), out, &err) < 0) {
			log_warnx("dkim: signing as %s (%s) failed: %s",
			    dkim_signer_domain(s), dkim_signer_selector(s),
			    err);
			continue;
		}
		signed_n++;
	}
	buf_free(&dom);
	ring_unref(r);
	return signed_n;
}

void
smtp_dkim_shutdown(void)
{
	struct keyring *r;

	pthread_mutex_lock(&ring_mtx);
	r = ring;
	ring = NULL;
	pthread_mutex_unlock(&ring_mtx);
	ring_unref(r);
}

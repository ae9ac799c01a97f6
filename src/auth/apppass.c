/*
 * apppass - generation and checking of app passwords.
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "apppass.h"
#include "auth/base64.h"
#include "auth/password.h"
#include "core/buf.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "store/store.h"

#define SALT_LEN	16

char *
apppass_generate(void)
{
	return password_generate(APPPASS_LEN);
}

static void
digest(const unsigned char *salt, size_t saltlen, const char *pw,
    unsigned char out[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = SHA256_DIGEST_LENGTH;

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, salt, saltlen);
	EVP_DigestUpdate(ctx, pw, strlen(pw));
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

char *
apppass_hash(const char *password)
{
	unsigned char salt[SALT_LEN], d[SHA256_DIGEST_LENGTH];
	struct buf b = BUF_INIT;

	random_bytes(salt, sizeof(salt));
	digest(salt, sizeof(salt), password, d);
	buf_puts(&b, "sha256$");
	base64_encode(salt, sizeof(salt), &b);
	buf_putc(&b, '$');
	base64_encode(d, sizeof(d), &b);
	return buf_steal(&b);
}

bool
apppass_verify(const char *password, const char *stored)
{
	struct buf salt = BUF_INIT, want = BUF_INIT;
	unsigned char d[SHA256_DIGEST_LENGTH];
	const char *p, *q;
	bool ok = false;

	if (strncmp(stored, "sha256$", 7) != 0)
		return false;
	p = stored + 7;
	if ((q = strchr(p, '$')) == NULL)
		return false;
	if (base64_decode(p, (size_t)(q - p), &salt) < 0 ||
	    base64_decode(q + 1, strlen(q + 1), &want) < 0 ||
	    want.len != sizeof(d))
		goto out;
	digest((const unsigned char *)salt.data, salt.len, password, d);
	ok = timingsafe_eq(d, want.data, sizeof(d));
out:
	buf_free(&salt);
	buf_free(&want);
	return ok;
}

int
apppass_parse_protocols(const char *s, unsigned *out)
{
	const char *p = s;

	*out = 0;
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		int i;

		for (i = 0; i < PROTO_COUNT; i++)
			if (strlen(proto_names[i]) == n &&
			    strncasecmp(proto_names[i], p, n) == 0)
				break;
		if (i == PROTO_COUNT)
			return -1;
		*out |= 1U << i;
		p = e ? e + 1 : p + n;
	}
	return *out != 0 ? 0 : -1;
}

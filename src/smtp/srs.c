/*
 * srs - Sender Rewriting Scheme (see srs.h), in libsrs2's address format.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/util.h"
#include "smtp/srs.h"

static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static unsigned
srs_day(time_t now)
{
	return (unsigned)((now / 86400) % 1024);
}

/* HHHH: base64 of HMAC-SHA1 over the lower-cased parts, cut to 4. */
static void
srs_hash(const unsigned char secret[SRS_SECRET_LEN], const char *const *parts,
    size_t n, char out[5])
{
	unsigned char mac[EVP_MAX_MD_SIZE], b64[64];
	unsigned int maclen = 0;

	{
		EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
		EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
		OSSL_PARAM params[2] = {
			OSSL_PARAM_construct_utf8_string("digest",
			    (char *)"SHA1", 0),
			OSSL_PARAM_construct_end(),
		};
		size_t len = 0;

		if (c == NULL || EVP_MAC_init(c, secret, SRS_SECRET_LEN,
		    params) != 1) {
			EVP_MAC_CTX_free(c);
			EVP_MAC_free(m);
			memcpy(out, "AAAA", 5);
			return;
		}
		for (size_t i = 0; i < n; i++)
			for (const char *p = parts[i]; *p != '\0'; p++) {
				unsigned char ch = (unsigned char)*p;

				if (ch >= 'A' && ch <= 'Z')
					ch = (unsigned char)(ch - 'A' + 'a');
				EVP_MAC_update(c, &ch, 1);
			}
		EVP_MAC_final(c, mac, &len, sizeof(mac));
		maclen = (unsigned int)len;
		EVP_MAC_CTX_free(c);
		EVP_MAC_free(m);
	}
	EVP_EncodeBlock(b64, mac, (int)maclen);
	memcpy(out, b64, 4);
	out[4] = '\0';
}

bool
srs_is_srs(const char *addr)
{
	return (strncasecmp(addr, "SRS0", 4) == 0 ||
	    strncasecmp(addr, "SRS1", 4) == 0) &&
	    (addr[4] == '=' || addr[4] == '+' || addr[4] == '-');
}

int
srs_forward(const unsigned char secret[SRS_SECRET_LEN], const char *sender,
    const char *srs_domain, time_t now, char *out, size_t size)
{
	const char *at = strrchr(sender, '@');
	char local[SRS_ADDR_MAX], domain[256], hash[5];
	int n;

	if (at == NULL || at == sender || at[1] == '\0' ||
	    (size_t)(at - sender) >= sizeof(local) ||
	    strlen(at + 1) >= sizeof(domain))
		return -1;
	memcpy(local, sender, (size_t)(at - sender));
	local[at - sender] = '\0';
	snprintf(domain, sizeof(domain), "%s", at + 1);

	if (srs_is_srs(local) && (local[3] == '0')) {
		/* SRS0 of a first hop: SRS1=HHHH=firsthop==HHHH=TT=... */
		const char *rest = local + 4;
		const char *parts[] = { domain, rest };

		srs_hash(secret, parts, 2, hash);
		n = snprintf(out, size, "SRS1=%s=%s=%s@%s", hash, domain,
		    rest, srs_domain);
	} else if (srs_is_srs(local)) {
		/* SRS1 again: keep the first hop, hash it anew. */
		const char *h = local + 5, *host, *rest;
		char firsthop[256];

		if ((host = strchr(h, '=')) == NULL)
			return -1;
		host++;
		if ((rest = strchr(host, '=')) == NULL ||
		    (size_t)(rest - host) >= sizeof(firsthop) || rest == host)
			return -1;
		memcpy(firsthop, host, (size_t)(rest - host));
		firsthop[rest - host] = '\0';
		rest++;			/* the rest starts with its own '=' */
		if (*rest == '\0')
			return -1;
		{
			const char *parts[] = { firsthop, rest };

			srs_hash(secret, parts, 2, hash);
		}
		n = snprintf(out, size, "SRS1=%s=%s=%s@%s", hash, firsthop,
		    rest, srs_domain);
	} else {
		char tt[3];
		unsigned day = srs_day(now);
		const char *parts[3];

		tt[0] = base32[(day >> 5) & 31];
		tt[1] = base32[day & 31];
		tt[2] = '\0';
		parts[0] = tt;
		parts[1] = domain;
		parts[2] = local;
		srs_hash(secret, parts, 3, hash);
		n = snprintf(out, size, "SRS0=%s=%s=%s=%s@%s", hash, tt,
		    domain, local, srs_domain);
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static bool
hash_ok(const char *given, size_t len, const char want[5])
{
	return len == 4 && strncasecmp(given, want, 4) == 0;
}

static int
day_of(const char *tt, unsigned *day)
{
	const char *a, *b;

	if ((a = strchr(base32, tt[0] >= 'a' && tt[0] <= 'z' ?
	    tt[0] - 'a' + 'A' : tt[0])) == NULL || tt[0] == '\0' ||
	    (b = strchr(base32, tt[1] >= 'a' && tt[1] <= 'z' ?
	    tt[1] - 'a' + 'A' : tt[1])) == NULL || tt[1] == '\0')
		return -1;
	*day = (unsigned)((a - base32) << 5 | (b - base32));
	return 0;
}

int
srs_reverse(const unsigned char secret[SRS_SECRET_LEN], const char *addr,
    time_t now, char *out, size_t size, const char **error_r)
{
	const char *at = strrchr(addr, '@');
	char local[SRS_ADDR_MAX], hash[5];
	int n;

	*error_r = "malformed";
	if (at == NULL || (size_t)(at - addr) >= sizeof(local))
		return -1;
	memcpy(local, addr, (size_t)(at - addr));
	local[at - addr] = '\0';
	if (!srs_is_srs(local))
		return -1;
	if (local[3] == '0') {
		/* SRS0=HHHH=TT=domain=local */
		char *h = local + 5, *tt, *dom, *user;
		unsigned day, age;

		if ((tt = strchr(h, '=')) == NULL)
			return -1;
		*tt++ = '\0';
		if ((dom = strchr(tt, '=')) == NULL)
			return -1;
		*dom++ = '\0';
		if ((user = strchr(dom, '=')) == NULL)
			return -1;
		*user++ = '\0';
		if (strlen(tt) != 2 || day_of(tt, &day) < 0 || *dom == '\0' ||
		    *user == '\0')
			return -1;
		{
			const char *parts[] = { tt, dom, user };

			srs_hash(secret, parts, 3, hash);
		}
		if (!hash_ok(h, strlen(h), hash)) {
			*error_r = "bad hash";
			return -1;
		}
		age = (srs_day(now) + 1024 - day) % 1024;
		if (age > SRS_MAX_AGE_DAYS) {
			*error_r = "expired";
			return -1;
		}
		n = snprintf(out, size, "%s@%s", user, dom);
	} else {
		/* SRS1=HHHH=firsthop==rest: back to SRS0rest@firsthop. */
		char *h = local + 5, *host, *rest;

		if ((host = strchr(h, '=')) == NULL)
			return -1;
		*host++ = '\0';
		if ((rest = strchr(host, '=')) == NULL || rest == host ||
		    rest[1] == '\0')
			return -1;
		{
			char firsthop[256];
			const char *parts[2];

			if ((size_t)(rest - host) >= sizeof(firsthop))
				return -1;
			memcpy(firsthop, host, (size_t)(rest - host));
			firsthop[rest - host] = '\0';
			rest++;		/* past the separator */
			parts[0] = firsthop;
			parts[1] = rest;
			srs_hash(secret, parts, 2, hash);
			if (!hash_ok(h, strlen(h), hash)) {
				*error_r = "bad hash";
				return -1;
			}
			n = snprintf(out, size, "SRS0%s@%s", rest, firsthop);
		}
	}
	if (n < 0 || (size_t)n >= size)
		return -1;
	*error_r = NULL;
	return 0;
}

int
srs_reverse_ours(const unsigned char secret[SRS_SECRET_LEN],
    const char *srs_domain, const char *addr, time_t now, char *out,
    size_t size, const char **error_r)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL || !srs_is_srs(addr) ||
	    strcasecmp(at + 1, srs_domain) != 0)
		return 0;
	return srs_reverse(secret, addr, now, out, size, error_r) < 0 ? -1 : 1;
}

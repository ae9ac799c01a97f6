/*
 * dane - the TLSA usability filter of RFC 7672 3.1.
 */
#include <stdlib.h>
#include <string.h>

#include "core/xmalloc.h"
#include "dane.h"

bool
dane_tlsa_usable(const struct dns_tlsa *t)
{
	if (t->usage != DANE_USAGE_DANE_TA && t->usage != DANE_USAGE_DANE_EE)
		return false;
	if (t->selector > 1 || t->data == NULL || t->len == 0)
		return false;
	switch (t->mtype) {
	case 0:		/* Full: a DER certificate or SubjectPublicKeyInfo */
		return true;
	case 1:		/* SHA2-256 */
		return t->len == 32;
	case 2:		/* SHA2-512 */
		return t->len == 64;
	default:
		return false;
	}
}

size_t
dane_tlsa_filter(const struct dns_tlsa *in, size_t n, struct dns_tlsa **out_r)
{
	struct dns_tlsa *out = NULL;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char *d;

		if (!dane_tlsa_usable(&in[i]))
			continue;
		out = xgrowarray(out, k, sizeof(*out));
		out[k] = in[i];
		d = xmalloc(in[i].len);
		memcpy(d, in[i].data, in[i].len);
		out[k].data = d;
		k++;
	}
	*out_r = out;
	return k;
}

void
dane_tlsa_free(struct dns_tlsa *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((void *)t[i].data);
	free(t);
}

const char *
dane_usage_name(unsigned u)
{
	static const char *const names[] = {
		"PKIX-TA", "PKIX-EE", "DANE-TA", "DANE-EE",
	};

	return u < 4 ? names[u] : "usage unknown";
}

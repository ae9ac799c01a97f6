/*
 * dns - asynchronous DNS lookups (libunbound, DNSSEC-validating).
 *
 * dns_lookup() may be called on any I/O thread; the callback runs later on
 * the same thread with a decoded answer, valid only during the callback.
 * Code that evaluates DNS data (SPF, DMARC, DKIM keys, MX choice, DANE)
 * takes a struct dns_resolver (a function and its context) rather than
 * calling dns_lookup() directly, so unit tests can answer from tables.
 */
#ifndef POSTHORN_DNS_H
#define POSTHORN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* RR types (RFC 1035, 3596, 6698). */
#define DNS_T_A		1
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_TLSA	52

enum dns_status {
	DNS_OK = 0,		/* records present */
	DNS_NODATA,		/* the name exists, no records of the type */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_TEMPFAIL,		/* SERVFAIL, timeout, network: try later */
	DNS_BOGUS,		/* DNSSEC validation failed */
};

struct dns_mx {
	uint16_t pref;
	char	 name[256];	/* lower case, no trailing dot; "" = null MX */
};

struct dns_tlsa {
	uint8_t	 usage;
	uint8_t	 selector;
	uint8_t	 mtype;
	size_t	 len;
	const unsigned char *data;
};

struct dns_answer {
	enum dns_status	 status;
	bool		 secure;	/* validated by DNSSEC */
	uint32_t	 ttl;
	int		 type;
	size_t		 n;		/* records of the type asked for */
	/* TXT: each record's character-strings joined (may hold NUL). */
	const char	**txt;
	size_t		*txt_len;
	struct dns_mx	*mx;		/* MX, sorted by preference */
	struct sockaddr_storage *addr;	/* A, AAAA (port 0) */
	char		**names;	/* PTR */
	struct dns_tlsa	*tlsa;
	const char	*error;		/* why, for logs (TEMPFAIL, BOGUS) */
	/*
	 * When the name asked for is an alias: the name at the end of its
	 * CNAME chain (lower case, no trailing dot), else "".
	 */
	char		 canon[256];
};

typedef void dns_cb(void *ctx, const struct dns_answer *);

/* A resolver: the real one (dns_real_resolver) or a table in tests. */
struct dns_resolver {
	void	(*lookup)(void *impl, const char *name, int type, dns_cb *,
		    void *ctx);
	void	*impl;
};

extern const struct dns_resolver dns_real_resolver;

/*
 * Starts the resolver: forwarders "ADDR[@PORT]" separated by commas (NULL
 * or "" means full recursion from the root), DNSSEC validation with the
 * root trust anchor or trust_anchor_file when given.  Must run on an I/O
 * thread (results are collected there).  Returns 0 or -1 with *error_r.
 */
int	 dns_init(const char *forwarders, const char *trust_anchor_file,
	    bool dnssec, const char **error_r);
void	 dns_shutdown(void);
/* On an I/O thread: the callback runs on the calling thread. */
void	 dns_lookup(const char *name, int type, dns_cb *, void *ctx);

/*
 * Decoding of rdata, exposed for tests: fills ans (records allocated with
 * dns_answer_free) from the rdata items of one RR type.
 */
int	 dns_answer_decode(struct dns_answer *, int type,
	    const unsigned char *const *rdata, const int *len, size_t n);
void	 dns_answer_free(struct dns_answer *);

#endif

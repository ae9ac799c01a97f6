/*
 * dkim - DomainKeys Identified Mail: signing and verifying (RFC 6376),
 * with rsa-sha256 (RFC 8301: rsa-sha1 is refused) and ed25519-sha256
 * (RFC 8463).
 *
 *	keys		dkim_key_generate(), dkim_signer_load(),
 *			dkim_signer_dns_txt(), dkim_signer_free()
 *	signing		dkim_sign(): relaxed/relaxed, oversigned From, To,
 *			Cc and Subject, the whole body hashed (no l=)
 *	verifying	dkim_verify_new(), dkim_verify_run(): an object that
 *			looks the keys up through a struct dns_resolver (all
 *			lookups at once) and reports once, by callback
 *	reporting	dkim_result_format(), dkim_results_format(): the
 *			RFC 8601 "dkim=" part of Authentication-Results
 *
 * The lower layers are exposed for the tests and for other modules:
 *	dkim_tags_*()		RFC 6376 3.2 tag=value lists (pure)
 *	dkim_body_canon_*()	body canonicalization, streamed (pure)
 *	dkim_header_canon()	header field canonicalization (pure)
 *	dkim_hdrs_*()		the header section, collected and split (pure)
 *	dkim_key_record_parse()	a key record (RFC 6376 3.6.1) to a public key
 *
 * A message is read from its spool with spool_pread() in chunks: the header
 * section is kept (at most DKIM_HDRS_MAX bytes), the body never is.
 *
 * Line endings: CRLF, a bare LF and a bare CR all end a line, both in the
 * header and in the body, and are hashed as CRLF.  That is what the
 * outbound SMTP path puts on the wire (smtp_dot_stuff() turns bare CR and
 * bare LF into CRLF), so a signature we make covers the bytes that leave.
 */
#ifndef POSTHORN_DKIM_H
#define POSTHORN_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"

struct spool;
struct dns_resolver;
struct evp_pkey_st;		/* OpenSSL's EVP_PKEY */

/* Limits. */
#define DKIM_MAX_SIGS		5	/* signatures evaluated per message */
#define DKIM_TAGS_MAX		48	/* tags in one tag-list */
#define DKIM_TAGLIST_MAX	((size_t)32 * 1024)	/* tag-list bytes */
#define DKIM_H_MAX		256	/* names in h= */
#define DKIM_HDRS_MAX		((size_t)512 * 1024)	/* bytes of headers */
#define DKIM_FIELDS_MAX		4096	/* header fields */
#define DKIM_RSA_MIN_BITS	1024	/* RFC 8301 section 3.2 */
#define DKIM_RSA_MAX_BITS	8192
#define DKIM_KEY_RECORD_MAX	8192	/* bytes of a key TXT record */
#define DKIM_B_MAX		1400	/* base64 of an 8192-bit signature */
#define DKIM_I_MAX		512

enum dkim_alg {
	DKIM_RSA_SHA256,
	DKIM_ED25519_SHA256,
};

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

/* "rsa-sha256", "ed25519-sha256". */
const char *dkim_alg_name(enum dkim_alg);

/*
 * Tag lists (RFC 6376 3.2): tag-spec *(";" tag-spec) [";"], each tag-spec
 * [FWS] name [FWS] "=" [FWS] value [FWS].  Names are case-sensitive, start
 * with a letter and go on with letters, digits and '_'.  Values are runs of
 * VALCHAR (printable ASCII but ';'; bytes >= 0x80 are let through, for
 * UTF-8 in i=, RFC 8616) separated by white space or folding (CRLF or a
 * bare LF followed by WSP).  A duplicate name, an empty tag-spec (";;"),
 * a control character, a CR or LF that does not fold, more than
 * DKIM_TAGS_MAX tags or more than DKIM_TAGLIST_MAX bytes are errors.
 */
struct dkim_tag {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* without the FWS around it */
	size_t		 value_len;	/* may hold inner FWS (b=, h=) */
	size_t		 raw_start;	/* offset just after the '=' */
	size_t		 raw_end;	/* offset of the ';' or the end */
};

struct dkim_taglist {
	size_t		 n;
	struct dkim_tag	 tag[DKIM_TAGS_MAX];
};

/*
 * Parse len bytes; the tags point into the input, which must outlive the
 * list.  Returns 0, or -1 with *error_r (a static string).
 */
int	 dkim_tags_parse(const char *, size_t, struct dkim_taglist *,
	    const char **error_r);
/* The tag of that name, or NULL. */
const struct dkim_tag *dkim_tags_find(const struct dkim_taglist *,
	    const char *name);
/*
 * The next item of a ':'-separated value (h=, q=, key h=, s=, t=), with
 * the FWS around it removed.  *pos starts at 0.  Returns 1 with the item
 * (possibly empty), 0 at the end.
 */
int	 dkim_tags_item(const char *, size_t, size_t *pos, const char **item,
	    size_t *item_len);
/*
 * Base64 with FWS inside (b=, bh=, p=): white space and line breaks are
 * removed, the rest must be strict base64.  Appends to out; returns 0 or
 * -1 (out unchanged).
 */
int	 dkim_b64_decode(const char *, size_t, struct buf *out);

/*
 * Body canonicalization (RFC 6376 3.4.3, 3.4.4), streamed: feed() takes
 * chunks cut anywhere (even between CR and LF) and hands the canonical
 * body to out(ctx, ...) in pieces; finish() ends it.  Empty lines at the
 * end are held back until something else follows them, so only a few
 * counters are kept.  The empty body is "\r\n" (simple) or "" (relaxed).
 * When limit is not UINT64_MAX only the first `limit` bytes are passed on
 * (l=); `total` counts all of them.
 */
struct dkim_body_canon {
	enum dkim_canon	 canon;
	void		(*out)(void *ctx, const void *, size_t);
	void		*ctx;
	uint64_t	 limit;
	uint64_t	 total;		/* canonical bytes produced */
	uint64_t	 crlfs;		/* line ends not yet written */
	bool		 wsp;		/* relaxed: white space held back */
	bool		 cr;		/* a CR; the next byte decides */
	bool		 content;	/* anything but empty lines so far */
	size_t		 olen;
	unsigned char	 obuf[512];
};

void	 dkim_body_canon_init(struct dkim_body_canon *, enum dkim_canon,
	    uint64_t limit, void (*out)(void *, const void *, size_t),
	    void *ctx);
void	 dkim_body_canon_feed(struct dkim_body_canon *, const void *, size_t);
void	 dkim_body_canon_finish(struct dkim_body_canon *);

/*
 * Header canonicalization (RFC 6376 3.4.1, 3.4.2) of one raw field (name,
 * colon, value with its folding, no final line end), appended to out with
 * a CRLF.  simple keeps the bytes but writes every line end as CRLF;
 * relaxed lowercases the name, unfolds, makes white space runs one SP and
 * removes white space at the ends of the value and around the colon.
 */
void	 dkim_header_canon(enum dkim_canon, const char *, size_t,
	    struct buf *out);

/*
 * The header section, collected from chunks and split into fields.
 *	dkim_hdrs_init(&h);
 *	while (... (r = dkim_hdrs_feed(&h, p, n, &used)) == 0) ...;
 *	dkim_hdrs_finish(&h);	(at 1, or at the end of the message)
 * feed() returns 0 when it wants more (all was used), 1 at the empty line
 * ending the section (*used counts the bytes up to and with it; the rest
 * is body), -1 when the section passes DKIM_HDRS_MAX bytes.  finish()
 * splits what was collected into fields (a line starting with SP or HTAB
 * continues the field above) and returns 0, or -1 past DKIM_FIELDS_MAX
 * fields.
 */
struct dkim_field {
	size_t		 off;		/* in raw */
	size_t		 len;		/* up to its last line end */
	size_t		 name_len;	/* before ':' minus trailing WSP */
	bool		 has_colon;
};

struct dkim_hdrs {
	struct buf	 raw;		/* the section without its empty line */
	struct dkim_field *f;
	size_t		 n;
	size_t		 line_len;	/* private: bytes in the current line */
	bool		 cr;		/* private */
	bool		 done;
};

void	 dkim_hdrs_init(struct dkim_hdrs *);
int	 dkim_hdrs_feed(struct dkim_hdrs *, const char *, size_t,
	    size_t *used);
int	 dkim_hdrs_finish(struct dkim_hdrs *);
void	 dkim_hdrs_free(struct dkim_hdrs *);
/* Field i's name equals (ASCII case-insensitive) the given one. */
bool	 dkim_hdrs_is(const struct dkim_hdrs *, size_t i, const char *,
	    size_t);

/*
 * The header part of the signed data (RFC 6376 5.4.2): for each of the n
 * names (in h= order) the last field of that name not used yet,
 * canonicalized; a name with no field left adds nothing.  Appended to out.
 */
struct dkim_name {
	const char	*p;
	size_t		 len;
};

void	 dkim_hash_headers(const struct dkim_hdrs *, enum dkim_canon,
	    const struct dkim_name *, size_t n, struct buf *out);

/*
 * Reads the header section of a message from its spool (at offset 0) into
 * h (initialized by the caller, finished here).  *body_off_r is where the
 * body starts (the message size when there is none).  Returns 0, -1 with
 * *error_r on a read error, or -2 with *error_r when the section is over
 * DKIM_HDRS_MAX bytes or DKIM_FIELDS_MAX fields.
 */
int	 dkim_read_header(const struct spool *, struct dkim_hdrs *,
	    uint64_t *body_off_r, const char **error_r);
/*
 * Hands the message from off to its end to feed(ctx, ...) in chunks of at
 * most 64 KiB.  Returns 0, or -1 with *error_r on a read error.
 */
int	 dkim_read_body(const struct spool *, uint64_t off,
	    void (*feed)(void *, const char *, size_t), void *ctx,
	    const char **error_r);

/*
 * Keys.
 *
 * dkim_key_generate() makes a new key (RSA 2048 or Ed25519), writes it as
 * PKCS#8 PEM to a new file (mode 0600; an existing file is an error, so a
 * key is never overwritten by accident) and appends its DNS record text to
 * dns_txt_out: "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or
 * "v=DKIM1; k=ed25519; p=<base64 of the 32-byte key>".  The RSA text is
 * longer than 255 bytes: in a zone file it goes as several strings.
 * Returns 0 or -1 with *error_r.
 */
int	 dkim_key_generate(enum dkim_alg, const char *private_pem_path,
	    struct buf *dns_txt_out, const char **error_r);

struct dkim_signer;

/*
 * Loads a PEM private key (RSA of DKIM_RSA_MIN_BITS..DKIM_RSA_MAX_BITS
 * bits, or Ed25519) for signing as d=domain s=selector; both are checked
 * and lower-cased.  Returns a signer (free with dkim_signer_free()) or NULL
 * with *error_r.
 */
struct dkim_signer *dkim_signer_load(const char *domain,
	    const char *selector, const char *pem_path, const char **error_r);
void	 dkim_signer_free(struct dkim_signer **);
enum dkim_alg dkim_signer_alg(const struct dkim_signer *);
/* Lower case, valid while the signer lives. */
const char *dkim_signer_domain(const struct dkim_signer *);
const char *dkim_signer_selector(const struct dkim_signer *);
/* Appends the key's DNS record text, as dkim_key_generate() does. */
void	 dkim_signer_dns_txt(const struct dkim_signer *, struct buf *out);
/*
 * The signature primitive: appends the base64 signature of the signed
 * data (rsa-sha256: PKCS#1 v1.5 over SHA-256; ed25519-sha256: Ed25519 of
 * the SHA-256 hash).  Returns 0 or -1 with *error_r.
 */
int	 dkim_signer_sign(const struct dkim_signer *, const void *, size_t,
	    struct buf *sig_out, const char **error_r);
/* Its counterpart with a public key: 1 when sig matches, else 0. */
int	 dkim_key_verify(struct evp_pkey_st *, enum dkim_alg, const void *,
	    size_t, const void *sig, size_t siglen);

/* d= syntax: an ASCII domain; a selector: labels of [A-Za-z0-9_-]. */
bool	 dkim_domain_valid(const char *, size_t);
bool	 dkim_selector_valid(const char *, size_t);

/*
 * Signs the message in the spool (header and body, as they will be sent)
 * and appends the complete "DKIM-Signature: ...\r\n" field, folded at 78
 * columns, to header_out: the caller puts it before the message.  h= names
 * From (required: no From is an error), To, Cc, Subject, Date, Message-ID,
 * In-Reply-To, References, MIME-Version, Content-Type,
 * Content-Transfer-Encoding, Reply-To and every List-* field, each as
 * often as present, and From, To, Cc and Subject once more, so none can be
 * added later.  Returns 0, or -1 with *error_r.
 */
int	 dkim_sign(const struct dkim_signer *, const struct spool *,
	    time_t now, struct buf *header_out, const char **error_r);

/*
 * Verifying.
 */
enum dkim_result {
	DKIM_PASS,
	DKIM_FAIL,		/* the signature or the body do not match */
	DKIM_NEUTRAL,		/* a signature we cannot process (RFC 8601:
				   syntax errors, unsupported algorithm) */
	DKIM_TEMPERROR,		/* the key could not be fetched now */
	DKIM_PERMERROR,		/* no key, or an unusable key record */
};

enum dkim_reason {
	DKIM_R_OK,
	/* neutral */
	DKIM_R_SYNTAX,		/* the tag-list or a tag value */
	DKIM_R_VERSION,		/* v= is not 1 */
	DKIM_R_ALGORITHM,	/* a= not rsa-sha256 / ed25519-sha256 */
	DKIM_R_CANON,		/* c= unknown */
	DKIM_R_QUERY,		/* q= without dns/txt */
	DKIM_R_FROM_UNSIGNED,	/* h= without From */
	DKIM_R_DOMAIN,		/* i= outside d= */
	/* fail */
	DKIM_R_EXPIRED,		/* x= passed */
	DKIM_R_KEY_REVOKED,	/* p= empty */
	DKIM_R_STRICT,		/* key t=s but i= in a sub-domain */
	DKIM_R_BODY_SHORT,	/* l= longer than the body */
	DKIM_R_BODY_HASH,	/* bh= mismatch */
	DKIM_R_SIGNATURE,	/* b= mismatch */
	/* temperror */
	DKIM_R_KEY_TEMPFAIL,	/* DNS: SERVFAIL, timeout, DNSSEC bogus */
	DKIM_R_READ,		/* the spool could not be read */
	/* permerror */
	DKIM_R_KEY_MISSING,	/* NXDOMAIN, no TXT record */
	DKIM_R_KEY_SYNTAX,	/* the key record is malformed */
	DKIM_R_KEY_TYPE,	/* k= does not fit a= */
	DKIM_R_KEY_HASH,	/* key h= without sha256 */
	DKIM_R_KEY_SERVICE,	/* key s= without email or * */
	DKIM_R_KEY_SIZE,	/* RSA key out of range */
	DKIM_R_HEADER,		/* header section over the limits */
};

/*
 * The result a reason leads to, and the reason as text ("body hash
 * mismatch", a static string).
 */
enum dkim_result dkim_reason_result(enum dkim_reason);
const char *dkim_reason_text(enum dkim_reason);
/* "pass", "fail", "neutral", "temperror", "permerror". */
const char *dkim_result_name(enum dkim_result);

struct dkim_sig_result {
	enum dkim_result result;
	enum dkim_reason reason;
	bool		 alg_known;
	enum dkim_alg	 alg;
	char		 d[254];	/* lower case; "" when unusable */
	char		 s[254];	/* "" when unusable */
	char		 i[DKIM_I_MAX];	/* i= as given, "" when absent */
	char		 b[DKIM_B_MAX];	/* b= without white space */
	bool		 has_l;		/* l= present: only l bytes signed */
	uint64_t	 l;
	bool		 has_t, has_x;
	uint64_t	 t, x;
	bool		 testing;	/* key t=y */
	unsigned	 key_bits;
};

struct dkim_results {
	size_t		 n;		/* signatures evaluated, top first */
	size_t		 ignored;	/* more than DKIM_MAX_SIGS */
	struct dkim_sig_result sig[DKIM_MAX_SIGS];
};

/*
 * A verification of one message.  dkim_verify_run() reads the header,
 * checks up to DKIM_MAX_SIGS DKIM-Signature fields, starts one key lookup
 * per signature that needs one (resolver->lookup, all at once), hashes the
 * body (streamed from the spool) meanwhile, and calls done(ctx, results)
 * exactly once when every answer is in: possibly before dkim_verify_run()
 * returns (no signature, or a resolver that answers at once).  The
 * results are valid during the callback only; done may free the object.
 * The resolver struct is copied; its impl must outlive the lookups.
 * dkim_verify_free() may be called while lookups are still out: the
 * object then lives on until the last answer and done is not called.
 * One object verifies one message.
 *
 * results->n == 0: the message has no DKIM-Signature (dkim=none).  When
 * the header section cannot be read or is over the limits there is one
 * result without d= (DKIM_R_READ, temperror; DKIM_R_HEADER, permerror).
 * now is the time x= is compared with; now <= 0 skips that check.
 *
 * Result mapping (dkim_reason_result()): syntax errors and unsupported
 * algorithms, versions, canonicalizations and query methods are neutral,
 * as RFC 8601 2.7.1 defines it; expired, revoked, t=s, l= too long and
 * the two hash mismatches are fail; DNS failures temperror; missing or
 * unusable keys permerror.
 */
struct dkim_verify;

struct dkim_verify *dkim_verify_new(const struct dns_resolver *);
void	 dkim_verify_run(struct dkim_verify *, const struct spool *,
	    time_t now, void (*done)(void *ctx, const struct dkim_results *),
	    void *ctx);
void	 dkim_verify_free(struct dkim_verify **);

/*
 * Appends the RFC 8601 result of signature i, e.g.
 *	dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256
 *	    header.b=ABCDEFGH
 *	dkim=fail reason="body hash mismatch" header.d=... header.b=...
 * header.b is the first 8 characters of b= (RFC 6008), more when another
 * signature of the message starts the same way; a value with characters
 * outside a MIME token is quoted.  Unusable d=, s= or a= are left out.
 */
void	 dkim_result_format(const struct dkim_results *, size_t i,
	    struct buf *out);
/* All of them joined by "; ", or "dkim=none" when there is no signature. */
void	 dkim_results_format(const struct dkim_results *, struct buf *out);
/*
 * How many characters of sig[i].b header.b shows (0 without b=), for
 * callers that build the field with authres_format() instead.
 */
size_t	 dkim_result_b_prefix(const struct dkim_results *, size_t i);

/*
 * A key record (RFC 6376 3.6.1, RFC 8463): v=DKIM1 (optional, first), k=
 * rsa (default) or ed25519, p= (required; empty means revoked), h=
 * (must allow sha256), s= (email or *), t= flags y and s.  On success
 * *pkey_r holds the key (freed by the caller with EVP_PKEY_free()) and
 * returns 0; otherwise -1 with *reason_r
 * (DKIM_R_KEY_SYNTAX, _KEY_TYPE, _KEY_HASH, _KEY_SERVICE, _KEY_SIZE,
 * _KEY_REVOKED).  alg is the signature's algorithm the key must fit.
 */
struct dkim_key_info {
	bool		 testing;	/* t=y */
	bool		 strict;	/* t=s */
	unsigned	 bits;
};

int	 dkim_key_record_parse(const char *, size_t, enum dkim_alg,
	    struct evp_pkey_st **pkey_r, struct dkim_key_info *,
	    enum dkim_reason *reason_r);

#endif

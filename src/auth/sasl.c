/*
 * sasl - server-side SASL mechanisms and the driver around them.
 *
 * The driver (sasl_server_step) deals with the wire forms: the length
 * limit, "*" for cancel, "=" for an empty initial response, strict base64
 * (RFC 4422 section 3: no whitespace, canonical padding).  A mechanism sees
 * only decoded bytes and a flag saying whether there were any, and answers
 * with a raw challenge.  Every buffer that held a decoded response is
 * wiped, and the whole struct sasl_server (credentials included) is wiped
 * before it is freed.
 *
 * SCRAM-SHA-256 is the one mechanism that needs the account's stored
 * secret in mid-exchange: its first step returns SASL_STEP_NEED_CREDS and
 * parks the exchange (need_creds) until the caller hands the credentials
 * to sasl_server_set_scram().  The message syntax and the cryptography
 * live in auth/scram.c; this file applies the same identity rules as for
 * PLAIN and LOGIN, and keeps the order of the steps.
 */
#include <string.h>
#include <strings.h>

#include "auth/base64.h"
#include "auth/sasl.h"
#include "auth/scram.h"
#include "core/buf.h"
#include "core/xmalloc.h"

struct sasl_mech {
	const char	*name;
	bool		 plaintext;	/* the password crosses the wire */
	/*
	 * One step.  in/len is the decoded response ("" when empty);
	 * have_input is false only on a first step without initial
	 * response.  Writes a raw challenge to chal for CONTINUE and sets
	 * s->error for ERROR.
	 */
	int		(*step)(struct sasl_server *s, const char *in,
			    size_t len, bool have_input, struct buf *chal);
};

struct sasl_server {
	const struct sasl_mech	*mech;
	unsigned		 nsteps;	/* completed steps */
	int			 state;		/* the mechanism's */
	bool			 finished;
	bool			 have_creds;
	const char		*error;
	struct sasl_creds	 creds;

	/* SCRAM-SHA-256 only. */
	struct scram_server	*scram;
	bool			 need_creds;	/* NEED_CREDS returned */
	bool			 authenticated;	/* the proof verified */
	bool			 have_secret;
	unsigned char		 secret[SCRAM_SECRET_LEN];
};

static int	mech_plain_step(struct sasl_server *, const char *, size_t,
		    bool, struct buf *);
static int	mech_login_step(struct sasl_server *, const char *, size_t,
		    bool, struct buf *);
static int	mech_scram_step(struct sasl_server *, const char *, size_t,
		    bool, struct buf *);

/* In the order sasl_mech_list() advertises them: the strongest first. */
static const struct sasl_mech sasl_mechs[] = {
	{ "SCRAM-SHA-256", false, mech_scram_step },
	{ "PLAIN", true, mech_plain_step },
	{ "LOGIN", true, mech_login_step },
};

#define NMECHS	(sizeof(sasl_mechs) / sizeof(sasl_mechs[0]))

/* RFC 3629 well-formed UTF-8. */
static bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i], lo = 0x80, hi = 0xbf;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

/* An authentication or authorization identity: it will be logged. */
static bool
identity_ok(const char *s, size_t len, bool may_be_empty)
{
	if (len == 0)
		return may_be_empty;
	if (len > SASL_FIELD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return utf8_valid((const unsigned char *)s, len);
}

static bool
passwd_ok(const char *s, size_t len)
{
	return len > 0 && len <= SASL_FIELD_MAX && memchr(s, '\0', len) == NULL;
}

static void
field_set(char dst[SASL_FIELD_MAX + 1], const char *s, size_t len)
{
	memcpy(dst, s, len);
	dst[len] = '\0';
}

void
sasl_creds_wipe(struct sasl_creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

int
sasl_plain_decode(const char *msg, size_t len, struct sasl_creds *out)
{
	const char *nul1, *nul2;
	size_t zlen, clen, plen;

	sasl_creds_wipe(out);
	if (len == 0 || (nul1 = memchr(msg, '\0', len)) == NULL)
		return -1;
	zlen = (size_t)(nul1 - msg);
	nul2 = memchr(nul1 + 1, '\0', len - zlen - 1);
	if (nul2 == NULL)
		return -1;
	clen = (size_t)(nul2 - nul1 - 1);
	plen = len - zlen - clen - 2;
	if (!identity_ok(msg, zlen, true) ||
	    !identity_ok(nul1 + 1, clen, false) ||
	    !passwd_ok(nul2 + 1, plen))
		return -1;
	field_set(out->authzid, msg, zlen);
	field_set(out->authcid, nul1 + 1, clen);
	field_set(out->passwd, nul2 + 1, plen);
	return 0;
}

bool
sasl_creds_authz_differs(const struct sasl_creds *c)
{
	return c->authzid[0] != '\0' && strcmp(c->authzid, c->authcid) != 0;
}

/*
 * PLAIN: one message.  Without an initial response the server sends an
 * empty challenge first.
 */
static int
mech_plain_step(struct sasl_server *s, const char *in, size_t len,
    bool have_input, struct buf *chal)
{
	if (!have_input)
		return SASL_STEP_CONTINUE;
	if (sasl_plain_decode(in, len, &s->creds) < 0) {
		s->error = "malformed PLAIN message";
		return SASL_STEP_ERROR;
	}
	return SASL_STEP_DONE;
}

/*
 * LOGIN: "Username:" then "Password:".  Clients that send the user name as
 * initial response ("AUTH LOGIN dXNlcg==", Outlook does) skip the first
 * challenge.
 */
enum {
	LOGIN_START = 0,
	LOGIN_WANT_USER,
	LOGIN_WANT_PASS,
};

static int
mech_login_step(struct sasl_server *s, const char *in, size_t len,
    bool have_input, struct buf *chal)
{
	switch (s->state) {
	case LOGIN_START:
		if (!have_input) {
			buf_puts(chal, "Username:");
			s->state = LOGIN_WANT_USER;
			return SASL_STEP_CONTINUE;
		}
		/* FALLTHROUGH */
	case LOGIN_WANT_USER:
		if (!identity_ok(in, len, false)) {
			s->error = "malformed LOGIN user name";
			return SASL_STEP_ERROR;
		}
		field_set(s->creds.authcid, in, len);
		buf_puts(chal, "Password:");
		s->state = LOGIN_WANT_PASS;
		return SASL_STEP_CONTINUE;
	case LOGIN_WANT_PASS:
		if (!passwd_ok(in, len)) {
			s->error = "malformed LOGIN password";
			return SASL_STEP_ERROR;
		}
		field_set(s->creds.passwd, in, len);
		return SASL_STEP_DONE;
	}
	s->error = "LOGIN state machine broken";
	return SASL_STEP_ERROR;
}

/*
 * SCRAM-SHA-256: client-first, (credentials from the caller), client-final,
 * then the client's empty answer to the server-final message.  Without an
 * initial response the server sends an empty challenge first.
 */
enum {
	SCRAM_START = 0,
	SCRAM_WANT_FINAL,
	SCRAM_WANT_ACK,
};

static int
mech_scram_step(struct sasl_server *s, const char *in, size_t len,
    bool have_input, struct buf *chal)
{
	const char *authcid, *authzid, *err;

	switch (s->state) {
	case SCRAM_START:
		if (!have_input)
			return SASL_STEP_CONTINUE;
		if (scram_server_client_first(s->scram, in, len, &err) < 0) {
			s->error = err;
			return SASL_STEP_ERROR;
		}
		authcid = scram_server_authcid(s->scram);
		authzid = scram_server_authzid(s->scram);
		if (!identity_ok(authcid, strlen(authcid), false) ||
		    !identity_ok(authzid, strlen(authzid), true)) {
			s->error = "malformed SCRAM user name";
			return SASL_STEP_ERROR;
		}
		field_set(s->creds.authcid, authcid, strlen(authcid));
		field_set(s->creds.authzid, authzid, strlen(authzid));
		s->state = SCRAM_WANT_FINAL;
		return SASL_STEP_NEED_CREDS;
	case SCRAM_WANT_FINAL:
		if (scram_server_client_final(s->scram, in, len, chal,
		    &err) < 0) {
			s->error = err;
			return SASL_STEP_ERROR;
		}
		s->authenticated = true;
		s->state = SCRAM_WANT_ACK;
		return SASL_STEP_CONTINUE;
	case SCRAM_WANT_ACK:
		/* RFC 5802 section 5: the client answers v= with nothing. */
		if (len != 0) {
			s->error = "unexpected data after SCRAM server-final "
			    "message";
			return SASL_STEP_ERROR;
		}
		return SASL_STEP_DONE;
	}
	s->error = "SCRAM state machine broken";
	return SASL_STEP_ERROR;
}

static const struct sasl_mech *
mech_find(const char *name)
{
	for (size_t i = 0; i < NMECHS; i++)
		if (strcasecmp(sasl_mechs[i].name, name) == 0)
			return &sasl_mechs[i];
	return NULL;
}

bool
sasl_mech_supported(const char *name)
{
	return mech_find(name) != NULL;
}

bool
sasl_mech_is_plaintext(const char *name)
{
	const struct sasl_mech *m = mech_find(name);

	return m != NULL && m->plaintext;
}

/* Non-plaintext mechanisms are listed whatever plaintext_ok says. */
void
sasl_mech_list(struct buf *out, bool plaintext_ok)
{
	bool first = true;

	for (size_t i = 0; i < NMECHS; i++) {
		if (sasl_mechs[i].plaintext && !plaintext_ok)
			continue;
		if (!first)
			buf_putc(out, ' ');
		buf_puts(out, sasl_mechs[i].name);
		first = false;
	}
}

struct sasl_server *
sasl_server_new(const char *mech_name)
{
	const struct sasl_mech *m = mech_find(mech_name);
	struct sasl_server *s;

	if (m == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->mech = m;
	if (m->step == mech_scram_step)
		s->scram = scram_server_new();
	return s;
}

void
sasl_server_set_scram_secret(struct sasl_server *s,
    const unsigned char secret[SCRAM_SECRET_LEN])
{
	if (s->scram == NULL)
		return;
	memcpy(s->secret, secret, SCRAM_SECRET_LEN);
	s->have_secret = true;
}

int
sasl_server_set_test_nonce(struct sasl_server *s, const char *nonce)
{
	if (s->scram == NULL || s->finished)
		return -1;
	return scram_server_set_nonce(s->scram, nonce);
}

/* End the exchange with an error; a verified proof no longer counts. */
static int
server_fail(struct sasl_server *s, const char *error)
{
	s->finished = true;
	s->need_creds = false;
	s->authenticated = false;
	s->error = error;
	return SASL_STEP_ERROR;
}

int
sasl_server_step(struct sasl_server *s, const char *b64, size_t len,
    struct buf *challenge_b64_out)
{
	struct buf raw = BUF_INIT, chal = BUF_INIT;
	bool have_input = true;
	int ret;

	if (s->finished) {
		s->error = "exchange already finished";
		return SASL_STEP_ERROR;
	}
	s->error = NULL;
	if (s->need_creds)
		return server_fail(s, "client response while waiting for "
		    "credentials");
	if (b64 == NULL) {
		if (s->nsteps > 0)
			return server_fail(s, "missing client response");
		have_input = false;
	} else if (len == 1 && b64[0] == '*') {
		s->finished = true;
		s->authenticated = false;
		return SASL_STEP_CANCELLED;
	} else if (len == 1 && b64[0] == '=') {
		/* RFC 4954 / 4959: an empty (initial) response. */
	} else if (len > SASL_RESPONSE_MAX) {
		return server_fail(s, "client response too long");
	} else if (base64_decode(b64, len, &raw) < 0) {
		buf_free_secret(&raw);
		return server_fail(s, "invalid base64 in client response");
	}

	s->nsteps++;
	ret = s->mech->step(s, raw.data != NULL ? raw.data : "", raw.len,
	    have_input, &chal);
	buf_free_secret(&raw);
	switch (ret) {
	case SASL_STEP_CONTINUE:
		base64_encode(chal.data, chal.len, challenge_b64_out);
		break;
	case SASL_STEP_NEED_CREDS:
		s->have_creds = true;
		s->need_creds = true;
		break;
	case SASL_STEP_DONE:
		s->have_creds = true;
		s->finished = true;
		break;
	default:
		s->finished = true;
		s->authenticated = false;
		break;
	}
	buf_free(&chal);
	return ret;
}

int
sasl_server_set_scram(struct sasl_server *s, const struct scram_creds *creds,
    struct buf *challenge_b64_out)
{
	struct scram_creds fake;
	struct buf raw = BUF_INIT;
	const char *err;
	int r;

	if (s->finished) {
		s->error = "exchange already finished";
		return SASL_STEP_ERROR;
	}
	if (!s->need_creds)
		return server_fail(s, "SCRAM credentials not expected now");
	s->need_creds = false;
	s->error = NULL;
	if (creds == NULL) {
		if (!s->have_secret)
			return server_fail(s, "no secret for unknown SCRAM "
			    "users");
		scram_creds_fake(s->creds.authcid, s->secret, &fake);
		creds = &fake;
	}
	r = scram_server_first(s->scram, creds, &raw, &err);
	if (creds == &fake)
		scram_creds_wipe(&fake);
	if (r < 0) {
		buf_free(&raw);
		return server_fail(s, err);
	}
	base64_encode(raw.data, raw.len, challenge_b64_out);
	buf_free(&raw);
	return SASL_STEP_CONTINUE;
}

bool
sasl_server_authenticated(const struct sasl_server *s)
{
	return s->authenticated;
}

const struct sasl_creds *
sasl_server_creds(const struct sasl_server *s)
{
	return s->have_creds ? &s->creds : NULL;
}

const char *
sasl_server_mech(const struct sasl_server *s)
{
	return s->mech->name;
}

const char *
sasl_server_error(const struct sasl_server *s)
{
	return s->error;
}

void
sasl_server_free(struct sasl_server **sp)
{
	struct sasl_server *s = *sp;

	if (s == NULL)
		return;
	scram_server_free(&s->scram);
	xfree_secret(s, sizeof(*s));
	*sp = NULL;
}

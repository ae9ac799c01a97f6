/*
 * fuzz_sasl - SASL exchanges (auth/sasl.h: PLAIN, LOGIN and, through
 * auth/scram.h, SCRAM-SHA-256) and the base64 codecs under them
 * (auth/base64.h).
 *
 * Input: an AUTH exchange as a client sends it.  The first line is
 * "MECH [initial-response]" (no SP: no initial response), each further
 * line one client response (lines end at LF, a CR before it dropped).
 * The whole input is also fed to the codecs and to sasl_plain_decode().
 * SCRAM runs with a fixed secret and the test nonce "fuzznonce"; on
 * NEED_CREDS the user "user" gets real credentials (password "pencil",
 * salt FUZZ_SALT, 4096 iterations, made once), anyone else the stand-in
 * ones, so a seed with a precomputed proof reaches the server-final path.
 * Checked:
 *  - sasl_server_new() exists exactly for sasl_mech_supported() names;
 *    sasl_server_mech() names it; only SCRAM is not plaintext, takes a
 *    test nonce and asks for credentials;
 *  - an exchange ends once: after DONE, ERROR or CANCELLED every step is
 *    an ERROR; CANCELLED only for "*"; ERROR always has a reason and
 *    clears sasl_server_authenticated(); PLAIN/LOGIN creds exist only
 *    after DONE and never authenticate; SCRAM is DONE only for "user"
 *    after a verified proof; challenges are strict base64;
 *  - credentials are NUL-terminated within SASL_FIELD_MAX, authcid and
 *    passwd non-empty; for PLAIN they equal sasl_plain_decode() of the
 *    decoded final response; LOGIN gives an empty authzid;
 *  - sasl_plain_decode() wipes its output on failure;
 *    sasl_creds_authz_differs() matches its definition;
 *  - base64: strict decoding accepts only the one canonical encoding
 *    (encode(decode(x)) == x) and leaves out as it was on failure;
 *    decode(encode(x)) == x for both decoders (MIME: clean, returns 0);
 *    base64_encoded_len() is the encoded length; the streamed MIME
 *    decoder fed in fuzzer-chosen chunks matches the one-shot one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "auth/base64.h"
#include "auth/sasl.h"
#include "core/buf.h"
#include "fuzz_common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PREFIX	"pre"
#define FUZZ_SALT	"fuzz-salt-16byte"

static void
check_creds(const struct sasl_creds *c)
{
	size_t z = strnlen(c->authzid, sizeof(c->authzid));
	size_t a = strnlen(c->authcid, sizeof(c->authcid));
	size_t p = strnlen(c->passwd, sizeof(c->passwd));

	FUZZ_CHECK(z <= SASL_FIELD_MAX && a <= SASL_FIELD_MAX &&
	    p <= SASL_FIELD_MAX, "field lengths %zu %zu %zu", z, a, p);
	FUZZ_CHECK(a > 0 && p > 0, "empty authcid or passwd");
	FUZZ_CHECK(sasl_creds_authz_differs(c) ==
	    (z > 0 && strcmp(c->authzid, c->authcid) != 0), "authz_differs");
}

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void
codecs(const char *in, size_t len, uint8_t control)
{
	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;
	struct base64_mime_state st;
	struct fuzz_chunker ch;
	int r1, r2;

	/* Strict decoding: one spelling per byte string. */
	buf_puts(&a, PREFIX);
	if (base64_decode(in, len, &a) == 0) {
		base64_encode(a.data + 3, a.len - 3, &b);
		FUZZ_CHECK(fuzz_mem_eq(b.data, b.len, in, len),
		    "strict decode accepted a non-canonical encoding");
	} else
		FUZZ_CHECK(a.len == 3 && memcmp(a.data, PREFIX, 3) == 0,
		    "failed strict decode changed the buffer");
	buf_reset(&a);
	buf_reset(&b);

	/* Encoding round trips through both decoders. */
	base64_encode(in, len, &a);
	FUZZ_CHECK(a.len == base64_encoded_len(len), "encoded_len %zu, got %zu",
	    base64_encoded_len(len), a.len);
	FUZZ_CHECK(base64_decode(a.data, a.len, &b) == 0 &&
	    fuzz_mem_eq(b.data, b.len, in, len), "strict round trip");
	buf_reset(&b);
	FUZZ_CHECK(base64_decode_mime(a.data, a.len, &b) == 0 &&
	    fuzz_mem_eq(b.data, b.len, in, len), "MIME round trip");
	buf_reset(&a);
	buf_reset(&b);

	/* The MIME decoder, one shot and streamed. */
	r1 = base64_decode_mime(in, len, &a);
	FUZZ_CHECK(r1 == 0 || r1 == 1, "decode_mime returned %d", r1);
	FUZZ_CHECK(a.len <= len / 4 * 3 + 3, "%zu bytes out of %zu", a.len,
	    len);
	base64_mime_init(&st);
	fuzz_chunker_init(&ch, control);
	for (size_t off = 0; off < len;) {
		size_t n = fuzz_chunker_next(&ch, len - off);

		base64_mime_feed(&st, in + off, n, &c);
		off += n;
	}
	r2 = base64_mime_finish(&st, &c);
	FUZZ_CHECK(r1 == r2 && fuzz_mem_eq(a.data, a.len, c.data, c.len),
	    "streamed MIME decoding differs (%d/%zu vs %d/%zu)", r2, c.len,
	    r1, a.len);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
}

/* The one account SCRAM knows: "user", password "pencil". */
static const struct scram_creds *
known_creds(void)
{
	static struct scram_creds creds;
	static bool made;

	if (!made) {
		FUZZ_CHECK(scram_creds_make_salt("pencil", FUZZ_SALT,
		    sizeof(FUZZ_SALT) - 1, SCRAM_ITER_MIN, &creds) == 0,
		    "scram_creds_make_salt");
		made = true;
	}
	return &creds;
}

/* The next client line, or NULL when the transcript is over. */
static const char *
next_line(const char **rest, size_t *rlen, size_t *len_r)
{
	const char *line = *rest, *lf;
	size_t n;

	if (line == NULL) {
		*len_r = 0;
		return NULL;
	}
	lf = memchr(line, '\n', *rlen);
	n = lf != NULL ? (size_t)(lf - line) : *rlen;
	*len_r = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
	if (lf != NULL) {
		*rlen -= n + 1;
		*rest = lf + 1;
	} else
		*rest = NULL;
	return line;
}

static void
exchange(const char *first, size_t flen, const char *rest, size_t rlen)
{
	static const unsigned char secret[SCRAM_SECRET_LEN] =
	    "fuzz-secret-fuzz-secret-fuzz-se";
	struct sasl_server *s;
	struct buf chal = BUF_INIT, dec = BUF_INIT;
	const char *sp = memchr(first, ' ', flen);
	size_t nlen = sp != NULL ? (size_t)(sp - first) : flen;
	char *name = malloc(nlen + 1);
	const char *resp;
	size_t resp_len;
	bool scram, was_auth = false;
	int ret;

	memcpy(name, first, nlen);
	name[nlen] = '\0';
	s = sasl_server_new(name);
	FUZZ_CHECK((s != NULL) == sasl_mech_supported(name),
	    "sasl_server_new and sasl_mech_supported disagree on '%s'", name);
	if (s == NULL) {
		free(name);
		return;
	}
	FUZZ_CHECK(strcasecmp(sasl_server_mech(s), name) == 0,
	    "mechanism '%s' for '%s'", sasl_server_mech(s), name);
	scram = strcmp(sasl_server_mech(s), "SCRAM-SHA-256") == 0;
	FUZZ_CHECK(sasl_mech_is_plaintext(name) == !scram, "is_plaintext");
	sasl_server_set_scram_secret(s, secret);
	FUZZ_CHECK((sasl_server_set_test_nonce(s, "fuzznonce") == 0) == scram,
	    "set_test_nonce");

	resp = sp != NULL ? sp + 1 : NULL;
	resp_len = sp != NULL ? flen - nlen - 1 : 0;
	ret = sasl_server_step(s, resp, resp_len, &chal);
	for (;;) {
		size_t before = chal.len;

		if (ret == SASL_STEP_NEED_CREDS) {
			const struct sasl_creds *c = sasl_server_creds(s);

			FUZZ_CHECK(scram, "NEED_CREDS from %s", name);
			FUZZ_CHECK(c != NULL && c->passwd[0] == '\0',
			    "NEED_CREDS without a user");
			FUZZ_CHECK(c->authcid[0] != '\0' && strnlen(c->authcid,
			    sizeof(c->authcid)) <= SASL_FIELD_MAX, "authcid");
			/* Stepping now would fail the exchange. */
			ret = sasl_server_set_scram(s, strcmp(c->authcid,
			    "user") == 0 ? known_creds() : NULL, &chal);
			FUZZ_CHECK(ret == SASL_STEP_CONTINUE ||
			    ret == SASL_STEP_ERROR, "set_scram returned %d", ret);
			continue;
		}
		if (ret != SASL_STEP_CONTINUE)
			break;
		if (!scram)
			FUZZ_CHECK(sasl_server_creds(s) == NULL,
			    "creds too early");
		buf_reset(&dec);
		FUZZ_CHECK(base64_decode(chal.len > before ? chal.data + before :
		    "", chal.len - before, &dec) == 0,
		    "challenge is not strict base64");
		if (sasl_server_authenticated(s))
			was_auth = true;
		resp = next_line(&rest, &rlen, &resp_len);
		before = chal.len;
		ret = sasl_server_step(s, resp, resp_len, &chal);
		if (ret != SASL_STEP_CONTINUE)
			FUZZ_CHECK(chal.len == before, "challenge with %d", ret);
	}
	if (!scram)
		FUZZ_CHECK(!sasl_server_authenticated(s) && !was_auth,
		    "%s authenticated", name);
	switch (ret) {
	case SASL_STEP_DONE: {
		const struct sasl_creds *c = sasl_server_creds(s);
		struct sasl_creds pc;

		FUZZ_CHECK(c != NULL, "DONE without creds");
		if (scram) {
			FUZZ_CHECK(sasl_server_authenticated(s) && was_auth,
			    "SCRAM done without a verified proof");
			FUZZ_CHECK(strcmp(c->authcid, "user") == 0,
			    "SCRAM done for '%s'", c->authcid);
			break;
		}
		check_creds(c);
		if (strcmp(sasl_server_mech(s), "PLAIN") == 0) {
			buf_reset(&dec);
			if (!(resp_len == 1 && resp[0] == '='))
				FUZZ_CHECK(base64_decode(resp, resp_len,
				    &dec) == 0, "PLAIN done on bad base64");
			FUZZ_CHECK(sasl_plain_decode(dec.data != NULL ?
			    dec.data : "", dec.len, &pc) == 0 &&
			    memcmp(&pc, c, sizeof(pc)) == 0,
			    "PLAIN creds differ from sasl_plain_decode");
			sasl_creds_wipe(&pc);
		} else
			FUZZ_CHECK(c->authzid[0] == '\0', "LOGIN authzid");
		break;
	}
	case SASL_STEP_ERROR:
		FUZZ_CHECK(sasl_server_error(s) != NULL, "ERROR without reason");
		FUZZ_CHECK(!sasl_server_authenticated(s),
		    "still authenticated after an error");
		if (!scram)
			FUZZ_CHECK(sasl_server_creds(s) == NULL,
			    "creds after ERROR");
		break;
	case SASL_STEP_CANCELLED:
		FUZZ_CHECK(resp != NULL && resp_len == 1 && resp[0] == '*',
		    "CANCELLED without '*'");
		FUZZ_CHECK(!sasl_server_authenticated(s),
		    "still authenticated after cancel");
		if (!scram)
			FUZZ_CHECK(sasl_server_creds(s) == NULL,
			    "creds after cancel");
		break;
	default:
		FUZZ_CHECK(false, "step returned %d", ret);
	}
	/* The exchange is over. */
	FUZZ_CHECK(sasl_server_step(s, "=", 1, &chal) == SASL_STEP_ERROR,
	    "step after the end");
	FUZZ_CHECK(sasl_server_step(s, "*", 1, &chal) == SASL_STEP_ERROR,
	    "cancel after the end");
	sasl_server_free(&s);
	FUZZ_CHECK(s == NULL, "sasl_server_free");
	buf_free(&chal);
	buf_free_secret(&dec);
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *lf = memchr(in, '\n', size);
	size_t flen = lf != NULL ? (size_t)(lf - in) : size;
	struct sasl_creds c;
	struct buf list = BUF_INIT;

	codecs(in, size, size > 0 ? data[size - 1] : 0);

	memset(&c, 0x5a, sizeof(c));
	if (sasl_plain_decode(in, size, &c) == 0)
		check_creds(&c);
	else
		FUZZ_CHECK(all_zero(&c, sizeof(c)), "failed decode not wiped");

	sasl_mech_list(&list, true);
	sasl_mech_list(&list, false);
	buf_free(&list);

	exchange(in, flen > 0 && in[flen - 1] == '\r' ? flen - 1 : flen,
	    lf != NULL ? lf + 1 : NULL, lf != NULL ? size - flen - 1 : 0);
	return 0;
}

/*
 * test_imap_sort - SORT ordering (RFC 5256 section 3, RFC 5957 DISPLAY),
 * the built-in casemap comparator and the index merge sort.
 *
 * The corpus was also loaded into Dovecot 2.3.19 (APPEND with the same
 * headers and INTERNALDATEs, then SORT (...) UTF-8 ALL for each program
 * in programs[]): every expected order is Dovecot's answer.  The
 * 100,000-message case prints its timing (not asserted).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/util.h"
#include "imap/imap_sort.h"

#define T0	((time_t)1000000000)
#define HOUR	3600
#define NODATE	INT_MIN

/* The sort programs the corpus answers were taken for, in order. */
static const char *const programs[] = {
	"ARRIVAL", "DATE", "SIZE", "SUBJECT", "FROM", "TO", "CC",
	"DISPLAYFROM", "DISPLAYTO", "REVERSE DATE", "SUBJECT REVERSE DATE",
	"REVERSE SUBJECT", "REVERSE ARRIVAL", "FROM SUBJECT",
};
#define NPROGRAMS	(sizeof(programs) / sizeof(programs[0]))

/*
 * A test message: base subject, dates in hours after T0, RFC822.SIZE,
 * the addr-mailbox of From/To/Cc and the RFC 5957 display strings.
 */
struct smsg {
	const char	*subject;
	int		 date;		/* NODATE: no usable Date: */
	int		 arrival;
	unsigned	 size;
	const char	*from;
	const char	*to;
	const char	*cc;
	const char	*dfrom;
	const char	*dto;
};

/* "Ärger Σοφία", "ärger σοφία", "ÄRGER ΣΟΦΊΑ" */
#define AERGER1	"\xc3\x84rger \xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1"
#define AERGER2	"\xc3\xa4rger \xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1"
#define AERGER3	"\xc3\x84RGER \xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91"

/*
 * The corpus: { base subject, sent date, INTERNALDATE, size, From, To,
 * Cc, display From, display To } with sequence numbers from 1, and
 * Dovecot's answers for each of programs[].
 */

/* Every key; "_" after the letters; missing values first. */
static const struct smsg s_sortkeys[] = {
	{ "Banana", 2, 1, 202, "Bob", "alice", "carol", "bob smith", "Alice" },
	{ "apple", 0, 2, 162, "alice", "Bob", NULL, "Alice", "bob smith" },
	{ "_under", 1, 0, 187, "_dave", "eve", "alice",
	    "Dave", "eve@example.com" },
	{ "apple", 1, 1, 148, "carol", NULL, "Bob", "carol@example.net", NULL },
	{ NULL, NODATE, 1, 118, "eve", "_dave", NULL,
	    "eve@example.com", "Dave" },
	{ "APPLE", 0, 0, 153, NULL, "carol", "_dave",
	    NULL, "carol@example.net" },
};

static const char *const x_sortkeys[] = {
	"3 6 1 4 5 2",
	"2 6 3 4 5 1",
	"5 4 6 2 3 1",
	"5 2 4 6 1 3",
	"6 2 1 4 5 3",
	"4 1 2 6 3 5",
	"2 5 3 4 1 6",
	"6 2 1 4 3 5",
	"4 1 2 6 5 3",
	"1 3 4 5 2 6",
	"5 4 2 6 1 3",
	"3 1 2 4 6 5",
	"2 1 4 5 3 6",
	"6 2 1 4 5 3",
};

/* Equal keys everywhere: sequence order, REVERSE or not. */
static const struct smsg s_sort_ties[] = {
	{ "same", 1, 0, 166, "zed", "mm", "zed", "Zed", "alpha" },
	{ "Same", 0, 0, 143, "Zed", "Alpha", "Zed",
	    "Zed@b.example", "Alpha@d.example" },
	{ "same", 1, 1, 143, "mm", "zed", NULL, "alpha", "Zed" },
	{ "same", 0, 0, 145, "Alpha", "Zed", "Alpha",
	    "Alpha@d.example", "Zed@b.example" },
	{ "SAME", 1, 1, 173, "zed", "zed", "mm", "Zed", "Zed" },
	{ "other", NODATE, 0, 93, "Zed", "mm", NULL, "Zed@b.example", "alpha" },
};

static const char *const x_sort_ties[] = {
	"1 2 4 6 3 5",
	"2 4 6 1 3 5",
	"6 2 3 4 1 5",
	"6 1 2 3 4 5",
	"4 3 1 2 5 6",
	"2 1 6 3 4 5",
	"3 6 4 5 1 2",
	"3 4 1 5 2 6",
	"1 6 2 3 5 4",
	"1 3 5 2 4 6",
	"6 1 3 5 2 4",
	"1 2 3 4 5 6",
	"3 5 1 2 4 6",
	"4 3 6 1 2 5",
};

/* Empty and missing subjects. */
static const struct smsg s_empty_subjects[] = {
	{ "", 0, 0, 73, NULL, NULL, NULL, NULL, NULL },
	{ "", 1, 0, 73, NULL, NULL, NULL, NULL, NULL },
	{ NULL, 2, 0, 62, NULL, NULL, NULL, NULL, NULL },
	{ "", 3, 0, 77, NULL, NULL, NULL, NULL, NULL },
	{ "x", 4, 0, 74, NULL, NULL, NULL, NULL, NULL },
};

static const char *const x_empty_subjects[] = {
	"1 2 3 4 5",
	"1 2 3 4 5",
	"3 1 2 5 4",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"5 4 3 2 1",
	"4 3 2 1 5",
	"5 1 2 3 4",
	"1 2 3 4 5",
	"1 2 3 4 5",
};

/* A missing Date: means INTERNALDATE. */
static const struct smsg s_dates[] = {
	{ "d1", NODATE, 5, 36, NULL, NULL, NULL, NULL, NULL },
	{ "d2", 4, 0, 75, NULL, NULL, NULL, NULL, NULL },
	{ "d3", 6, 0, 94, NULL, NULL, NULL, NULL, NULL },
	{ "d4", NODATE, 5, 55, NULL, NULL, NULL, NULL, NULL },
	{ "d5", 5, 0, 94, NULL, NULL, NULL, NULL, NULL },
	{ "d6", 4, 0, 75, NULL, NULL, NULL, NULL, NULL },
};

static const char *const x_dates[] = {
	"2 3 5 6 1 4",
	"2 6 1 4 5 3",
	"1 4 2 6 3 5",
	"1 2 3 4 5 6",
	"1 2 3 4 5 6",
	"1 2 3 4 5 6",
	"1 2 3 4 5 6",
	"1 2 3 4 5 6",
	"1 2 3 4 5 6",
	"3 1 4 5 2 6",
	"1 2 3 4 5 6",
	"6 5 4 3 2 1",
	"1 4 2 3 5 6",
	"1 2 3 4 5 6",
};

/* An unparseable Date: means INTERNALDATE. */
static const struct smsg s_bad_date[] = {
	{ "b1", NODATE, 1, 61, NULL, NULL, NULL, NULL, NULL },
	{ "b2", 2, 0, 75, NULL, NULL, NULL, NULL, NULL },
	{ "b3", 0, 3, 75, NULL, NULL, NULL, NULL, NULL },
};

static const char *const x_bad_date[] = {
	"2 1 3",
	"3 1 2",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"2 1 3",
	"1 2 3",
	"3 2 1",
	"3 1 2",
	"1 2 3",
};

/* Case beyond ASCII. */
static const struct smsg s_subject_utf8[] = {
	{ AERGER1, 0, 0, 90, NULL, NULL, NULL,
	    NULL, NULL },
	{ AERGER2, 1, 0, 90, NULL, NULL, NULL,
	    NULL, NULL },
	{ AERGER3, 2, 0, 94, NULL, NULL, NULL,
	    NULL, NULL },
};

static const char *const x_subject_utf8[] = {
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"1 2 3",
	"3 2 1",
	"3 2 1",
	"1 2 3",
	"1 2 3",
	"1 2 3",
};

/* All sent dates equal. */
static const struct smsg s_same_dates[] = {
	{ "s", 0, 0, 74, NULL, NULL, NULL, NULL, NULL },
	{ "s", 0, 0, 97, NULL, NULL, NULL, NULL, NULL },
	{ "s", 0, 0, 97, NULL, NULL, NULL, NULL, NULL },
	{ "t", 0, 0, 74, NULL, NULL, NULL, NULL, NULL },
	{ "u", 0, 0, 74, NULL, NULL, NULL, NULL, NULL },
};

static const char *const x_same_dates[] = {
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 4 5 2 3",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"1 2 3 4 5",
	"5 4 1 2 3",
	"1 2 3 4 5",
	"1 2 3 4 5",
};

struct scase {
	const char		*name;
	const struct smsg	*msgs;
	size_t			 n;
	const char *const	*want;
};

#define S(x)	{ #x, s_##x, sizeof(s_##x) / sizeof(s_##x[0]), x_##x }

static const struct scase scases[] = {
	S(sortkeys), S(sort_ties), S(empty_subjects), S(dates),
	S(bad_date), S(subject_utf8), S(same_dates),
};

static struct imap_sortmsg *
mkmsgs(const struct smsg *t, size_t n, const uint32_t *seqs)
{
	struct imap_sortmsg *m = calloc(n > 0 ? n : 1, sizeof(*m));

	assert_non_null(m);
	for (size_t i = 0; i < n; i++) {
		m[i].seq = seqs != NULL ? seqs[i] : (uint32_t)i + 1;
		m[i].uid = m[i].seq * 10;
		m[i].internaldate = T0 + (time_t)t[i].arrival * HOUR;
		m[i].sent_valid = t[i].date != NODATE;
		m[i].sent = m[i].sent_valid ? T0 + (time_t)t[i].date * HOUR :
		    0;
		m[i].size = t[i].size;
		m[i].subject = t[i].subject;
		m[i].from = t[i].from;
		m[i].to = t[i].to;
		m[i].cc = t[i].cc;
		m[i].display_from = t[i].dfrom;
		m[i].display_to = t[i].dto;
	}
	return m;
}

/* "REVERSE DATE SUBJECT" -> criteria; returns the count. */
static size_t
parse_program(const char *prog, struct imap_sort_crit *crit)
{
	static const struct {
		const char		*name;
		enum imap_sort_key	 key;
	} keys[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO },
		{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	char tmp[128], *w, *save;
	size_t n = 0;
	bool reverse = false;

	snprintf(tmp, sizeof(tmp), "%s", prog);
	for (w = strtok_r(tmp, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		size_t k;

		if (strcmp(w, "REVERSE") == 0) {
			reverse = true;
			continue;
		}
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			if (strcmp(w, keys[k].name) == 0)
				break;
		}
		assert_true(k < sizeof(keys) / sizeof(keys[0]));
		crit[n].key = keys[k].key;
		crit[n].reverse = reverse;
		reverse = false;
		n++;
	}
	return n;
}

/* Sorts and formats the sequence numbers like "* SORT" does. */
static const char *
sort_str(const struct imap_sortmsg *m, size_t n, const char *prog,
    imap_casemap_fn *fn, void *ctx)
{
	static char out[4096];
	struct imap_sort_crit crit[16];
	size_t ncrit = parse_program(prog, crit);
	uint32_t *order = calloc(n > 0 ? n : 1, sizeof(*order));
	struct buf b = BUF_INIT;

	assert_non_null(order);
	imap_sort(m, n, crit, ncrit, fn, ctx, order);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(&b, ' ');
		buf_put_u64(&b, m[order[i]].seq);
	}
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_free(&b);
	free(order);
	return out;
}

static void
test_corpus(void **state)
{
	for (size_t i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		const struct scase *c = &scases[i];
		struct imap_sortmsg *m = mkmsgs(c->msgs, c->n, NULL);

		for (size_t p = 0; p < NPROGRAMS; p++) {
			const char *got = sort_str(m, c->n, programs[p], NULL,
			    NULL);

			if (strcmp(got, c->want[p]) != 0)
				fail_msg("%s (%s): got %s, want %s", c->name,
				    programs[p], got, c->want[p]);
		}
		free(m);
	}
}

/* RFC 5256 section 3 examples, with messages made to give them. */
static void
test_rfc_examples(void **state)
{
	static const struct smsg a282[] = {
		{ "afternoon meeting", 0, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "Afternoon Meeting", 1, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "lunch", 0, 0, 1, NULL, NULL, NULL, NULL, NULL },
	};
	static const uint32_t a282seq[] = { 2, 84, 882 };
	static const struct smsg a283[] = {
		{ "c", 5, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "c", 4, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "b", 3, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "b", 2, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "a", 1, 0, 1, NULL, NULL, NULL, NULL, NULL },
	};
	struct imap_sortmsg *m;

	/* A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994 */
	m = mkmsgs(a282, 3, a282seq);
	assert_string_equal(sort_str(m, 3, "SUBJECT", NULL, NULL),
	    "2 84 882");
	free(m);
	/* A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL */
	m = mkmsgs(a283, 5, NULL);
	assert_string_equal(sort_str(m, 5, "SUBJECT REVERSE DATE", NULL,
	    NULL), "5 3 4 1 2");
	/* REVERSE SUBJECT is not the reverse of SUBJECT (the RFC's note). */
	assert_string_equal(sort_str(m, 5, "SUBJECT", NULL, NULL),
	    "5 3 4 1 2");
	assert_string_equal(sort_str(m, 5, "REVERSE SUBJECT", NULL, NULL),
	    "1 2 3 4 5");
	assert_string_equal(sort_str(m, 5, "REVERSE SUBJECT REVERSE DATE",
	    NULL, NULL), "1 2 3 4 5");
	assert_string_equal(sort_str(m, 5, "SUBJECT DATE", NULL, NULL),
	    "5 4 3 2 1");
	free(m);
	/* A284 SORT (SUBJECT) US-ASCII TEXT "not in mailbox" */
	assert_string_equal(sort_str(NULL, 0, "SUBJECT", NULL, NULL), "");
}

/* REVERSE never reverses the sequence-number tie-break. */
static void
test_reverse_ties(void **state)
{
	static const struct smsg t[] = {
		{ "x", 0, 0, 7, "a", NULL, NULL, NULL, NULL },
		{ "x", 0, 0, 7, "a", NULL, NULL, NULL, NULL },
		{ "x", 0, 0, 7, "a", NULL, NULL, NULL, NULL },
	};
	static const uint32_t seqs[] = { 30, 10, 20 };
	struct imap_sortmsg *m = mkmsgs(t, 3, seqs);
	static const char *const progs[] = {
		"", "ARRIVAL", "REVERSE ARRIVAL", "DATE", "REVERSE DATE",
		"SIZE", "REVERSE SIZE", "SUBJECT", "REVERSE SUBJECT",
		"REVERSE FROM", "REVERSE TO", "REVERSE CC",
		"REVERSE DISPLAYFROM", "REVERSE DISPLAYTO",
		"REVERSE SUBJECT REVERSE DATE REVERSE SIZE",
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		assert_string_equal(sort_str(m, 3, progs[i], NULL, NULL),
		    "10 20 30");
	free(m);
}

/* Numbers compare as numbers, times as signed values. */
static void
test_numbers(void **state)
{
	static const struct smsg t[] = {
		{ NULL, -1000000, -1000000, 4000000000U, NULL, NULL, NULL,
		    NULL, NULL },
		{ NULL, 1, 5, 9, NULL, NULL, NULL, NULL, NULL },
		{ NULL, NODATE, -7, 10, NULL, NULL, NULL, NULL, NULL },
	};
	struct imap_sortmsg *m = mkmsgs(t, 3, NULL);

	assert_string_equal(sort_str(m, 3, "SIZE", NULL, NULL), "2 3 1");
	assert_string_equal(sort_str(m, 3, "ARRIVAL", NULL, NULL), "1 3 2");
	/* Message 3 has no Date: its INTERNALDATE (-7 h) stands in. */
	assert_string_equal(sort_str(m, 3, "DATE", NULL, NULL), "1 3 2");
	assert_int_equal(imap_sort_date(&m[2]), T0 - 7 * HOUR);
	assert_int_equal(imap_sort_date(&m[1]), T0 + HOUR);
	m[0].size = UINT64_MAX;
	assert_string_equal(sort_str(m, 3, "REVERSE SIZE", NULL, NULL),
	    "1 3 2");
	free(m);
}

/* A caller's comparator: here plain octets, so case matters. */
static void
octets(const char *s, size_t len, struct buf *out, void *ctx)
{
	(*(size_t *)ctx)++;
	buf_append(out, s, len);
}

static void
test_casemap_callback(void **state)
{
	static const struct smsg t[] = {
		{ "b", 0, 0, 1, "b", NULL, NULL, NULL, NULL },
		{ "B", 0, 0, 1, "B", NULL, NULL, NULL, NULL },
		{ "a", 0, 0, 1, "a", NULL, NULL, NULL, NULL },
		{ "_", 0, 0, 1, "_", NULL, NULL, NULL, NULL },
	};
	struct imap_sortmsg *m = mkmsgs(t, 4, NULL);
	size_t calls = 0;

	assert_string_equal(sort_str(m, 4, "SUBJECT", octets, &calls),
	    "2 4 3 1");
	assert_int_equal(calls, 4);		/* once per message */
	calls = 0;
	assert_string_equal(sort_str(m, 4, "SUBJECT FROM REVERSE SUBJECT",
	    octets, &calls), "2 4 3 1");
	assert_int_equal(calls, 8);		/* once per key kind */
	/* Built-in: case-insensitive, '_' after the letters. */
	assert_string_equal(sort_str(m, 4, "SUBJECT", NULL, NULL),
	    "3 1 2 4");
	free(m);
}

/* imap_casemap_simple on one string, as a hex-free C string. */
static const char *
key(const char *s)
{
	static char out[256];
	struct buf b = BUF_INIT;

	buf_puts(&b, "junk");
	imap_casemap_simple(s, strlen(s), &b, NULL);
	assert_true(b.len >= 4 && memcmp(b.data, "junk", 4) == 0);
	snprintf(out, sizeof(out), "%s", b.data + 4);
	buf_free(&b);
	return out;
}

static void
test_casemap(void **state)
{
	assert_string_equal(key(""), "");
	assert_string_equal(key("Hello, World_[x]{y}~"),
	    "HELLO, WORLD_[X]{Y}~");
	/* Latin-1: é -> É, ÿ -> Ÿ, µ -> Greek capital mu; ß stays. */
	assert_string_equal(key("\xc3\xa9\xc3\xbf\xc2\xb5\xc3\x9f"),
	    "\xc3\x89\xc5\xb8\xce\x9c\xc3\x9f");
	/* Capital sharp s folds to ß. */
	assert_string_equal(key("\xe1\xba\x9e"), "\xc3\x9f");
	/* σ, ς, Σ are one. */
	assert_string_equal(key("\xcf\x83\xcf\x82\xce\xa3"),
	    "\xce\xa3\xce\xa3\xce\xa3");
	/* KELVIN SIGN is K, OHM SIGN is Ω, ſ is S, ı is I; İ stays. */
	assert_string_equal(key("\xe2\x84\xaa\xe2\x84\xa6\xc5\xbf\xc4\xb1"),
	    "K\xce\xa9SI");
	assert_string_equal(key("\xc4\xb0"), "\xc4\xb0");
	/* ǆ, ǅ and Ǆ map to the titlecase ǅ. */
	assert_string_equal(key("\xc7\x86\xc7\x85\xc7\x84"),
	    "\xc7\x85\xc7\x85\xc7\x85");
	/* Cyrillic, Armenian, fullwidth, Cherokee, Deseret. */
	assert_string_equal(key("\xd0\xb6\xd1\x91"), "\xd0\x96\xd0\x81");
	assert_string_equal(key("\xd5\xa1"), "\xd4\xb1");
	assert_string_equal(key("\xef\xbd\x81"), "\xef\xbc\xa1");
	assert_string_equal(key("\xea\xad\xb0"), "\xe1\x8e\xa0");
	assert_string_equal(key("\xf0\x90\x90\xa8"), "\xf0\x90\x90\x80");
	/* No case: CJK, symbols, emoji. */
	assert_string_equal(key("\xe6\x97\xa5\xe2\x82\xac\xf0\x9f\x98\x80"),
	    "\xe6\x97\xa5\xe2\x82\xac\xf0\x9f\x98\x80");
	/*
	 * Invalid UTF-8 is copied byte by byte, ASCII around it still
	 * mapped: stray continuation, overlong '/', surrogate, above
	 * U+10FFFF, truncated sequence at the end.
	 */
	assert_string_equal(key("a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d"
	    "\xf4\x90\x80\x80" "e\xe2\x84"),
	    "A\x80" "B\xc0\xaf" "C\xed\xa0\x80" "D"
	    "\xf4\x90\x80\x80" "E\xe2\x84");
}

/* Every key is a fixed point: mapping twice changes nothing. */
static void
test_casemap_idempotent(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	size_t changed = 0;

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		char u[4];
		size_t n;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (cp < 0x80) {
			u[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xc0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xe0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			u[0] = (char)(0xf0 | (cp >> 18));
			u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		buf_reset(&a);
		buf_reset(&b);
		imap_casemap_simple(u, n, &a, NULL);
		imap_casemap_simple(a.data, a.len, &b, NULL);
		assert_true(a.len == b.len && memcmp(a.data, b.data, a.len) ==
		    0);
		if (a.len != n || memcmp(a.data, u, n) != 0)
			changed++;
	}
	/* 1455 code points have a different key (Unicode 14). */
	assert_int_equal(changed, 1455);
	buf_free(&a);
	buf_free(&b);
}

/*
 * The documented limit of the built-in comparator (no NFKD): Dovecot
 * answers "3 1 4 2" here, a precomposed "Émile" between "Eve" and "Fred"
 * like the decomposed one; we order it by the code point of É, after
 * every ASCII letter.  A caller that needs Dovecot's order passes a full
 * i;unicode-casemap.  Neither folds "ß" to "ss" (simple mappings only).
 */
static void
test_casemap_limits(void **state)
{
	static const struct smsg t[] = {
		{ "\xc3\x89mile", 0, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "Fred", 0, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "eve", 0, 0, 1, NULL, NULL, NULL, NULL, NULL },
		{ "E\xcc\x81mile", 0, 0, 1, NULL, NULL, NULL, NULL, NULL },
	};
	struct imap_sortmsg *m = mkmsgs(t, 4, NULL);

	assert_string_equal(sort_str(m, 4, "SUBJECT", NULL, NULL),
	    "3 4 2 1");
	assert_string_equal(key("Stra\xc3\x9f" "e"), "STRA\xc3\x9f" "E");
	free(m);
}

/* The merge sort against qsort on (value, position): order + stability. */
static const uint32_t *vals;

static int
cmp_val(void *ctx, uint32_t a, uint32_t b)
{
	(*(size_t *)ctx)++;
	return vals[a] < vals[b] ? -1 : vals[a] > vals[b];
}

static int
qcmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	if (vals[a] != vals[b])
		return vals[a] < vals[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

static void
test_sort_indexes(void **state)
{
	uint64_t s = 88172645463325252ULL;

	for (size_t n = 0; n < 300; n += 1 + n / 8) {
		for (uint32_t mod = 1; mod <= 1000; mod *= 10) {
			uint32_t *v = calloc(n + 1, sizeof(*v));
			uint32_t *w = calloc(n + 1, sizeof(*w));
			uint32_t *x = calloc(n + 1, sizeof(*x));
			size_t calls = 0;

			assert_true(v != NULL && w != NULL && x != NULL);
			for (size_t i = 0; i < n; i++) {
				s ^= s << 13;
				s ^= s >> 7;
				s ^= s << 17;
				x[i] = (uint32_t)(s % mod);
				v[i] = w[i] = (uint32_t)i;
			}
			vals = x;
			imap_sort_indexes(v, n, cmp_val, &calls);
			qsort(w, n, sizeof(*w), qcmp);
			assert_memory_equal(v, w, n * sizeof(*v));
			free(v);
			free(w);
			free(x);
		}
	}
}

/* The worst case stays O(n log n): count comparisons on adversarial input. */
static void
test_sort_indexes_bound(void **state)
{
	enum { N = 100000 };
	uint32_t *v = calloc(N, sizeof(*v)), *x = calloc(N, sizeof(*x));
	size_t calls;

	assert_true(v != NULL && x != NULL);
	vals = x;
	for (int pattern = 0; pattern < 4; pattern++) {
		for (uint32_t i = 0; i < N; i++) {
			v[i] = i;
			x[i] = pattern == 0 ? i : pattern == 1 ? N - i :
			    pattern == 2 ? 7 : (i % 2 ? i : N - i);
		}
		calls = 0;
		imap_sort_indexes(v, N, cmp_val, &calls);
		for (uint32_t i = 1; i < N; i++)
			assert_true(x[v[i - 1]] <= x[v[i]]);
		/* n log2 n is 1.7 million. */
		assert_true(calls < 2500000);
	}
	free(v);
	free(x);
}

/*
 * 100,000 random messages sorted by several programs; each result is
 * checked pairwise with an independent comparison.
 */
static int
ref_cmp_str(const char *a, const char *b)
{
	struct buf ka = BUF_INIT, kb = BUF_INIT;
	int r;

	if (a != NULL)
		imap_casemap_simple(a, strlen(a), &ka, NULL);
	if (b != NULL)
		imap_casemap_simple(b, strlen(b), &kb, NULL);
	r = strcmp(buf_cstr(&ka), buf_cstr(&kb));
	buf_free(&ka);
	buf_free(&kb);
	return r < 0 ? -1 : r > 0;
}

static int
ref_cmp(const struct imap_sortmsg *a, const struct imap_sortmsg *b,
    const struct imap_sort_crit *crit, size_t ncrit)
{
	for (size_t k = 0; k < ncrit; k++) {
		int r = 0;

		switch (crit[k].key) {
		case IMAP_SORT_ARRIVAL:
			r = (a->internaldate > b->internaldate) -
			    (a->internaldate < b->internaldate);
			break;
		case IMAP_SORT_DATE:
			r = (imap_sort_date(a) > imap_sort_date(b)) -
			    (imap_sort_date(a) < imap_sort_date(b));
			break;
		case IMAP_SORT_SIZE:
			r = (a->size > b->size) - (a->size < b->size);
			break;
		case IMAP_SORT_SUBJECT:
			r = ref_cmp_str(a->subject, b->subject);
			break;
		case IMAP_SORT_FROM:
			r = ref_cmp_str(a->from, b->from);
			break;
		case IMAP_SORT_TO:
			r = ref_cmp_str(a->to, b->to);
			break;
		case IMAP_SORT_CC:
			r = ref_cmp_str(a->cc, b->cc);
			break;
		case IMAP_SORT_DISPLAYFROM:
			r = ref_cmp_str(a->display_from, b->display_from);
			break;
		case IMAP_SORT_DISPLAYTO:
			r = ref_cmp_str(a->display_to, b->display_to);
			break;
		}
		if (r != 0)
			return crit[k].reverse ? -r : r;
	}
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static void
test_random_100k(void **state)
{
	enum { N = 100000 };
	static const char *const progs[] = {
		"SUBJECT REVERSE DATE", "ARRIVAL", "REVERSE SIZE FROM",
		"DISPLAYFROM TO CC", "REVERSE DATE",
	};
	static const char *const words[] = {
		"meeting", "Meeting", "lunch", "\xc3\x84rger", "\xc3\xa4rger",
		"_misc", "report", "Report", "", "\xce\xa3\xce\xbf\xcf\x86",
	};
	struct imap_sortmsg *m = calloc(N, sizeof(*m));
	char (*strs)[4][32] = calloc(N, sizeof(*strs));
	uint32_t *order = calloc(N, sizeof(*order));
	uint64_t s = 0x12345678abcdefULL;

	assert_true(m != NULL && strs != NULL && order != NULL);
	for (size_t i = 0; i < N; i++) {
		for (int k = 0; k < 4; k++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			snprintf(strs[i][k], sizeof(strs[i][k]), "%s %u",
			    words[s % 10], (unsigned)(s >> 32) % 50);
		}
		m[i].seq = (uint32_t)i + 1;
		m[i].internaldate = T0 + (time_t)(s % 100000);
		m[i].sent = T0 + (time_t)((s >> 20) % 1000);
		m[i].sent_valid = (s >> 40) % 10 != 0;
		m[i].size = (s >> 8) % 5000;
		m[i].subject = strs[i][0];
		m[i].from = strs[i][1];
		m[i].to = (s >> 50) % 3 == 0 ? NULL : strs[i][2];
		m[i].cc = strs[i][3];
		m[i].display_from = strs[i][2];
	}
	for (size_t p = 0; p < sizeof(progs) / sizeof(progs[0]); p++) {
		struct imap_sort_crit crit[8];
		size_t ncrit = parse_program(progs[p], crit);
		uint64_t t0 = mono_ms();

		imap_sort(m, N, crit, ncrit, NULL, NULL, order);
		printf("[ TIMING   ] SORT (%s), %d messages: %llu ms\n",
		    progs[p], N, (unsigned long long)(mono_ms() - t0));
		for (size_t i = 1; i < N; i++)
			assert_true(ref_cmp(&m[order[i - 1]], &m[order[i]],
			    crit, ncrit) < 0);
	}
	free(m);
	free(strs);
	free(order);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_reverse_ties),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_casemap_callback),
		cmocka_unit_test(test_casemap),
		cmocka_unit_test(test_casemap_idempotent),
		cmocka_unit_test(test_casemap_limits),
		cmocka_unit_test(test_sort_indexes),
		cmocka_unit_test(test_sort_indexes_bound),
		cmocka_unit_test(test_random_100k),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

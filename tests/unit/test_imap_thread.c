/*
 * test_imap_thread - THREAD=REFERENCES and THREAD=ORDEREDSUBJECT (RFC 5256
 * section 4), the thread-list writer and the Message-ID list parser.
 *
 * The corpus below was also loaded into Dovecot 2.3.19 (IMAP APPEND with
 * the same headers and INTERNALDATEs, then THREAD ... UTF-8 ALL): every
 * expected string is what Dovecot answered.  The RFC's own examples are
 * rebuilt from messages made to give them.  Every result also passes the
 * structural checks of check_tree(); the 100,000-message cases print their
 * timings (they are not asserted).
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
#include "imap/imap_thread.h"

#define T0	((time_t)1000000000)	/* 2001-09-09 01:46:40 UTC */
#define HOUR	3600
#define NODATE	INT_MIN
#define NONE	IMAP_THREAD_NONE

/* A test message: header values, base subject, dates in hours after T0. */
struct tmsg {
	const char	*mid;
	const char	*irt;
	const char	*refs;
	const char	*subject;
	bool		 reply;
	int		 date;		/* NODATE: no usable Date: */
	int		 arrival;
};

struct tcase {
	const char		*name;
	const struct tmsg	*msgs;
	size_t			 n;
	const char		*references;
	const char		*orderedsubject;
};

#define C(x, r, o)	{ #x, c_##x, sizeof(c_##x) / sizeof(c_##x[0]), r, o }

/* "Ärger Σοφία", "ärger σοφία", "ÄRGER ΣΟΦΊΑ" */
#define AERGER1	"\xc3\x84rger \xce\xa3\xce\xbf\xcf\x86\xce\xaf\xce\xb1"
#define AERGER2	"\xc3\xa4rger \xcf\x83\xce\xbf\xcf\x86\xce\xaf\xce\xb1"
#define AERGER3	"\xc3\x84RGER \xce\xa3\xce\x9f\xce\xa6\xce\x8a\xce\x91"

/*
 * The corpus: { Message-ID, In-Reply-To, References, base subject, reply,
 * sent date, INTERNALDATE }, sequence numbers from 1, and Dovecot's
 * answers in cases[] below.
 */

/* A thread in arrival order. */
static const struct tmsg c_chain[] = {
	{ "<1@x>", NULL, NULL, "hello", false, 0, 0 },
	{ "<2@x>", "<1@x>", "<1@x>", "hello", true, 1, 0 },
	{ "<3@x>", "<2@x>", "<1@x> <2@x>", "hello", true, 2, 0 },
	{ "<4@x>", "<1@x>", "<1@x>", "hello", true, 3, 0 },
};

/* Replies stored before their parent; siblings by date. */
static const struct tmsg c_reverse_arrival[] = {
	{ "<c@x>", NULL, "<a@x> <b@x>", "s", true, 3, 0 },
	{ "<b@x>", NULL, "<a@x>", "s", true, 2, 0 },
	{ "<d@x>", NULL, "<a@x>", "s", true, 1, 0 },
	{ "<a@x>", NULL, NULL, "s", false, 0, 0 },
};

/* Two replies to a message we do not have: a dummy root. */
static const struct tmsg c_dummy_two[] = {
	{ "<r1@x>", NULL, "<gone@x>", "lost", true, 1, 0 },
	{ "<r2@x>", NULL, "<gone@x>", "lost", true, 0, 0 },
	{ "<other@x>", NULL, NULL, "other", false, -1, 0 },
};

/* A dummy root with one child gives way to it. */
static const struct tmsg c_dummy_one[] = {
	{ "<r1@x>", NULL, "<gone@x>", "lost", true, 1, 0 },
	{ "<r2@x>", NULL, "<gone@x> <r1@x>", "lost", true, 2, 0 },
	{ "<z@x>", NULL, NULL, "zzz", false, 0, 0 },
};

/* Missing ancestors below the top one vanish. */
static const struct tmsg c_dummy_chain[] = {
	{ "<m1@x>", NULL, "<g1@x> <g2@x> <g3@x>", "deep", false, 1, 0 },
	{ "<m2@x>", NULL, "<g1@x> <g2@x>", "deep2", false, 2, 0 },
	{ "<m3@x>", NULL, "<g1@x> <h2@x>", "deep3", false, 3, 0 },
	{ "<m4@x>", NULL, "<g1@x>", "deep4", false, 0, 0 },
};

/* A missing message between real ones: its children move up. */
static const struct tmsg c_dummy_mid[] = {
	{ "<top@x>", NULL, NULL, "t", false, 0, 0 },
	{ "<m1@x>", NULL, "<top@x> <gone@x>", "t", true, 1, 0 },
	{ "<m2@x>", NULL, "<top@x> <gone@x>", "t", true, 2, 0 },
	{ "<m3@x>", NULL, "<top@x>", "t", true, 3, 0 },
};

/* Only the first message keeps a duplicated Message-ID. */
static const struct tmsg c_duplicate_id[] = {
	{ "<dup@x>", NULL, NULL, "one", false, 0, 0 },
	{ "<dup@x>", NULL, NULL, "two", false, 1, 0 },
	{ "<r@x>", NULL, "<dup@x>", "one", true, 2, 0 },
	{ "<dup@x>", NULL, "<r@x>", "three", false, 3, 0 },
};

/* The first holder of an id referenced before it arrived. */
static const struct tmsg c_duplicate_late[] = {
	{ "<r@x>", NULL, "<dup@x>", "a", true, 2, 0 },
	{ "<dup@x>", NULL, NULL, "a", false, 0, 0 },
	{ "<dup@x>", NULL, NULL, "b", false, 1, 0 },
};

/* Messages that reference each other. */
static const struct tmsg c_loop_two[] = {
	{ "<a@x>", NULL, "<b@x>", "l1", false, 0, 0 },
	{ "<b@x>", NULL, "<a@x>", "l2", false, 1, 0 },
};

/* A three-message reference loop. */
static const struct tmsg c_loop_three[] = {
	{ "<a@x>", NULL, "<c@x> <b@x>", "q1", false, 0, 0 },
	{ "<b@x>", NULL, "<a@x> <c@x>", "q2", false, 1, 0 },
	{ "<c@x>", NULL, "<b@x> <a@x>", "q3", false, 2, 0 },
};

/* A loop inside one References header. */
static const struct tmsg c_loop_in_refs[] = {
	{ "<m@x>", NULL, "<a@x> <b@x> <a@x>", "w", false, 0, 0 },
	{ "<n@x>", NULL, "<b@x> <a@x>", "w2", false, 1, 0 },
};

/* A message naming itself last in References is a root. */
static const struct tmsg c_self_ref[] = {
	{ "<s@x>", NULL, "<p@x> <s@x>", "self", false, 1, 0 },
	{ "<p@x>", NULL, NULL, "parent", false, 0, 0 },
	{ "<t@x>", NULL, "<t@x>", "self2", false, 2, 0 },
};

/* A message naming itself first in References. */
static const struct tmsg c_self_first[] = {
	{ "<s@x>", NULL, "<s@x> <p@x>", "sf", false, 1, 0 },
	{ "<p@x>", NULL, NULL, "pp", false, 0, 0 },
};

/* A message's own References beat a truncated earlier one. */
static const struct tmsg c_reparent[] = {
	{ "<c@x>", NULL, "<a@x> <b@x>", "x1", false, 2, 0 },
	{ "<b@x>", NULL, "<z@x>", "x2", false, 1, 0 },
	{ "<a@x>", NULL, NULL, "x3", false, 0, 0 },
	{ "<z@x>", NULL, NULL, "x4", false, 3, 0 },
};

/* A message without references leaves its guessed parent. */
static const struct tmsg c_reparent_none[] = {
	{ "<c@x>", NULL, "<a@x> <b@x>", "y1", false, 2, 0 },
	{ "<b@x>", NULL, NULL, "y2", false, 1, 0 },
	{ "<a@x>", NULL, NULL, "y3", false, 0, 0 },
};

/* Replies join the non-reply with their subject. */
static const struct tmsg c_subject_reply_merge[] = {
	{ "<1@s>", NULL, NULL, "topic", true, 0, 0 },
	{ "<2@s>", NULL, NULL, "topic", false, 1, 0 },
	{ "<3@s>", NULL, NULL, "topic", true, 2, 0 },
};

/* Two non-replies with one subject get a dummy parent. */
static const struct tmsg c_subject_new_dummy[] = {
	{ "<1@s>", NULL, NULL, "topic", false, 0, 0 },
	{ "<2@s>", NULL, NULL, "topic", false, 1, 0 },
	{ "<3@s>", NULL, NULL, "Topic", false, 2, 0 },
	{ "<4@s>", NULL, NULL, "TOPIC", true, 3, 0 },
};

/* Dummy threads with one subject are merged. */
static const struct tmsg c_subject_dummy_merge[] = {
	{ "<1@s>", NULL, "<g@s>", "q", true, 0, 0 },
	{ "<2@s>", NULL, "<g@s>", "q", true, 1, 0 },
	{ "<3@s>", NULL, "<h@s>", "q", true, 2, 0 },
	{ "<4@s>", NULL, "<h@s>", "q", true, 3, 0 },
	{ "<5@s>", NULL, NULL, "q", false, 4, 0 },
	{ "<6@s>", NULL, NULL, "q", true, -1, 0 },
};

/* Fwd:, (fwd) and [fwd: ...] count as replies. */
static const struct tmsg c_subject_fwd[] = {
	{ "<1@f>", NULL, NULL, "news", true, 0, 0 },
	{ "<2@f>", NULL, NULL, "news", true, 1, 0 },
	{ "<3@f>", NULL, NULL, "news", true, 2, 0 },
	{ "<4@f>", NULL, NULL, "news", false, 3, 0 },
};

/* Whole threads are gathered by subject. */
static const struct tmsg c_subject_threads[] = {
	{ "<1@t>", NULL, NULL, "alpha", false, 0, 0 },
	{ "<2@t>", NULL, "<1@t>", "alpha", true, 1, 0 },
	{ "<3@t>", NULL, NULL, "alpha", false, 2, 0 },
	{ "<4@t>", NULL, "<3@t>", "alpha", true, 3, 0 },
	{ "<5@t>", NULL, NULL, "alpha", true, 4, 0 },
};

/* Empty subjects are never gathered (ORDEREDSUBJECT does). */
static const struct tmsg c_empty_subjects[] = {
	{ "<1@e>", NULL, NULL, "", false, 0, 0 },
	{ "<2@e>", NULL, NULL, "", false, 1, 0 },
	{ "<3@e>", NULL, NULL, NULL, false, 2, 0 },
	{ "<4@e>", NULL, NULL, "", true, 3, 0 },
	{ "<5@e>", NULL, NULL, "x", false, 4, 0 },
};

/* Junk around msg-ids; invalid ids; case-sensitive ids. */
static const struct tmsg c_msgid_junk[] = {
	{ "<1@j>", NULL, NULL, "j1", false, 0, 0 },
	{ "<2@j>", "<1@j> from alice@example.com", NULL, "j2", false, 1, 0 },
	{ "<3@j>", "Your message of today <2@j>", NULL, "j3", false, 2, 0 },
	{ "<4@j>", "<3@j>", "garbage", "j4", false, 3, 0 },
	{ "<5@j>", NULL, "<noat> <4@j>", "j5", false, 4, 0 },
	{ "no brackets", NULL, "<5@j>", "j6", false, 5, 0 },
	{ "<7@j>", NULL, "<1@J>", "j7", false, 6, 0 },
	{ "<8@j>", "<7@j>", "<1@j>", "j8", false, 7, 0 },
};

/* Quoting, spaces and comments inside msg-ids. */
static const struct tmsg c_msgid_quoted[] = {
	{ "<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>", NULL, NULL,
	    "q1", false, 0, 0 },
	{ "<2@q>", NULL, "<01KF8JCEOCBS0045PS@xxx.yyy.com>",
	    "q2", false, 1, 0 },
	{ "<3@q>", NULL, "<01KF8JCEOCBS0045PS @ xxx.yyy.com>",
	    "q3", false, 2, 0 },
	{ "<4@q>", NULL, "<01KF8JCEOCBS0045PS(comment)@xxx.yyy.com>",
	    "q4", false, 3, 0 },
};

/* No Date: means INTERNALDATE; equal dates go by sequence. */
static const struct tmsg c_dates[] = {
	{ "<1@d>", NULL, NULL, "d1", false, NODATE, 5 },
	{ "<2@d>", NULL, NULL, "d2", false, 4, 0 },
	{ "<3@d>", NULL, "<2@d>", "d3", false, 6, 0 },
	{ "<4@d>", NULL, "<2@d>", "d4", false, NODATE, 5 },
	{ "<5@d>", NULL, "<2@d>", "d5", false, 5, 0 },
	{ "<6@d>", NULL, NULL, "d6", false, 4, 0 },
};

/* An unparseable Date: means INTERNALDATE. */
static const struct tmsg c_bad_date[] = {
	{ "<1@b>", NULL, NULL, "b1", false, NODATE, 1 },
	{ "<2@b>", NULL, NULL, "b2", false, 2, 0 },
	{ "<3@b>", NULL, NULL, "b3", false, 0, 3 },
};

/* The SORT corpus, threaded. */
static const struct tmsg c_sortkeys[] = {
	{ "<1@k>", NULL, NULL, "Banana", false, 2, 1 },
	{ "<2@k>", NULL, NULL, "apple", true, 0, 2 },
	{ "<3@k>", NULL, NULL, "_under", false, 1, 0 },
	{ "<4@k>", NULL, NULL, "apple", false, 1, 1 },
	{ "<5@k>", NULL, NULL, NULL, false, NODATE, 1 },
	{ "<6@k>", NULL, NULL, "APPLE", false, 0, 0 },
};

/* A later References header does not move a parent. */
static const struct tmsg c_keep_first_parent[] = {
	{ "<m1@k>", NULL, "<a@k> <b@k>", "k1", false, 0, 0 },
	{ "<m2@k>", NULL, "<c@k> <b@k>", "k2", false, 1, 0 },
	{ "<a@k>", NULL, NULL, "k3", false, 2, 0 },
	{ "<c@k>", NULL, NULL, "k4", false, 3, 0 },
};

/* Messages without (valid) Message-ID. */
static const struct tmsg c_no_message_id[] = {
	{ NULL, NULL, NULL, "n1", false, 0, 0 },
	{ "<n2@n>", NULL, "<n1@n>", "n2", false, 1, 0 },
	{ NULL, NULL, "<n2@n>", "n3", false, 2, 0 },
	{ "", "<n2@n>", NULL, "n4", false, 3, 0 },
};

/* A dummy takes the subject table from a message. */
static const struct tmsg c_subject_real_then_dummy[] = {
	{ "<1@r>", NULL, NULL, "plan", false, 0, 0 },
	{ "<2@r>", NULL, "<gone@r>", "plan", true, 1, 0 },
	{ "<3@r>", NULL, "<gone@r>", "plan", true, 2, 0 },
	{ "<4@r>", NULL, NULL, "plan", true, 3, 0 },
};

/* Subjects equal after case mapping beyond ASCII. */
static const struct tmsg c_subject_utf8[] = {
	{ "<1@u>", NULL, NULL, AERGER1, false, 0, 0 },
	{ "<2@u>", NULL, NULL, AERGER2, false, 1, 0 },
	{ "<3@u>", NULL, NULL, AERGER3, true, 2, 0 },
};

/* A reply thread joins the thread of its subject. */
static const struct tmsg c_subject_merge_into_thread[] = {
	{ "<1@m>", NULL, NULL, "big", false, 0, 0 },
	{ "<2@m>", NULL, "<1@m>", "big", true, 1, 0 },
	{ "<3@m>", NULL, NULL, "big", true, 2, 0 },
	{ "<4@m>", NULL, "<3@m>", "big", true, 3, 0 },
	{ "<5@m>", NULL, NULL, "other", false, 4, 0 },
};

/* A dummy root sorts by its earliest child. */
static const struct tmsg c_roots_by_dummy_first_child[] = {
	{ "<1@o>", NULL, NULL, "o1", false, 5, 0 },
	{ "<2@o>", NULL, "<g@o>", "o2", false, 6, 0 },
	{ "<3@o>", NULL, "<g@o>", "o3", false, 1, 0 },
	{ "<4@o>", NULL, NULL, "o4", false, 3, 0 },
	{ "<5@o>", NULL, "<g@o> <3@o>", "o5", false, 0, 0 },
};

/* Equal dates everywhere: sequence order. */
static const struct tmsg c_same_dates[] = {
	{ "<1@s>", NULL, NULL, "s", false, 0, 0 },
	{ "<2@s>", NULL, "<1@s>", "s", true, 0, 0 },
	{ "<3@s>", NULL, "<1@s>", "s", true, 0, 0 },
	{ "<4@s>", NULL, NULL, "t", false, 0, 0 },
	{ "<5@s>", NULL, NULL, "u", false, 0, 0 },
};

static const struct tcase cases[] = {
	C(chain, "(1 (2 3)(4))", "(1 (2)(3)(4))"),
	C(reverse_arrival, "(4 (3)(2 1))", "(4 (3)(2)(1))"),
	C(dummy_two, "(3)((2)(1))", "(3)(2 1)"),
	C(dummy_one, "(3)(1 2)", "(3)(1 2)"),
	C(dummy_chain, "((4)(1)(2)(3))", "(4)(1)(2)(3)"),
	C(dummy_mid, "(1 (2)(3)(4))", "(1 (2)(3)(4))"),
	C(duplicate_id, "(1 3 4)(2)", "(1 3)(2)(4)"),
	C(duplicate_late, "(2 1)(3)", "(2 1)(3)"),
	C(loop_two, "(2 1)", "(1)(2)"),
	C(loop_three, "(3 2 1)", "(1)(2)(3)"),
	C(loop_in_refs, "((1)(2))", "(1)(2)"),
	C(self_ref, "(2)(1)(3)", "(2)(1)(3)"),
	C(self_first, "(2)(1)", "(2)(1)"),
	C(reparent, "(3)(4 2 1)", "(3)(2)(1)(4)"),
	C(reparent_none, "(3)(2 1)", "(3)(2)(1)"),
	C(subject_reply_merge, "(2 (1)(3))", "(1 (2)(3))"),
	C(subject_new_dummy, "((1)(2)(3)(4))", "(1 (2)(3)(4))"),
	C(subject_dummy_merge, "((6)(1)(2)(3)(4)(5))", "(6 (1)(2)(3)(4)(5))"),
	C(subject_fwd, "(4 (1)(2)(3))", "(1 (2)(3)(4))"),
	C(subject_threads, "((1 2)(3 4)(5))", "(1 (2)(3)(4)(5))"),
	C(empty_subjects, "(1)(2)(3)(4)(5)", "(1 (2)(3)(4))(5)"),
	C(msgid_junk, "(1 (2 3 4 5 6)(8))(7)", "(1)(2)(3)(4)(5)(6)(7)(8)"),
	C(msgid_quoted, "(1 (2)(3)(4))", "(1)(2)(3)(4)"),
	C(dates, "(2 (4)(5)(3))(6)(1)", "(2)(6)(1)(4)(5)(3)"),
	C(bad_date, "(3)(1)(2)", "(3)(1)(2)"),
	C(sortkeys, "((6 2)(4))(3)(5)(1)", "(2 (6)(4))(3)(5)(1)"),
	C(keep_first_parent, "(3 (1)(2))(4)", "(1)(2)(3)(4)"),
	C(no_message_id, "(1)(2 (3)(4))", "(1)(2)(3)(4)"),
	C(subject_real_then_dummy, "((1)(2)(3)(4))", "(1 (2)(3)(4))"),
	C(subject_utf8, "((1)(2)(3))", "(1 (2)(3))"),
	C(subject_merge_into_thread, "(1 (2)(3 4))(5)", "(1 (2)(3)(4))(5)"),
	C(roots_by_dummy_first_child, "((3 5)(2))(4)(1)", "(5)(3)(4)(1)(2)"),
	C(same_dates, "(1 (2)(3))(4)(5)", "(1 (2)(3))(4)(5)"),
};

static struct imap_sortmsg *
mkmsgs(const struct tmsg *t, size_t n, uint32_t seq0)
{
	struct imap_sortmsg *m = calloc(n > 0 ? n : 1, sizeof(*m));

	assert_non_null(m);
	for (size_t i = 0; i < n; i++) {
		m[i].seq = seq0 + (uint32_t)i;
		m[i].uid = 100 * (seq0 + (uint32_t)i);
		m[i].internaldate = T0 + (time_t)t[i].arrival * HOUR;
		m[i].sent_valid = t[i].date != NODATE;
		m[i].sent = m[i].sent_valid ? T0 + (time_t)t[i].date * HOUR : 0;
		m[i].subject = t[i].subject;
		m[i].subject_reply = t[i].reply;
		m[i].message_id = t[i].mid;
		m[i].in_reply_to = t[i].irt;
		m[i].references = t[i].refs;
	}
	return m;
}

static int
date_cmp(const struct imap_sortmsg *m, uint32_t a, uint32_t b)
{
	time_t da = imap_sort_date(&m[a]), db = imap_sort_date(&m[b]);

	if (da != db)
		return da < db ? -1 : 1;
	return m[a].seq < m[b].seq ? -1 : m[a].seq > m[b].seq;
}

/* The message a node sorts as: itself, or a dummy's first child. */
static uint32_t
sort_msg(const struct imap_thread *th, uint32_t x)
{
	if (th->nodes[x].msg != NONE)
		return th->nodes[x].msg;
	return th->nodes[th->nodes[x].first_child].msg;
}

/*
 * The invariants of every result: each message exactly once; nodes in
 * pre-order with consistent links (so no cycles); dummies only at the top
 * with two or more children; siblings by (sent date, seq).
 */
static void
check_tree(const struct imap_thread *th, const struct imap_sortmsg *m,
    size_t n)
{
	const struct imap_thread_node *nd = th->nodes;
	unsigned char *seen = calloc(n > 0 ? n : 1, 1);
	size_t nroots = 0, nmsg = 0;

	assert_non_null(seen);
	assert_true(th->nnodes >= n);
	if (th->nnodes == 0) {
		assert_int_equal(th->first_root, NONE);
		assert_int_equal(th->nroots, 0);
		free(seen);
		return;
	}
	assert_int_equal(th->first_root, 0);
	for (uint32_t x = 0; x < th->nnodes; x++) {
		uint32_t p = nd[x].parent, c = nd[x].first_child;
		uint32_t nchild = 0;

		if (nd[x].msg != NONE) {
			assert_true(nd[x].msg < n);
			assert_int_equal(seen[nd[x].msg], 0);
			seen[nd[x].msg] = 1;
			nmsg++;
		}
		if (p == NONE)
			nroots++;
		else
			assert_true(p < x);		/* pre-order */
		if (c != NONE)
			assert_int_equal(c, x + 1);	/* first child next */
		for (; c != NONE; c = nd[c].next) {
			assert_true(c > x && c < th->nnodes);
			assert_int_equal(nd[c].parent, x);
			if (nd[c].next != NONE)
				assert_true(date_cmp(m, sort_msg(th, c),
				    sort_msg(th, nd[c].next)) < 0);
			nchild++;
		}
		if (nd[x].msg == NONE) {
			assert_int_equal(p, NONE);
			assert_true(nchild >= 2);
		}
		if (nd[x].next != NONE) {
			assert_true(nd[x].next > x);
			assert_int_equal(nd[nd[x].next].parent, p);
		}
	}
	/* The roots are a sorted sibling list too. */
	for (uint32_t x = th->first_root; x != NONE; x = nd[x].next) {
		assert_int_equal(nd[x].parent, NONE);
		if (nd[x].next != NONE)
			assert_true(date_cmp(m, sort_msg(th, x),
			    sort_msg(th, nd[x].next)) < 0);
		nroots--;
	}
	assert_int_equal(nroots, 0);
	assert_int_equal(nmsg, n);
	free(seen);
}

/* Threads and writes; the result is malloc'ed. */
static char *
thread_str(enum imap_thread_alg alg, const struct imap_sortmsg *m,
    size_t n, bool uid)
{
	struct imap_thread *th = imap_thread_build(alg, m, n, NULL, NULL);
	struct buf b = BUF_INIT;
	char *s;

	check_tree(th, m, n);
	imap_thread_write(th, m, uid, &b);
	s = strdup(buf_cstr(&b));
	assert_non_null(s);
	buf_free(&b);
	imap_thread_free(&th);
	assert_null(th);
	return s;
}

static void
expect(enum imap_thread_alg alg, const struct imap_sortmsg *m, size_t n,
    const char *want, const char *name)
{
	char *got = thread_str(alg, m, n, false);

	if (strcmp(got, want) != 0)
		fail_msg("%s %s: got %s, want %s", name,
		    alg == IMAP_THREAD_REFERENCES ? "REFERENCES" :
		    "ORDEREDSUBJECT", got, want);
	free(got);
}

static void
test_corpus(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct imap_sortmsg *m = mkmsgs(c->msgs, c->n, 1);

		expect(IMAP_THREAD_REFERENCES, m, c->n, c->references,
		    c->name);
		expect(IMAP_THREAD_ORDEREDSUBJECT, m, c->n,
		    c->orderedsubject, c->name);
		free(m);
	}
}

/*
 * The order of the input array does not matter: REFERENCES works by
 * sequence number ("the first message" with a duplicate id, and which
 * References header comes first).
 */
static void
test_input_order(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct imap_sortmsg *m = mkmsgs(c->msgs, c->n, 1);

		for (size_t k = 0; k < c->n / 2; k++) {
			struct imap_sortmsg t = m[k];

			m[k] = m[c->n - 1 - k];
			m[c->n - 1 - k] = t;
		}
		expect(IMAP_THREAD_REFERENCES, m, c->n, c->references,
		    c->name);
		expect(IMAP_THREAD_ORDEREDSUBJECT, m, c->n,
		    c->orderedsubject, c->name);
		free(m);
	}
}

/*
 * RFC 5256 section 4: "A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000"
 * and "A285 THREAD REFERENCES ..." over messages 166..208.  The messages
 * are made up to give exactly those answers: sent dates in rfc_order, one
 * base subject per ORDEREDSUBJECT thread (its later messages are replies),
 * References as below.  Dovecot gives the same two answers for them.
 */
static const uint32_t rfc_order[] = {
	166, 167, 168, 169, 172, 170, 171, 173, 174, 175, 176, 178, 181, 180,
	179, 177, 183, 182, 188, 184, 185, 186, 187, 189, 190, 191, 192, 193,
	194, 195, 196, 197, 198, 199, 200, 202, 201, 203, 204, 205, 206, 207,
	208,
};

/* ORDEREDSUBJECT threads, each ended by 0. */
static const uint32_t rfc_subjects[] = {
	166, 0, 167, 0, 168, 0, 169, 0, 172, 0, 170, 0, 171, 0, 173, 0,
	174, 175, 176, 178, 181, 180, 0, 179, 0,
	177, 183, 182, 188, 184, 185, 186, 187, 189, 0,
	190, 0, 191, 0, 192, 0, 193, 0, 194, 195, 0, 196, 197, 198, 0,
	199, 0, 200, 202, 0, 201, 0, 203, 0, 204, 0, 205, 0, 206, 207, 0,
	208, 0,
};

static const struct {
	uint32_t	 seq;
	const char	*refs;
} rfc_refs[] = {
	{ 170, "<m170@x>" }, { 179, "<m170@x>" },
	{ 174, "<m174@x>" }, { 175, "<m174@x>" }, { 176, "<m174@x>" },
	{ 178, "<m174@x>" }, { 181, "<m174@x>" }, { 180, "<m174@x>" },
	{ 177, "<m177@x>" }, { 183, "<m177@x>" }, { 182, "<m177@x>" },
	{ 188, "<m177@x>" }, { 185, "<m177@x>" }, { 187, "<m177@x>" },
	{ 184, "<m177@x> <188@x>" }, { 189, "<m177@x> <188@x>" },
	{ 186, "<m177@x> <185@x>" },
	{ 194, "<m194@x>" }, { 195, "<m194@x>" },
	{ 196, "<m194@x> <195@x>" },
	{ 198, "<197@x>" }, { 202, "<200@x>" },
	{ 206, "<205@x>" }, { 207, "<205@x> <206@x>" },
};

static void
test_rfc_examples(void **state)
{
	enum { N = 43, SEQ0 = 166 };
	static char mid[N][16], subj[N][16];
	struct tmsg t[N];
	struct imap_sortmsg *m;
	uint32_t head = 0;
	bool first = true;

	memset(t, 0, sizeof(t));
	for (size_t i = 0; i < N; i++) {
		snprintf(mid[i], sizeof(mid[i]), "<%zu@x>", SEQ0 + i);
		t[i].mid = mid[i];
		t[i].arrival = 0;
	}
	for (size_t i = 0; i < N; i++)
		t[rfc_order[i] - SEQ0].date = (int)i;
	for (size_t i = 0; i < sizeof(rfc_subjects) / sizeof(*rfc_subjects);
	    i++) {
		uint32_t s = rfc_subjects[i];

		if (s == 0) {
			first = true;
			continue;
		}
		if (first)
			head = s;
		snprintf(subj[s - SEQ0], sizeof(subj[0]), "s%u", head);
		t[s - SEQ0].subject = subj[s - SEQ0];
		t[s - SEQ0].reply = !first;
		first = false;
	}
	for (size_t i = 0; i < sizeof(rfc_refs) / sizeof(rfc_refs[0]); i++)
		t[rfc_refs[i].seq - SEQ0].refs = rfc_refs[i].refs;
	m = mkmsgs(t, N, SEQ0);
	expect(IMAP_THREAD_ORDEREDSUBJECT, m, N,
	    "(166)(167)(168)(169)(172)(170)(171)"
	    "(173)(174 (175)(176)(178)(181)(180))(179)(177 (183)"
	    "(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)"
	    "(193)(194 195)(196 (197)(198))(199)(200 202)(201)(203)"
	    "(204)(205)(206 207)(208)", "rfc5256");
	expect(IMAP_THREAD_REFERENCES, m, N,
	    "(166)(167)(168)(169)(172)((170)(179))"
	    "(171)(173)((174)(175)(176)(178)(181)(180))"
	    "((177)(183)(182)(188 (184)(189))(185 186)(187))"
	    "(190)(191)(192)(193)((194)(195 196))(197 198)(199)"
	    "(200 202)(201)(203)(204)(205 206 207)(208)", "rfc5256");
	free(m);
}

/* UID THREAD writes UIDs (mkmsgs: uid = 100 * seq). */
static void
test_uid(void **state)
{
	struct imap_sortmsg *m = mkmsgs(c_chain, 4, 1);
	char *s;

	s = thread_str(IMAP_THREAD_REFERENCES, m, 4, true);
	assert_string_equal(s, "(100 (200 300)(400))");
	free(s);
	s = thread_str(IMAP_THREAD_ORDEREDSUBJECT, m, 4, true);
	assert_string_equal(s, "(100 (200)(300)(400))");
	free(s);
	free(m);
}

static void
test_empty(void **state)
{
	struct imap_sortmsg m;
	char *s;

	memset(&m, 0, sizeof(m));
	s = thread_str(IMAP_THREAD_REFERENCES, &m, 0, false);
	assert_string_equal(s, "");
	free(s);
	s = thread_str(IMAP_THREAD_ORDEREDSUBJECT, &m, 0, false);
	assert_string_equal(s, "");
	free(s);
}

static void
test_free_null(void **state)
{
	struct imap_thread *th = NULL;

	imap_thread_free(&th);
	assert_null(th);
}

/* A caller-supplied comparator replaces the built-in one. */
static void
identity_map(const char *s, size_t len, struct buf *out, void *ctx)
{
	(*(int *)ctx)++;
	buf_append(out, s, len);
}

static void
test_casemap_callback(void **state)
{
	static const struct tmsg t[] = {
		{ "<1@c>", NULL, NULL, "Topic", false, 0, 0 },
		{ "<2@c>", NULL, NULL, "topic", true, 1, 0 },
		{ "<3@c>", NULL, NULL, "Topic", true, 2, 0 },
	};
	struct imap_sortmsg *m = mkmsgs(t, 3, 1);
	struct imap_thread *th;
	struct buf b = BUF_INIT;
	int calls = 0;

	th = imap_thread_build(IMAP_THREAD_REFERENCES, m, 3, identity_map,
	    &calls);
	check_tree(th, m, 3);
	imap_thread_write(th, m, false, &b);
	assert_string_equal(buf_cstr(&b), "(1 3)(2)");
	assert_true(calls > 0);
	imap_thread_free(&th);
	buf_reset(&b);
	calls = 0;
	th = imap_thread_build(IMAP_THREAD_ORDEREDSUBJECT, m, 3, identity_map,
	    &calls);
	check_tree(th, m, 3);
	imap_thread_write(th, m, false, &b);
	assert_string_equal(buf_cstr(&b), "(1 3)(2)");
	assert_int_equal(calls, 3);		/* once per message */
	imap_thread_free(&th);
	buf_free(&b);
	free(m);
	/* The default folds case: one thread. */
	m = mkmsgs(t, 3, 1);
	expect(IMAP_THREAD_REFERENCES, m, 3, "(1 (2)(3))", "casemap");
	free(m);
}

/*
 * The writer on trees read from thread-list text: parse, write, compare.
 * Message number k is msgs[k] (seq k).
 */
struct tparse {
	const char		*p;
	struct imap_thread_node	*nodes;
	size_t			 n;
};

static uint32_t
tp_node(struct tparse *tp, uint32_t msg, uint32_t parent)
{
	struct imap_thread_node *x = &tp->nodes[tp->n];

	x->msg = msg;
	x->parent = parent;
	x->first_child = x->next = NONE;
	if (parent != NONE) {
		uint32_t *link = &tp->nodes[parent].first_child;

		while (*link != NONE)
			link = &tp->nodes[*link].next;
		*link = (uint32_t)tp->n;
	}
	return (uint32_t)tp->n++;
}

static uint32_t
tp_number(struct tparse *tp)
{
	char *end;
	unsigned long v = strtoul(tp->p, &end, 10);

	assert_true(end != tp->p);
	tp->p = end;
	return (uint32_t)v;
}

/* One thread-list whose first node gets parent (NONE: top level). */
static void
tp_list(struct tparse *tp, uint32_t parent, uint32_t *prev_root)
{
	uint32_t x;

	assert_int_equal(*tp->p++, '(');
	if (*tp->p == '(') {
		/* Nested right away: a dummy (only at the top). */
		assert_int_equal(parent, NONE);
		x = tp_node(tp, NONE, NONE);
		while (*tp->p == '(')
			tp_list(tp, x, NULL);
	} else {
		uint32_t top;

		x = top = tp_node(tp, tp_number(tp), parent);
		while (*tp->p == ' ') {
			tp->p++;
			if (*tp->p == '(') {
				while (*tp->p == '(')
					tp_list(tp, x, NULL);
				break;
			}
			x = tp_node(tp, tp_number(tp), x);
		}
		x = top;
	}
	assert_int_equal(*tp->p++, ')');
	if (parent == NONE && prev_root != NULL) {
		if (*prev_root != NONE)
			tp->nodes[*prev_root].next = x;
		*prev_root = x;
	}
}

static void
roundtrip(const char *s)
{
	static struct imap_thread_node nodes[256];
	static struct imap_sortmsg m[1000];
	struct tparse tp = { s, nodes, 0 };
	struct imap_thread th;
	struct buf b = BUF_INIT;
	uint32_t prev = NONE;

	for (uint32_t i = 0; i < 1000; i++) {
		m[i].seq = i;
		m[i].uid = i + 5000;
	}
	while (*tp.p != '\0')
		tp_list(&tp, NONE, &prev);
	th.nodes = nodes;
	th.nnodes = tp.n;
	th.first_root = tp.n > 0 ? 0 : NONE;
	th.nroots = 0;
	imap_thread_write(&th, m, false, &b);
	assert_string_equal(buf_cstr(&b), s);
	buf_free(&b);
}

static void
test_writer(void **state)
{
	roundtrip("");
	roundtrip("(1)");
	roundtrip("(1)(2)(3)");
	roundtrip("(1 2 3 4)");
	roundtrip("(1 (2)(3))");
	roundtrip("((1)(2))");
	roundtrip("((1 2)(3 (4)(5))(6))(7 8)");
	roundtrip("(2)(3 6 (4 23)(44 7 96))");
	roundtrip("(1 2 (3 (4)(5 (6)(7 8 9)))(10))");
	roundtrip("(166)(167)(168)(169)(172)((170)(179))(171)(173)((174)(175)"
	    "(176)(178)(181)(180))((177)(183)(182)(188 (184)(189))(185 186)"
	    "(187))(190)(191)(192)(193)((194)(195 196))(197 198)(199)(200 202)"
	    "(201)(203)(204)(205 206 207)(208)");
}

/* imap_msgid_next: every id of s, normalized, joined by '|'. */
static const char *
msgids(const char *s)
{
	static char out[1024];
	struct buf b = BUF_INIT, all = BUF_INIT;
	size_t pos = 0, len = strlen(s);

	while (imap_msgid_next(s, len, &pos, &b)) {
		assert_true(pos <= len);
		if (all.len > 0)
			buf_putc(&all, '|');
		buf_append(&all, b.data, b.len);
		buf_reset(&b);
	}
	assert_int_equal(pos, len);
	assert_int_equal(b.len, 0);
	snprintf(out, sizeof(out), "%s", buf_cstr(&all));
	buf_free(&b);
	buf_free(&all);
	return out;
}

static void
test_msgid(void **state)
{
	assert_string_equal(msgids(""), "");
	assert_string_equal(msgids("<a@b>"), "a@b");
	assert_string_equal(msgids("  <a@b>  <c.d@e.f>\r\n\t<g@h>"),
	    "a@b|c.d@e.f|g@h");
	assert_string_equal(msgids("<a@b><c@d>"), "a@b|c@d");
	assert_string_equal(msgids("<a@b>,<c@d>"), "a@b|c@d");
	/* Case is kept: ids compare case-sensitively. */
	assert_string_equal(msgids("<ABC@Example.COM>"), "ABC@Example.COM");
	/* RFC 5256: quoting does not make a different id. */
	assert_string_equal(msgids("<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>"),
	    "01KF8JCEOCBS0045PS@xxx.yyy.com");
	assert_string_equal(msgids("<\"a b\\\"c\"@x>"), "a b\"c@x");
	assert_string_equal(msgids("<\"a>b\"@x>"), "");
	/* Folding white space and comments inside. */
	assert_string_equal(msgids("<a\r\n @ b>"), "a@b");
	assert_string_equal(msgids("<a(comment (nested) \\) )@b>"), "a@b");
	assert_string_equal(msgids("<a@[192.0.2.1]>"), "a@[192.0.2.1]");
	/* Junk: In-Reply-To as some mailers write it. */
	assert_string_equal(msgids("<a@b> from alice@example.com"), "a@b");
	assert_string_equal(msgids("Your message of Tue, <a@b>"), "a@b");
	assert_string_equal(msgids("alice@example.com's message <a@b>"),
	    "a@b");
	/* Invalid candidates are skipped, valid ones after them kept. */
	assert_string_equal(msgids("<noat> <a@b>"), "a@b");
	assert_string_equal(msgids("<@b> <a@> <@> <> <a@b>"), "a@b");
	assert_string_equal(msgids("<junk <a@b>"), "a@b");
	assert_string_equal(msgids("<<a@b>>"), "a@b");
	assert_string_equal(msgids("<a(unclosed@b> <c@d>"), "c@d");
	assert_string_equal(msgids("<\"unclosed@b> <c@d>"), "c@d");
	assert_string_equal(msgids("<a@b"), "");
	assert_string_equal(msgids("a@b>"), "");
	assert_string_equal(msgids("<a@b> <c@d"), "a@b");
	assert_string_equal(msgids("<a@b@c>"), "a@b@c");
	assert_string_equal(msgids("<\"\"@x> <\"x\"@>"), "");
}

/* Not NUL-terminated, and starting in the middle. */
static void
test_msgid_bounds(void **state)
{
	const char s[] = "<a@b> <c@d> <e@f>";
	struct buf b = BUF_INIT;
	size_t pos = 6;

	assert_true(imap_msgid_next(s, 16, &pos, &b));
	assert_string_equal(buf_cstr(&b), "c@d");
	assert_int_equal(pos, 11);
	buf_reset(&b);
	/* "<e@f" is cut off by the length. */
	assert_false(imap_msgid_next(s, 16, &pos, &b));
	assert_int_equal(pos, 16);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/*
 * Big mailboxes.  Strings of message i live in str[i * 3 .. i * 3 + 2].
 */
struct bigbox {
	struct imap_sortmsg	*m;
	char			**str;
	size_t			 n;
};

static void
bigbox_init(struct bigbox *bb, size_t n)
{
	bb->n = n;
	bb->m = calloc(n, sizeof(*bb->m));
	bb->str = calloc(n * 3, sizeof(*bb->str));
	assert_non_null(bb->m);
	assert_non_null(bb->str);
	for (size_t i = 0; i < n; i++) {
		bb->m[i].seq = (uint32_t)i + 1;
		bb->m[i].uid = (uint32_t)i * 2 + 7;
		bb->m[i].internaldate = T0;
		bb->m[i].sent = T0;
		bb->m[i].sent_valid = true;
	}
}

static void
bigbox_free(struct bigbox *bb)
{
	for (size_t i = 0; i < bb->n * 3; i++)
		free(bb->str[i]);
	free(bb->str);
	free(bb->m);
}

static char *
xstr(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Threads, checks, writes, and reports the time taken. */
static char *
big_thread(enum imap_thread_alg alg, const struct bigbox *bb,
    const char *what)
{
	uint64_t t0 = mono_ms(), t1, t2;
	struct imap_thread *th = imap_thread_build(alg, bb->m, bb->n, NULL,
	    NULL);
	struct buf b = BUF_INIT;
	char *s;

	t1 = mono_ms();
	imap_thread_write(th, bb->m, false, &b);
	t2 = mono_ms();
	printf("[ TIMING   ] %s %s, %zu messages: build %llu ms, write "
	    "%llu ms, %zu nodes, %zu threads\n", what,
	    alg == IMAP_THREAD_REFERENCES ? "REFERENCES" : "ORDEREDSUBJECT",
	    bb->n, (unsigned long long)(t1 - t0),
	    (unsigned long long)(t2 - t1), th->nnodes, th->nroots);
	check_tree(th, bb->m, bb->n);
	imap_thread_free(&th);
	s = buf_steal(&b);
	buf_free(&b);
	return s;
}

/* "(1 2 3 ... n)" with the numbers in the given order. */
static void
chain_expect(struct buf *b, size_t n, bool reverse)
{
	buf_putc(b, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ' ');
		buf_put_u64(b, reverse ? n - i : i + 1);
	}
	buf_putc(b, ')');
}

/*
 * A 100,000-message reply chain, stored in order and in reverse: no
 * recursion anywhere (the writer nests 100,000 levels), no quadratic
 * ancestor walks.
 */
static void
test_deep_chain(void **state)
{
	enum { N = 100000 };
	struct bigbox bb;
	struct buf want = BUF_INIT;
	char *s;

	bigbox_init(&bb, N);
	for (size_t i = 0; i < N; i++) {
		bb.str[i * 3] = xstr("<%zu@chain>", i);
		bb.m[i].message_id = bb.str[i * 3];
		if (i > 0) {
			bb.str[i * 3 + 1] = xstr("<%zu@chain>", i - 1);
			bb.m[i].in_reply_to = bb.str[i * 3 + 1];
		}
	}
	s = big_thread(IMAP_THREAD_REFERENCES, &bb, "chain");
	chain_expect(&want, N, false);
	assert_true(strcmp(s, buf_cstr(&want)) == 0);
	free(s);
	bigbox_free(&bb);

	/* Each message answers the next one. */
	bigbox_init(&bb, N);
	for (size_t i = 0; i < N; i++) {
		bb.str[i * 3] = xstr("<%zu@chain>", i);
		bb.m[i].message_id = bb.str[i * 3];
		if (i + 1 < N) {
			bb.str[i * 3 + 1] = xstr("<%zu@chain>", i + 1);
			bb.m[i].in_reply_to = bb.str[i * 3 + 1];
		}
	}
	s = big_thread(IMAP_THREAD_REFERENCES, &bb, "reverse chain");
	buf_reset(&want);
	chain_expect(&want, N, true);
	assert_true(strcmp(s, buf_cstr(&want)) == 0);
	free(s);
	bigbox_free(&bb);
	buf_free(&want);
}

/*
 * Loop attempts against a deep chain: 50,000 messages in a chain, then
 * 50,000 whose References say "<chain end> <chain start>", asking to hang
 * the chain's root below its own deepest message.  Each is refused; an
 * ancestor walk would cost 50,000 steps per message.
 */
static void
test_loop_flood(void **state)
{
	enum { N = 100000, H = N / 2 };
	struct bigbox bb;
	struct buf want = BUF_INIT;
	char *s;

	bigbox_init(&bb, N);
	for (size_t i = 0; i < H; i++) {
		bb.str[i * 3] = xstr("<%zu@chain>", i);
		bb.m[i].message_id = bb.str[i * 3];
		if (i > 0) {
			bb.str[i * 3 + 1] = xstr("<%zu@chain>", i - 1);
			bb.m[i].in_reply_to = bb.str[i * 3 + 1];
		}
	}
	for (size_t i = H; i < N; i++) {
		bb.str[i * 3] = xstr("<%zu@flood>", i);
		bb.m[i].message_id = bb.str[i * 3];
		bb.str[i * 3 + 1] = xstr("<%u@chain> <0@chain>", H - 1);
		bb.m[i].references = bb.str[i * 3 + 1];
	}
	s = big_thread(IMAP_THREAD_REFERENCES, &bb, "loop flood");
	/* (1 (2 3 ... H)(H+1)(H+2)...(N)) */
	buf_puts(&want, "(1 (");
	for (size_t i = 2; i <= H; i++) {
		buf_put_u64(&want, i);
		if (i < H)
			buf_putc(&want, ' ');
	}
	buf_putc(&want, ')');
	for (size_t i = H + 1; i <= N; i++) {
		buf_putc(&want, '(');
		buf_put_u64(&want, i);
		buf_putc(&want, ')');
	}
	buf_putc(&want, ')');
	assert_true(strcmp(s, buf_cstr(&want)) == 0);
	free(s);
	bigbox_free(&bb);
	buf_free(&want);
}

/*
 * 100,000 random messages: real and missing parents, truncated and
 * shuffled References, duplicate and missing Message-IDs, loops, junk,
 * 2,000 subjects (some empty), invalid dates.  Checked structurally.
 */
static void
random_box(struct bigbox *bb, size_t n, uint64_t seed)
{
	uint32_t *parent = malloc(n * sizeof(*parent));
	struct buf refs = BUF_INIT;

	assert_non_null(parent);
	bigbox_init(bb, n);
	for (size_t i = 0; i < n; i++) {
		struct imap_sortmsg *m = &bb->m[i];
		uint64_t r = xorshift(&seed);

		parent[i] = r % 10 < 7 ? (uint32_t)(xorshift(&seed) % n) :
		    NONE;
		r = xorshift(&seed) % 100;
		if (r < 2)
			bb->str[i * 3] = NULL;		/* no Message-ID */
		else if (r < 4 && i > 0)
			bb->str[i * 3] = xstr("<%llu@r>", (unsigned long long)
			    (xorshift(&seed) % i));	/* duplicate */
		else
			bb->str[i * 3] = xstr("<%zu@r>", i);
		m->message_id = bb->str[i * 3];

		r = xorshift(&seed);
		bb->str[i * 3 + 1] = xstr("%llu", (unsigned long long)
		    (r % 2000));
		m->subject = r % 50 == 0 ? "" : bb->str[i * 3 + 1];
		m->subject_reply = (r >> 20) % 2 == 0;
		m->sent = T0 + (time_t)(xorshift(&seed) % (365 * 86400));
		m->sent_valid = xorshift(&seed) % 20 != 0;
		m->internaldate = T0 + (time_t)(xorshift(&seed) % 86400);
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t chain[8], p = parent[i];
		size_t depth = 0;

		buf_reset(&refs);
		while (p != NONE && depth < 8) {
			chain[depth++] = p;
			p = parent[p];
		}
		for (size_t k = depth; k > 0; k--) {
			uint64_t r = xorshift(&seed) % 100;

			if (r < 5)
				continue;		/* truncated */
			if (r < 8)
				buf_printf(&refs, "<gone%llu@r> ",
				    (unsigned long long)(xorshift(&seed) %
				    1000));
			else if (r < 10)
				buf_printf(&refs, "<%llu@r> ",
				    (unsigned long long)(xorshift(&seed) % n));
			else if (r < 11)
				buf_puts(&refs, "<junk> ");
			buf_printf(&refs, "<%u@r> ", chain[k - 1]);
		}
		if (refs.len == 0)
			continue;
		if (xorshift(&seed) % 4 == 0) {
			bb->str[i * 3 + 2] = xstr("%s from somebody",
			    buf_cstr(&refs));
			bb->m[i].in_reply_to = bb->str[i * 3 + 2];
		} else {
			bb->str[i * 3 + 2] = buf_steal(&refs);
			bb->m[i].references = bb->str[i * 3 + 2];
		}
	}
	buf_free(&refs);
	free(parent);
}

static void
test_random_100k(void **state)
{
	struct bigbox bb;
	char *s1, *s2;

	random_box(&bb, 100000, 0x9e3779b97f4a7c15ULL);
	s1 = big_thread(IMAP_THREAD_REFERENCES, &bb, "random");
	free(big_thread(IMAP_THREAD_ORDEREDSUBJECT, &bb, "random"));
	/* Deterministic: the same answer again (random hash keys). */
	s2 = big_thread(IMAP_THREAD_REFERENCES, &bb, "random again");
	assert_true(strcmp(s1, s2) == 0);
	free(s1);
	free(s2);
	bigbox_free(&bb);
}

/* Many small random boxes: dense id reuse makes loops and conflicts. */
static void
test_random_small(void **state)
{
	for (uint64_t seed = 1; seed <= 300; seed++) {
		struct bigbox bb;
		size_t n = 1 + seed % 40;
		struct imap_thread *th;

		random_box(&bb, n, seed * 0x2545f4914f6cdd1dULL);
		th = imap_thread_build(IMAP_THREAD_REFERENCES, bb.m, n, NULL,
		    NULL);
		check_tree(th, bb.m, n);
		imap_thread_free(&th);
		th = imap_thread_build(IMAP_THREAD_ORDEREDSUBJECT, bb.m, n,
		    NULL, NULL);
		check_tree(th, bb.m, n);
		imap_thread_free(&th);
		bigbox_free(&bb);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_input_order),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_uid),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_free_null),
		cmocka_unit_test(test_casemap_callback),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_msgid),
		cmocka_unit_test(test_msgid_bounds),
		cmocka_unit_test(test_deep_chain),
		cmocka_unit_test(test_loop_flood),
		cmocka_unit_test(test_random_100k),
		cmocka_unit_test(test_random_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_store - unit tests for the store (src/store/store.h) on the sqlite
 * backend, each test on a fresh data_dir under /tmp that is removed after.
 *
 * Covered: domains, accounts and aliases (case handling, refusals),
 * recipient resolution (accounts, aliases with several targets, chains,
 * loops, remote targets, depth limit, unknown and non-local addresses), the
 * default mailboxes of a new account, delivery into two accounts with exact
 * counters, metadata and body bytes (a > 256 KiB message that the spool
 * keeps in a file, read back at every kind of offset), APPEND with flags
 * and keywords, STORE (SET/ADD/REMOVE, keyword case, modseq, unseen,
 * UNCHANGEDSINCE), scans since a modseq, COPY (reference counts) and MOVE
 * (tombstones), EXPUNGE, mailbox create/delete/rename (children, INBOX),
 * subscriptions, uidvalidity of a re-created mailbox, \Recent claiming, the
 * outbound queue, store_check, and the change hook after every commit.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/spool.h"
#include "mime/mime.h"
#include "store/store.h"
#include "store/sqlite/sqlite_int.h"

#define MAX_CALLS	64
/* Bigger than the spool keeps in memory, not a multiple of 64 KiB. */
#define BIG_SIZE	(SPOOL_MEM_MAX + 44444 + 3)

struct call {
	int64_t	account;
	int64_t	mailbox;
};

struct fixture {
	char		 dir[64];
	char		 data[96];
	struct store	*st;
	struct call	 calls[MAX_CALLS];
	size_t		 ncalls;
};

/* A message ready for the store: its bytes, spool and MIME blob. */
struct tmsg {
	char		*text;
	size_t		 len;
	struct spool	 sp;
	struct buf	 mime;
	struct store_msg m;
};

static void
hook(void *ctx, int64_t account, int64_t mailbox)
{
	struct fixture *f = ctx;

	assert_true(f->ncalls < MAX_CALLS);
	f->calls[f->ncalls].account = account;
	f->calls[f->ncalls].mailbox = mailbox;
	f->ncalls++;
}

static void
calls_reset(struct fixture *f)
{
	f->ncalls = 0;
}

/* Exactly these (account, mailbox) calls since the last reset, in order. */
static void
calls_expect(struct fixture *f, size_t n, ...)
{
	va_list ap;

	if (f->ncalls != n)
		fail_msg("change hook called %zu times, want %zu", f->ncalls,
		    n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++) {
		int64_t a = va_arg(ap, int64_t), m = va_arg(ap, int64_t);

		if (f->calls[i].account != a || f->calls[i].mailbox != m)
			fail_msg("change hook call %zu: (%lld, %lld), want "
			    "(%lld, %lld)", i, (long long)f->calls[i].account,
			    (long long)f->calls[i].mailbox, (long long)a,
			    (long long)m);
	}
	va_end(ap);
	calls_reset(f);
}

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *err = NULL;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	/* data_dir itself does not exist yet: store_open creates it. */
	snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
	if (store_open(f->data, &f->st, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	store_set_change_hook(f->st, hook, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	store_close(&f->st);
	rc = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

/* The bytes of a message: headers, then body_len bytes of pattern lines. */
static char *
msg_text(const char *subject, size_t body_len, size_t *len_r)
{
	struct buf b = BUF_INIT;

	buf_printf(&b, "From: Alice <alice@example.org>\r\n"
	    "To: bob@example.com\r\n"
	    "Subject: %s\r\n"
	    "Message-ID: <%s@example.org>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n", subject, subject);
	for (size_t i = 0; i < body_len; i++) {
		if (i % 78 == 76)
			buf_putc(&b, '\r');
		else if (i % 78 == 77)
			buf_putc(&b, '\n');
		else
			buf_putc(&b, (char)('!' + (i * 7 + i / 78) % 94));
	}
	*len_r = b.len;
	return buf_steal(&b);
}

static void
tmsg_init(struct fixture *f, struct tmsg *t, const char *subject,
    size_t body_len)
{
	struct mime_part *root;

	memset(t, 0, sizeof(*t));
	t->text = msg_text(subject, body_len, &t->len);
	spool_init(&t->sp, store_tmpdir(f->st));
	/* Several writes, as a session would. */
	for (size_t off = 0; off < t->len;) {
		size_t n = t->len - off < 10000 ? t->len - off : 10000;

		assert_int_equal(spool_write(&t->sp, t->text + off, n), 0);
		off += n;
	}
	assert_true(t->sp.size == t->len);
	root = mime_parse(t->text, t->len, NULL);
	assert_non_null(root);
	buf_init(&t->mime);
	assert_int_equal(mime_serialize(root, &t->mime), 0);
	assert_true(t->mime.len > 0);
	mime_part_free(&root);
	memset(&t->m, 0, sizeof(t->m));
	t->m.spool = &t->sp;
	t->m.mime = t->mime.data;
	t->m.mime_len = t->mime.len;
	t->m.internaldate = 1700000000 + (time_t)body_len;
}

static void
tmsg_free(struct tmsg *t)
{
	spool_free(&t->sp);
	buf_free(&t->mime);
	free(t->text);
}

static int64_t
add_account(struct fixture *f, const char *addr)
{
	const char *err = NULL;
	int64_t id = 0;

	if (store_account_add(f->st, addr, "{hash}x", NULL, &id,
	    &err) < 0)
		fail_msg("account_add %s: %s", addr, err);
	assert_true(id > 0);
	return id;
}

static void
add_domain(struct fixture *f, const char *name)
{
	const char *err = NULL;

	if (store_domain_add(f->st, name, &err) < 0)
		fail_msg("domain_add %s: %s", name, err);
}

static void
add_alias(struct fixture *f, const char *alias, size_t n, ...)
{
	const char *targets[16], *err = NULL;
	va_list ap;

	assert_true(n <= 16);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		targets[i] = va_arg(ap, const char *);
	va_end(ap);
	if (store_alias_add(f->st, alias, targets, n, &err) < 0)
		fail_msg("alias_add %s: %s", alias, err);
}

static struct mailbox_info
mbox(struct fixture *f, int64_t acct, const char *name)
{
	struct mailbox_info mi;

	if (store_mailbox_get(f->st, acct, name, &mi) != 1)
		fail_msg("no mailbox '%s'", name);
	return mi;
}

static bool
mbox_exists(struct fixture *f, int64_t acct, const char *name)
{
	struct mailbox_info mi;
	int r = store_mailbox_get(f->st, acct, name, &mi);

	assert_true(r == 0 || r == 1);
	return r == 1;
}

/* Appends to a mailbox by name; returns the uid. */
static uint32_t
append(struct fixture *f, int64_t acct, const char *name, struct tmsg *t,
    uint32_t flags, const char *kw)
{
	struct mailbox_info mi = mbox(f, acct, name);
	const char *err = NULL;
	uint32_t uid = 0, uv = 0;

	if (store_append(f->st, acct, mi.id, &t->m, flags, kw, 0, &uid, &uv,
	    &err) < 0)
		fail_msg("append: %s", err);
	assert_int_equal(uv, mi.uidvalidity);
	assert_int_equal(uid, mi.uidnext);
	return uid;
}

/* Reads a whole body in pieces of `chunk` bytes. */
static void
body_all(struct fixture *f, int64_t acct, int64_t msgid, size_t chunk,
    struct buf *out)
{
	const char *err = NULL;
	size_t before;

	for (uint64_t off = 0;; off += chunk) {
		before = out->len;
		if (store_body_read(f->st, acct, msgid, off, chunk, out,
		    &err) < 0)
			fail_msg("body_read: %s", err);
		if (out->len == before)
			break;
	}
}

/* The mail_row list of a scan. */
struct rows {
	struct mail_row r[64];
	char	 kw[64][128];
	size_t	 n;
};

static void
rows_cb(void *ctx, const struct mail_row *row)
{
	struct rows *rs = ctx;

	assert_true(rs->n < 64);
	rs->r[rs->n] = *row;
	snprintf(rs->kw[rs->n], sizeof(rs->kw[0]), "%s",
	    row->keywords ? row->keywords : "");
	rs->r[rs->n].keywords = rs->kw[rs->n];
	rs->n++;
}

static void
scan(struct fixture *f, int64_t acct, int64_t mbox_id, uint64_t since,
    struct rows *rs)
{
	const char *err = NULL;

	rs->n = 0;
	if (store_mails_scan(f->st, acct, mbox_id, since, rows_cb, rs,
	    &err) < 0)
		fail_msg("scan: %s", err);
}

struct uids {
	uint32_t u[64];
	size_t	 n;
};

static void
uids_cb(void *ctx, uint32_t uid)
{
	struct uids *us = ctx;

	assert_true(us->n < 64);
	us->u[us->n++] = uid;
}

static void
expunged(struct fixture *f, int64_t acct, int64_t mbox_id, uint64_t since,
    struct uids *us)
{
	const char *err = NULL;

	us->n = 0;
	if (store_expunged_scan(f->st, acct, mbox_id, since, uids_cb, us,
	    &err) < 0)
		fail_msg("expunged_scan: %s", err);
}

/* Counters of a mailbox agree with its rows. */
static void
check_counters(struct fixture *f, int64_t acct, const char *name)
{
	struct mailbox_info mi = mbox(f, acct, name);
	struct rows rs;
	uint32_t unseen = 0;
	uint64_t size = 0, maxmodseq = 0;
	const char *err = NULL;

	rs.n = 0;
	if (store_mails_scan_sized(f->st, acct, mi.id, rows_cb, &rs,
	    &err) < 0)
		fail_msg("scan: %s", err);
	for (size_t i = 0; i < rs.n; i++) {
		if (!(rs.r[i].flags & MAIL_SEEN))
			unseen++;
		size += rs.r[i].size;
		if (rs.r[i].modseq > maxmodseq)
			maxmodseq = rs.r[i].modseq;
		if (i > 0)
			assert_true(rs.r[i].uid > rs.r[i - 1].uid);
		assert_true(rs.r[i].uid < mi.uidnext);
	}
	assert_int_equal(mi.messages, rs.n);
	assert_int_equal(mi.unseen, unseen);
	assert_true(mi.size == size);
	assert_true(mi.highestmodseq >= maxmodseq);
}

/*
 * Domains
 */

struct names {
	char	 s[16][64];
	size_t	 n;
};

static void
names_cb(void *ctx, const char *name)
{
	struct names *ns = ctx;

	assert_true(ns->n < 16);
	snprintf(ns->s[ns->n++], sizeof(ns->s[0]), "%s", name);
}

static void
test_open(void **state)
{
	struct fixture *f = *state;
	char want[128];
	struct stat sb;
	struct store *st2 = NULL;
	const char *err = NULL;

	snprintf(want, sizeof(want), "%s/tmp", f->data);
	assert_string_equal(store_tmpdir(f->st), want);
	assert_int_equal(stat(want, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	snprintf(want, sizeof(want), "%s/accounts", f->data);
	assert_int_equal(stat(want, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	snprintf(want, sizeof(want), "%s/posthorn.db", f->data);
	assert_int_equal(stat(want, &sb), 0);
	/* Opening again (migrations already applied) works too. */
	add_domain(f, "example.com");
	assert_int_equal(store_open(f->data, &st2, &err), 0);
	assert_int_equal(store_domain_exists(st2, "example.com"), 1);
	store_close(&st2);
	assert_null(st2);
	/* Close and reopen the fixture's store. */
	store_close(&f->st);
	assert_int_equal(store_open(f->data, &f->st, &err), 0);
	store_set_change_hook(f->st, hook, f);
	assert_int_equal(store_domain_exists(f->st, "example.com"), 1);
}

static void
test_domains(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "", "bad_domain.com",
	    "example.com.", "-a.com", "a..b", "a b.com", "[1.2.3.4]" };
	struct names ns = { .n = 0 };
	const char *err;

	add_domain(f, "Example.COM");
	assert_int_equal(store_domain_exists(f->st, "example.com"), 1);
	assert_int_equal(store_domain_exists(f->st, "EXAMPLE.com"), 1);
	assert_int_equal(store_domain_exists(f->st, "example.org"), 0);
	err = NULL;
	assert_int_equal(store_domain_add(f->st, "example.com", &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_domain_add(f->st, "EXAMPLE.COM", &err), -1);
	assert_non_null(err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(store_domain_add(f->st, bad[i], &err), -1);
		assert_non_null(err);
	}
	add_domain(f, "b.org");
	add_domain(f, "a.net");
	assert_int_equal(store_domain_list(f->st, names_cb, &ns), 0);
	assert_int_equal(ns.n, 3);
	assert_string_equal(ns.s[0], "a.net");
	assert_string_equal(ns.s[1], "b.org");
	assert_string_equal(ns.s[2], "example.com");	/* lower-cased */

	/* Deleting a domain with an account or an alias is refused. */
	add_account(f, "bob@example.com");
	err = NULL;
	assert_int_equal(store_domain_del(f->st, "example.com", &err), -1);
	assert_non_null(err);
	assert_int_equal(store_domain_exists(f->st, "example.com"), 1);
	add_alias(f, "info@b.org", 1, "bob@example.com");
	err = NULL;
	assert_int_equal(store_domain_del(f->st, "b.org", &err), -1);
	assert_non_null(err);
	assert_int_equal(store_alias_del(f->st, "info@b.org", &err), 0);
	assert_int_equal(store_domain_del(f->st, "B.ORG", &err), 0);
	assert_int_equal(store_domain_exists(f->st, "b.org"), 0);
	err = NULL;
	assert_int_equal(store_domain_del(f->st, "b.org", &err), -1);
	assert_non_null(err);
	assert_int_equal(store_account_del(f->st, "bob@example.com", &err), 0);
	assert_int_equal(store_domain_del(f->st, "Example.Com", &err), 0);
	ns.n = 0;
	assert_int_equal(store_domain_list(f->st, names_cb, &ns), 0);
	assert_int_equal(ns.n, 1);
	assert_string_equal(ns.s[0], "a.net");
	calls_expect(f, 0);
}

/*
 * Accounts
 */

struct accts {
	char	 addr[8][64];
	int64_t	 id[8];
	size_t	 n;
};

static void
accts_cb(void *ctx, const struct account *a)
{
	struct accts *as = ctx;

	assert_true(as->n < 8);
	snprintf(as->addr[as->n], sizeof(as->addr[0]), "%s", a->address);
	as->id[as->n++] = a->id;
}

static void
test_accounts(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "bob", "@example.com",
	    "bob@", "", "bob@unknown.org", "bob@example.com.evil" };
	struct account a;
	struct accts as = { .n = 0 };
	const char *err;
	int64_t bob, carol, id;
	char path[160];
	struct stat sb;

	add_domain(f, "example.com");
	bob = add_account(f, "Bob@Example.COM");
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_account_get(f->st, "Bob@example.com", &a), 1);
	assert_true(a.id == bob);
	/* The domain is lower-cased, the local part kept. */
	assert_string_equal(a.address, "Bob@example.com");
	assert_string_equal(a.password_hash, "{hash}x");
	assert_true(a.enabled);
	account_clear(&a);
	/* Lookups ignore case. */
	assert_int_equal(store_account_get(f->st, "bob@EXAMPLE.com", &a), 1);
	assert_true(a.id == bob);
	account_clear(&a);
	assert_int_equal(store_account_get(f->st, "BOB@EXAMPLE.COM", &a), 1);
	account_clear(&a);
	assert_int_equal(store_account_get(f->st, "bobby@example.com", &a),
	    0);
	assert_int_equal(store_account_get_id(f->st, bob, &a), 1);
	assert_string_equal(a.address, "Bob@example.com");
	account_clear(&a);
	assert_int_equal(store_account_get_id(f->st, bob + 100, &a), 0);

	/* Duplicates (in any case), bad addresses, unknown domains. */
	err = NULL;
	assert_int_equal(store_account_add(f->st, "bob@example.com", "h", NULL,
	    &id, &err), -1);
	assert_non_null(err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(store_account_add(f->st, bad[i], "h", NULL,
		    &id, &err), -1);
		assert_non_null(err);
	}

	/* Password change, by any case of the address. */
	assert_int_equal(store_account_passwd(f->st, "BOB@example.COM",
	    "{hash}new", "scram-creds", &err), 0);
	assert_int_equal(store_account_get(f->st, "bob@example.com", &a), 1);
	assert_string_equal(a.password_hash, "{hash}new");
	assert_string_equal(a.scram, "scram-creds");
	account_clear(&a);
	assert_int_equal(store_account_passwd(f->st, "bob@example.com",
	    "{hash}newer", NULL, &err), 0);
	assert_int_equal(store_account_get(f->st, "bob@example.com", &a), 1);
	assert_string_equal(a.password_hash, "{hash}newer");
	assert_null(a.scram);
	account_clear(&a);
	err = NULL;
	assert_int_equal(store_account_passwd(f->st, "nobody@example.com",
	    "h", NULL, &err), -1);
	assert_non_null(err);

	/* An account and an alias never share an address. */
	add_alias(f, "sales@example.com", 1, "bob@example.com");
	err = NULL;
	assert_int_equal(store_account_add(f->st, "Sales@Example.com", "h",
	    NULL, &id, &err), -1);
	assert_non_null(err);
	err = NULL;
	{
		const char *t[] = { "sales@example.com" };

		assert_int_equal(store_alias_add(f->st, "BOB@example.com", t,
		    1, &err), -1);
		assert_non_null(err);
	}

	carol = add_account(f, "carol@example.com");
	assert_true(carol != bob);
	assert_int_equal(store_account_list(f->st, accts_cb, &as), 0);
	assert_int_equal(as.n, 2);
	assert_string_equal(as.addr[0], "Bob@example.com");
	assert_true(as.id[0] == bob);
	assert_string_equal(as.addr[1], "carol@example.com");

	/* Deleting removes the account's mail files too. */
	{
		struct mailbox_info mi = mbox(f, carol, "INBOX");

		(void)mi;
	}
	snprintf(path, sizeof(path), "%s/accounts/%lld/mail.db", f->data,
	    (long long)carol);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(store_account_del(f->st, "CAROL@example.com", &err),
	    0);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "%s/accounts/%lld", f->data,
	    (long long)carol);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(store_account_get(f->st, "carol@example.com", &a), 0);
	err = NULL;
	assert_int_equal(store_account_del(f->st, "carol@example.com", &err),
	    -1);
	assert_non_null(err);
	as.n = 0;
	assert_int_equal(store_account_list(f->st, accts_cb, &as), 0);
	assert_int_equal(as.n, 1);
	calls_expect(f, 0);
}

/*
 * Aliases and recipient resolution
 */

struct aliases {
	char	 alias[8][64];
	char	 targets[8][256];
	size_t	 n;
};

static void
aliases_cb(void *ctx, const char *alias, const char *targets)
{
	struct aliases *al = ctx;

	assert_true(al->n < 8);
	snprintf(al->alias[al->n], sizeof(al->alias[0]), "%s", alias);
	snprintf(al->targets[al->n], sizeof(al->targets[0]), "%s", targets);
	al->n++;
}

static void
test_aliases(void **state)
{
	struct fixture *f = *state;
	struct aliases al = { .n = 0 };
	const char *err, *t[3];

	add_domain(f, "example.com");
	add_account(f, "bob@example.com");
	add_alias(f, "Postmaster@Example.COM", 2, "Bob@Example.COM",
	    "ext@Remote.ORG");
	add_alias(f, "abuse@example.com", 1, "postmaster@example.com");
	assert_int_equal(store_alias_list(f->st, aliases_cb, &al), 0);
	assert_int_equal(al.n, 2);
	assert_string_equal(al.alias[0], "abuse@example.com");
	assert_string_equal(al.targets[0], "postmaster@example.com");
	assert_string_equal(al.alias[1], "Postmaster@example.com");
	assert_string_equal(al.targets[1], "Bob@example.com,ext@remote.org");

	/* Adding an existing alias replaces its targets. */
	add_alias(f, "abuse@example.com", 1, "bob@example.com");
	al.n = 0;
	assert_int_equal(store_alias_list(f->st, aliases_cb, &al), 0);
	assert_int_equal(al.n, 2);
	assert_string_equal(al.targets[0], "bob@example.com");

	/* Refusals. */
	t[0] = "bob@example.com";
	err = NULL;
	assert_int_equal(store_alias_add(f->st, "x@example.com", t, 0, &err),
	    -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_alias_add(f->st, "x@other.org", t, 1, &err),
	    -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_alias_add(f->st, "nodomain", t, 1, &err), -1);
	assert_non_null(err);
	{
		static const char *const badt[] = { "bob", "bob@",
		    "a@b.com,c@d.com", "a b@c.com", "a@b.com\r\n", "" };

		for (size_t i = 0; i < sizeof(badt) / sizeof(badt[0]); i++) {
			t[0] = "bob@example.com";
			t[1] = badt[i];
			err = NULL;
			assert_int_equal(store_alias_add(f->st,
			    "y@example.com", t, 2, &err), -1);
			assert_non_null(err);
		}
	}
	al.n = 0;
	assert_int_equal(store_alias_list(f->st, aliases_cb, &al), 0);
	assert_int_equal(al.n, 2);

	/* Deleting, by any case. */
	assert_int_equal(store_alias_del(f->st, "POSTMASTER@example.com",
	    &err), 0);
	err = NULL;
	assert_int_equal(store_alias_del(f->st, "postmaster@example.com",
	    &err), -1);
	assert_non_null(err);
	al.n = 0;
	assert_int_equal(store_alias_list(f->st, aliases_cb, &al), 0);
	assert_int_equal(al.n, 1);
	assert_string_equal(al.alias[0], "abuse@example.com");
	calls_expect(f, 0);
}

static int
resolve(struct fixture *f, const char *addr, struct rcpt_resolution *rr)
{
	const char *err = NULL;
	int r;

	rcpt_resolution_init(rr);
	r = store_resolve_rcpt(f->st, addr, rr, &err);
	if (r < 0)
		fail_msg("resolve %s: %s", addr, err);
	return r;
}

static void
test_resolve(void **state)
{
	struct fixture *f = *state;
	struct rcpt_resolution rr;
	int64_t bob, alice;
	char name[64], next[64];

	add_domain(f, "example.com");
	add_domain(f, "example.net");
	bob = add_account(f, "bob@example.com");
	alice = add_account(f, "alice@example.net");

	/* An account, in any case. */
	assert_int_equal(resolve(f, "bob@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	assert_int_equal(rr.nremote, 0);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "BOB@Example.COM", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);

	/* Several targets, duplicates removed. */
	add_alias(f, "team@example.com", 4, "bob@example.com",
	    "alice@example.net", "BOB@example.com", "bob@EXAMPLE.COM");
	assert_int_equal(resolve(f, "team@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 2);
	assert_true(rr.account_ids[0] == bob);
	assert_true(rr.account_ids[1] == alice);
	assert_int_equal(rr.nremote, 0);
	rcpt_resolution_free(&rr);

	/* A chain a1 -> a2 -> a3 -> alice, and a diamond into team. */
	add_alias(f, "a1@example.com", 1, "a2@example.com");
	add_alias(f, "a2@example.com", 1, "a3@example.net");
	add_alias(f, "a3@example.net", 1, "alice@example.net");
	assert_int_equal(resolve(f, "a1@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == alice);
	rcpt_resolution_free(&rr);
	add_alias(f, "all@example.com", 3, "team@example.com",
	    "a1@example.com", "bob@example.com");
	assert_int_equal(resolve(f, "all@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 2);
	assert_true(rr.account_ids[0] == bob);
	assert_true(rr.account_ids[1] == alice);
	rcpt_resolution_free(&rr);

	/* Loops terminate: l1 -> l2 -> l1 (+ bob). */
	add_alias(f, "l1@example.com", 1, "l2@example.com");
	add_alias(f, "l2@example.com", 2, "l1@example.com", "bob@example.com");
	assert_int_equal(resolve(f, "l1@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	/* A pure loop resolves to nothing. */
	add_alias(f, "p1@example.com", 1, "p2@example.com");
	add_alias(f, "p2@example.com", 1, "P1@example.com");
	assert_int_equal(resolve(f, "p1@example.com", &rr), 0);
	assert_int_equal(rr.naccounts, 0);
	assert_int_equal(rr.nremote, 0);
	rcpt_resolution_free(&rr);
	/* A self-loop. */
	add_alias(f, "self@example.com", 2, "self@example.com",
	    "alice@example.net");
	assert_int_equal(resolve(f, "self@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == alice);
	rcpt_resolution_free(&rr);

	/* Remote targets, case-insensitively deduplicated. */
	add_alias(f, "fwd@example.com", 4, "someone@remote.org",
	    "bob@example.com", "SomeOne@Remote.ORG", "two@remote.org");
	assert_int_equal(resolve(f, "fwd@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	assert_int_equal(rr.nremote, 2);
	assert_int_equal(rr.remote.len, sizeof("someone@remote.org") +
	    sizeof("two@remote.org"));
	assert_memory_equal(rr.remote.data,
	    "someone@remote.org\0two@remote.org", rr.remote.len);
	rcpt_resolution_free(&rr);
	/* Only remote. */
	add_alias(f, "out@example.com", 1, "x@remote.org");
	assert_int_equal(resolve(f, "out@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 0);
	assert_int_equal(rr.nremote, 1);
	assert_string_equal(rr.remote.data, "x@remote.org");
	rcpt_resolution_free(&rr);

	/* Unknown local: 0.  Not local: 2.  Nothing added either way. */
	assert_int_equal(resolve(f, "nobody@example.com", &rr), 0);
	assert_int_equal(rr.naccounts, 0);
	assert_int_equal(rr.nremote, 0);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "NOBODY@EXAMPLE.NET", &rr), 0);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "bob@remote.org", &rr), 2);
	assert_int_equal(rr.naccounts, 0);
	assert_int_equal(rr.nremote, 0);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "bob@sub.example.com", &rr), 2);
	rcpt_resolution_free(&rr);
	/* No domain at all: nothing there. */
	assert_int_equal(resolve(f, "bob", &rr), 0);
	rcpt_resolution_free(&rr);
	/* An alias to an unknown local address. */
	add_alias(f, "dead@example.com", 1, "gone@example.com");
	assert_int_equal(resolve(f, "dead@example.com", &rr), 0);
	rcpt_resolution_free(&rr);

	/* Depth: a chain of 10 aliases is followed, 11 is not. */
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "c%d@example.com", i);
		snprintf(next, sizeof(next), "c%d@example.com", i + 1);
		add_alias(f, name, 1, i == 9 ? "bob@example.com" : next);
	}
	assert_int_equal(resolve(f, "c0@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	add_alias(f, "c9@example.com", 1, "c10@example.com");
	add_alias(f, "c10@example.com", 1, "bob@example.com");
	assert_int_equal(resolve(f, "c1@example.com", &rr), 1);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "c0@example.com", &rr), 0);
	assert_int_equal(rr.naccounts, 0);
	rcpt_resolution_free(&rr);
	calls_expect(f, 0);
}

/* user+ext@domain, then user@domain, then the catch-all @domain. */
static void
test_resolve_extensions(void **state)
{
	struct fixture *f = *state;
	struct rcpt_resolution rr;
	const char *err = NULL, *t[1];
	int64_t bob, alice, pm;

	add_domain(f, "example.com");
	add_domain(f, "example.net");
	bob = add_account(f, "bob@example.com");
	alice = add_account(f, "alice@example.com");
	pm = add_account(f, "pm@example.net");

	/* Extensions go to the user. */
	assert_int_equal(resolve(f, "bob+lists@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "bob+a+b@example.com", &rr), 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	/* "+" at the start or "+@" is no extension of anyone. */
	assert_int_equal(resolve(f, "+bob@example.com", &rr), 0);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "nobody+x@example.com", &rr), 0);
	rcpt_resolution_free(&rr);
	/* The whole address wins over the extension rule. */
	add_alias(f, "bob+alice@example.com", 1, "alice@example.com");
	assert_int_equal(resolve(f, "bob+alice@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == alice);
	rcpt_resolution_free(&rr);
	/* An alias with an extension. */
	add_alias(f, "team@example.com", 2, "bob@example.com",
	    "alice@example.com");
	assert_int_equal(resolve(f, "team+x@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 2);
	rcpt_resolution_free(&rr);
	/* Other delimiters; none at all. */
	store_set_recipient_delimiter(f->st, "-+");
	assert_int_equal(resolve(f, "bob-x@example.com", &rr), 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	store_set_recipient_delimiter(f->st, "");
	assert_int_equal(resolve(f, "bob+x@example.com", &rr), 0);
	rcpt_resolution_free(&rr);
	store_set_recipient_delimiter(f->st, "+");

	/* A catch-all takes what nothing else takes, in its domain only. */
	add_alias(f, "@example.net", 1, "bob@example.com");
	assert_int_equal(resolve(f, "anything@example.net", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "PM@example.net", &rr), 1);
	assert_true(rr.account_ids[0] == pm);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "pm+x@example.net", &rr), 1);
	assert_true(rr.account_ids[0] == pm);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "nobody@example.com", &rr), 0);
	rcpt_resolution_free(&rr);
	/* A disabled account is not caught by the catch-all. */
	{
		struct account_change ch;

		account_change_init(&ch);
		ch.enabled = 0;
		assert_int_equal(store_account_set(f->st, "pm@example.net",
		    &ch, &err), 0);
	}
	assert_int_equal(resolve(f, "pm@example.net", &rr), 0);
	assert_true(rr.disabled);
	rcpt_resolution_free(&rr);
	/* A catch-all into another domain's catch-all. */
	add_alias(f, "@example.com", 1, "x@example.net");
	assert_int_equal(resolve(f, "y@example.com", &rr), 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	/* "@" alone, "@@x" are no catch-alls; the domain must be ours. */
	t[0] = "bob@example.com";
	assert_int_equal(store_alias_add(f->st, "@", t, 1, &err), -1);
	assert_int_equal(store_alias_add(f->st, "@@example.com", t, 1, &err),
	    -1);
	assert_int_equal(store_alias_add(f->st, "@remote.org", t, 1, &err),
	    -1);
	assert_string_equal(err, "the alias's domain is not served here");
	assert_int_equal(store_alias_del(f->st, "@example.net", &err), 0);
	assert_int_equal(resolve(f, "anything@example.net", &rr), 0);
	rcpt_resolution_free(&rr);
}

/*
 * Mailboxes of a new account
 */

struct mboxes {
	struct mailbox_info mi[32];
	size_t	 n;
};

static void
mboxes_cb(void *ctx, const struct mailbox_info *mi)
{
	struct mboxes *ms = ctx;

	assert_true(ms->n < 32);
	ms->mi[ms->n++] = *mi;
}

static void
test_default_mailboxes(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name;
		unsigned su;
	} want[] = {
		{ "INBOX", 0 },
		{ "Archive", MBOX_SU_ARCHIVE },
		{ "Drafts", MBOX_SU_DRAFTS },
		{ "Junk", MBOX_SU_JUNK },
		{ "Sent", MBOX_SU_SENT },
		{ "Trash", MBOX_SU_TRASH },
	};
	struct mboxes ms = { .n = 0 };
	struct names ns = { .n = 0 };
	struct mailbox_info mi;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	assert_int_equal(store_mailbox_list(f->st, a, mboxes_cb, &ms), 0);
	assert_int_equal(ms.n, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(ms.mi[i].name, want[i].name);
		assert_int_equal(ms.mi[i].special_use, want[i].su);
		assert_true(ms.mi[i].subscribed);
		assert_int_equal(ms.mi[i].uidnext, 1);
		assert_int_equal(ms.mi[i].messages, 0);
		assert_int_equal(ms.mi[i].unseen, 0);
		assert_int_equal(ms.mi[i].first_recent_uid, 1);
		assert_true(ms.mi[i].size == 0);
		assert_true(ms.mi[i].uidvalidity != 0);
		assert_true(ms.mi[i].highestmodseq >= 1);
		for (size_t j = 0; j < i; j++)
			assert_true(ms.mi[i].id != ms.mi[j].id);
	}
	assert_int_equal(store_subscription_list(f->st, a, names_cb, &ns), 0);
	assert_int_equal(ns.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(ns.s[i], want[i].name);
	/* INBOX by any case; other names exactly. */
	assert_int_equal(store_mailbox_get(f->st, a, "inbox", &mi), 1);
	assert_string_equal(mi.name, "INBOX");
	assert_true(mi.id == ms.mi[0].id);
	assert_int_equal(store_mailbox_get(f->st, a, "InBoX", &mi), 1);
	assert_int_equal(store_mailbox_get(f->st, a, "drafts", &mi), 0);
	assert_int_equal(store_mailbox_get(f->st, a, "Nope", &mi), 0);
	assert_int_equal(store_mailbox_get_id(f->st, a, ms.mi[3].id, &mi), 1);
	assert_string_equal(mi.name, "Junk");
	assert_int_equal(store_mailbox_get_id(f->st, a, 9999, &mi), 0);
	calls_expect(f, 0);
}

/*
 * Delivery and message bytes
 */

static void
check_body(struct fixture *f, int64_t acct, int64_t msgid,
    const struct tmsg *t)
{
	static const size_t chunks[] = { 1000000, 65536, 65535, 4097 };
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		buf_reset(&b);
		body_all(f, acct, msgid, chunks[i], &b);
		assert_int_equal(b.len, t->len);
		assert_memory_equal(b.data, t->text, t->len);
	}
	buf_free(&b);
}

static void
test_deliver(void **state)
{
	struct fixture *f = *state;
	struct tmsg small, big;
	struct mailbox_info ia, ib;
	struct mail_meta mm;
	struct buf b = BUF_INIT;
	const char *err = NULL;
	int64_t acct[2];
	uint32_t uids[2];

	add_domain(f, "example.com");
	acct[0] = add_account(f, "a@example.com");
	acct[1] = add_account(f, "b@example.com");
	ia = mbox(f, acct[0], "INBOX");
	ib = mbox(f, acct[1], "INBOX");
	tmsg_init(f, &small, "small", 1000);
	tmsg_init(f, &big, "big", BIG_SIZE);
	assert_int_equal(small.sp.fd, -1);	/* in memory */
	assert_true(big.sp.fd >= 0);		/* moved to a file */
	assert_true(big.len > SPOOL_MEM_MAX);
	assert_true(big.len % 65536 != 0);

	calls_reset(f);
	if (store_deliver(f->st, acct, 2, &small.m, uids, &err) < 0)
		fail_msg("deliver: %s", err);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 1);
	calls_expect(f, 2, acct[0], ia.id, acct[1], ib.id);
	if (store_deliver(f->st, acct, 2, &big.m, uids, &err) < 0)
		fail_msg("deliver: %s", err);
	assert_int_equal(uids[0], 2);
	assert_int_equal(uids[1], 2);
	calls_expect(f, 2, acct[0], ia.id, acct[1], ib.id);

	for (int i = 0; i < 2; i++) {
		struct mailbox_info mi = mbox(f, acct[i], "INBOX");
		struct mailbox_info before = i == 0 ? ia : ib;

		assert_int_equal(mi.messages, 2);
		assert_int_equal(mi.unseen, 2);
		assert_true(mi.size == small.len + big.len);
		assert_int_equal(mi.uidnext, 3);
		assert_int_equal(mi.first_recent_uid, 1);
		assert_int_equal(mi.uidvalidity, before.uidvalidity);
		assert_true(mi.highestmodseq == before.highestmodseq + 2);
		/* Other mailboxes untouched. */
		assert_int_equal(mbox(f, acct[i], "Sent").messages, 0);
		check_counters(f, acct[i], "INBOX");

		mail_meta_init(&mm);
		assert_int_equal(store_mail_meta(f->st, acct[i], mi.id, 1,
		    true, &mm), 1);
		assert_true(mm.size == small.len);
		assert_true(mm.internaldate == small.m.internaldate);
		assert_int_equal(mm.flags, 0);
		assert_true(mm.modseq == before.highestmodseq + 1);
		assert_int_equal(mm.keywords.len, 0);
		assert_int_equal(mm.mime.len, small.mime.len);
		assert_memory_equal(mm.mime.data, small.mime.data,
		    small.mime.len);
		check_body(f, acct[i], mm.message_id, &small);
		/* Without the MIME blob. */
		assert_int_equal(store_mail_meta(f->st, acct[i], mi.id, 2,
		    false, &mm), 1);
		assert_true(mm.size == big.len);
		assert_true(mm.internaldate == big.m.internaldate);
		assert_true(mm.modseq == before.highestmodseq + 2);
		assert_int_equal(mm.mime.len, 0);
		check_body(f, acct[i], mm.message_id, &big);
		assert_int_equal(store_mail_meta(f->st, acct[i], mi.id, 3,
		    true, &mm), 0);
		mail_meta_free(&mm);
	}

	/* Partial reads of the big body, across 64 KiB chunk edges. */
	mail_meta_init(&mm);
	assert_int_equal(store_mail_meta(f->st, acct[1], ib.id, 2, true, &mm),
	    1);
	assert_int_equal(mm.mime.len, big.mime.len);
	assert_memory_equal(mm.mime.data, big.mime.data, big.mime.len);
	{
		static const uint64_t offs[] = { 0, 1, 65535, 65536, 65537,
		    131071, SPOOL_MEM_MAX - 1, SPOOL_MEM_MAX, SPOOL_MEM_MAX + 1,
		    BIG_SIZE - 1 };

		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
			buf_reset(&b);
			buf_puts(&b, "pre");
			assert_int_equal(store_body_read(f->st, acct[1],
			    mm.message_id, offs[i], 3, &b, &err), 0);
			assert_int_equal(b.len, 3 + 3);
			assert_memory_equal(b.data, "pre", 3);
			assert_memory_equal(b.data + 3, big.text + offs[i], 3);
			assert_true(b.data[b.len] == '\0');
		}
	}
	/* A read running past the end is cut at the end. */
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, acct[1], mm.message_id,
	    big.len - 10, 1000, &b, &err), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, big.text + big.len - 10, 10);
	/* Reads at or past the end add nothing. */
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, acct[1], mm.message_id,
	    big.len, 10, &b, &err), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(store_body_read(f->st, acct[1], mm.message_id,
	    big.len + 12345, 10, &b, &err), 0);
	assert_int_equal(store_body_read(f->st, acct[1], mm.message_id,
	    UINT64_MAX, 10, &b, &err), 0);
	assert_int_equal(b.len, 0);
	/* Zero bytes. */
	assert_int_equal(store_body_read(f->st, acct[1], mm.message_id, 5, 0,
	    &b, &err), 0);
	assert_int_equal(b.len, 0);
	/* A message id that does not exist. */
	err = NULL;
	assert_int_equal(store_body_read(f->st, acct[1], mm.message_id + 1000,
	    0, 10, &b, &err), -1);
	assert_non_null(err);
	mail_meta_free(&mm);
	buf_free(&b);

	/* The spool is untouched by the store: deliver it once more. */
	if (store_deliver(f->st, &acct[0], 1, &big.m, uids, &err) < 0)
		fail_msg("deliver: %s", err);
	assert_int_equal(uids[0], 3);
	calls_expect(f, 1, acct[0], ia.id);
	check_counters(f, acct[0], "INBOX");
	tmsg_free(&small);
	tmsg_free(&big);
}

static void
test_append(void **state)
{
	struct fixture *f = *state;
	struct tmsg t, empty;
	struct mail_meta mm;
	struct mailbox_info d;
	const char *err = NULL;
	uint32_t uid, uv;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	tmsg_init(f, &t, "draft", 300);
	d = mbox(f, a, "Drafts");
	calls_reset(f);
	/* Unknown flag bits are dropped. */
	uid = append(f, a, "Drafts", &t, MAIL_SEEN | MAIL_DRAFT | 0x100,
	    "$Forwarded Work");
	assert_int_equal(uid, 1);
	calls_expect(f, 1, a, d.id);
	uid = append(f, a, "Drafts", &t, MAIL_FLAGGED, NULL);
	assert_int_equal(uid, 2);
	calls_expect(f, 1, a, d.id);
	uid = append(f, a, "Drafts", &t, 0, "");
	assert_int_equal(uid, 3);

	mail_meta_init(&mm);
	assert_int_equal(store_mail_meta(f->st, a, d.id, 1, false, &mm), 1);
	assert_int_equal(mm.flags, MAIL_SEEN | MAIL_DRAFT);
	assert_string_equal(buf_cstr(&mm.keywords), "$Forwarded Work");
	assert_true(mm.internaldate == t.m.internaldate);
	assert_true(mm.size == t.len);
	check_body(f, a, mm.message_id, &t);
	assert_int_equal(store_mail_meta(f->st, a, d.id, 2, false, &mm), 1);
	assert_int_equal(mm.flags, MAIL_FLAGGED);
	assert_string_equal(buf_cstr(&mm.keywords), "");
	assert_int_equal(store_mail_meta(f->st, a, d.id, 3, false, &mm), 1);
	assert_int_equal(mm.flags, 0);
	assert_string_equal(buf_cstr(&mm.keywords), "");
	mail_meta_free(&mm);

	d = mbox(f, a, "Drafts");
	assert_int_equal(d.messages, 3);
	assert_int_equal(d.unseen, 2);
	assert_true(d.size == 3 * t.len);
	assert_int_equal(d.uidnext, 4);
	check_counters(f, a, "Drafts");
	assert_int_equal(mbox(f, a, "INBOX").messages, 0);

	/* An empty message. */
	memset(&empty, 0, sizeof(empty));
	spool_init(&empty.sp, store_tmpdir(f->st));
	empty.m.spool = &empty.sp;
	empty.m.internaldate = 1;
	uid = append(f, a, "Drafts", &empty, 0, NULL);
	assert_int_equal(uid, 4);
	mail_meta_init(&mm);
	assert_int_equal(store_mail_meta(f->st, a, d.id, 4, true, &mm), 1);
	assert_true(mm.size == 0);
	assert_int_equal(mm.mime.len, 0);
	{
		struct buf b = BUF_INIT;

		assert_int_equal(store_body_read(f->st, a, mm.message_id, 0,
		    100, &b, &err), 0);
		assert_int_equal(b.len, 0);
		buf_free(&b);
	}
	mail_meta_free(&mm);
	spool_free(&empty.sp);

	/* A mailbox that does not exist. */
	calls_reset(f);
	err = NULL;
	assert_int_equal(store_append(f->st, a, 9999, &t.m, 0, NULL, 0, &uid,
	    &uv, &err), -1);
	assert_non_null(err);
	calls_expect(f, 0);
	tmsg_free(&t);
}

/*
 * Flags
 */

static const char *
kw_of(struct fixture *f, int64_t a, int64_t mb, uint32_t uid)
{
	static char out[256];
	struct mail_meta mm;

	mail_meta_init(&mm);
	assert_int_equal(store_mail_meta(f->st, a, mb, uid, false, &mm), 1);
	snprintf(out, sizeof(out), "%s", buf_cstr(&mm.keywords));
	mail_meta_free(&mm);
	return out;
}

static void
set_flags(struct fixture *f, int64_t a, int64_t mb, const uint32_t *uids,
    size_t n, enum store_flag_op op, uint32_t flags, const char *kw,
    uint64_t unchangedsince, struct flag_change *ch)
{
	const char *err = NULL;

	/* 0 here means unconditional; UNCHANGEDSINCE 0 is tested apart. */
	if (store_mails_flags(f->st, a, mb, uids, n, op, flags, kw,
	    unchangedsince == 0 ? STORE_UNCONDITIONAL : unchangedsince, ch,
	    &err) < 0)
		fail_msg("flags: %s", err);
}

static void
test_flags(void **state)
{
	struct fixture *f = *state;
	struct flag_change ch[4];
	struct mailbox_info mi;
	struct tmsg t;
	struct rows rs;
	uint64_t hms, h0;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	tmsg_init(f, &t, "f", 100);
	for (int i = 0; i < 3; i++)
		append(f, a, "INBOX", &t, 0, NULL);
	mi = mbox(f, a, "INBOX");
	h0 = hms = mi.highestmodseq;
	assert_int_equal(mi.unseen, 3);
	calls_reset(f);

	/* ADD \Seen to 1 and 2: two changes, two new modseqs. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1, 2 }, 2, FLAGS_ADD, MAIL_SEEN,
	    NULL, 0, ch);
	assert_true(ch[0].changed && ch[1].changed);
	assert_int_equal(ch[0].uid, 1);
	assert_int_equal(ch[1].uid, 2);
	assert_int_equal(ch[0].flags, MAIL_SEEN);
	assert_int_equal(ch[1].flags, MAIL_SEEN);
	assert_true(ch[0].modseq == hms + 1);
	assert_true(ch[1].modseq == hms + 2);
	hms += 2;
	calls_expect(f, 1, a, mi.id);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.unseen, 1);
	assert_true(mi.highestmodseq == hms);

	/* Again: nothing changes, no modseq, no notification. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_ADD, MAIL_SEEN,
	    NULL, 0, ch);
	assert_false(ch[0].changed);
	assert_int_equal(ch[0].flags, MAIL_SEEN);
	assert_true(ch[0].modseq == hms - 1);
	calls_expect(f, 0);
	assert_true(mbox(f, a, "INBOX").highestmodseq == hms);

	/* Keywords: added, case-insensitively deduplicated. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_ADD, 0,
	    "Work $Junk", 0, ch);
	assert_true(ch[0].changed);
	assert_true(ch[0].modseq == ++hms);
	assert_string_equal(kw_of(f, a, mi.id, 1), "Work $Junk");
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_ADD, 0,
	    "work Later $JUNK", 0, ch);
	assert_true(ch[0].changed);
	assert_true(ch[0].modseq == ++hms);
	assert_string_equal(kw_of(f, a, mi.id, 1), "Work $Junk Later");
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_ADD, 0,
	    "WORK later", 0, ch);
	assert_false(ch[0].changed);
	calls_expect(f, 2, a, mi.id, a, mi.id);
	/* Removed case-insensitively; the flags stay. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_REMOVE, 0,
	    "$junk NotThere", 0, ch);
	assert_true(ch[0].changed);
	assert_int_equal(ch[0].flags, MAIL_SEEN);
	assert_true(ch[0].modseq == ++hms);
	assert_string_equal(kw_of(f, a, mi.id, 1), "Work Later");
	/* SET replaces flags and keywords; duplicates in the set go. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_SET, MAIL_FLAGGED,
	    "a A b  B", 0, ch);
	assert_true(ch[0].changed);
	assert_int_equal(ch[0].flags, MAIL_FLAGGED);
	assert_true(ch[0].modseq == ++hms);
	assert_string_equal(kw_of(f, a, mi.id, 1), "a b");
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.unseen, 2);		/* 1 lost \Seen */
	/* SET to the same set in another order and case: no change. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_SET, MAIL_FLAGGED,
	    "B a", 0, ch);
	assert_false(ch[0].changed);
	/* SET without keywords clears them. */
	set_flags(f, a, mi.id, (uint32_t[]){ 1 }, 1, FLAGS_SET,
	    MAIL_FLAGGED | MAIL_SEEN, NULL, 0, ch);
	assert_true(ch[0].changed);
	assert_true(ch[0].modseq == ++hms);
	assert_string_equal(kw_of(f, a, mi.id, 1), "");
	/* REMOVE \Seen from 2, \Deleted (not set) from 3. */
	set_flags(f, a, mi.id, (uint32_t[]){ 2, 3 }, 2, FLAGS_REMOVE,
	    MAIL_SEEN | MAIL_DELETED, NULL, 0, ch);
	assert_true(ch[0].changed);
	assert_int_equal(ch[0].flags, 0);
	assert_true(ch[0].modseq == ++hms);
	assert_false(ch[1].changed);
	assert_int_equal(ch[1].flags, 0);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.unseen, 2);
	assert_true(mi.highestmodseq == hms);
	check_counters(f, a, "INBOX");
	calls_expect(f, 4, a, mi.id, a, mi.id, a, mi.id, a, mi.id);

	/* UNCHANGEDSINCE: 3 still has its append modseq (h0). */
	set_flags(f, a, mi.id, (uint32_t[]){ 1, 3 }, 2, FLAGS_ADD,
	    MAIL_ANSWERED, NULL, h0 - 1, ch);
	/* 1 was changed after h0 - 1: refused; 3 has modseq h0: refused. */
	assert_false(ch[0].changed);
	assert_false(ch[1].changed);
	assert_true(ch[1].modseq == h0);
	assert_int_equal(ch[0].flags, MAIL_FLAGGED | MAIL_SEEN);
	calls_expect(f, 0);
	set_flags(f, a, mi.id, (uint32_t[]){ 1, 3 }, 2, FLAGS_ADD,
	    MAIL_ANSWERED, NULL, h0, ch);
	assert_false(ch[0].changed);
	assert_true(ch[1].changed);
	assert_int_equal(ch[1].flags, MAIL_ANSWERED);
	assert_true(ch[1].modseq == ++hms);
	calls_expect(f, 1, a, mi.id);

	assert_true(ch[0].conflict);
	assert_false(ch[1].conflict);
	/* UNCHANGEDSINCE 0 refuses every message (RFC 7162 3.1.3). */
	{
		const char *err = NULL;

		assert_int_equal(store_mails_flags(f->st, a, mi.id,
		    (uint32_t[]){ 2 }, 1, FLAGS_ADD, MAIL_ANSWERED, NULL, 0,
		    ch, &err), 0);
		assert_false(ch[0].changed);
		assert_true(ch[0].conflict);
		calls_expect(f, 0);
	}

	/* A uid that is gone is skipped. */
	set_flags(f, a, mi.id, (uint32_t[]){ 2, 99 }, 2, FLAGS_ADD,
	    MAIL_DRAFT, NULL, 0, ch);
	assert_true(ch[0].changed);
	assert_true(ch[0].modseq == ++hms);
	assert_false(ch[1].changed);
	assert_int_equal(ch[1].uid, 99);
	calls_expect(f, 1, a, mi.id);

	/* A scan since a modseq returns exactly the rows changed after. */
	scan(f, a, mi.id, 0, &rs);
	assert_int_equal(rs.n, 3);
	scan(f, a, mi.id, hms - 2, &rs);
	assert_int_equal(rs.n, 2);
	assert_int_equal(rs.r[0].uid, 2);
	assert_true(rs.r[0].modseq == hms);
	assert_int_equal(rs.r[0].flags, MAIL_DRAFT);
	assert_int_equal(rs.r[1].uid, 3);
	assert_true(rs.r[1].modseq == hms - 1);
	assert_int_equal(rs.r[1].flags, MAIL_ANSWERED);
	assert_true(rs.r[1].size == 0);	/* sizes: store_mails_scan_sized */
	scan(f, a, mi.id, hms - 1, &rs);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].uid, 2);
	scan(f, a, mi.id, hms, &rs);
	assert_int_equal(rs.n, 0);
	check_counters(f, a, "INBOX");
	tmsg_free(&t);
}

/*
 * COPY, MOVE, EXPUNGE
 */

static int64_t
message_id_of(struct fixture *f, int64_t a, int64_t mb, uint32_t uid)
{
	struct mail_meta mm;
	int64_t id;

	mail_meta_init(&mm);
	assert_int_equal(store_mail_meta(f->st, a, mb, uid, false, &mm), 1);
	id = mm.message_id;
	mail_meta_free(&mm);
	return id;
}

/*
 * Ends the grace period of every expunged message of the account (by
 * moving their time back) and lets a mailbox deletion purge them.
 */
static void
purge_now(struct fixture *f, int64_t a)
{
	const char *err = NULL;
	char path[256];
	sqlite3 *h;

	snprintf(path, sizeof(path), "%s/accounts/%lld/mail.db", f->data,
	    (long long)a);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h, "UPDATE messages SET gone_at = "
	    "gone_at - 301 WHERE gone_at IS NOT NULL", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	if (store_mailbox_create(f->st, a, "purge-trigger", 0, &err) < 0 ||
	    store_mailbox_delete(f->st, a, "purge-trigger", &err) < 0)
		fail_msg("purge: %s", err);
}

static void
test_copy_move(void **state)
{
	struct fixture *f = *state;
	struct tmsg t[3];
	struct mailbox_info in, ar, tr;
	struct flag_change ch[3];
	struct uids us;
	struct buf b = BUF_INIT;
	const char *err = NULL;
	uint32_t nu[3], uv;
	uint64_t in_hms;
	int64_t a, mid;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	tmsg_init(f, &t[0], "c0", 100);
	tmsg_init(f, &t[1], "c1", 2000);
	tmsg_init(f, &t[2], "c2", 30000);
	append(f, a, "INBOX", &t[0], MAIL_SEEN, "Work");
	append(f, a, "INBOX", &t[1], 0, NULL);
	append(f, a, "INBOX", &t[2], MAIL_FLAGGED, "x y");
	in = mbox(f, a, "INBOX");
	ar = mbox(f, a, "Archive");
	tr = mbox(f, a, "Trash");
	calls_reset(f);

	/* COPY 1,3 (and a missing 7) to Archive. */
	if (store_mails_copy(f->st, a, in.id, (uint32_t[]){ 1, 3, 7 }, 3,
	    ar.id, false, 0, nu, &uv, &err) < 0)
		fail_msg("copy: %s", err);
	assert_int_equal(nu[0], 1);
	assert_int_equal(nu[1], 2);
	assert_int_equal(nu[2], 0);
	assert_int_equal(uv, ar.uidvalidity);
	calls_expect(f, 1, a, ar.id);
	ar = mbox(f, a, "Archive");
	assert_int_equal(ar.messages, 2);
	assert_int_equal(ar.unseen, 1);		/* 3 is not \Seen */
	assert_true(ar.size == t[0].len + t[2].len);
	assert_int_equal(ar.uidnext, 3);
	assert_int_equal(mbox(f, a, "INBOX").messages, 3);
	assert_string_equal(kw_of(f, a, ar.id, 1), "Work");
	assert_string_equal(kw_of(f, a, ar.id, 2), "x y");
	check_counters(f, a, "Archive");
	check_counters(f, a, "INBOX");
	/* The copy shares the stored message. */
	mid = message_id_of(f, a, in.id, 1);
	assert_true(message_id_of(f, a, ar.id, 1) == mid);

	/* Expunge the original: the copy's body survives. */
	set_flags(f, a, in.id, (uint32_t[]){ 1 }, 1, FLAGS_ADD, MAIL_DELETED,
	    NULL, 0, ch);
	calls_reset(f);
	us.n = 0;
	if (store_mails_expunge(f->st, a, in.id, NULL, 0, true, uids_cb, &us,
	    &err) < 0)
		fail_msg("expunge: %s", err);
	assert_int_equal(us.n, 1);
	assert_int_equal(us.u[0], 1);
	calls_expect(f, 1, a, in.id);
	check_body(f, a, mid, &t[0]);
	/* Expunge the copy too: after the grace period the body is gone. */
	set_flags(f, a, ar.id, (uint32_t[]){ 1 }, 1, FLAGS_ADD, MAIL_DELETED,
	    NULL, 0, ch);
	if (store_mails_expunge(f->st, a, ar.id, NULL, 0, true, NULL, NULL,
	    &err) < 0)
		fail_msg("expunge: %s", err);
	check_body(f, a, mid, &t[0]);
	purge_now(f, a);
	calls_reset(f);
	err = NULL;
	assert_int_equal(store_body_read(f->st, a, mid, 0, 10, &b, &err), -1);
	assert_non_null(err);
	assert_int_equal(b.len, 0);
	calls_reset(f);

	/* MOVE 2 to Trash: a tombstone in INBOX, counters on both sides. */
	in = mbox(f, a, "INBOX");
	in_hms = in.highestmodseq;
	mid = message_id_of(f, a, in.id, 2);
	if (store_mails_copy(f->st, a, in.id, (uint32_t[]){ 2 }, 1, tr.id,
	    true, 0, nu, &uv, &err) < 0)
		fail_msg("move: %s", err);
	assert_int_equal(nu[0], 1);
	assert_int_equal(uv, tr.uidvalidity);
	calls_expect(f, 2, a, tr.id, a, in.id);
	in = mbox(f, a, "INBOX");
	tr = mbox(f, a, "Trash");
	assert_int_equal(in.messages, 1);
	assert_int_equal(in.unseen, 1);
	assert_true(in.size == t[2].len);
	assert_true(in.highestmodseq == in_hms + 1);
	assert_int_equal(tr.messages, 1);
	assert_int_equal(tr.unseen, 1);
	assert_true(tr.size == t[1].len);
	check_counters(f, a, "INBOX");
	check_counters(f, a, "Trash");
	expunged(f, a, in.id, in_hms, &us);
	assert_int_equal(us.n, 1);
	assert_int_equal(us.u[0], 2);
	expunged(f, a, in.id, 0, &us);
	assert_int_equal(us.n, 2);
	assert_int_equal(us.u[0], 1);
	assert_int_equal(us.u[1], 2);
	expunged(f, a, in.id, in.highestmodseq, &us);
	assert_int_equal(us.n, 0);
	/* The moved message is the same stored message, intact. */
	assert_true(message_id_of(f, a, tr.id, 1) == mid);
	check_body(f, a, mid, &t[1]);

	/*
	 * MOVE into the same mailbox (as Dovecot): the message gets a new
	 * uid, the old one is expunged, the counters stay.
	 */
	in_hms = mbox(f, a, "INBOX").highestmodseq;
	mid = message_id_of(f, a, in.id, 3);
	if (store_mails_copy(f->st, a, in.id, (uint32_t[]){ 3 }, 1, in.id,
	    true, 0, nu, &uv, &err) < 0)
		fail_msg("move: %s", err);
	assert_int_equal(nu[0], 4);
	assert_int_equal(uv, in.uidvalidity);
	calls_expect(f, 1, a, in.id);
	in = mbox(f, a, "INBOX");
	assert_int_equal(in.messages, 1);
	assert_int_equal(in.unseen, 1);
	assert_true(in.size == t[2].len);
	assert_true(in.highestmodseq == in_hms + 2);
	assert_int_equal(in.uidnext, 5);
	check_counters(f, a, "INBOX");
	expunged(f, a, in.id, in_hms, &us);
	assert_int_equal(us.n, 1);
	assert_int_equal(us.u[0], 3);
	assert_true(message_id_of(f, a, in.id, 4) == mid);
	/* COPY into the same mailbox: a new uid for the same message. */
	if (store_mails_copy(f->st, a, in.id, (uint32_t[]){ 4 }, 1, in.id,
	    false, 0, nu, &uv, &err) < 0)
		fail_msg("copy: %s", err);
	assert_int_equal(nu[0], 5);
	assert_int_equal(uv, in.uidvalidity);
	calls_expect(f, 1, a, in.id);
	assert_int_equal(mbox(f, a, "INBOX").messages, 2);
	check_counters(f, a, "INBOX");
	/* Copying only gone uids changes nothing. */
	if (store_mails_copy(f->st, a, in.id, (uint32_t[]){ 1, 2 }, 2, ar.id,
	    false, 0, nu, &uv, &err) < 0)
		fail_msg("copy: %s", err);
	assert_int_equal(nu[0], 0);
	assert_int_equal(nu[1], 0);
	calls_expect(f, 0);
	/* Into a mailbox that does not exist. */
	err = NULL;
	assert_int_equal(store_mails_copy(f->st, a, in.id, (uint32_t[]){ 3 },
	    1, 9999, false, 0, nu, &uv, &err), -1);
	assert_non_null(err);
	buf_free(&b);
	for (int i = 0; i < 3; i++)
		tmsg_free(&t[i]);
}

static void
test_expunge(void **state)
{
	struct fixture *f = *state;
	struct flag_change ch[5];
	struct mailbox_info mi;
	struct tmsg t;
	struct uids us, tomb;
	struct rows rs;
	const char *err = NULL;
	uint64_t hms;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	tmsg_init(f, &t, "e", 500);
	for (int i = 0; i < 5; i++)
		append(f, a, "INBOX", &t, i == 0 ? MAIL_SEEN : 0, NULL);
	mi = mbox(f, a, "INBOX");
	set_flags(f, a, mi.id, (uint32_t[]){ 2, 4 }, 2, FLAGS_ADD,
	    MAIL_DELETED, NULL, 0, ch);
	hms = mbox(f, a, "INBOX").highestmodseq;
	calls_reset(f);

	/* Only \Deleted ones go. */
	us.n = 0;
	if (store_mails_expunge(f->st, a, mi.id, NULL, 0, true, uids_cb, &us,
	    &err) < 0)
		fail_msg("expunge: %s", err);
	assert_int_equal(us.n, 2);
	assert_int_equal(us.u[0], 2);
	assert_int_equal(us.u[1], 4);
	calls_expect(f, 1, a, mi.id);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.messages, 3);
	assert_int_equal(mi.unseen, 2);
	assert_true(mi.size == 3 * t.len);
	assert_true(mi.highestmodseq == hms + 2);
	check_counters(f, a, "INBOX");
	expunged(f, a, mi.id, hms, &tomb);
	assert_int_equal(tomb.n, 2);
	assert_int_equal(tomb.u[0], 2);
	assert_int_equal(tomb.u[1], 4);
	expunged(f, a, mi.id, hms + 1, &tomb);
	assert_int_equal(tomb.n, 1);
	assert_int_equal(tomb.u[0], 4);

	/* Nothing \Deleted left: nothing happens, no notification. */
	us.n = 0;
	assert_int_equal(store_mails_expunge(f->st, a, mi.id, NULL, 0, true,
	    uids_cb, &us, &err), 0);
	assert_int_equal(us.n, 0);
	calls_expect(f, 0);
	/* A uid list with only_deleted: not \Deleted, so kept. */
	assert_int_equal(store_mails_expunge(f->st, a, mi.id,
	    (uint32_t[]){ 1, 3 }, 2, true, uids_cb, &us, &err), 0);
	assert_int_equal(us.n, 0);
	calls_expect(f, 0);
	/* A uid list, unconditionally (POP3 DELE / UID EXPUNGE). */
	hms = mbox(f, a, "INBOX").highestmodseq;
	assert_int_equal(store_mails_expunge(f->st, a, mi.id,
	    (uint32_t[]){ 1, 2, 5, 6 }, 4, false, uids_cb, &us, &err), 0);
	assert_int_equal(us.n, 2);
	assert_int_equal(us.u[0], 1);
	assert_int_equal(us.u[1], 5);
	calls_expect(f, 1, a, mi.id);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.messages, 1);
	assert_int_equal(mi.unseen, 1);
	assert_true(mi.size == t.len);
	assert_true(mi.highestmodseq == hms + 2);
	assert_int_equal(mi.uidnext, 6);	/* uids are never reused */
	scan(f, a, mi.id, 0, &rs);
	assert_int_equal(rs.n, 1);
	assert_int_equal(rs.r[0].uid, 3);
	expunged(f, a, mi.id, 0, &tomb);
	assert_int_equal(tomb.n, 4);
	assert_int_equal(tomb.u[0], 1);
	assert_int_equal(tomb.u[1], 2);
	assert_int_equal(tomb.u[2], 4);
	assert_int_equal(tomb.u[3], 5);
	check_counters(f, a, "INBOX");
	/* The next message gets uid 6. */
	assert_int_equal(append(f, a, "INBOX", &t, 0, NULL), 6);
	tmsg_free(&t);
}

/*
 * Mailbox create, delete, rename, subscribe
 */

static void
test_mailbox_create_delete(void **state)
{
	struct fixture *f = *state;
	struct mailbox_info mi, leaf;
	struct tmsg t;
	const char *err = NULL;
	uint32_t uv1;
	int64_t a, id;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	calls_reset(f);
	if (store_mailbox_create(f->st, a, "Work/Projects/2024",
	    MBOX_SU_FLAGGED, &err) < 0)
		fail_msg("create: %s", err);
	assert_true(mbox_exists(f, a, "Work"));
	assert_true(mbox_exists(f, a, "Work/Projects"));
	leaf = mbox(f, a, "Work/Projects/2024");
	assert_int_equal(leaf.special_use, MBOX_SU_FLAGGED);
	assert_int_equal(mbox(f, a, "Work").special_use, 0);
	assert_int_equal(leaf.uidnext, 1);
	assert_int_equal(leaf.messages, 0);
	assert_false(leaf.subscribed);
	/* Exists already (also INBOX, in any case). */
	err = NULL;
	assert_int_equal(store_mailbox_create(f->st, a, "Work", 0, &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_create(f->st, a, "INBOX", 0, &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_create(f->st, a, "inbox", 0, &err), -1);
	assert_non_null(err);
	/* Under INBOX: INBOX is not created again. */
	assert_int_equal(store_mailbox_create(f->st, a, "INBOX/Sub", 0, &err),
	    0);
	assert_true(mbox_exists(f, a, "INBOX/Sub"));
	/* A sibling sharing a prefix is not a child. */
	assert_int_equal(store_mailbox_create(f->st, a, "Workbench", 0, &err),
	    0);

	/* Delete: INBOX and mailboxes with children are refused. */
	err = NULL;
	assert_int_equal(store_mailbox_delete(f->st, a, "INBOX", &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_delete(f->st, a, "Inbox", &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_delete(f->st, a, "Work", &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_delete(f->st, a, "Work/Projects",
	    &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_delete(f->st, a, "Nope", &err), -1);
	assert_non_null(err);
	assert_true(mbox_exists(f, a, "Work"));
	calls_expect(f, 0);
	/* The leaf, then its parents. */
	if (store_mailbox_delete(f->st, a, "Work/Projects/2024", &err) < 0)
		fail_msg("delete: %s", err);
	calls_expect(f, 1, a, leaf.id);
	assert_false(mbox_exists(f, a, "Work/Projects/2024"));
	id = mbox(f, a, "Work/Projects").id;
	assert_int_equal(store_mailbox_delete(f->st, a, "Work/Projects",
	    &err), 0);
	calls_expect(f, 1, a, id);
	id = mbox(f, a, "Work").id;
	assert_int_equal(store_mailbox_delete(f->st, a, "Work", &err), 0);
	calls_expect(f, 1, a, id);
	assert_true(mbox_exists(f, a, "Workbench"));

	/* A re-created mailbox gets a new uidvalidity. */
	tmsg_init(f, &t, "d", 100);
	assert_int_equal(store_mailbox_create(f->st, a, "Tmp", 0, &err), 0);
	mi = mbox(f, a, "Tmp");
	uv1 = mi.uidvalidity;
	append(f, a, "Tmp", &t, 0, NULL);
	append(f, a, "Tmp", &t, 0, NULL);
	id = message_id_of(f, a, mi.id, 1);
	assert_int_equal(store_mailbox_delete(f->st, a, "Tmp", &err), 0);
	/* Its messages went with it (after the grace period). */
	purge_now(f, a);
	err = NULL;
	{
		struct buf b = BUF_INIT;

		assert_int_equal(store_body_read(f->st, a, id, 0, 10, &b,
		    &err), -1);
		buf_free(&b);
	}
	assert_int_equal(store_mailbox_create(f->st, a, "Tmp", 0, &err), 0);
	mi = mbox(f, a, "Tmp");
	assert_true(mi.uidvalidity != uv1);
	assert_true(mi.uidvalidity > uv1);
	assert_int_equal(mi.uidnext, 1);
	assert_int_equal(mi.messages, 0);
	/* And differs from every other mailbox's created after it. */
	assert_int_equal(store_mailbox_create(f->st, a, "Tmp2", 0, &err), 0);
	assert_true(mbox(f, a, "Tmp2").uidvalidity > mi.uidvalidity);
	tmsg_free(&t);
}

static void
test_mailbox_rename(void **state)
{
	struct fixture *f = *state;
	struct mailbox_info work, proj, mi, in, old;
	struct names ns = { .n = 0 };
	struct tmsg t;
	struct rows rs;
	const char *err = NULL;
	int64_t a;
	bool saw_inbox = false;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	tmsg_init(f, &t, "r", 700);
	assert_int_equal(store_mailbox_create(f->st, a, "Work/Projects", 0,
	    &err), 0);
	assert_int_equal(store_mailbox_create(f->st, a, "Workbench", 0, &err),
	    0);
	assert_int_equal(store_mailbox_subscribe(f->st, a, "Work/Projects",
	    true, &err), 0);
	append(f, a, "Work/Projects", &t, MAIL_SEEN, "k");
	work = mbox(f, a, "Work");
	proj = mbox(f, a, "Work/Projects");
	calls_reset(f);

	/* Rename with children: ids, uidvalidity and messages follow. */
	if (store_mailbox_rename(f->st, a, "Work", "Job", &err) < 0)
		fail_msg("rename: %s", err);
	calls_expect(f, 1, a, work.id);
	assert_false(mbox_exists(f, a, "Work"));
	assert_false(mbox_exists(f, a, "Work/Projects"));
	assert_true(mbox_exists(f, a, "Workbench"));	/* not a child */
	mi = mbox(f, a, "Job");
	assert_true(mi.id == work.id);
	assert_int_equal(mi.uidvalidity, work.uidvalidity);
	mi = mbox(f, a, "Job/Projects");
	assert_true(mi.id == proj.id);
	assert_int_equal(mi.uidvalidity, proj.uidvalidity);
	assert_int_equal(mi.messages, 1);
	assert_true(mi.subscribed);		/* the subscription moved */
	assert_string_equal(kw_of(f, a, mi.id, 1), "k");
	assert_int_equal(store_subscription_list(f->st, a, names_cb, &ns), 0);
	for (size_t i = 0; i < ns.n; i++)
		assert_true(strncmp(ns.s[i], "Work/", 5) != 0);

	/* Refusals. */
	err = NULL;
	assert_int_equal(store_mailbox_rename(f->st, a, "Job", "Sent", &err),
	    -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_rename(f->st, a, "Job", "INBOX", &err),
	    -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_rename(f->st, a, "Job", "inbox", &err),
	    -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_rename(f->st, a, "Job", "Job/Sub",
	    &err), -1);
	assert_non_null(err);
	err = NULL;
	assert_int_equal(store_mailbox_rename(f->st, a, "Nope", "Other",
	    &err), -1);
	assert_non_null(err);
	assert_true(mbox_exists(f, a, "Job"));
	calls_expect(f, 0);
	/* A new name under a superior that does not exist yet. */
	assert_int_equal(store_mailbox_rename(f->st, a, "Job/Projects",
	    "Old/Deep/Projects", &err), 0);
	assert_true(mbox_exists(f, a, "Old"));
	assert_true(mbox_exists(f, a, "Old/Deep"));
	assert_int_equal(mbox(f, a, "Old/Deep/Projects").messages, 1);
	calls_reset(f);

	/* Renaming INBOX moves its messages; INBOX stays, empty. */
	append(f, a, "INBOX", &t, 0, NULL);
	append(f, a, "INBOX", &t, MAIL_SEEN, "$x");
	append(f, a, "INBOX", &t, 0, NULL);
	in = mbox(f, a, "INBOX");
	calls_reset(f);
	if (store_mailbox_rename(f->st, a, "INBOX", "Old Inbox", &err) < 0)
		fail_msg("rename INBOX: %s", err);
	mi = mbox(f, a, "INBOX");
	old = mbox(f, a, "Old Inbox");
	for (size_t i = 0; i < f->ncalls; i++) {
		assert_true(f->calls[i].account == a);
		assert_true(f->calls[i].mailbox == in.id ||
		    f->calls[i].mailbox == old.id);
		if (f->calls[i].mailbox == in.id)
			saw_inbox = true;
	}
	assert_true(saw_inbox);
	calls_reset(f);
	assert_true(mi.id == in.id);
	assert_int_equal(mi.uidvalidity, in.uidvalidity);
	assert_int_equal(mi.messages, 0);
	assert_int_equal(mi.unseen, 0);
	assert_true(mi.size == 0);
	assert_int_equal(mi.uidnext, in.uidnext);	/* uids not reused */
	assert_int_equal(old.messages, 3);
	assert_int_equal(old.unseen, 2);
	assert_true(old.size == 3 * t.len);
	assert_true(old.id != in.id);
	assert_true(old.uidvalidity != in.uidvalidity);
	scan(f, a, old.id, 0, &rs);
	assert_int_equal(rs.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(rs.r[i].uid, i + 1);
	assert_int_equal(rs.r[1].flags, MAIL_SEEN);
	assert_string_equal(rs.r[1].keywords, "$x");
	check_body(f, a, message_id_of(f, a, old.id, 3), &t);
	check_counters(f, a, "INBOX");
	check_counters(f, a, "Old Inbox");
	scan(f, a, mi.id, 0, &rs);
	assert_int_equal(rs.n, 0);
	/* INBOX keeps working. */
	assert_int_equal(append(f, a, "INBOX", &t, 0, NULL), in.uidnext);
	/* "inbox" in any case is INBOX for rename too. */
	assert_int_equal(store_mailbox_rename(f->st, a, "inbox", "Older",
	    &err), 0);
	assert_int_equal(mbox(f, a, "Older").messages, 1);
	assert_int_equal(mbox(f, a, "INBOX").messages, 0);
	tmsg_free(&t);
}

static void
test_subscriptions(void **state)
{
	struct fixture *f = *state;
	struct names ns = { .n = 0 };
	const char *err = NULL;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	assert_int_equal(store_mailbox_subscribe(f->st, a, "Trash", false,
	    &err), 0);
	assert_false(mbox(f, a, "Trash").subscribed);
	/* A name that does not exist can be subscribed. */
	assert_int_equal(store_mailbox_subscribe(f->st, a, "Ghost", true,
	    &err), 0);
	/* Twice is fine; INBOX in any case is INBOX. */
	assert_int_equal(store_mailbox_subscribe(f->st, a, "Ghost", true,
	    &err), 0);
	assert_int_equal(store_mailbox_subscribe(f->st, a, "inbox", true,
	    &err), 0);
	/* Unsubscribing something not subscribed is fine too. */
	assert_int_equal(store_mailbox_subscribe(f->st, a, "Nothing", false,
	    &err), 0);
	assert_int_equal(store_subscription_list(f->st, a, names_cb, &ns), 0);
	assert_int_equal(ns.n, 6);
	assert_string_equal(ns.s[0], "INBOX");
	assert_string_equal(ns.s[1], "Archive");
	assert_string_equal(ns.s[2], "Drafts");
	assert_string_equal(ns.s[3], "Ghost");
	assert_string_equal(ns.s[4], "Junk");
	assert_string_equal(ns.s[5], "Sent");
	assert_int_equal(store_mailbox_subscribe(f->st, a, "INBOX", false,
	    &err), 0);
	assert_false(mbox(f, a, "INBOX").subscribed);
	assert_true(mbox(f, a, "Drafts").subscribed);
	ns.n = 0;
	assert_int_equal(store_subscription_list(f->st, a, names_cb, &ns), 0);
	assert_int_equal(ns.n, 5);
	assert_string_equal(ns.s[0], "Archive");
	calls_expect(f, 0);
}

static void
test_claim_recent(void **state)
{
	struct fixture *f = *state;
	struct mailbox_info mi;
	struct tmsg t;
	const char *err = NULL;
	uint32_t first = 0, uids[1], n = 0;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "bob@example.com");
	tmsg_init(f, &t, "n", 10);
	assert_int_equal(store_deliver(f->st, &a, 1, &t.m, uids, &err), 0);
	assert_int_equal(store_deliver(f->st, &a, 1, &t.m, uids, &err), 0);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.first_recent_uid, 1);
	assert_int_equal(store_mailbox_count_from(f->st, a, mi.id, 1, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_mailbox_claim_recent(f->st, a, mi.id, &first,
	    &err), 0);
	assert_int_equal(first, 1);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.first_recent_uid, 3);
	assert_int_equal(store_mailbox_count_from(f->st, a, mi.id, 3, &n), 0);
	assert_int_equal(n, 0);
	/* A second session sees nothing recent. */
	assert_int_equal(store_mailbox_claim_recent(f->st, a, mi.id, &first,
	    &err), 0);
	assert_int_equal(first, 3);
	assert_int_equal(store_deliver(f->st, &a, 1, &t.m, uids, &err), 0);
	assert_int_equal(uids[0], 3);
	mi = mbox(f, a, "INBOX");
	assert_int_equal(store_mailbox_count_from(f->st, a, mi.id,
	    mi.first_recent_uid, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_mailbox_claim_recent(f->st, a, mi.id, &first,
	    &err), 0);
	assert_int_equal(first, 3);
	assert_int_equal(mbox(f, a, "INBOX").first_recent_uid, 4);
	err = NULL;
	assert_int_equal(store_mailbox_claim_recent(f->st, a, 9999, &first,
	    &err), -1);
	assert_non_null(err);
	tmsg_free(&t);
}

/* Group commit: many threads delivering into one account at once. */
#define GC_THREADS	8
#define GC_EACH		40

struct gc_arg {
	struct fixture	*f;
	struct tmsg	*t;
	int64_t		 acct;
	uint32_t	 uids[GC_EACH];
	int		 fails;
	char		 error[256];
};

static void *
gc_thread(void *p)
{
	struct gc_arg *a = p;

	for (int i = 0; i < GC_EACH; i++) {
		const char *err = NULL;

		if (store_deliver(a->f->st, &a->acct, 1, &a->t->m,
		    &a->uids[i], &err) < 0) {
			a->fails++;
			snprintf(a->error, sizeof(a->error), "%s",
			    err != NULL ? err : "?");
		}
	}
	store_thread_done(a->f->st);
	return NULL;
}

static void
test_group_commit(void **state)
{
	struct fixture *f = *state;
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS];
	bool seen[GC_THREADS * GC_EACH + 1];
	struct mailbox_info mi;
	struct tmsg t;
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "gc@example.com");
	tmsg_init(f, &t, "gc", 500);
	/* The recording hook is not for many threads at once. */
	store_set_change_hook(f->st, NULL, NULL);
	for (int i = 0; i < GC_THREADS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].f = f;
		args[i].t = &t;
		args[i].acct = a;
		assert_int_equal(pthread_create(&th[i], NULL, gc_thread,
		    &args[i]), 0);
	}
	memset(seen, 0, sizeof(seen));
	/* All of them first: a failed check must not free the store under
	 * threads still delivering. */
	for (int i = 0; i < GC_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < GC_THREADS; i++) {
		if (args[i].fails != 0)
			print_error("thread %d: %d failed, last: %s\n", i,
			    args[i].fails, args[i].error);
		assert_int_equal(args[i].fails, 0);
		for (int k = 0; k < GC_EACH; k++) {
			uint32_t u = args[i].uids[k];

			assert_true(u >= 1 && u <= GC_THREADS * GC_EACH);
			assert_false(seen[u]);
			seen[u] = true;
			/* One thread's messages get increasing uids. */
			if (k > 0)
				assert_true(u > args[i].uids[k - 1]);
		}
	}
	mi = mbox(f, a, "INBOX");
	assert_int_equal(mi.messages, GC_THREADS * GC_EACH);
	assert_int_equal(mi.uidnext, GC_THREADS * GC_EACH + 1);
	assert_int_equal(mi.unseen, GC_THREADS * GC_EACH);
	assert_true(mi.size == (uint64_t)GC_THREADS * GC_EACH * t.len);
	tmsg_free(&t);
}

/*
 * The first connections to a new account's database race to switch it to
 * WAL: each reads the header and then wants the write lock, and sqlite
 * refuses that upgrade at once ("database is locked", no busy handler)
 * while another holds it.  Threads open each fresh database together and
 * write to it; every open succeeds.
 */
#define OC_THREADS	4
#define OC_ROUNDS	40

struct oc_arg {
	const char		*dir;
	pthread_barrier_t	*start;
	int			 fails;
	char			 error[256];
};

static void *
oc_thread(void *p)
{
	struct oc_arg *a = p;

	for (int i = 0; i < OC_ROUNDS; i++) {
		const char *err = NULL;
		char path[160];
		struct db *db;

		snprintf(path, sizeof(path), "%s/oc-%d.db", a->dir, i);
		pthread_barrier_wait(a->start);
		if (db_open(path, &db, &err) < 0) {
			a->fails++;
			snprintf(a->error, sizeof(a->error), "%s", err);
			continue;
		}
		if (db_exec(db, "CREATE TABLE IF NOT EXISTS t(x); "
		    "INSERT INTO t VALUES(1)", &err) < 0) {
			a->fails++;
			snprintf(a->error, sizeof(a->error), "%s", err);
		}
		db_close(&db);
	}
	return NULL;
}

static void
test_open_fresh_together(void **state)
{
	struct fixture *f = *state;
	struct oc_arg args[OC_THREADS];
	pthread_t th[OC_THREADS];
	pthread_barrier_t start;

	assert_int_equal(pthread_barrier_init(&start, NULL, OC_THREADS), 0);
	for (int i = 0; i < OC_THREADS; i++) {
		memset(&args[i], 0, sizeof(args[i]));
		args[i].dir = f->dir;
		args[i].start = &start;
		assert_int_equal(pthread_create(&th[i], NULL, oc_thread,
		    &args[i]), 0);
	}
	for (int i = 0; i < OC_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < OC_THREADS; i++) {
		if (args[i].fails != 0)
			print_error("thread %d: %d failed, last: %s\n", i,
			    args[i].fails, args[i].error);
		assert_int_equal(args[i].fails, 0);
	}
	for (int i = 0; i < OC_ROUNDS; i++) {
		char path[160];
		const char *err = NULL;
		struct db *db;
		sqlite3_stmt *st;

		snprintf(path, sizeof(path), "%s/oc-%d.db", f->dir, i);
		assert_int_equal(db_open(path, &db, &err), 0);
		assert_int_equal(sqlite3_prepare_v2(db->h,
		    "SELECT count(*) FROM t", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), OC_THREADS);
		sqlite3_finalize(st);
		db_close(&db);
	}
}

/*
 * Account connections a thread releases go to the shared pool: the next
 * thread serving that account takes the idle one instead of opening its
 * own; a connection still held is never handed out twice; one released
 * inside a transaction comes back rolled back.
 */
struct pool_arg {
	struct fixture	*f;
	int64_t		 acct;
	bool		 release;
	bool		 begin;		/* leave a transaction open */
	uint64_t	 opened;	/* account connections this thread opened */
	struct db	*db;
	int		 autocommit;
};

static void *
pool_thread(void *p)
{
	struct pool_arg *a = p;
	const char *err = NULL;
	uint64_t before = sq_acct_opens();
	struct mailbox_info mi;

	assert_int_equal(store_mailbox_get(a->f->st, a->acct, "INBOX", &mi), 1);
	a->db = sq_acct(a->f->st, a->acct, &err);
	assert_non_null(a->db);
	a->autocommit = sqlite3_get_autocommit(a->db->h);
	if (a->begin)
		assert_int_equal(db_begin(a->db, &err), 0);
	a->opened = sq_acct_opens() - before;
	if (a->release)
		store_thread_release(a->f->st);
	/* Closes what the thread still holds: posthorn.db, or all. */
	store_thread_done(a->f->st);
	return NULL;
}

static void
pool_run(struct pool_arg *a)
{
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, pool_thread, a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
}

static void
test_acct_pool(void **state)
{
	struct fixture *f = *state;
	struct pool_arg a1, a2, a3, a4;
	int64_t acct;

	add_domain(f, "example.com");
	acct = add_account(f, "pool@example.com");
	/* Released by one thread, reused by the next. */
	a1 = (struct pool_arg){ .f = f, .acct = acct, .release = true };
	pool_run(&a1);
	assert_int_equal(a1.opened, 1);
	a2 = (struct pool_arg){ .f = f, .acct = acct, .release = false };
	pool_run(&a2);
	assert_int_equal(a2.opened, 0);
	assert_ptr_equal(a2.db, a1.db);
	/* a2 closed it (thread done): the next thread opens a new one. */
	a1 = (struct pool_arg){ .f = f, .acct = acct, .release = true,
	    .begin = true };
	pool_run(&a1);
	assert_int_equal(a1.opened, 1);
	/* Released inside a transaction: handed out rolled back. */
	a3 = (struct pool_arg){ .f = f, .acct = acct, .release = true };
	pool_run(&a3);
	assert_int_equal(a3.opened, 0);
	assert_int_equal(a3.autocommit, 1);
	assert_int_equal(a3.db->in_tx, 0);
	/* While this thread holds it, another thread gets its own. */
	{
		const char *err = NULL;
		struct db *mine = sq_acct(f->st, acct, &err);

		assert_ptr_equal(mine, a3.db);
		a4 = (struct pool_arg){ .f = f, .acct = acct,
		    .release = true };
		pool_run(&a4);
		assert_int_equal(a4.opened, 1);
		assert_ptr_not_equal(a4.db, mine);
		store_thread_release(f->st);
	}
	/* Both idle now; deleting the account drops them from the pool. */
	{
		const char *err = NULL;
		uint64_t before = sq_acct_opens();

		assert_non_null(sq_acct(f->st, acct, &err));
		assert_int_equal(sq_acct_opens(), before);
		store_thread_release(f->st);
		sq_acct_remove_files(f->st, acct);
		a4 = (struct pool_arg){ .f = f, .acct = acct,
		    .release = false };
		pool_run(&a4);
		assert_int_equal(a4.opened, 1);
	}
}

/*
 * posthorn.db writers queue on the store's writer lock: a second writer
 * waits until the first commits, and a transaction left open on a
 * connection is rolled back by its next db_begin, not kept (with the
 * lock held) forever.
 */
struct wlock_arg {
	struct fixture	*f;
	int		 began;
	int64_t		 seen;		/* rows in meta when it got in */
};

static void *
wlock_thread(void *p)
{
	struct wlock_arg *a = p;
	const char *err = NULL;
	struct db *db = sq_dir(a->f->st, &err);
	sqlite3_stmt *st;

	assert_non_null(db);
	assert_int_equal(db_begin(db, &err), 0);
	__atomic_store_n(&a->began, 1, __ATOMIC_SEQ_CST);
	st = db_prep(db, "SELECT count(*) FROM t", &err);
	assert_non_null(st);
	assert_int_equal(db_step(st), 1);
	a->seen = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	assert_int_equal(db_commit(db, &err), 0);
	store_thread_done(a->f->st);
	return NULL;
}

static void
test_dir_writer_lock(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	struct db *db = sq_dir(f->st, &err);
	struct wlock_arg a = { .f = f };
	pthread_t th;

	assert_non_null(db);
	assert_ptr_equal(db->wlock, &f->st->dir_wlock);
	assert_int_equal(db_exec(db, "CREATE TABLE t (x)", &err), 0);
	assert_int_equal(db_begin(db, &err), 0);
	assert_int_equal(db_exec(db, "INSERT INTO t VALUES (1)", &err), 0);
	assert_int_equal(pthread_create(&th, NULL, wlock_thread, &a), 0);
	usleep(100 * 1000);
	assert_int_equal(__atomic_load_n(&a.began, __ATOMIC_SEQ_CST), 0);
	assert_int_equal(db_exec(db, "INSERT INTO t VALUES (2)", &err), 0);
	assert_int_equal(db_commit(db, &err), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.began, 1);
	assert_int_equal(a.seen, 2);	/* it got in after the commit */
	/* Left open, then begun again: the first one is rolled back. */
	assert_int_equal(db_begin(db, &err), 0);
	assert_int_equal(db_exec(db, "INSERT INTO t VALUES (3)", &err), 0);
	assert_int_equal(db_begin(db, &err), 0);
	assert_int_equal(db_commit(db, &err), 0);
	a = (struct wlock_arg){ .f = f };
	assert_int_equal(pthread_create(&th, NULL, wlock_thread, &a), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(a.seen, 2);
	assert_int_equal(db_exec(db, "DROP TABLE t", &err), 0);
}

/* A prefix goes before the spool; junk delivers into \Junk, or INBOX. */
static void
test_deliver_prefix_junk(void **state)
{
	struct fixture *f = *state;
	static const char pre[] = "Authentication-Results: mx; none\r\n";
	struct mail_meta mm;
	struct mailbox_info mi;
	struct buf b = BUF_INIT;
	struct tmsg t;
	const char *err = NULL;
	uint32_t uids[1];
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "jo@example.com");
	tmsg_init(f, &t, "p", 300);
	t.m.prefix = pre;
	t.m.prefix_len = sizeof(pre) - 1;
	t.m.junk = true;
	assert_true(store_msg_size(&t.m) == t.len + sizeof(pre) - 1);
	assert_int_equal(store_deliver(f->st, &a, 1, &t.m, uids, &err), 0);
	assert_int_equal(uids[0], 1);
	assert_int_equal(mbox(f, a, "INBOX").messages, 0);
	mi = mbox(f, a, "Junk");
	assert_int_equal(mi.messages, 1);
	assert_true(mi.size == t.len + sizeof(pre) - 1);
	mail_meta_init(&mm);
	assert_int_equal(store_mail_meta(f->st, a, mi.id, 1, true, &mm), 1);
	assert_true(mm.size == t.len + sizeof(pre) - 1);
	body_all(f, a, mm.message_id, 7, &b);
	assert_int_equal(b.len, t.len + sizeof(pre) - 1);
	assert_memory_equal(b.data, pre, sizeof(pre) - 1);
	assert_memory_equal(b.data + sizeof(pre) - 1, t.text, t.len);
	mail_meta_free(&mm);

	/* Without a \Junk mailbox the message goes to INBOX. */
	assert_int_equal(store_mailbox_delete(f->st, a, "Junk", &err), 0);
	assert_int_equal(store_deliver(f->st, &a, 1, &t.m, uids, &err), 0);
	assert_int_equal(mbox(f, a, "INBOX").messages, 1);
	buf_free(&b);
	tmsg_free(&t);
}

static void
test_queue(void **state)
{
	struct fixture *f = *state;
	struct tmsg small, big;
	const char *rcpts[] = { "x@remote.org", "y@remote.org",
	    "x@remote.org" };
	const char *err = NULL;
	uint64_t n = 99;

	tmsg_init(f, &small, "q1", 100);
	tmsg_init(f, &big, "q2", BIG_SIZE);
	assert_int_equal(store_queue_count(f->st, &n), 0);
	assert_true(n == 0);
	if (store_queue_add(f->st, "bob@example.com", rcpts, 3, &small.m,
	    "0123456789abcdef", NULL, &err) < 0)
		fail_msg("queue_add: %s", err);
	assert_int_equal(store_queue_count(f->st, &n), 0);
	assert_true(n == 1);
	if (store_queue_add(f->st, "", rcpts, 1, &big.m, "fedcba9876543210", NULL, &err) < 0)
		fail_msg("queue_add: %s", err);
	assert_int_equal(store_queue_count(f->st, &n), 0);
	assert_true(n == 2);
	/* The same id twice is refused and leaves nothing behind. */
	err = NULL;
	assert_int_equal(store_queue_add(f->st, "bob@example.com", rcpts, 1,
	    &small.m, "0123456789abcdef", NULL, &err), -1);
	assert_non_null(err);
	assert_int_equal(store_queue_count(f->st, &n), 0);
	assert_true(n == 2);
	calls_expect(f, 0);
	tmsg_free(&small);
	tmsg_free(&big);
}

static void
test_check(void **state)
{
	struct fixture *f = *state;
	struct buf report = BUF_INIT;
	struct tmsg t;
	int64_t a, b;
	uint32_t uids[2];
	const char *err = NULL;

	assert_int_equal(store_check(f->st, &report), 0);
	assert_int_equal(report.len, 0);
	add_domain(f, "example.com");
	a = add_account(f, "a@example.com");
	b = add_account(f, "b@example.com");
	tmsg_init(f, &t, "chk", BIG_SIZE);
	assert_int_equal(store_deliver(f->st, (int64_t[]){ a, b }, 2, &t.m,
	    uids, &err), 0);
	assert_int_equal(store_check(f->st, &report), 0);
	assert_int_equal(report.len, 0);
	buf_free(&report);
	tmsg_free(&t);
}

/*
 * Account switches that the store applies itself: a disabled account
 * refuses mail unless it keeps receiving; quotas refuse APPEND and COPY but
 * never a MOVE; the directory generation counts every directory change.
 */
static void
test_disabled_and_quota(void **state)
{
	struct fixture *f = *state;
	struct account_change chg;
	struct rcpt_resolution rr;
	struct mailbox_info in, ar;
	struct tmsg t;
	const char *err = NULL;
	uint64_t gen0, gen, used;
	uint32_t uid, uv, nu[2];
	int64_t bob, carol;

	assert_int_equal(store_directory_generation(f->st, &gen0), 0);
	add_domain(f, "example.com");
	bob = add_account(f, "bob@example.com");
	carol = add_account(f, "carol@example.com");
	add_alias(f, "both@example.com", 2, "bob@example.com",
	    "carol@example.com");
	assert_int_equal(store_directory_generation(f->st, &gen), 0);
	assert_true(gen >= gen0 + 4);

	/* Disabled: refused directly (disabled set), skipped via an alias. */
	account_change_init(&chg);
	chg.enabled = 0;
	assert_int_equal(store_account_set(f->st, "Bob@Example.com", &chg,
	    &err), 0);
	assert_int_equal(resolve(f, "bob@example.com", &rr), 0);
	assert_true(rr.disabled);
	assert_int_equal(rr.naccounts, 0);
	rcpt_resolution_free(&rr);
	/* (rr.disabled only means something when nothing was found.) */
	assert_int_equal(resolve(f, "both@example.com", &rr), 1);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == carol);
	rcpt_resolution_free(&rr);
	assert_int_equal(resolve(f, "nobody@example.com", &rr), 0);
	assert_false(rr.disabled);
	rcpt_resolution_free(&rr);
	/* Disabled but still receiving. */
	account_change_init(&chg);
	chg.receive = 1;
	assert_int_equal(store_account_set(f->st, "bob@example.com", &chg,
	    &err), 0);
	assert_int_equal(resolve(f, "bob@example.com", &rr), 1);
	assert_false(rr.disabled);
	assert_int_equal(rr.naccounts, 1);
	assert_true(rr.account_ids[0] == bob);
	rcpt_resolution_free(&rr);
	err = NULL;
	assert_int_equal(store_account_set(f->st, "nobody@example.com", &chg,
	    &err), -1);
	assert_non_null(err);

	/* Quota: the append that would cross it is refused. */
	tmsg_init(f, &t, "quota", 1000);
	in = mbox(f, carol, "INBOX");
	ar = mbox(f, carol, "Archive");
	calls_reset(f);
	assert_int_equal(store_append(f->st, carol, in.id, &t.m, 0, NULL,
	    2 * t.len, &uid, &uv, &err), 0);
	assert_int_equal(store_append(f->st, carol, in.id, &t.m, 0, NULL,
	    2 * t.len, &uid, &uv, &err), 0);
	assert_int_equal(uid, 2);
	calls_expect(f, 2, carol, in.id, carol, in.id);
	assert_int_equal(store_account_usage(f->st, carol, &used), 0);
	assert_true(used == 2 * t.len);
	err = NULL;
	assert_int_equal(store_append(f->st, carol, in.id, &t.m, 0, NULL,
	    2 * t.len + 1, &uid, &uv, &err), STORE_OVERQUOTA);
	assert_non_null(err);
	calls_expect(f, 0);
	in = mbox(f, carol, "INBOX");
	assert_int_equal(in.messages, 2);
	assert_int_equal(in.uidnext, 3);
	/* COPY past the quota is refused, MOVE is not. */
	err = NULL;
	assert_int_equal(store_mails_copy(f->st, carol, in.id,
	    (uint32_t[]){ 1 }, 1, ar.id, false, 2 * t.len, nu, &uv, &err),
	    STORE_OVERQUOTA);
	assert_non_null(err);
	calls_expect(f, 0);
	assert_int_equal(mbox(f, carol, "Archive").messages, 0);
	assert_int_equal(store_mails_copy(f->st, carol, in.id,
	    (uint32_t[]){ 1, 2 }, 2, ar.id, true, 2 * t.len, nu, &uv, &err),
	    0);
	assert_int_equal(nu[0], 1);
	assert_int_equal(nu[1], 2);
	calls_expect(f, 2, carol, ar.id, carol, in.id);
	assert_int_equal(store_account_usage(f->st, carol, &used), 0);
	assert_true(used == 2 * t.len);
	/* Quota 0 means none. */
	assert_int_equal(store_append(f->st, carol, in.id, &t.m, 0, NULL, 0,
	    &uid, &uv, &err), 0);
	check_counters(f, carol, "INBOX");
	check_counters(f, carol, "Archive");
	tmsg_free(&t);
}

/*
 * Full-text index: entries, exact substring lookups, kept once, gone
 * with the message.
 */
static void
test_fts(void **state)
{
	struct fixture *f = *state;
	struct store_fts_docs d;
	struct mailbox_info mi;
	struct mail_meta m;
	struct tmsg t;
	struct uids us;
	int64_t a, id[3], *ids;
	size_t n;
	const char *err = NULL;

	add_domain(f, "example.com");
	a = add_account(f, "fts@example.com");
	tmsg_init(f, &t, "f", 300);
	for (int i = 0; i < 3; i++)
		append(f, a, "INBOX", &t, 0, NULL);
	mi = mbox(f, a, "INBOX");
	for (uint32_t i = 0; i < 3; i++) {
		mail_meta_init(&m);
		assert_int_equal(store_mail_meta(f->st, a, mi.id, i + 1, false,
		    &m), 1);
		id[i] = m.message_id;
		mail_meta_free(&m);
	}
	assert_int_equal(store_fts_docs(f->st, a, &d, &err), 0);
	assert_int_equal(d.n, 0);
	store_fts_docs_free(&d);
	{
		struct store_fts_doc docs[] = {
			{ id[0], "hello world", 11 },
			{ id[1], "yellow submarine", 16 },
			{ id[2], NULL, 0 },		/* incomplete */
			{ 999999, "no such message", 15 },
		};

		if (store_fts_add(f->st, a, docs, 4, &err) < 0)
			fail_msg("fts_add: %s", err);
	}
	assert_int_equal(store_fts_docs(f->st, a, &d, &err), 0);
	assert_int_equal(d.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(d.ids[i] == id[i]);
		assert_int_equal(d.complete[i], i < 2);
	}
	store_fts_docs_free(&d);
	assert_int_equal(store_fts_match(f->st, a, "llo", 3, &ids, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_true(ids[0] == id[0] && ids[1] == id[1]);
	free(ids);
	assert_int_equal(store_fts_match(f->st, a, "o w", 3, &ids, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_true(ids[0] == id[0]);
	free(ids);
	/* A quote in the needle is a character, not FTS5 syntax. */
	assert_int_equal(store_fts_match(f->st, a, "a\"b OR c", 8, &ids, &n,
	    &err), 0);
	assert_int_equal(n, 0);
	free(ids);
	/* An entry is kept once. */
	{
		struct store_fts_doc again = { id[0], "other text", 10 };

		assert_int_equal(store_fts_add(f->st, a, &again, 1, &err), 0);
	}
	assert_int_equal(store_fts_match(f->st, a, "other", 5, &ids, &n,
	    &err), 0);
	assert_int_equal(n, 0);
	free(ids);
	/* Expunged, the message takes its entry along. */
	us.n = 0;
	assert_int_equal(store_mails_expunge(f->st, a, mi.id,
	    (uint32_t[]){ 1 }, 1, false, uids_cb, &us, &err), 0);
	assert_int_equal(us.n, 1);
	assert_int_equal(store_fts_match(f->st, a, "llo", 3, &ids, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_true(ids[0] == id[1]);
	free(ids);
	assert_int_equal(store_fts_docs(f->st, a, &d, &err), 0);
	assert_int_equal(d.n, 2);
	assert_true(d.ids[0] == id[1] && d.ids[1] == id[2]);
	store_fts_docs_free(&d);
	tmsg_free(&t);
}

/*
 * An expunged message stays readable for STORE_BODY_GRACE seconds (a
 * FETCH may be sending it), then the next expunge purges it.
 */
/*
 * The metadata cursor gives what store_mail_meta gives, whatever order
 * and gaps the uids are asked in.
 */
static void
test_meta_cursor(void **state)
{
	struct fixture *f = *state;
	struct flag_change ch[4];
	struct mailbox_info mi;
	struct mail_meta got, want;
	struct store_meta_cursor *c;
	struct tmsg t;
	struct uids us;
	const char *err = NULL;
	/* In order, a gap, a jump past CURSOR_SKIP, back, gone, past end. */
	static const uint32_t ask[] = { 1, 2, 3, 5, 10, 11, 150, 151, 4, 152,
	    7, 8, 9, 199, 200, 201, 500, 6 };
	int64_t a;

	add_domain(f, "example.com");
	a = add_account(f, "cursor@example.com");
	tmsg_init(f, &t, "c", 100);
	for (int i = 0; i < 200; i++) {
		append(f, a, "INBOX", &t, i % 3 == 0 ? MAIL_SEEN : 0,
		    i % 5 == 0 ? "$K" : NULL);
		calls_reset(f);		/* change hook calls: not counted */
	}
	mi = mbox(f, a, "INBOX");
	set_flags(f, a, mi.id, (uint32_t[]){ 7, 151, 200 }, 3, FLAGS_ADD,
	    MAIL_DELETED, NULL, 0, ch);
	us.n = 0;
	assert_int_equal(store_mails_expunge(f->st, a, mi.id, NULL, 0, true,
	    uids_cb, &us, &err), 0);
	assert_int_equal(us.n, 3);

	c = store_meta_cursor_open(f->st, a, mi.id, &err);
	assert_non_null(c);
	mail_meta_init(&got);
	mail_meta_init(&want);
	for (size_t i = 0; i < sizeof(ask) / sizeof(ask[0]); i++) {
		int r = store_mail_meta(f->st, a, mi.id, ask[i], true, &want);

		assert_int_equal(store_meta_cursor_get(c, ask[i], &got), r);
		assert_int_equal(r, ask[i] <= 200 && ask[i] != 7 &&
		    ask[i] != 151 && ask[i] != 200 ? 1 : 0);
		if (r != 1)
			continue;
		assert_true(got.message_id == want.message_id);
		assert_true(got.size == t.len && got.size == want.size);
		assert_true(got.internaldate == want.internaldate);
		assert_int_equal(got.flags, want.flags);
		assert_true(got.modseq == want.modseq);
		assert_string_equal(buf_cstr(&got.keywords),
		    buf_cstr(&want.keywords));
		assert_int_equal(got.mime.len, want.mime.len);
		assert_memory_equal(got.mime.data, want.mime.data,
		    got.mime.len);
	}
	store_meta_cursor_close(&c);
	assert_null(c);
	mail_meta_free(&got);
	mail_meta_free(&want);
	tmsg_free(&t);
}

static void
test_expunge_grace(void **state)
{
	struct fixture *f = *state;
	struct mailbox_info mi;
	struct mail_meta m;
	struct tmsg t;
	struct uids us;
	struct buf b = BUF_INIT;
	const char *err = NULL;
	char path[256];
	sqlite3 *h;
	int64_t a, gone_id, second_id;

	add_domain(f, "example.com");
	a = add_account(f, "grace@example.com");
	tmsg_init(f, &t, "g", 200);
	for (int i = 0; i < 3; i++)
		append(f, a, "INBOX", &t, 0, NULL);
	mi = mbox(f, a, "INBOX");
	mail_meta_init(&m);
	assert_int_equal(store_mail_meta(f->st, a, mi.id, 1, false, &m), 1);
	gone_id = m.message_id;
	mail_meta_free(&m);
	mail_meta_init(&m);
	assert_int_equal(store_mail_meta(f->st, a, mi.id, 2, false, &m), 1);
	second_id = m.message_id;
	mail_meta_free(&m);
	us.n = 0;
	assert_int_equal(store_mails_expunge(f->st, a, mi.id,
	    (uint32_t[]){ 1 }, 1, false, uids_cb, &us, &err), 0);
	assert_int_equal(us.n, 1);
	/* Gone from the mailbox, still readable. */
	mail_meta_init(&m);
	assert_int_equal(store_mail_meta(f->st, a, mi.id, 1, false, &m), 0);
	mail_meta_free(&m);
	assert_int_equal(store_body_read(f->st, a, gone_id, 0, 10, &b, &err),
	    0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, t.text, 10);
	/* The grace period over (moved back in time here), the next expunge
	 * deletes it. */
	snprintf(path, sizeof(path), "%s/accounts/%lld/mail.db", f->data,
	    (long long)a);
	assert_int_equal(sqlite3_open(path, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	assert_int_equal(sqlite3_exec(h, "UPDATE messages SET gone_at = "
	    "gone_at - 301 WHERE gone_at IS NOT NULL", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, a, gone_id, 0, 10, &b, &err),
	    0);
	assert_int_equal(store_mails_expunge(f->st, a, mi.id,
	    (uint32_t[]){ 2 }, 1, false, uids_cb, &us, &err), 0);
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, a, gone_id, 0, 10, &b, &err),
	    -1);
	/* Message 2, expunged just now, is in its own grace period. */
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, a, second_id, 0, 10, &b,
	    &err), 0);
	assert_int_equal(mbox(f, a, "INBOX").messages, 1);
	buf_free(&b);
	tmsg_free(&t);
}

/*
 * store_purge_due (the server calls it once a minute): an expunged body
 * goes once its grace is over, without another expunge in the account;
 * the account stays on the list while bodies wait, and leaves it after.
 */
static void
test_purge_due(void **state)
{
	struct fixture *f = *state;
	struct mailbox_info mi;
	struct mail_meta m;
	struct tmsg t;
	struct uids us;
	struct buf b = BUF_INIT;
	const char *err = NULL;
	time_t now = time(NULL);
	int64_t a, id1, id2;

	add_domain(f, "example.com");
	a = add_account(f, "purge@example.com");
	tmsg_init(f, &t, "p", 200);
	append(f, a, "INBOX", &t, 0, NULL);
	append(f, a, "INBOX", &t, 0, NULL);
	mi = mbox(f, a, "INBOX");
	mail_meta_init(&m);
	assert_int_equal(store_mail_meta(f->st, a, mi.id, 1, false, &m), 1);
	id1 = m.message_id;
	mail_meta_free(&m);
	mail_meta_init(&m);
	assert_int_equal(store_mail_meta(f->st, a, mi.id, 2, false, &m), 1);
	id2 = m.message_id;
	mail_meta_free(&m);
	/* Nothing expunged: no account to look at. */
	assert_int_equal(store_purge_due(f->st, now + 10 * STORE_BODY_GRACE,
	    &err), 0);
	us.n = 0;
	assert_int_equal(store_mails_expunge(f->st, a, mi.id,
	    (uint32_t[]){ 1 }, 1, false, uids_cb, &us, &err), 0);
	/* Within the grace: kept, and still on the list. */
	assert_int_equal(store_purge_due(f->st, now + 1, &err), 0);
	assert_int_equal(store_body_read(f->st, a, id1, 0, 10, &b, &err), 0);
	assert_int_equal(b.len, 10);
	/* After it: deleted; message 2 was never expunged and stays. */
	assert_int_equal(store_purge_due(f->st, now + STORE_BODY_GRACE + 2,
	    &err), 1);
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, a, id1, 0, 10, &b, &err), -1);
	buf_reset(&b);
	assert_int_equal(store_body_read(f->st, a, id2, 0, 10, &b, &err), 0);
	assert_int_equal(b.len, 10);
	/* Nothing left to wait for: the account is off the list. */
	assert_int_equal(store_purge_due(f->st, now + 10 * STORE_BODY_GRACE,
	    &err), 0);
	/* A deleted mailbox's messages are purged the same way. */
	assert_int_equal(store_mailbox_create(f->st, a, "Old", 0, &err), 0);
	append(f, a, "Old", &t, 0, NULL);
	assert_int_equal(store_mailbox_delete(f->st, a, "Old", &err), 0);
	assert_int_equal(store_purge_due(f->st, now + 10 * STORE_BODY_GRACE,
	    &err), 1);
	assert_int_equal(store_purge_due(f->st, now + 10 * STORE_BODY_GRACE,
	    &err), 0);
	buf_free(&b);
	tmsg_free(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open),
		T(test_domains),
		T(test_accounts),
		T(test_aliases),
		T(test_resolve),
		T(test_resolve_extensions),
		T(test_default_mailboxes),
		T(test_deliver),
		T(test_append),
		T(test_flags),
		T(test_copy_move),
		T(test_expunge),
		T(test_mailbox_create_delete),
		T(test_mailbox_rename),
		T(test_subscriptions),
		T(test_claim_recent),
		T(test_deliver_prefix_junk),
		T(test_group_commit),
		T(test_open_fresh_together),
		T(test_acct_pool),
		T(test_dir_writer_lock),
		T(test_purge_due),
		T(test_queue),
		T(test_check),
		T(test_disabled_and_quota),
		T(test_fts),
		T(test_expunge_grace),
		T(test_meta_cursor),
#undef T
	};

	log_init("test_store", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

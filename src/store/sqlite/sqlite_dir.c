/*
 * sqlite_dir - domains, accounts, aliases, recipient resolution and the
 * outbound queue, all in data_dir/posthorn.db.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "sqlite_int.h"

#define ALIAS_DEPTH_MAX	10
#define ALIAS_VISIT_MAX	1000

#define ACCOUNT_COLS "a.id, a.address, a.password, a.enabled, a.receive, " \
	"coalesce(a.imap, d.imap), coalesce(a.pop3, d.pop3), " \
	"coalesce(a.submission, d.submission), coalesce(a.webmail, d.webmail), " \
	"coalesce(a.quota, d.quota), d.pop3_keep, a.scram, a.imap, a.pop3, " \
	"a.submission, a.webmail, a.quota FROM accounts a JOIN domains d ON " \
	"d.id = a.domain_id"

const char *const proto_names[PROTO_COUNT] = {
	"imap", "pop3", "submission", "webmail",
};

/* Splits an address at its last '@'; the domain part must be valid. */
static const char *
addr_domain(const char *address)
{
	const char *at = strrchr(address, '@');

	if (at == NULL || at == address || at[1] == '\0')
		return NULL;
	return at + 1;
}

/* "Local@Example.COM" -> "Local@example.com" in a new string. */
static char *
addr_normalize(const char *address)
{
	char *a = xstrdup(address);
	char *at = strrchr(a, '@');

	if (at != NULL)
		ascii_lower(at + 1);
	return a;
}

static int
domain_id(struct db *db, const char *domain, int64_t *id_r,
    const char **error_r)
{
	sqlite3_stmt *st;
	int r;

	if ((st = db_prep(db, "SELECT id FROM domains WHERE name = lower(?)",
	    error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, domain);
	r = db_step(st);
	if (r == 1)
		*id_r = sqlite3_column_int64(st, 0);
	else if (r < 0)
		*error_r = db_err(db, "domain lookup");
	sqlite3_reset(st);
	return r;
}

int
store_domain_add(struct store *s, const char *name, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	char *lower;
	int r;

	if (!domain_valid(name, strlen(name))) {
		*error_r = "not a valid domain name";
		return -1;
	}
	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	if ((st = db_prep(db, "INSERT INTO domains (name, created) "
	    "VALUES (?, ?)", error_r)) == NULL)
		return -1;
	lower = xstrdup(name);
	ascii_lower(lower);
	db_bind_text(st, 1, lower);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	free(lower);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		*error_r = "domain exists already";
		return -1;
	}
	if (r != SQLITE_DONE) {
		*error_r = db_err(db, "adding domain");
		return -1;
	}
	return 0;
}

int
store_domain_del(struct store *s, const char *name, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int64_t id;
	int r;

	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	if ((r = domain_id(db, name, &id, error_r)) <= 0) {
		if (r == 0)
			*error_r = "no such domain";
		return -1;
	}
	if ((st = db_prep(db, "SELECT (SELECT COUNT(*) FROM accounts WHERE "
	    "domain_id = ?1) + (SELECT COUNT(*) FROM aliases WHERE "
	    "domain_id = ?1)", error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (db_step(st) != 1) {
		*error_r = db_err(db, "counting accounts");
		return -1;
	}
	if (sqlite3_column_int64(st, 0) > 0) {
		sqlite3_reset(st);
		*error_r = "domain still has accounts or aliases; delete them "
		    "first";
		return -1;
	}
	sqlite3_reset(st);
	if ((st = db_prep(db, "DELETE FROM domains WHERE id = ?",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "deleting domain");
		return -1;
	}
	return 0;
}

int
store_domain_exists(struct store *s, const char *name)
{
	const char *err;
	struct db *db;
	int64_t id;

	if ((db = sq_dir(s, &err)) == NULL)
		return -1;
	return domain_id(db, name, &id, &err);
}

int
store_domain_list(struct store *s, void (*cb)(void *, const char *),
    void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT name FROM domains ORDER BY name",
	    &err)) == NULL)
		return -1;
	while ((r = db_step(st)) == 1)
		cb(ctx, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

void
account_clear(struct account *a)
{
	free(a->address);
	if (a->password_hash != NULL)
		xfree_secret(a->password_hash, strlen(a->password_hash));
	if (a->scram != NULL)
		xfree_secret(a->scram, strlen(a->scram));
	memset(a, 0, sizeof(*a));
}

static void
account_from_row(sqlite3_stmt *st, struct account *a)
{
	const char *scram = (const char *)sqlite3_column_text(st, 11);

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	a->address = xstrdup((const char *)sqlite3_column_text(st, 1));
	a->password_hash = xstrdup((const char *)sqlite3_column_text(st, 2));
	a->enabled = sqlite3_column_int(st, 3) != 0;
	a->receive = sqlite3_column_int(st, 4) != 0;
	for (int i = 0; i < PROTO_COUNT; i++) {
		if (sqlite3_column_int(st, 5 + i) != 0)
			a->protocols |= 1U << i;
		a->own_proto[i] = sqlite3_column_type(st, 12 + i) ==
		    SQLITE_NULL ? -1 : sqlite3_column_int(st, 12 + i) != 0;
	}
	a->quota = (uint64_t)sqlite3_column_int64(st, 9);
	a->pop3_keep = sqlite3_column_int(st, 10) != 0;
	a->scram = scram != NULL ? xstrdup(scram) : NULL;
	a->own_quota = sqlite3_column_type(st, 16) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 16);
}

int
store_account_add(struct store *s, const char *address, const char *hash,
    const char *scram, int64_t *id_r, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	const char *domain = addr_domain(address);
	int64_t did;
	char *norm;
	int r;

	if (domain == NULL) {
		*error_r = "not an address (want user@domain)";
		return -1;
	}
	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	if ((r = domain_id(db, domain, &did, error_r)) <= 0) {
		if (r == 0)
			*error_r = "domain is not served here; add it first "
			    "with 'posthorn domain add'";
		return -1;
	}
	if (db_begin(db, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "SELECT 1 FROM aliases WHERE address = ?",
	    error_r)) == NULL)
		goto fail;
	norm = addr_normalize(address);
	db_bind_text(st, 1, norm);
	r = db_step(st);
	sqlite3_reset(st);
	if (r != 0) {
		free(norm);
		*error_r = r > 0 ? "an alias with that address exists" :
		    db_err(db, "alias lookup");
		goto fail;
	}
	if ((st = db_prep(db, "INSERT INTO accounts (domain_id, address, "
	    "password, scram, created) VALUES (?, ?, ?, ?, ?)",
	    error_r)) == NULL) {
		free(norm);
		goto fail;
	}
	sqlite3_bind_int64(st, 1, did);
	db_bind_text(st, 2, norm);
	db_bind_text(st, 3, hash);
	db_bind_text(st, 4, scram);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	free(norm);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		*error_r = "account exists already";
		goto fail;
	}
	if (r != SQLITE_DONE) {
		*error_r = db_err(db, "adding account");
		goto fail;
	}
	if (id_r != NULL)
		*id_r = sqlite3_last_insert_rowid(db->h);
	return db_commit(db, error_r);
fail:
	db_rollback(db);
	return -1;
}

int
store_account_passwd(struct store *s, const char *address, const char *hash,
    const char *scram, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "UPDATE accounts SET password = ?, scram = ? "
	    "WHERE address = ?", error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, hash);
	db_bind_text(st, 2, scram);
	db_bind_text(st, 3, address);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "updating password");
		return -1;
	}
	if (sqlite3_changes(db->h) == 0) {
		*error_r = "no such account";
		return -1;
	}
	return 0;
}

void
account_change_init(struct account_change *ch)
{
	for (int i = 0; i < PROTO_COUNT; i++)
		ch->proto[i] = -1;
	ch->quota = -1;
	ch->enabled = -1;
	ch->receive = -1;
}

/* One column of accounts to a value, or NULL for v == -2. */
static int
account_set_col(struct db *db, const char *sql, int64_t id, int64_t v,
    const char **error_r)
{
	sqlite3_stmt *st;

	if ((st = db_prep(db, sql, error_r)) == NULL)
		return -1;
	if (v == -2)
		sqlite3_bind_null(st, 1);
	else
		sqlite3_bind_int64(st, 1, v);
	sqlite3_bind_int64(st, 2, id);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "updating account");
		return -1;
	}
	return 0;
}

int
store_account_set(struct store *s, const char *address,
    const struct account_change *ch, const char **error_r)
{
	static const char *const proto_sql[PROTO_COUNT] = {
		"UPDATE accounts SET imap = ? WHERE id = ?",
		"UPDATE accounts SET pop3 = ? WHERE id = ?",
		"UPDATE accounts SET submission = ? WHERE id = ?",
		"UPDATE accounts SET webmail = ? WHERE id = ?",
	};
	struct account a;
	struct db *db;
	int r;

	if ((r = store_account_get(s, address, &a)) <= 0) {
		*error_r = r == 0 ? "no such account" : "account lookup failed";
		return -1;
	}
	if ((db = sq_dir(s, error_r)) == NULL || db_begin(db, error_r) < 0) {
		account_clear(&a);
		return -1;
	}
	for (int i = 0; i < PROTO_COUNT; i++)
		if (ch->proto[i] != -1 && account_set_col(db, proto_sql[i],
		    a.id, ch->proto[i], error_r) < 0)
			goto fail;
	if (ch->quota != -1 && account_set_col(db, "UPDATE accounts SET "
	    "quota = ? WHERE id = ?", a.id, ch->quota, error_r) < 0)
		goto fail;
	if (ch->enabled != -1 && account_set_col(db, "UPDATE accounts SET "
	    "enabled = ? WHERE id = ?", a.id, ch->enabled, error_r) < 0)
		goto fail;
	if (ch->receive != -1 && account_set_col(db, "UPDATE accounts SET "
	    "receive = ? WHERE id = ?", a.id, ch->receive, error_r) < 0)
		goto fail;
	account_clear(&a);
	return db_commit(db, error_r);
fail:
	account_clear(&a);
	db_rollback(db);
	return -1;
}

void
domain_info_clear(struct domain_info *d)
{
	free(d->name);
	memset(d, 0, sizeof(*d));
}

int
store_domain_get(struct store *s, const char *name, struct domain_info *d)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT id, name, imap, pop3, submission, "
	    "webmail, quota, pop3_keep FROM domains WHERE name = lower(?)",
	    &err)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	if ((r = db_step(st)) == 1) {
		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(st, 0);
		d->name = xstrdup((const char *)sqlite3_column_text(st, 1));
		for (int i = 0; i < PROTO_COUNT; i++)
			if (sqlite3_column_int(st, 2 + i) != 0)
				d->protocols |= 1U << i;
		d->quota = (uint64_t)sqlite3_column_int64(st, 6);
		d->pop3_keep = sqlite3_column_int(st, 7) != 0;
	}
	sqlite3_reset(st);
	return r;
}

int
store_domain_set(struct store *s, const char *name, unsigned protocols,
    unsigned mask, int64_t quota, int pop3_keep, const char **error_r)
{
	static const char *const proto_sql[PROTO_COUNT] = {
		"UPDATE domains SET imap = ? WHERE id = ?",
		"UPDATE domains SET pop3 = ? WHERE id = ?",
		"UPDATE domains SET submission = ? WHERE id = ?",
		"UPDATE domains SET webmail = ? WHERE id = ?",
	};
	struct db *db;
	int64_t id;
	int r;

	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	if ((r = domain_id(db, name, &id, error_r)) <= 0) {
		if (r == 0)
			*error_r = "no such domain";
		return -1;
	}
	if (db_begin(db, error_r) < 0)
		return -1;
	for (int i = 0; i < PROTO_COUNT; i++)
		if ((mask & (1U << i)) && account_set_col(db, proto_sql[i], id,
		    (protocols >> i) & 1, error_r) < 0)
			goto fail;
	if (quota >= 0 && account_set_col(db, "UPDATE domains SET quota = ? "
	    "WHERE id = ?", id, quota, error_r) < 0)
		goto fail;
	if (pop3_keep >= 0 && account_set_col(db, "UPDATE domains SET "
	    "pop3_keep = ? WHERE id = ?", id, pop3_keep, error_r) < 0)
		goto fail;
	return db_commit(db, error_r);
fail:
	db_rollback(db);
	return -1;
}

int
store_apppass_add(struct store *s, const char *address, const char *name,
    const char *hash, unsigned protocols, const char **error_r)
{
	struct account a;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((r = store_account_get(s, address, &a)) <= 0) {
		*error_r = r == 0 ? "no such account" : "account lookup failed";
		return -1;
	}
	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "INSERT INTO app_passwords (account_id, name, "
	    "hash, protocols, created) VALUES (?, ?, ?, ?, ?)",
	    error_r)) == NULL) {
		account_clear(&a);
		return -1;
	}
	sqlite3_bind_int64(st, 1, a.id);
	db_bind_text(st, 2, name);
	db_bind_text(st, 3, hash);
	sqlite3_bind_int(st, 4, (int)protocols);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	account_clear(&a);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		*error_r = "an app password with that name exists already";
		return -1;
	}
	if (r != SQLITE_DONE) {
		*error_r = db_err(db, "adding app password");
		return -1;
	}
	return 0;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return t != NULL ? xstrdup(t) : NULL;
}

int
store_dkim_add(struct store *s, const char *domain, const char *selector,
    const char *algorithm, const char *file, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int64_t id;
	int r;

	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	if ((r = domain_id(db, domain, &id, error_r)) <= 0) {
		if (r == 0)
			*error_r = "no such domain";
		return -1;
	}
	if ((st = db_prep(db, "INSERT INTO dkim_keys (domain_id, selector, "
	    "algorithm, file, created) VALUES (?, lower(?), ?, ?, ?)",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	db_bind_text(st, 2, selector);
	db_bind_text(st, 3, algorithm);
	db_bind_text(st, 4, file);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	r = sqlite3_step(st);
	sqlite3_reset(st);
	if (r == SQLITE_CONSTRAINT_UNIQUE) {
		*error_r = "the domain has a key with that selector already";
		return -1;
	}
	if (r != SQLITE_DONE) {
		*error_r = db_err(db, "adding DKIM key");
		return -1;
	}
	return 0;
}

int
store_dkim_del(struct store *s, const char *domain, const char *selector,
    char **file_r, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int r;

	*file_r = NULL;
	if ((db = sq_dir(s, error_r)) == NULL || db_begin(db, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "SELECT k.id, k.file FROM dkim_keys k JOIN "
	    "domains d ON d.id = k.domain_id WHERE d.name = lower(?) AND "
	    "k.selector = lower(?)", error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, domain);
	db_bind_text(st, 2, selector);
	if ((r = db_step(st)) != 1) {
		sqlite3_reset(st);
		*error_r = r == 0 ? "no such DKIM key" :
		    db_err(db, "DKIM key lookup");
		goto fail;
	}
	{
		int64_t id = sqlite3_column_int64(st, 0);

		*file_r = col_dup(st, 1);
		sqlite3_reset(st);
		if ((st = db_prep(db, "DELETE FROM dkim_keys WHERE id = ?",
		    error_r)) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, id);
	}
	if (db_step(st) < 0) {
		*error_r = db_err(db, "deleting DKIM key");
		goto fail;
	}
	if (db_commit(db, error_r) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(db);
	free(*file_r);
	*file_r = NULL;
	return -1;
}

int
store_dkim_list(struct store *s, const char *domain,
    void (*cb)(void *, const struct dkim_key_row *), void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT d.name, k.selector, k.algorithm, k.file, "
	    "k.created FROM dkim_keys k JOIN domains d ON d.id = k.domain_id "
	    "WHERE ?1 IS NULL OR d.name = lower(?1) ORDER BY d.name, "
	    "k.selector", &err)) == NULL)
		return -1;
	db_bind_text(st, 1, domain);
	while ((r = db_step(st)) == 1) {
		struct dkim_key_row k;

		k.domain = (const char *)sqlite3_column_text(st, 0);
		k.selector = (const char *)sqlite3_column_text(st, 1);
		k.algorithm = (const char *)sqlite3_column_text(st, 2);
		k.file = (const char *)sqlite3_column_text(st, 3);
		k.created = (time_t)sqlite3_column_int64(st, 4);
		cb(ctx, &k);
	}
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

int
store_sts_get(struct store *s, const char *domain, struct sts_cache_row *row)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	memset(row, 0, sizeof(*row));
	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT domain, policy_id, policy, fetched, "
	    "expires FROM mta_sts WHERE domain = ?", &err)) == NULL)
		return -1;
	db_bind_text(st, 1, domain);
	if ((r = db_step(st)) == 1) {
		row->domain = xstrdup((const char *)sqlite3_column_text(st, 0));
		row->id = xstrdup((const char *)sqlite3_column_text(st, 1));
		row->policy = xstrdup((const char *)sqlite3_column_text(st, 2));
		row->fetched = (time_t)sqlite3_column_int64(st, 3);
		row->expires = (time_t)sqlite3_column_int64(st, 4);
	}
	sqlite3_reset(st);
	return r;
}

int
store_sts_put(struct store *s, const struct sts_cache_row *row,
    const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "INSERT OR REPLACE INTO mta_sts (domain, "
	    "policy_id, policy, fetched, expires) VALUES (lower(?), ?, ?, ?, "
	    "?)", error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, row->domain);
	db_bind_text(st, 2, row->id);
	db_bind_text(st, 3, row->policy);
	sqlite3_bind_int64(st, 4, (int64_t)row->fetched);
	sqlite3_bind_int64(st, 5, (int64_t)row->expires);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "caching MTA-STS policy");
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

void
store_sts_row_free(struct sts_cache_row *row)
{
	free(row->domain);
	free(row->id);
	free(row->policy);
	memset(row, 0, sizeof(*row));
}

int
store_apppass_del(struct store *s, const char *address, const char *name,
    const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "DELETE FROM app_passwords WHERE name = ? AND "
	    "account_id = (SELECT id FROM accounts WHERE address = ?)",
	    error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, address);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "deleting app password");
		return -1;
	}
	if (sqlite3_changes(db->h) == 0) {
		*error_r = "no such app password";
		return -1;
	}
	return 0;
}

int
store_apppass_list(struct store *s, int64_t account,
    void (*cb)(void *, const struct app_password *), void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT id, name, hash, protocols, created, "
	    "coalesce(last_used, 0) FROM app_passwords WHERE account_id = ? "
	    "ORDER BY name", &err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, account);
	while ((r = db_step(st)) == 1) {
		struct app_password ap;

		ap.id = sqlite3_column_int64(st, 0);
		ap.name = (char *)sqlite3_column_text(st, 1);
		ap.hash = (char *)sqlite3_column_text(st, 2);
		ap.protocols = (unsigned)sqlite3_column_int(st, 3);
		ap.created = (time_t)sqlite3_column_int64(st, 4);
		ap.last_used = (time_t)sqlite3_column_int64(st, 5);
		cb(ctx, &ap);
	}
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

int
store_apppass_used(struct store *s, int64_t id)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "UPDATE app_passwords SET last_used = ? WHERE "
	    "id = ?", &err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 2, id);
	return db_step(st) < 0 ? -1 : 0;
}

int
store_secret(struct store *s, const char *name, unsigned char out[32],
    const char **error_r)
{
	unsigned char fresh[32];
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	random_bytes(fresh, sizeof(fresh));
	/* The first writer wins; everyone reads what was stored. */
	if ((st = db_prep(db, "INSERT OR IGNORE INTO secrets (name, value) "
	    "VALUES (?, ?)", error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	sqlite3_bind_blob(st, 2, fresh, sizeof(fresh), SQLITE_TRANSIENT);
	explicit_bzero(fresh, sizeof(fresh));
	if (db_step(st) < 0) {
		*error_r = db_err(db, "storing secret");
		return -1;
	}
	if ((st = db_prep(db, "SELECT value FROM secrets WHERE name = ?",
	    error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, name);
	r = db_step(st);
	if (r == 1 && sqlite3_column_bytes(st, 0) == 32)
		memcpy(out, sqlite3_column_blob(st, 0), 32);
	else
		r = -1;
	sqlite3_reset(st);
	if (r != 1) {
		*error_r = "secret is missing or damaged";
		return -1;
	}
	return 0;
}

int
store_directory_generation(struct store *s, uint64_t *gen)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT value FROM meta WHERE key = "
	    "'directory_gen'", &err)) == NULL)
		return -1;
	if ((r = db_step(st)) == 1)
		*gen = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return r == 1 ? 0 : -1;
}

int
store_account_del(struct store *s, const char *address, const char **error_r)
{
	struct account a;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	memset(&a, 0, sizeof(a));
	if ((r = store_account_get(s, address, &a)) <= 0) {
		*error_r = r == 0 ? "no such account" : "account lookup failed";
		return -1;
	}
	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "DELETE FROM accounts WHERE id = ?",
	    error_r)) == NULL) {
		account_clear(&a);
		return -1;
	}
	sqlite3_bind_int64(st, 1, a.id);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "deleting account");
		account_clear(&a);
		return -1;
	}
	sq_acct_remove_files(s, a.id);
	account_clear(&a);
	return 0;
}

int
store_account_get(struct store *s, const char *address, struct account *a)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT " ACCOUNT_COLS " WHERE a.address = ?",
	    &err)) == NULL)
		return -1;
	db_bind_text(st, 1, address);
	if ((r = db_step(st)) == 1)
		account_from_row(st, a);
	sqlite3_reset(st);
	return r;
}

int
store_account_get_id(struct store *s, int64_t id, struct account *a)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT " ACCOUNT_COLS " WHERE a.id = ?",
	    &err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if ((r = db_step(st)) == 1)
		account_from_row(st, a);
	sqlite3_reset(st);
	return r;
}

int
store_account_list(struct store *s, void (*cb)(void *,
    const struct account *), void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT " ACCOUNT_COLS " ORDER BY a.address",
	    &err)) == NULL)
		return -1;
	/*
	 * Collect first: the callback may use the store (store_check opens
	 * each account) and must not find this statement mid-step.
	 */
	{
		struct account *list = NULL;
		size_t n = 0;

		while ((r = db_step(st)) == 1) {
			list = xgrowarray(list, n, sizeof(*list));
			account_from_row(st, &list[n++]);
		}
		sqlite3_reset(st);
		for (size_t i = 0; i < n; i++) {
			if (r == 0)
				cb(ctx, &list[i]);
			account_clear(&list[i]);
		}
		free(list);
	}
	return r < 0 ? -1 : 0;
}

int
store_alias_add(struct store *s, const char *alias, const char *const *targets,
    size_t ntargets, const char **error_r)
{
	const char *domain = alias[0] == '@' ? alias + 1 : addr_domain(alias);
	struct buf joined = BUF_INIT;
	struct db *db;
	sqlite3_stmt *st;
	int64_t did;
	char *norm;
	int r;

	if (domain == NULL || domain[0] == '\0' || strchr(domain, '@')) {
		*error_r = "not an address (want user@domain, or @domain for "
		    "a catch-all)";
		return -1;
	}
	if (ntargets == 0) {
		*error_r = "an alias needs at least one target";
		return -1;
	}
	for (size_t i = 0; i < ntargets; i++) {
		char *t;

		if (addr_domain(targets[i]) == NULL ||
		    strpbrk(targets[i], ", \t\r\n") != NULL) {
			*error_r = "a target is not an address";
			buf_free(&joined);
			return -1;
		}
		t = addr_normalize(targets[i]);
		if (i > 0)
			buf_putc(&joined, ',');
		buf_puts(&joined, t);
		free(t);
	}
	if ((db = sq_dir(s, error_r)) == NULL ||
	    (r = domain_id(db, domain, &did, error_r)) < 0) {
		buf_free(&joined);
		return -1;
	}
	if (r == 0) {
		*error_r = "the alias's domain is not served here";
		buf_free(&joined);
		return -1;
	}
	if (db_begin(db, error_r) < 0) {
		buf_free(&joined);
		return -1;
	}
	norm = addr_normalize(alias);
	if ((st = db_prep(db, "SELECT 1 FROM accounts WHERE address = ?",
	    error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, norm);
	r = db_step(st);
	sqlite3_reset(st);
	if (r != 0) {
		*error_r = r > 0 ? "an account with that address exists" :
		    db_err(db, "account lookup");
		goto fail;
	}
	if ((st = db_prep(db, "INSERT INTO aliases (domain_id, address, "
	    "targets) VALUES (?, ?, ?) ON CONFLICT (address) DO UPDATE SET "
	    "targets = excluded.targets", error_r)) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, did);
	db_bind_text(st, 2, norm);
	db_bind_text(st, 3, buf_cstr(&joined));
	if (db_step(st) < 0) {
		*error_r = db_err(db, "adding alias");
		goto fail;
	}
	free(norm);
	buf_free(&joined);
	return db_commit(db, error_r);
fail:
	free(norm);
	buf_free(&joined);
	db_rollback(db);
	return -1;
}

int
store_alias_del(struct store *s, const char *alias, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "DELETE FROM aliases WHERE address = ?",
	    error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, alias);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "deleting alias");
		return -1;
	}
	if (sqlite3_changes(db->h) == 0) {
		*error_r = "no such alias";
		return -1;
	}
	return 0;
}

int
store_alias_list(struct store *s, void (*cb)(void *, const char *,
    const char *), void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT address, targets FROM aliases ORDER BY "
	    "address", &err)) == NULL)
		return -1;
	while ((r = db_step(st)) == 1)
		cb(ctx, (const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

void
rcpt_resolution_init(struct rcpt_resolution *rr)
{
	memset(rr, 0, sizeof(*rr));
	buf_init(&rr->remote);
}

void
rcpt_resolution_free(struct rcpt_resolution *rr)
{
	free(rr->account_ids);
	buf_free(&rr->remote);
	memset(rr, 0, sizeof(*rr));
}

struct resolve_ctx {
	struct store	*st;
	struct db	*db;
	struct rcpt_resolution *rr;
	char		**visited;
	size_t		 nvisited;
	int		 found;
	const char	*error;
};

static void
rr_add_account(struct rcpt_resolution *rr, int64_t id)
{
	for (size_t i = 0; i < rr->naccounts; i++)
		if (rr->account_ids[i] == id)
			return;
	rr->account_ids = xreallocarray(rr->account_ids, rr->naccounts + 1,
	    sizeof(int64_t));
	rr->account_ids[rr->naccounts++] = id;
}

static void
rr_add_remote(struct rcpt_resolution *rr, const char *addr)
{
	const char *p = rr->remote.data;

	for (size_t i = 0; i < rr->nremote; i++) {
		if (strcasecmp(p, addr) == 0)
			return;
		p += strlen(p) + 1;
	}
	buf_append(&rr->remote, addr, strlen(addr) + 1);
	rr->nremote++;
}

static int resolve_one(struct resolve_ctx *, const char *, int);

/*
 * The alias or account of exactly this address.  *matched tells whether
 * there was one (even a disabled account), so the caller knows whether to
 * try the address without its extension or the domain's catch-all.
 */
static int
resolve_exact(struct resolve_ctx *c, const char *addr, int depth,
    bool *matched)
{
	sqlite3_stmt *st;
	bool visited = false;
	char *targets = NULL;
	int r;

	*matched = false;
	for (size_t i = 0; i < c->nvisited; i++)
		if (strcasecmp(c->visited[i], addr) == 0)
			visited = true;
	if (!visited && depth < ALIAS_DEPTH_MAX &&
	    c->nvisited < ALIAS_VISIT_MAX) {
		c->visited = xreallocarray(c->visited, c->nvisited + 1,
		    sizeof(char *));
		c->visited[c->nvisited++] = xstrdup(addr);
		if ((st = db_prep(c->db, "SELECT targets FROM aliases WHERE "
		    "address = ?", &c->error)) == NULL)
			return -1;
		db_bind_text(st, 1, addr);
		if ((r = db_step(st)) == 1)
			targets = xstrdup((const char *)
			    sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		if (r < 0) {
			c->error = db_err(c->db, "alias lookup");
			return -1;
		}
		if (targets != NULL) {
			char *save = NULL;

			*matched = true;
			for (char *t = strtok_r(targets, ",", &save);
			    t != NULL; t = strtok_r(NULL, ",", &save)) {
				if (resolve_one(c, t, depth + 1) < 0) {
					free(targets);
					return -1;
				}
			}
			free(targets);
			return 0;
		}
	} else if (visited)
		*matched = true;	/* a loop: do not look further */
	if (addr[0] == '@')
		return 0;		/* a catch-all is an alias only */
	if ((st = db_prep(c->db, "SELECT id, enabled, receive FROM accounts "
	    "WHERE address = ?", &c->error)) == NULL)
		return -1;
	db_bind_text(st, 1, addr);
	if ((r = db_step(st)) == 1) {
		*matched = true;
		if (sqlite3_column_int(st, 1) != 0 ||
		    sqlite3_column_int(st, 2) != 0) {
			rr_add_account(c->rr, sqlite3_column_int64(st, 0));
			c->found = 1;
		} else
			c->rr->disabled = true;
	}
	sqlite3_reset(st);
	if (r < 0) {
		c->error = db_err(c->db, "account lookup");
		return -1;
	}
	return 0;
}

/*
 * One address, as Postfix's virtual alias maps look it up: user+ext@dom
 * exactly, then user@dom (the extension is for the user's filters), then
 * the domain's catch-all alias @dom.
 */
static int
resolve_one(struct resolve_ctx *c, const char *addr, int depth)
{
	const char *domain = addr_domain(addr);
	const char *delim = c->st->rcpt_delimiter;
	bool matched;
	size_t cut;
	int r;

	if (domain == NULL)
		return 0;
	/* store_resolve_rcpt() has looked up the first address's domain. */
	if (depth > 0 && (r = domain_id(c->db, domain, &(int64_t){ 0 },
	    &c->error)) <= 0) {
		if (r < 0)
			return -1;
		rr_add_remote(c->rr, addr);
		c->found = 1;
		return 0;
	}
	if (resolve_exact(c, addr, depth, &matched) < 0)
		return -1;
	if (!matched && delim != NULL && delim[0] != '\0' &&
	    (cut = strcspn(addr, delim)) > 0 &&
	    addr + cut < domain - 1) {
		char *base = xasprintf("%.*s%s", (int)cut, addr, domain - 1);

		r = resolve_exact(c, base, depth, &matched);
		free(base);
		if (r < 0)
			return -1;
	}
	if (!matched) {
		char *all = xasprintf("@%s", domain);

		r = resolve_exact(c, all, depth, &matched);
		free(all);
		if (r < 0)
			return -1;
	}
	return 0;
}

int
store_resolve_rcpt(struct store *s, const char *address,
    struct rcpt_resolution *rr, const char **error_r)
{
	struct resolve_ctx c;
	const char *domain = addr_domain(address);
	char *norm;
	int r;

	memset(&c, 0, sizeof(c));
	if (domain == NULL) {
		*error_r = "no domain";
		return 0;
	}
	if ((c.db = sq_dir(s, error_r)) == NULL)
		return -1;
	if ((r = domain_id(c.db, domain, &(int64_t){ 0 }, error_r)) < 0)
		return -1;
	if (r == 0)
		return 2;
	c.st = s;
	c.rr = rr;
	norm = addr_normalize(address);
	r = resolve_one(&c, norm, 0);
	free(norm);
	for (size_t i = 0; i < c.nvisited; i++)
		free(c.visited[i]);
	free(c.visited);
	if (r < 0) {
		*error_r = c.error;
		return -1;
	}
	return c.found;
}

uint64_t
store_msg_size(const struct store_msg *msg)
{
	return msg->prefix_len + msg->spool->size;
}

/* Writes prefix and spool into a zeroblob of store_msg_size() bytes. */
int
sq_write_blob(struct db *db, const char *table, const char *column,
    int64_t rowid, const struct store_msg *msg, const char **error_r)
{
	const struct spool *sp = msg->spool;
	sqlite3_blob *blob;
	char chunk[65536];
	uint64_t off = 0, base = msg->prefix_len;

	if (store_msg_size(msg) == 0)
		return 0;
	if (sqlite3_blob_open(db->h, "main", table, column, rowid, 1,
	    &blob) != SQLITE_OK) {
		*error_r = db_err(db, "blob open");
		return -1;
	}
	if (base > 0 && sqlite3_blob_write(blob, msg->prefix, (int)base, 0) !=
	    SQLITE_OK) {
		*error_r = db_err(db, "blob write");
		sqlite3_blob_close(blob);
		return -1;
	}
	while (off < sp->size) {
		ssize_t n = spool_pread(sp, chunk, sizeof(chunk), off);

		if (n <= 0) {
			sqlite3_blob_close(blob);
			*error_r = "reading the spooled message failed";
			return -1;
		}
		if (sqlite3_blob_write(blob, chunk, (int)n, (int)(base + off)) !=
		    SQLITE_OK) {
			*error_r = db_err(db, "blob write");
			sqlite3_blob_close(blob);
			return -1;
		}
		off += (uint64_t)n;
	}
	if (sqlite3_blob_close(blob) != SQLITE_OK) {
		*error_r = db_err(db, "blob close");
		return -1;
	}
	return 0;
}

int
store_queue_add(struct store *s, const char *sender, const char *const *rcpts,
    size_t nrcpts, const struct store_msg *msg, const char *id,
    const struct queue_params *qp, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	int64_t rowid;

	if (store_msg_size(msg) > 0x7fffffff) {
		*error_r = "message too large for the queue";
		return -1;
	}
	if ((db = sq_dir(s, error_r)) == NULL || db_begin(db, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "INSERT INTO queue (id, sender, created, size, "
	    "body, envid, ret, smtputf8) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	    error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, sender);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	sqlite3_bind_int64(st, 4, (int64_t)store_msg_size(msg));
	sqlite3_bind_zeroblob(st, 5, (int)store_msg_size(msg));
	db_bind_text(st, 6, qp != NULL ? qp->envid : NULL);
	sqlite3_bind_int(st, 7, qp != NULL ? qp->ret : 0);
	sqlite3_bind_int(st, 8, qp != NULL && qp->smtputf8);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "queue insert");
		goto fail;
	}
	rowid = sqlite3_last_insert_rowid(db->h);
	if (sq_write_blob(db, "queue", "body", rowid, msg, error_r) < 0)
		goto fail;
	for (size_t i = 0; i < nrcpts; i++) {
		const char *at = strrchr(rcpts[i], '@');
		char *domain = xstrdup(at ? at + 1 : "");

		ascii_lower(domain);
		if ((st = db_prep(db, "INSERT OR IGNORE INTO queue_rcpts "
		    "(queue_id, rcpt, next_try, domain, notify, orcpt) VALUES "
		    "(?, ?, ?, ?, ?, ?)", error_r)) == NULL) {
			free(domain);
			goto fail;
		}
		db_bind_text(st, 1, id);
		db_bind_text(st, 2, rcpts[i]);
		sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
		db_bind_text(st, 4, domain);
		sqlite3_bind_int(st, 5, qp && qp->notify ? (int)qp->notify[i] :
		    0);
		db_bind_text(st, 6, qp && qp->orcpt ? qp->orcpt[i] : NULL);
		free(domain);
		if (db_step(st) < 0) {
			*error_r = db_err(db, "queue recipient insert");
			goto fail;
		}
	}
	if (db_commit(db, error_r) < 0)
		return db_failure(db);
	if (s->queue_fn != NULL)
		s->queue_fn(s->queue_ctx);
	return 0;
fail:
	{
		int rc = db_failure(db);

		db_rollback(db);
		return rc;
	}
}

int
store_queue_count(struct store *s, uint64_t *count)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT COUNT(*) FROM queue", &err)) == NULL)
		return -1;
	if ((r = db_step(st)) == 1)
		*count = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return r == 1 ? 0 : -1;
}

void
store_set_queue_hook(struct store *s, void (*fn)(void *), void *ctx)
{
	s->queue_fn = fn;
	s->queue_ctx = ctx;
}

void
queue_msg_free(struct queue_msg *m)
{
	free(m->sender);
	free(m->envid);
	for (size_t i = 0; i < m->nrcpts; i++) {
		free(m->rcpts[i].addr);
		free(m->rcpts[i].domain);
		free(m->rcpts[i].last_error);
		free(m->rcpts[i].remote);
		free(m->rcpts[i].orcpt);
	}
	free(m->rcpts);
	memset(m, 0, sizeof(*m));
}

int
store_queue_due(struct store *s, time_t now, size_t max,
    void (*cb)(void *, const struct queue_due *), void *ctx)
{
	struct queue_due *list = NULL;
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	size_t n = 0;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT r.queue_id, r.domain FROM queue_rcpts r "
	    "JOIN queue q ON q.id = r.queue_id WHERE r.status = 0 AND "
	    "r.next_try <= ? GROUP BY r.queue_id, r.domain ORDER BY "
	    "min(r.next_try), q.created LIMIT ?", &err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)now);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while ((r = db_step(st)) == 1) {
		list = xgrowarray(list, n, sizeof(*list));
		snprintf(list[n].id, sizeof(list[n].id), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		list[n].domain = col_dup(st, 1);
		n++;
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++) {
		if (r == 0)
			cb(ctx, &list[i]);
		free(list[i].domain);
	}
	free(list);
	return r < 0 ? -1 : 0;
}

int
store_queue_next_time(struct store *s, time_t *t)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT coalesce(min(next_try), 0) FROM "
	    "queue_rcpts WHERE status = 0", &err)) == NULL)
		return -1;
	if ((r = db_step(st)) == 1)
		*t = (time_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return r == 1 ? 0 : -1;
}

int
store_queue_get(struct store *s, const char *id, struct queue_msg *m)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	int r;

	memset(m, 0, sizeof(*m));
	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT id, sender, created, size, envid, ret, "
	    "smtputf8 FROM queue WHERE id = ?", &err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	if ((r = db_step(st)) == 1) {
		snprintf(m->id, sizeof(m->id), "%s",
		    (const char *)sqlite3_column_text(st, 0));
		m->sender = col_dup(st, 1);
		m->created = (time_t)sqlite3_column_int64(st, 2);
		m->size = (uint64_t)sqlite3_column_int64(st, 3);
		m->envid = col_dup(st, 4);
		m->ret = sqlite3_column_int(st, 5);
		m->smtputf8 = sqlite3_column_int(st, 6) != 0;
	}
	sqlite3_reset(st);
	if (r != 1)
		return r;
	if ((st = db_prep(db, "SELECT rcpt, domain, status, attempts, "
	    "next_try, last_try, last_error, remote, notify, orcpt, warned, "
	    "dsn_done FROM queue_rcpts WHERE queue_id = ? ORDER BY rowid",
	    &err)) == NULL) {
		queue_msg_free(m);
		return -1;
	}
	db_bind_text(st, 1, id);
	while ((r = db_step(st)) == 1) {
		struct queue_rcpt *q;

		m->rcpts = xgrowarray(m->rcpts, m->nrcpts, sizeof(*m->rcpts));
		q = &m->rcpts[m->nrcpts++];
		memset(q, 0, sizeof(*q));
		q->addr = col_dup(st, 0);
		q->domain = col_dup(st, 1);
		q->state = (enum queue_rcpt_state)sqlite3_column_int(st, 2);
		q->attempts = (unsigned)sqlite3_column_int(st, 3);
		q->next_try = (time_t)sqlite3_column_int64(st, 4);
		q->last_try = (time_t)sqlite3_column_int64(st, 5);
		q->last_error = col_dup(st, 6);
		q->remote = col_dup(st, 7);
		q->notify = (unsigned)sqlite3_column_int(st, 8);
		q->orcpt = col_dup(st, 9);
		q->warned = sqlite3_column_int(st, 10) != 0;
		q->success_dsn = sqlite3_column_int(st, 11) != 0;
	}
	sqlite3_reset(st);
	if (r < 0) {
		queue_msg_free(m);
		return -1;
	}
	return 1;
}

int
store_queue_read(struct store *s, const char *id, uint64_t off, size_t len,
    struct buf *out, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;
	sqlite3_blob *blob;
	int64_t rowid;
	uint64_t total;
	int r;

	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "SELECT rowid FROM queue WHERE id = ?",
	    error_r)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	r = db_step(st);
	rowid = r == 1 ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (r != 1) {
		*error_r = "no such queued message";
		return -1;
	}
	if (sqlite3_blob_open(db->h, "main", "queue", "body", rowid, 0,
	    &blob) != SQLITE_OK) {
		*error_r = db_err(db, "opening queued message");
		return -1;
	}
	total = (uint64_t)sqlite3_blob_bytes(blob);
	if (off < total) {
		if (len > total - off)
			len = (size_t)(total - off);
		buf_reserve(out, len);
		if (sqlite3_blob_read(blob, out->data + out->len, (int)len,
		    (int)off) != SQLITE_OK) {
			*error_r = db_err(db, "reading queued message");
			sqlite3_blob_close(blob);
			return -1;
		}
		out->len += len;
		out->data[out->len] = '\0';
	}
	sqlite3_blob_close(blob);
	return 0;
}

int
store_queue_update(struct store *s, const char *id, const char *rcpt,
    enum queue_rcpt_state state, time_t next_try, const char *error,
    const char *remote, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL ||
	    (st = db_prep(db, "UPDATE queue_rcpts SET status = ?, attempts = "
	    "attempts + 1, next_try = ?, last_try = ?, last_error = ?, "
	    "remote = coalesce(?, remote) WHERE queue_id = ? AND rcpt = ?",
	    error_r)) == NULL)
		return -1;
	sqlite3_bind_int(st, 1, (int)state);
	sqlite3_bind_int64(st, 2, (int64_t)next_try);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	db_bind_text(st, 4, error);
	db_bind_text(st, 5, remote);
	db_bind_text(st, 6, id);
	db_bind_text(st, 7, rcpt);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "queue update");
		return db_failure(db);
	}
	return 0;
}

int
store_queue_set_warned(struct store *s, const char *id, const char *rcpt)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "UPDATE queue_rcpts SET warned = 1 WHERE "
	    "queue_id = ? AND rcpt = ?", &err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, rcpt);
	return db_step(st) < 0 ? -1 : 0;
}

int
store_queue_set_success_dsn(struct store *s, const char *id, const char *rcpt)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "UPDATE queue_rcpts SET dsn_done = 1 WHERE "
	    "queue_id = ? AND rcpt = ?", &err)) == NULL)
		return -1;
	db_bind_text(st, 1, id);
	db_bind_text(st, 2, rcpt);
	return db_step(st) < 0 ? -1 : 0;
}

int
store_queue_retry(struct store *s, const char *id, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL)
		return -1;
	if (id != NULL)
		st = db_prep(db, "UPDATE queue_rcpts SET next_try = 0 WHERE "
		    "status = 0 AND queue_id = ?", error_r);
	else
		st = db_prep(db, "UPDATE queue_rcpts SET next_try = 0 WHERE "
		    "status = 0", error_r);
	if (st == NULL)
		return -1;
	if (id != NULL)
		db_bind_text(st, 1, id);
	if (db_step(st) < 0) {
		*error_r = db_err(db, "queue retry");
		return -1;
	}
	if (id != NULL && sqlite3_changes(db->h) == 0) {
		*error_r = "no such queued message with pending recipients";
		return -1;
	}
	return 0;
}

int
store_queue_delete(struct store *s, const char *id, const char **error_r)
{
	struct db *db;
	sqlite3_stmt *st;

	if ((db = sq_dir(s, error_r)) == NULL || db_begin(db, error_r) < 0)
		return -1;
	if ((st = db_prep(db, "DELETE FROM queue_rcpts WHERE queue_id = ?",
	    error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, id);
	if (db_step(st) < 0)
		goto dberr;
	if ((st = db_prep(db, "DELETE FROM queue WHERE id = ?",
	    error_r)) == NULL)
		goto fail;
	db_bind_text(st, 1, id);
	if (db_step(st) < 0)
		goto dberr;
	if (sqlite3_changes(db->h) == 0) {
		*error_r = "no such queued message";
		goto fail;
	}
	return db_commit(db, error_r);
dberr:
	*error_r = db_err(db, "queue delete");
fail:
	db_rollback(db);
	return -1;
}

int
store_queue_list(struct store *s, void (*cb)(void *, const struct queue_msg *),
    void *ctx)
{
	const char *err;
	struct db *db;
	sqlite3_stmt *st;
	char **ids = NULL;
	size_t n = 0;
	int r;

	if ((db = sq_dir(s, &err)) == NULL ||
	    (st = db_prep(db, "SELECT id FROM queue ORDER BY created, id",
	    &err)) == NULL)
		return -1;
	while ((r = db_step(st)) == 1) {
		ids = xgrowarray(ids, n, sizeof(*ids));
		ids[n++] = col_dup(st, 0);
	}
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++) {
		struct queue_msg m;

		if (r == 0 && store_queue_get(s, ids[i], &m) == 1) {
			cb(ctx, &m);
			queue_msg_free(&m);
		}
		free(ids[i]);
	}
	free(ids);
	return r < 0 ? -1 : 0;
}

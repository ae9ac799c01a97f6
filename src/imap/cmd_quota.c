/*
 * cmd_quota - the QUOTA extension (RFC 9208) for the one storage quota an
 * account has: quota root "" covers every mailbox, STORAGE is counted in
 * units of 1024 octets.  Quotas are set by the administrator (CLI, admin
 * panel), so SETQUOTA is refused.
 */
#include <string.h>

#include "core/log.h"
#include "imap_session.h"
#include "imap_utf7.h"
#include "server.h"
#include "store/store.h"

uint64_t
imap_account_quota(struct imap_session *s)
{
	struct account a;
	uint64_t q = 0;

	memset(&a, 0, sizeof(a));
	if (store_account_get_id(srv->store, s->account, &a) == 1)
		q = a.quota;
	account_clear(&a);
	return q;
}

static void
send_quota(struct imap_session *s, uint64_t limit)
{
	uint64_t used = 0;

	(void)store_account_usage(srv->store, s->account, &used);
	imap_send(s, "* QUOTA \"\" (STORAGE %llu %llu)",
	    (unsigned long long)((used + 1023) / 1024),
	    (unsigned long long)(limit / 1024));
}

void
cmd_getquotaroot(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct mailbox_info mi;
	struct buf name = BUF_INIT, out = BUF_INIT;
	const char *wire, *err;
	uint64_t limit;

	if (cmd->a.count != 1 ||
	    (wire = imap_arg_astring(&cmd->a.args[0])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	if (imap_mailbox_from_wire(cmd->s, wire, &name, &err) < 0 ||
	    store_mailbox_get(srv->store, s->account, buf_cstr(&name),
	    &mi) != 1) {
		imap_cmd_done(cmd, "NO", "[NONEXISTENT] Mailbox doesn't exist");
		buf_free(&name);
		return;
	}
	limit = imap_account_quota(s);
	buf_puts(&out, "* QUOTAROOT ");
	imap_mailbox_to_wire(cmd->s, mi.name, &out);
	if (limit > 0)
		buf_puts(&out, " \"\"");
	imap_send(s, "%s", buf_cstr(&out));
	if (limit > 0)
		send_quota(s, limit);
	imap_cmd_done(cmd, "OK", "Getquotaroot completed.");
	buf_free(&name);
	buf_free(&out);
}

void
cmd_getquota(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *root;
	uint64_t limit;

	if (cmd->a.count != 1 ||
	    (root = imap_arg_astring(&cmd->a.args[0])) == NULL) {
		imap_cmd_done(cmd, "BAD", "Invalid arguments");
		return;
	}
	limit = imap_account_quota(s);
	if (*root != '\0' || limit == 0) {
		imap_cmd_done(cmd, "NO", "[NONEXISTENT] Quota root doesn't "
		    "exist");
		return;
	}
	send_quota(s, limit);
	imap_cmd_done(cmd, "OK", "Getquota completed.");
}

void
cmd_setquota(struct imap_cmd *cmd)
{
	imap_cmd_done(cmd, "NO", "[NOPERM] Quotas are set by the "
	    "administrator");
}

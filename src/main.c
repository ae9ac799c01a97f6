/*
 * posthorn - a complete mail server in one program.
 *
 *   posthorn [-c FILE] serve
 *   posthorn [-c FILE] domain add|del DOMAIN | domain list
 *   posthorn [-c FILE] user add ADDRESS [--password-stdin]
 *   posthorn [-c FILE] user passwd ADDRESS [--password-stdin]
 *   posthorn [-c FILE] user del ADDRESS | user list
 *   posthorn [-c FILE] alias add ALIAS TARGET[,TARGET...]
 *   posthorn [-c FILE] alias del ALIAS | alias list
 *   posthorn [-c FILE] dkim generate DOMAIN [--selector S] [--algorithm A]
 *   posthorn [-c FILE] dkim list [DOMAIN] | show DOMAIN | del DOMAIN SEL
 *   posthorn [-c FILE] check
 *
 * The CLI works while the server runs: both go through the store, which
 * shares its files safely (sqlite WAL, busy timeouts).
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/apppass.h"
#include "auth/password.h"
#include "auth/scram.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "server.h"
#include "store/store.h"

#define DEFAULT_CONFIG	"/etc/posthorn/posthorn.conf"
#define GENERATED_PASSWORD_LEN	16

static void
usage(void)
{
	fprintf(stderr,
	    "usage: posthorn [-c FILE] COMMAND ...\n"
	    "  serve                                  run the server in the "
	    "foreground\n"
	    "  domain add|del DOMAIN | domain list\n"
	    "  user add ADDRESS [--password-stdin]    without the flag a "
	    "password is generated\n"
	    "  user passwd ADDRESS [--password-stdin]\n"
	    "  user del ADDRESS | user list | user show ADDRESS\n"
	    "  user set ADDRESS [imap=on|off|default] [pop3=...] "
	    "[submission=...]\n"
	    "           [webmail=...] [quota=SIZE|none|default] "
	    "[enabled=yes|no|receive-only]\n"
	    "  domain set DOMAIN [imap=on|off] [pop3=...] [submission=...] "
	    "[webmail=...]\n"
	    "           [quota=SIZE|none] [pop3_keep=yes|no] | domain show "
	    "DOMAIN\n"
	    "  apppass add ADDRESS NAME [protocols=imap,pop3,submission,"
	    "webmail]\n"
	    "  apppass list ADDRESS | apppass del ADDRESS NAME\n"
	    "  queue list | queue show ID | queue retry [ID] | queue delete "
	    "ID\n"
	    "  alias add ALIAS TARGET[,TARGET...] | alias del ALIAS | "
	    "alias list\n"
	    "  dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]\n"
	    "  dkim list [DOMAIN] | dkim show DOMAIN | dkim del DOMAIN "
	    "SELECTOR\n"
	    "  check                                  verify the store's "
	    "integrity\n"
	    "  sandbox-check                          show that the sandbox "
	    "confines the server\n"
	    "  version\n"
	    "default config: " DEFAULT_CONFIG "\n");
	exit(2);
}

static char *
read_password_stdin(void)
{
	char line[1024];
	size_t n;

	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "posthorn: no password on standard input\n");
		return NULL;
	}
	n = strlen(line);
	if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
		fprintf(stderr, "posthorn: password too long\n");
		explicit_bzero(line, sizeof(line));
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0) {
		fprintf(stderr, "posthorn: empty password\n");
		return NULL;
	}
	{
		char *p = xstrdup(line);

		explicit_bzero(line, sizeof(line));
		return p;
	}
}

static void
print_name(void *ctx, const char *name)
{
	printf("%s\n", name);
}

static void
print_account(void *ctx, const struct account *a)
{
	printf("%s%s\n", a->address, a->enabled ? "" : " (disabled)");
}

static void
print_alias(void *ctx, const char *alias, const char *targets)
{
	printf("%s -> %s\n", alias, targets);
}

static int
fail(const char *what, const char *err)
{
	fprintf(stderr, "posthorn: %s: %s\n", what, err);
	return 1;
}


static void
print_size(uint64_t v)
{
	if (v >= 1024ULL * 1024 * 1024 && v % (1024ULL * 1024 * 1024) == 0)
		printf("%lluG", (unsigned long long)(v >> 30));
	else if (v >= 1024ULL * 1024 && v % (1024ULL * 1024) == 0)
		printf("%lluM", (unsigned long long)(v >> 20));
	else if (v >= 1024 && v % 1024 == 0)
		printf("%lluk", (unsigned long long)(v >> 10));
	else
		printf("%llu", (unsigned long long)v);
}

/* "on"/"off" (also yes/no); "default" when allowed.  -1 on error. */
static int
parse_switch(const char *v, bool allow_default)
{
	bool b;

	if (allow_default && strcmp(v, "default") == 0)
		return -2;
	if (parse_bool(v, &b) < 0)
		return -3;
	return b ? 1 : 0;
}

static int
bad_setting(const char *kv)
{
	fprintf(stderr, "posthorn: bad setting '%s'\n", kv);
	return 2;
}

static int
domain_set(struct store *st, const char *domain, int argc, char **argv)
{
	unsigned protocols = 0, mask = 0;
	int64_t quota = -1;
	int keep = -1;
	const char *err;

	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *v;
		int k, sw;

		if (eq == NULL)
			return bad_setting(argv[i]);
		*eq = '\0';
		v = eq + 1;
		for (k = 0; k < PROTO_COUNT; k++)
			if (strcmp(argv[i], proto_names[k]) == 0)
				break;
		if (k < PROTO_COUNT) {
			if ((sw = parse_switch(v, false)) < 0)
				return bad_setting(v);
			mask |= 1U << k;
			if (sw)
				protocols |= 1U << k;
		} else if (strcmp(argv[i], "quota") == 0) {
			uint64_t q;

			if (strcmp(v, "none") == 0)
				quota = 0;
			else if (parse_size(v, &q) < 0 || q > INT64_MAX)
				return bad_setting(v);
			else
				quota = (int64_t)q;
		} else if (strcmp(argv[i], "pop3_keep") == 0) {
			if ((sw = parse_switch(v, false)) < 0)
				return bad_setting(v);
			keep = sw;
		} else
			return bad_setting(argv[i]);
	}
	if (store_domain_set(st, domain, protocols, mask, quota, keep,
	    &err) < 0)
		return fail(domain, err);
	printf("domain %s updated\n", domain);
	return 0;
}

static int
domain_show(struct store *st, const char *domain)
{
	struct domain_info d;

	if (store_domain_get(st, domain, &d) != 1)
		return fail(domain, "no such domain");
	printf("domain:      %s\n", d.name);
	for (int i = 0; i < PROTO_COUNT; i++)
		printf("%-12s %s\n", proto_names[i],
		    (d.protocols >> i) & 1 ? "on" : "off");
	printf("quota:       ");
	if (d.quota == 0)
		printf("none");
	else
		print_size(d.quota);
	printf("\npop3_keep:   %s\n", d.pop3_keep ? "yes" : "no");
	domain_info_clear(&d);
	return 0;
}

static int
user_set(struct store *st, const char *address, int argc, char **argv)
{
	struct account_change ch;
	const char *err;

	account_change_init(&ch);
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *v;
		int k, sw;

		if (eq == NULL)
			return bad_setting(argv[i]);
		*eq = '\0';
		v = eq + 1;
		for (k = 0; k < PROTO_COUNT; k++)
			if (strcmp(argv[i], proto_names[k]) == 0)
				break;
		if (k < PROTO_COUNT) {
			if ((sw = parse_switch(v, true)) < -2)
				return bad_setting(v);
			ch.proto[k] = sw;
		} else if (strcmp(argv[i], "quota") == 0) {
			uint64_t q;

			if (strcmp(v, "none") == 0)
				ch.quota = 0;
			else if (strcmp(v, "default") == 0)
				ch.quota = -2;
			else if (parse_size(v, &q) < 0 || q > INT64_MAX)
				return bad_setting(v);
			else
				ch.quota = (int64_t)q;
		} else if (strcmp(argv[i], "enabled") == 0) {
			if (strcmp(v, "receive-only") == 0) {
				ch.enabled = 0;
				ch.receive = 1;
			} else if ((sw = parse_switch(v, false)) < 0)
				return bad_setting(v);
			else {
				ch.enabled = sw;
				ch.receive = 0;
			}
		} else
			return bad_setting(argv[i]);
	}
	if (store_account_set(st, address, &ch, &err) < 0)
		return fail(address, err);
	printf("user %s updated\n", address);
	return 0;
}

static void
print_apppass(void *ctx, const struct app_password *ap)
{
	bool first = true;

	printf("%-20s ", ap->name);
	for (int i = 0; i < PROTO_COUNT; i++)
		if (ap->protocols & (1U << i)) {
			printf("%s%s", first ? "" : ",", proto_names[i]);
			first = false;
		}
	if (ap->last_used != 0) {
		char date[64];

		rfc5322_date(ap->last_used, date, sizeof(date));
		printf("  last used %s", date);
	} else
		printf("  never used");
	printf("\n");
}

static void
count_apppass(void *ctx, const struct app_password *ap)
{
	(*(int *)ctx)++;
}

static int
user_show(struct store *st, const char *address)
{
	struct account a;
	uint64_t used = 0;
	int napp = 0;

	memset(&a, 0, sizeof(a));
	if (store_account_get(st, address, &a) != 1)
		return fail(address, "no such account");
	(void)store_account_usage(st, a.id, &used);
	(void)store_apppass_list(st, a.id, count_apppass, &napp);
	printf("address:     %s\n", a.address);
	printf("status:      %s\n", a.enabled ? "enabled" : a.receive ?
	    "disabled, receives mail (receive-only)" :
	    "disabled, refuses mail");
	for (int i = 0; i < PROTO_COUNT; i++)
		printf("%-12s %s%s\n", proto_names[i],
		    (a.protocols >> i) & 1 ? "on" : "off",
		    a.own_proto[i] < 0 ? " (domain default)" : "");
	printf("quota:       ");
	if (a.quota == 0)
		printf("none");
	else
		print_size(a.quota);
	printf("%s\nused:        ", a.own_quota < 0 ? " (domain default)" : "");
	print_size(used);
	if (a.quota > 0)
		printf(" (%llu%%)", (unsigned long long)(used * 100 / a.quota));
	printf("\nscram:       %s\n", a.scram ? "yes" : "no (set the password "
	    "again to enable SCRAM-SHA-256)");
	printf("app passwords: %d\n", napp);
	account_clear(&a);
	return 0;
}

static int
cmd_apppass(struct store *st, int argc, char **argv)
{
	struct account a;
	const char *err;
	int rc;

	if (argc == 2 && strcmp(argv[0], "list") == 0) {
		memset(&a, 0, sizeof(a));
		if (store_account_get(st, argv[1], &a) != 1)
			return fail(argv[1], "no such account");
		rc = store_apppass_list(st, a.id, print_apppass, NULL);
		account_clear(&a);
		return rc < 0 ? fail(argv[1], "store error") : 0;
	}
	if (argc == 3 && strcmp(argv[0], "del") == 0) {
		if (store_apppass_del(st, argv[1], argv[2], &err) < 0)
			return fail(argv[2], err);
		printf("app password %s of %s deleted\n", argv[2], argv[1]);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[0], "add") == 0) {
		unsigned protocols = PROTO_IMAP | PROTO_POP3 |
		    PROTO_SUBMISSION;
		char *pw, *hash;

		if (argc == 4) {
			if (strncmp(argv[3], "protocols=", 10) != 0 ||
			    apppass_parse_protocols(argv[3] + 10,
			    &protocols) < 0)
				return bad_setting(argv[3]);
		}
		if (strlen(argv[2]) == 0 || strlen(argv[2]) > 64)
			return fail(argv[2], "app password names have 1 to 64 "
			    "characters");
		pw = apppass_generate();
		hash = apppass_hash(pw);
		rc = store_apppass_add(st, argv[1], argv[2], hash, protocols,
		    &err);
		free(hash);
		if (rc < 0) {
			xfree_secret(pw, strlen(pw));
			return fail(argv[2], err);
		}
		fprintf(stderr, "app password %s added for %s; it is shown "
		    "once:\n", argv[2], argv[1]);
		printf("%s\n", pw);
		xfree_secret(pw, strlen(pw));
		return 0;
	}
	usage();
	return 2;
}

static const char *
qstate(const struct queue_rcpt *r)
{
	switch (r->state) {
	case QRCPT_SENT:
		return "sent";
	case QRCPT_FAILED:
		return "failed";
	default:
		return "pending";
	}
}

static void
print_queue_line(void *ctx, const struct queue_msg *m)
{
	time_t now = time(NULL);
	size_t pending = 0;

	for (size_t i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].state == QRCPT_PENDING)
			pending++;
	printf("%s %8llu %6lldm <%s> %zu/%zu pending\n", m->id,
	    (unsigned long long)m->size, (long long)(now - m->created) / 60,
	    m->sender, pending, m->nrcpts);
	(*(int *)ctx)++;
}

static int
cmd_queue(struct store *st, int argc, char **argv)
{
	const char *err;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		int n = 0;

		if (store_queue_list(st, print_queue_line, &n) < 0)
			return fail("queue", "store error");
		if (n == 0)
			printf("queue is empty\n");
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		struct queue_msg m;
		char date[64];

		if (store_queue_get(st, argv[1], &m) != 1)
			return fail(argv[1], "no such queued message");
		rfc5322_date(m.created, date, sizeof(date));
		printf("id:      %s\nsender:  <%s>\nsize:    %llu\n"
		    "queued:  %s\n", m.id, m.sender,
		    (unsigned long long)m.size, date);
		for (size_t i = 0; i < m.nrcpts; i++) {
			const struct queue_rcpt *r = &m.rcpts[i];

			printf("rcpt:    <%s> %s attempts=%u", r->addr,
			    qstate(r), r->attempts);
			if (r->state == QRCPT_PENDING && r->next_try > 0) {
				rfc5322_date(r->next_try, date, sizeof(date));
				printf(" next=\"%s\"", date);
			}
			if (r->last_error != NULL)
				printf(" last=\"%s\"", r->last_error);
			printf("\n");
		}
		queue_msg_free(&m);
		return 0;
	}
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "retry") == 0) {
		if (store_queue_retry(st, argc == 2 ? argv[1] : NULL,
		    &err) < 0)
			return fail("queue retry", err);
		printf("%s will be retried now\n", argc == 2 ? argv[1] :
		    "every pending message");
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "delete") == 0) {
		if (store_queue_delete(st, argv[1], &err) < 0)
			return fail(argv[1], err);
		printf("%s deleted from the queue\n", argv[1]);
		return 0;
	}
	usage();
	return 2;
}

static int
cmd_domain(struct store *st, int argc, char **argv)
{
	const char *err;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return store_domain_list(st, print_name, NULL) < 0 ?
		    fail("domain list", "store error") : 0;
	if (argc >= 3 && strcmp(argv[0], "set") == 0)
		return domain_set(st, argv[1], argc - 2, argv + 2);
	if (argc != 2)
		usage();
	if (strcmp(argv[0], "add") == 0) {
		if (store_domain_add(st, argv[1], &err) < 0)
			return fail(argv[1], err);
		printf("domain %s added\n", argv[1]);
		return 0;
	}
	if (strcmp(argv[0], "del") == 0) {
		if (store_domain_del(st, argv[1], &err) < 0)
			return fail(argv[1], err);
		printf("domain %s deleted\n", argv[1]);
		return 0;
	}
	if (strcmp(argv[0], "show") == 0)
		return domain_show(st, argv[1]);
	usage();
	return 2;
}

static int
cmd_user(struct store *st, int argc, char **argv)
{
	const char *err;
	char *pw, *hash;
	struct buf scram = BUF_INIT;
	bool from_stdin, generated = false;
	int rc;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return store_account_list(st, print_account, NULL) < 0 ?
		    fail("user list", "store error") : 0;
	if (argc < 2)
		usage();
	if (strcmp(argv[0], "show") == 0 && argc == 2)
		return user_show(st, argv[1]);
	if (strcmp(argv[0], "set") == 0 && argc >= 3)
		return user_set(st, argv[1], argc - 2, argv + 2);
	if (strcmp(argv[0], "del") == 0) {
		if (argc != 2)
			usage();
		if (store_account_del(st, argv[1], &err) < 0)
			return fail(argv[1], err);
		printf("user %s deleted\n", argv[1]);
		return 0;
	}
	if (strcmp(argv[0], "add") != 0 && strcmp(argv[0], "passwd") != 0)
		usage();
	from_stdin = argc == 3 && strcmp(argv[2], "--password-stdin") == 0;
	if (argc > 3 || (argc == 3 && !from_stdin))
		usage();
	if (from_stdin) {
		if ((pw = read_password_stdin()) == NULL)
			return 1;
	} else {
		pw = password_generate(GENERATED_PASSWORD_LEN);
		generated = true;
	}
	if ((hash = password_hash(pw)) == NULL) {
		xfree_secret(pw, strlen(pw));
		return fail(argv[1], "password hashing failed");
	}
	/* SCRAM-SHA-256 needs its own derived keys, made now or never. */
	{
		struct scram_creds sc;

		if (scram_creds_make(pw, 0, &sc) < 0 ||
		    scram_creds_format(&sc, &scram) < 0) {
			xfree_secret(pw, strlen(pw));
			free(hash);
			return fail(argv[1], "SCRAM key derivation failed");
		}
		scram_creds_wipe(&sc);
	}
	if (strcmp(argv[0], "add") == 0)
		rc = store_account_add(st, argv[1], hash, buf_cstr(&scram),
		    NULL, &err);
	else
		rc = store_account_passwd(st, argv[1], hash, buf_cstr(&scram),
		    &err);
	free(hash);
	buf_free_secret(&scram);
	if (rc < 0) {
		xfree_secret(pw, strlen(pw));
		return fail(argv[1], err);
	}
	if (generated) {
		/* The password alone on stdout, so scripts can take it. */
		fprintf(stderr, "%s %s; its password is:\n", argv[1],
		    strcmp(argv[0], "add") == 0 ? "added" :
		    "has a new password");
		printf("%s\n", pw);
	} else
		printf("%s %s\n", argv[1], strcmp(argv[0], "add") == 0 ?
		    "added" : "password changed");
	xfree_secret(pw, strlen(pw));
	return 0;
}

static int
cmd_alias(struct store *st, int argc, char **argv)
{
	const char *err;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return store_alias_list(st, print_alias, NULL) < 0 ?
		    fail("alias list", "store error") : 0;
	if (argc == 2 && strcmp(argv[0], "del") == 0) {
		if (store_alias_del(st, argv[1], &err) < 0)
			return fail(argv[1], err);
		printf("alias %s deleted\n", argv[1]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "add") == 0) {
		char *copy = xstrdup(argv[2]), *save = NULL, *t;
		const char **targets = NULL;
		size_t n = 0;
		int rc;

		for (t = strtok_r(copy, ",", &save); t != NULL;
		    t = strtok_r(NULL, ",", &save)) {
			while (*t == ' ')
				t++;
			if (*t == '\0')
				continue;
			targets = xreallocarray(targets, n + 1,
			    sizeof(*targets));
			targets[n++] = t;
		}
		rc = store_alias_add(st, argv[1], targets, n, &err);
		free(targets);
		free(copy);
		if (rc < 0)
			return fail(argv[1], err);
		printf("alias %s -> %s added\n", argv[1], argv[2]);
		return 0;
	}
	usage();
	return 2;
}

int
main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG, *err;
	struct config *cfg;
	struct store *st;
	int ch, rc;

	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "version") == 0) {
		printf("posthorn %s\n", POSTHORN_VERSION);
		return 0;
	}
	log_init("posthorn", LOG_LVL_INFO);
	if ((cfg = config_load(path, &err)) == NULL) {
		fprintf(stderr, "posthorn: %s\n", err);
		return 1;
	}
	log_set_level((enum log_level)cfg->log_level);
	if (strcmp(argv[0], "serve") == 0) {
		if (argc != 1)
			usage();
		return server_run(cfg);
	}
	if (strcmp(argv[0], "sandbox-check") == 0) {
		/* As the server would be: the service user, then confined. */
		if (argc != 1 || server_prepare_and_drop(cfg, true) < 0)
			return 1;
		rc = sandbox_check(cfg->data_dir);
		config_free(&cfg);
		return rc;
	}
	if (strcmp(argv[0], "domain") != 0 && strcmp(argv[0], "user") != 0 &&
	    strcmp(argv[0], "alias") != 0 && strcmp(argv[0], "check") != 0 &&
	    strcmp(argv[0], "apppass") != 0 && strcmp(argv[0], "queue") != 0 &&
	    strcmp(argv[0], "dkim") != 0)
		usage();
	if (server_prepare_and_drop(cfg, true) < 0)
		return 1;
	if (store_open(cfg->data_dir, &st, &err) < 0) {
		fprintf(stderr, "posthorn: store: %s\n", err);
		return 1;
	}
	if (strcmp(argv[0], "domain") == 0)
		rc = cmd_domain(st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "user") == 0)
		rc = cmd_user(st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "alias") == 0)
		rc = cmd_alias(st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "apppass") == 0)
		rc = cmd_apppass(st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "queue") == 0)
		rc = cmd_queue(st, argc - 1, argv + 1);
	else if (strcmp(argv[0], "dkim") == 0) {
		if ((rc = cli_dkim(st, cfg, argc - 1, argv + 1)) == 2)
			usage();
	}
	else {
		struct buf report = BUF_INIT;

		rc = store_check(st, &report) < 0 ? 1 : 0;
		fputs(rc ? buf_cstr(&report) : "store ok\n", rc ? stderr :
		    stdout);
		buf_free(&report);
	}
	store_close(&st);
	config_free(&cfg);
	return rc;
}

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
 *   posthorn [-c FILE] check
 *
 * The CLI works while the server runs: both go through the store, which
 * shares its files safely (sqlite WAL, busy timeouts).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/password.h"
#include "core/config.h"
#include "core/log.h"
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
	    "  user del ADDRESS | user list\n"
	    "  alias add ALIAS TARGET[,TARGET...] | alias del ALIAS | "
	    "alias list\n"
	    "  check                                  verify the store's "
	    "integrity\n"
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

static int
cmd_domain(struct store *st, int argc, char **argv)
{
	const char *err;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return store_domain_list(st, print_name, NULL) < 0 ?
		    fail("domain list", "store error") : 0;
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
	usage();
	return 2;
}

static int
cmd_user(struct store *st, int argc, char **argv)
{
	const char *err;
	char *pw, *hash;
	bool from_stdin, generated = false;
	int rc;

	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return store_account_list(st, print_account, NULL) < 0 ?
		    fail("user list", "store error") : 0;
	if (argc < 2)
		usage();
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
	if (strcmp(argv[0], "add") == 0)
		rc = store_account_add(st, argv[1], hash, NULL, &err);
	else
		rc = store_account_passwd(st, argv[1], hash, &err);
	free(hash);
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
	if (strcmp(argv[0], "domain") != 0 && strcmp(argv[0], "user") != 0 &&
	    strcmp(argv[0], "alias") != 0 && strcmp(argv[0], "check") != 0)
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

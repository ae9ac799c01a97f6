/*
 * cli_dkim - `posthorn dkim ...`: DKIM signing keys of the local domains.
 *
 *   dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]
 *   dkim list [DOMAIN]
 *   dkim show DOMAIN          the DNS records to publish
 *   dkim del DOMAIN SELECTOR
 *
 * Keys live in data_dir/dkim/DOMAIN.SELECTOR.pem (mode 0600, owned by the
 * service user: the CLI has dropped privileges by now).  The default
 * selector is the year and month plus "r" or "e" (e.g. 202611r), so a
 * later key for rotation gets a new name and both can be published.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/util.h"
#include "core/xmalloc.h"
#include "dkim/dkim.h"
#include "store/store.h"

static int
fail(const char *what, const char *err)
{
	fprintf(stderr, "posthorn: %s: %s\n", what, err);
	return 1;
}

/*
 * The record as a zone file line: TXT character-strings hold at most 255
 * bytes (RFC 1035 3.3), so a 2048-bit RSA key is split into several.
 */
static void
print_record(const char *domain, const char *selector, const char *txt)
{
	size_t len = strlen(txt);

	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0; off < len; off += 255)
		printf(" \"%.*s\"", (int)(len - off < 255 ? len - off : 255),
		    txt + off);
	printf(" )\n");
}

struct show_ctx {
	int	 n;
	int	 errors;
	bool	 records;
};

static void
show_cb(void *arg, const struct dkim_key_row *k)
{
	struct show_ctx *sc = arg;
	struct dkim_signer *signer;
	struct buf txt = BUF_INIT;
	const char *err;
	char date[32];

	sc->n++;
	if (!sc->records) {
		strftime(date, sizeof(date), "%Y-%m-%d",
		    gmtime(&k->created));
		printf("%s %s %s %s %s\n", k->domain, k->selector,
		    k->algorithm, date, k->file);
		return;
	}
	if ((signer = dkim_signer_load(k->domain, k->selector, k->file,
	    &err)) == NULL) {
		fprintf(stderr, "posthorn: %s: %s\n", k->file, err);
		sc->errors++;
		return;
	}
	dkim_signer_dns_txt(signer, &txt);
	print_record(k->domain, k->selector, buf_cstr(&txt));
	buf_free(&txt);
	dkim_signer_free(&signer);
}

static int
dkim_generate(struct store *st, const struct config *cfg, int argc,
    char **argv)
{
	const char *domain = argv[0], *selector = NULL, *err;
	enum dkim_alg alg = DKIM_RSA_SHA256;
	char defsel[32], *dir, *path;
	struct domain_info di;
	struct buf txt = BUF_INIT;
	struct tm tm;
	time_t now = time(NULL);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--selector") == 0 && i + 1 < argc)
			selector = argv[++i];
		else if (strcmp(argv[i], "--algorithm") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "rsa") == 0)
				alg = DKIM_RSA_SHA256;
			else if (strcmp(argv[i], "ed25519") == 0)
				alg = DKIM_ED25519_SHA256;
			else
				return fail(argv[i], "algorithm is rsa or "
				    "ed25519");
		} else
			return fail(argv[i], "unknown option");
	}
	if (store_domain_get(st, domain, &di) != 1)
		return fail(domain, "no such domain");
	domain_info_clear(&di);
	if (!dkim_domain_valid(domain, strlen(domain)))
		return fail(domain, "not a valid domain name for DKIM");
	if (selector == NULL) {
		gmtime_r(&now, &tm);
		snprintf(defsel, sizeof(defsel), "%04d%02d%c",
		    tm.tm_year + 1900, tm.tm_mon + 1,
		    alg == DKIM_RSA_SHA256 ? 'r' : 'e');
		selector = defsel;
	}
	if (!dkim_selector_valid(selector, strlen(selector)) ||
	    strlen(selector) > 63)
		return fail(selector, "a selector is letters, digits, '-' "
		    "and '_', in dot-separated labels");
	dir = xasprintf("%s/dkim", cfg->data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "posthorn: mkdir %s: %s\n", dir,
		    strerror(errno));
		free(dir);
		return 1;
	}
	path = xasprintf("%s/%s.%s.pem", dir, domain, selector);
	for (char *p = path + strlen(dir); *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	free(dir);
	if (dkim_key_generate(alg, path, &txt, &err) < 0) {
		fprintf(stderr, "posthorn: %s: %s\n", path, err);
		free(path);
		return 1;
	}
	if (store_dkim_add(st, domain, selector, dkim_alg_name(alg), path,
	    &err) < 0) {
		unlink(path);
		free(path);
		buf_free(&txt);
		return fail(domain, err);
	}
	fprintf(stderr, "DKIM key %s for %s (%s) in %s; publish this record:\n",
	    selector, domain, dkim_alg_name(alg), path);
	print_record(domain, selector, buf_cstr(&txt));
	buf_free(&txt);
	free(path);
	return 0;
}

int
cli_dkim(struct store *st, const struct config *cfg, int argc, char **argv)
{
	struct show_ctx sc = { 0, 0, false };
	const char *err;

	if (argc >= 2 && strcmp(argv[0], "generate") == 0)
		return dkim_generate(st, cfg, argc - 1, argv + 1);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0) {
		if (store_dkim_list(st, argc == 2 ? argv[1] : NULL, show_cb,
		    &sc) < 0)
			return fail("dkim list", "store error");
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		sc.records = true;
		if (store_dkim_list(st, argv[1], show_cb, &sc) < 0)
			return fail("dkim show", "store error");
		if (sc.n == 0)
			return fail(argv[1], "no DKIM keys");
		return sc.errors > 0;
	}
	if (argc == 3 && strcmp(argv[0], "del") == 0) {
		char *file;

		if (store_dkim_del(st, argv[1], argv[2], &file, &err) < 0)
			return fail(argv[2], err);
		if (unlink(file) < 0 && errno != ENOENT)
			fprintf(stderr, "posthorn: %s: %s\n", file,
			    strerror(errno));
		printf("DKIM key %s of %s deleted\n", argv[2], argv[1]);
		free(file);
		return 0;
	}
	return 2;
}

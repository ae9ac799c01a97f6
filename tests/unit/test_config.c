/*
 * test_config - unit tests for core/config: config_load() on temporary
 * files (defaults, the shipped posthorn.conf.example with and without its
 * commented-out keys, every kind of error named as FILE:LINE, long lines,
 * inline comments, several listen addresses, IPv6, relative paths) and
 * listen_addr_parse().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/log.h"

struct fixture {
	char	 dir[64];
	char	 real[PATH_MAX];	/* realpath of dir */
	char	*files[16];
	size_t	 nfiles;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	if (mkdtemp(f->dir) == NULL || realpath(f->dir, f->real) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = 0;

	for (size_t i = f->nfiles; i-- > 0;) {
		if (remove(f->files[i]) < 0) {
			fprintf(stderr, "remove %s: %s\n", f->files[i],
			    strerror(errno));
			rc = -1;
		}
		free(f->files[i]);
	}
	if (rmdir(f->dir) < 0) {
		fprintf(stderr, "rmdir %s: %s\n", f->dir, strerror(errno));
		rc = -1;
	}
	free(f);
	return rc;
}

/* Remembers path for removal at teardown (in creation order). */
static const char *
track(struct fixture *f, const char *name)
{
	char *p;

	assert_true(f->nfiles < sizeof(f->files) / sizeof(f->files[0]));
	assert_true(asprintf(&p, "%s/%s", f->dir, name) > 0);
	f->files[f->nfiles++] = p;
	return p;
}

/* Writes text to dir/name (once per name per test) and returns the path. */
static const char *
write_conf(struct fixture *f, const char *name, const char *text)
{
	const char *path = NULL;
	FILE *fp;

	for (size_t i = 0; i < f->nfiles; i++)
		if (strncmp(f->files[i], f->dir, strlen(f->dir)) == 0 &&
		    strcmp(f->files[i] + strlen(f->dir) + 1, name) == 0)
			path = f->files[i];
	if (path == NULL)
		path = track(f, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* Loads text and expects success. */
static struct config *
load_ok(struct fixture *f, const char *text)
{
	const char *err = NULL, *path = write_conf(f, "c.conf", text);
	struct config *c = config_load(path, &err);

	if (c == NULL)
		fail_msg("config_load failed: %s", err);
	return c;
}

/*
 * Loads text and expects failure with exactly "PATH:LINE: msg" (msg NULL:
 * any message after the prefix).
 */
static void
load_err(struct fixture *f, const char *text, int line, const char *msg)
{
	const char *err = NULL, *path = write_conf(f, "c.conf", text);
	struct config *c = config_load(path, &err);
	char want[1024];

	if (c != NULL) {
		config_free(&c);
		fail_msg("config_load accepted: %s", text);
	}
	assert_non_null(err);
	if (msg != NULL) {
		snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
		assert_string_equal(err, want);
	} else {
		snprintf(want, sizeof(want), "%s:%d: ", path, line);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("want prefix '%s', got '%s'", want, err);
		assert_true(strlen(err) > strlen(want));
	}
}

static void
test_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c, d;

	c = load_ok(f, "");
	assert_string_equal(c->path, f->files[0]);
	assert_string_equal(c->hostname, "localhost");
	assert_string_equal(c->data_dir, "/var/lib/posthorn");
	assert_null(c->user);
	assert_null(c->greeting);
	assert_int_equal(c->io_threads, 0);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_int_equal(c->ncerts, 0);
	assert_true(c->plaintext_on_loopback);
	assert_false(c->plaintext_without_tls);
	assert_true(c->auth_fail_delay_ms == 2000);
	assert_int_equal(c->nlistens, 0);
	assert_true(c->message_size == 50ULL * 1024 * 1024);
	assert_true(c->max_recipients == 1000);
	assert_true(c->smtp_line_max == 4096);
	assert_true(c->imap_line_max == 65536);
	assert_true(c->smtp_timeout == 300);
	assert_true(c->imap_timeout == 1800);
	assert_true(c->imap_idle_timeout == 1800);
	assert_true(c->pop3_timeout == 600);
	assert_true(c->max_bad_commands == 20);
	assert_true(c->max_connections_per_ip == 50);
	assert_int_equal(c->ipv6_prefix_length, 84);
	assert_false(c->helo_strict);
	config_free(&c);
	assert_null(c);
	config_free(&c);		/* NULL is fine */

	/* Sections present but empty, comments only: still defaults. */
	c = load_ok(f, "; nothing\n# nothing either\n\n[server]\n[limits]\n"
	    "[listen]\n");
	assert_string_equal(c->hostname, "localhost");
	assert_true(c->message_size == 50ULL * 1024 * 1024);
	assert_int_equal(c->nlistens, 0);
	config_free(&c);

	/* config_defaults on its own. */
	config_defaults(&d);
	assert_string_equal(d.hostname, "localhost");
	assert_int_equal(d.workers, 4);
	assert_null(d.path);
	assert_true(d.checks);
	assert_int_equal(d.nchecks_skip, 2);
	assert_true(netlist_match(d.checks_skip, d.nchecks_skip, "127.0.0.9"));
	assert_true(netlist_match(d.checks_skip, d.nchecks_skip, "::1"));
	assert_false(netlist_match(d.checks_skip, d.nchecks_skip, "10.0.0.1"));
	free(d.hostname);
	free(d.data_dir);
	free(d.checks_skip);
	free(d.rate_exempt);
}

/* The shipped example, as it is. */
static char *
example_path(void)
{
	/* __FILE__ is .../tests/unit/test_config.c */
	const char *file = __FILE__;
	const char *end = file + strlen(file);
	int slashes = 0;
	char *p;

	while (end > file && slashes < 3)
		if (*--end == '/')
			slashes++;
	if (slashes == 3)
		assert_true(asprintf(&p, "%.*s/posthorn.conf.example",
		    (int)(end - file), file) > 0);
	else
		assert_true(asprintf(&p, "posthorn.conf.example") > 0);
	return p;
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	if (fp == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static void
check_listen(const struct listen_addr *la, enum listen_kind kind,
    const char *text, int family, const char *addr, unsigned port)
{
	char got[INET6_ADDRSTRLEN];

	assert_int_equal(la->kind, kind);
	assert_string_equal(la->text, text);
	assert_int_equal(la->ss.ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&la->ss;

		assert_int_equal(la->sslen, sizeof(*sin));
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, got,
		    sizeof(got)));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&la->ss;

		assert_int_equal(la->sslen, sizeof(*sin6));
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, got,
		    sizeof(got)));
		assert_int_equal(ntohs(sin6->sin6_port), port);
	}
	assert_string_equal(got, addr);
}

static void
test_example_as_shipped(void **state)
{
	char *path = example_path();
	const char *err = NULL;
	struct config *c = config_load(path, &err);

	if (c == NULL)
		fail_msg("%s: %s", path, err);
	assert_string_equal(c->hostname, "mail.example.test");
	assert_string_equal(c->data_dir, "/var/lib/posthorn");
	assert_null(c->user);
	assert_null(c->greeting);
	assert_int_equal(c->io_threads, 0);
	assert_int_equal(c->workers, 4);
	assert_int_equal(c->log_level, LOG_LVL_INFO);
	assert_int_equal(c->ncerts, 0);
	assert_true(c->plaintext_on_loopback);
	assert_false(c->plaintext_without_tls);
	assert_true(c->auth_fail_delay_ms == 2000);
	assert_int_equal(c->nlistens, 8);
	check_listen(&c->listens[0], LISTEN_SMTP, "0.0.0.0:25", AF_INET,
	    "0.0.0.0", 25);
	check_listen(&c->listens[1], LISTEN_SUBMISSION, "0.0.0.0:587",
	    AF_INET, "0.0.0.0", 587);
	check_listen(&c->listens[2], LISTEN_SUBMISSION, "0.0.0.0:2525",
	    AF_INET, "0.0.0.0", 2525);
	check_listen(&c->listens[3], LISTEN_SUBMISSIONS, "0.0.0.0:465",
	    AF_INET, "0.0.0.0", 465);
	check_listen(&c->listens[4], LISTEN_IMAP, "0.0.0.0:143", AF_INET,
	    "0.0.0.0", 143);
	check_listen(&c->listens[5], LISTEN_IMAPS, "0.0.0.0:993", AF_INET,
	    "0.0.0.0", 993);
	check_listen(&c->listens[6], LISTEN_POP3, "0.0.0.0:110", AF_INET,
	    "0.0.0.0", 110);
	check_listen(&c->listens[7], LISTEN_POP3S, "0.0.0.0:995", AF_INET,
	    "0.0.0.0", 995);
	assert_true(c->message_size == 50ULL * 1024 * 1024);
	assert_true(c->max_recipients == 1000);
	assert_true(c->smtp_line_max == 4096);
	assert_true(c->imap_line_max == 64 * 1024);
	assert_true(c->smtp_timeout == 300);
	assert_true(c->imap_timeout == 1800);
	assert_true(c->imap_idle_timeout == 1800);
	assert_true(c->pop3_timeout == 600);
	assert_true(c->max_bad_commands == 20);
	assert_true(c->max_connections_per_ip == 50);
	assert_false(c->helo_strict);
	assert_true(c->dane);
	assert_true(c->mta_sts);
	assert_null(c->tls_ca_file);
	config_free(&c);
	free(path);
}

/*
 * The example with every commented-out key (";key = value") switched on:
 * every key the file documents must parse.
 */
static void
test_example_all_keys(void **state)
{
	struct fixture *f = *state;
	char *path = example_path(), *text = slurp(path), *out, *o;
	const char *err = NULL, *p;
	struct config *c;
	int uncommented = 0;

	out = o = malloc(strlen(text) + 1);
	assert_non_null(out);
	for (p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		const char *eq = memchr(p, '=', n);

		/* ";name = value" (no space after the ';') is a key. */
		if (p[0] == ';' && n > 1 && p[1] != ' ' && p[1] != '\n' &&
		    eq != NULL) {
			memcpy(o, p + 1, n - 1);
			o += n - 1;
			uncommented++;
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	/* user, greeting, cert, key, the two SNI entries, the resolver,
	 * the trust anchor and the extra CA file. */
	assert_int_equal(uncommented, 10);
	c = config_load(write_conf(f, "all.conf", out), &err);
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->user, "posthorn");
	assert_string_equal(c->greeting, "posthorn");
	assert_string_equal(c->srs_domain, "example.test");
	assert_string_equal(c->dns_resolver, "127.0.0.1");
	assert_string_equal(c->dns_trust_anchor, "/usr/share/dns/root.key");
	assert_int_equal(c->delivery_port, 25);
	assert_true(c->queue_lifetime == 5 * 86400);
	assert_true(c->dane);
	assert_true(c->mta_sts);
	assert_string_equal(c->tls_ca_file, "/etc/posthorn/extra-ca.pem");
	assert_int_equal(c->ncerts, 3);
	assert_null(c->certs[0].name);
	assert_string_equal(c->certs[0].cert, "/etc/posthorn/fullchain.pem");
	assert_string_equal(c->certs[0].key, "/etc/posthorn/key.pem");
	assert_string_equal(c->certs[1].name, "mail.example.org");
	assert_string_equal(c->certs[1].cert,
	    "/etc/posthorn/org-fullchain.pem");
	assert_string_equal(c->certs[1].key, "/etc/posthorn/org-key.pem");
	assert_string_equal(c->certs[2].name, "*.example.net");
	assert_string_equal(c->certs[2].cert,
	    "/etc/posthorn/net-fullchain.pem");
	assert_string_equal(c->certs[2].key, "/etc/posthorn/net-key.pem");
	assert_string_equal(c->hostname, "mail.example.test");
	assert_int_equal(c->nlistens, 8);
	config_free(&c);
	free(out);
	free(text);
	free(path);
}

static void
test_values(void **state)
{
	struct fixture *f = *state;
	struct config *c;

	c = load_ok(f,
	    "[SERVER]\n"
	    "HostName = MAIL.Example.COM\n"
	    "data_dir = /srv/mail\n"
	    "user = mailer\n"
	    "io_threads = 256\n"
	    "workers = 1\n"
	    "log_level = debug\n"
	    "greeting = posthorn ready\n"
	    "[auth]\n"
	    "plaintext_on_loopback = off\n"
	    "plaintext_without_tls = TRUE\n"
	    "failure_delay = 500ms\n"
	    "[limits]\n"
	    "message_size = 1g\n"
	    "max_recipients = 100000\n"
	    "smtp_line_max = 512\n"
	    "imap_line_max = 16m\n"
	    "smtp_timeout = 1d\n"
	    "imap_timeout = 90\n"
	    "imap_idle_timeout = 2h\n"
	    "pop3_timeout = 30s\n"
	    "max_bad_commands = 10000\n"
	    "max_connections_per_ip = 1\n"
	    "[smtp]\n"
	    "helo_strict = 1\n");
	assert_string_equal(c->hostname, "mail.example.com");
	assert_string_equal(c->data_dir, "/srv/mail");
	assert_string_equal(c->user, "mailer");
	assert_int_equal(c->io_threads, 256);
	assert_int_equal(c->workers, 1);
	assert_int_equal(c->log_level, LOG_LVL_DEBUG);
	assert_string_equal(c->greeting, "posthorn ready");
	assert_false(c->plaintext_on_loopback);
	assert_true(c->plaintext_without_tls);
	assert_true(c->auth_fail_delay_ms == 500);
	assert_true(c->message_size == 1024ULL * 1024 * 1024);
	assert_true(c->max_recipients == 100000);
	assert_true(c->smtp_line_max == 512);
	assert_true(c->imap_line_max == 16 * 1024 * 1024);
	assert_true(c->smtp_timeout == 86400);
	assert_true(c->imap_timeout == 90);
	assert_true(c->imap_idle_timeout == 7200);
	assert_true(c->pop3_timeout == 30);
	assert_true(c->max_bad_commands == 10000);
	assert_true(c->max_connections_per_ip == 1);
	assert_true(c->helo_strict);
	config_free(&c);

	/* failure_delay forms. */
	c = load_ok(f, "[auth]\nfailure_delay = 0\n");
	assert_true(c->auth_fail_delay_ms == 0);
	config_free(&c);
	c = load_ok(f, "[auth]\nfailure_delay = 60s\n");
	assert_true(c->auth_fail_delay_ms == 60000);
	config_free(&c);
	c = load_ok(f, "[auth]\nfailure_delay = 1m\n");
	assert_true(c->auth_fail_delay_ms == 60000);
	config_free(&c);
	c = load_ok(f, "[auth]\nfailure_delay = 60000MS\n");
	assert_true(c->auth_fail_delay_ms == 60000);
	config_free(&c);

	/* Mail checks on port 25. */
	c = load_ok(f, "[smtp]\nchecks = no\nchecks_skip = 10.0.0.0/8, "
	    "2001:db8::/32 192.0.2.7\nspf_fail = mark\n"
	    "dmarc_policy = quarantine\n");
	assert_false(c->checks);
	assert_int_equal(c->nchecks_skip, 3);
	assert_true(netlist_match(c->checks_skip, c->nchecks_skip,
	    "10.255.1.2"));
	assert_true(netlist_match(c->checks_skip, c->nchecks_skip,
	    "::ffff:10.1.1.1"));
	assert_true(netlist_match(c->checks_skip, c->nchecks_skip,
	    "2001:db8:ffff::1"));
	assert_true(netlist_match(c->checks_skip, c->nchecks_skip,
	    "192.0.2.7"));
	assert_false(netlist_match(c->checks_skip, c->nchecks_skip,
	    "192.0.2.8"));
	assert_false(netlist_match(c->checks_skip, c->nchecks_skip,
	    "127.0.0.1"));
	assert_false(netlist_match(c->checks_skip, c->nchecks_skip,
	    "2001:db9::1"));
	assert_false(netlist_match(c->checks_skip, c->nchecks_skip, "junk"));
	assert_int_equal(c->spf_fail, CONFIG_SPF_MARK);
	assert_int_equal(c->dmarc_policy, CONFIG_DMARC_QUARANTINE);
	config_free(&c);
	c = load_ok(f, "[smtp]\nchecks_skip =\n");
	assert_int_equal(c->nchecks_skip, 0);
	assert_false(netlist_match(c->checks_skip, c->nchecks_skip,
	    "127.0.0.1"));
	config_free(&c);
	load_err(f, "[smtp]\nchecks_skip = 10.0.0.0/33\n", 2,
	    "bad network list '10.0.0.0/33' for checks_skip");
	load_err(f, "[smtp]\n\nchecks_skip = 10.0.0.0/8, nope\n", 3,
	    "bad network list '10.0.0.0/8, nope' for checks_skip");
	c = load_ok(f, "");
	assert_string_equal(c->recipient_delimiter, "+");
	config_free(&c);
	c = load_ok(f, "[smtp]\nrecipient_delimiter = +-\n");
	assert_string_equal(c->recipient_delimiter, "+-");
	config_free(&c);
	c = load_ok(f, "[smtp]\nrecipient_delimiter =\n");
	assert_string_equal(c->recipient_delimiter, "");
	config_free(&c);
	load_err(f, "[smtp]\nrecipient_delimiter = +@\n", 2,
	    "bad value '+@' for recipient_delimiter (up to 7 characters, "
	    "not '@')");
	c = load_ok(f, "");
	assert_true(c->connection_rate_per_ip == 120);
	assert_true(c->message_rate_per_ip == 300);
	assert_int_equal(c->nrate_exempt, 2);
	config_free(&c);
	c = load_ok(f, "[limits]\nconnection_rate_per_ip = 0\n"
	    "message_rate_per_ip = 7\nrate_exempt = 192.0.2.0/24\n");
	assert_true(c->connection_rate_per_ip == 0);
	assert_true(c->message_rate_per_ip == 7);
	assert_int_equal(c->nrate_exempt, 1);
	assert_true(netlist_match(c->rate_exempt, c->nrate_exempt,
	    "192.0.2.200"));
	config_free(&c);
	load_err(f, "[limits]\nrate_exempt = x\n", 2,
	    "bad network list 'x' for rate_exempt");
	c = load_ok(f, "[smtp]\nsrs = no\nsrs_domain = Example.TEST\n");
	assert_false(c->srs);
	assert_string_equal(c->srs_domain, "Example.TEST");
	config_free(&c);
	load_err(f, "[smtp]\nsrs_domain = not a domain\n", 2,
	    "bad value 'not a domain' for srs_domain (want a domain)");
	c = load_ok(f, "[smtp]\nsender_check = envelope\n");
	assert_int_equal(c->sender_check, CONFIG_SENDER_ENVELOPE);
	config_free(&c);
	c = load_ok(f, "[smtp]\nsender_check = OFF\n");
	assert_int_equal(c->sender_check, CONFIG_SENDER_OFF);
	config_free(&c);
	load_err(f, "[smtp]\nsender_check = maybe\n", 2,
	    "bad value 'maybe' for sender_check (want from, envelope or off)");
	load_err(f, "[smtp]\nspf_fail = maybe\n", 2,
	    "bad value 'maybe' for spf_fail (want reject or mark)");
	load_err(f, "[smtp]\ndmarc_policy = strict\n", 2,
	    "bad value 'strict' for dmarc_policy (want apply, quarantine or "
	    "none)");

	/* The last value of a key wins. */
	c = load_ok(f, "[server]\nworkers = 2\nworkers = 3\n");
	assert_int_equal(c->workers, 3);
	config_free(&c);
}

static void
test_inline_comments(void **state)
{
	struct fixture *f = *state;
	struct config *c;

	c = load_ok(f,
	    "[server] ; the server\n"
	    "hostname = mx.example.org ; our name\n"
	    "workers = 8    ; eight\n"
	    "greeting = hello world ; trailing words go\n"
	    "  ; an indented comment line\n"
	    "[limits]\t; limits\n"
	    "message_size = 10m\t; tab before the ;\n"
	    "[listen]\n"
	    "imap = 127.0.0.1:143 ; loopback only\n");
	assert_string_equal(c->hostname, "mx.example.org");
	assert_int_equal(c->workers, 8);
	assert_string_equal(c->greeting, "hello world");
	assert_true(c->message_size == 10 * 1024 * 1024);
	assert_int_equal(c->nlistens, 1);
	check_listen(&c->listens[0], LISTEN_IMAP, "127.0.0.1:143", AF_INET,
	    "127.0.0.1", 143);
	config_free(&c);

	/* A ';' not preceded by whitespace is part of the value. */
	load_err(f, "[limits]\nmessage_size = 10m;comment\n", 2,
	    "bad value '10m;comment' for message_size");
}

static void
test_listen(void **state)
{
	struct fixture *f = *state;
	struct config *c;

	c = load_ok(f,
	    "[listen]\n"
	    "smtp = 192.0.2.1:25,198.51.100.7:2525 ,  [2001:db8::1]:25\n"
	    "imap = [::1]:143\n"
	    "imaps = [::]:993\n"
	    "pop3 = *:110\n"
	    "submission = 127.0.0.1:587,\n"
	    "SUBMISSIONS = 0.0.0.0:465\n"
	    "pop3s = 10.0.0.1:65535\n");
	assert_int_equal(c->nlistens, 9);
	check_listen(&c->listens[0], LISTEN_SMTP, "192.0.2.1:25", AF_INET,
	    "192.0.2.1", 25);
	check_listen(&c->listens[1], LISTEN_SMTP, "198.51.100.7:2525",
	    AF_INET, "198.51.100.7", 2525);
	check_listen(&c->listens[2], LISTEN_SMTP, "[2001:db8::1]:25",
	    AF_INET6, "2001:db8::1", 25);
	check_listen(&c->listens[3], LISTEN_IMAP, "[::1]:143", AF_INET6,
	    "::1", 143);
	check_listen(&c->listens[4], LISTEN_IMAPS, "[::]:993", AF_INET6,
	    "::", 993);
	check_listen(&c->listens[5], LISTEN_POP3, "*:110", AF_INET,
	    "0.0.0.0", 110);
	check_listen(&c->listens[6], LISTEN_SUBMISSION, "127.0.0.1:587",
	    AF_INET, "127.0.0.1", 587);
	check_listen(&c->listens[7], LISTEN_SUBMISSIONS, "0.0.0.0:465",
	    AF_INET, "0.0.0.0", 465);
	check_listen(&c->listens[8], LISTEN_POP3S, "10.0.0.1:65535",
	    AF_INET, "10.0.0.1", 65535);
	assert_string_equal(listen_kind_names[c->listens[8].kind], "pop3s");
	config_free(&c);

	/* The same listener on two lines adds up. */
	c = load_ok(f, "[listen]\nimap = 127.0.0.1:143\nimap = [::1]:143\n");
	assert_int_equal(c->nlistens, 2);
	config_free(&c);
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;

	load_err(f, "[server]\nfoo = 1\n", 2, "unknown key 'foo' in [server]");
	load_err(f, "[limits]\nmessage_sizes = 1m\n", 2,
	    "unknown key 'message_sizes' in [limits]");
	load_err(f, "[smtp]\nhelo_strict = maybe\n", 2,
	    "bad value 'maybe' for helo_strict (want yes or no)");
	load_err(f, "[auth]\nplaintext_on_loopback = \n", 2,
	    "bad value '' for plaintext_on_loopback (want yes or no)");
	load_err(f, "[limits]\n\nmessage_size = 10x\n", 3,
	    "bad value '10x' for message_size");
	load_err(f, "[limits]\nmessage_size = 1023\n", 2,
	    "bad value '1023' for message_size");
	load_err(f, "[limits]\nmessage_size = 3g\n", 2,
	    "bad value '3g' for message_size");
	load_err(f, "[limits]\nipv6_prefix_length = 16\n", 2,
	    "bad value '16' for ipv6_prefix_length");
	load_err(f, "[limits]\nipv6_prefix_length = 129\n", 2,
	    "bad value '129' for ipv6_prefix_length");
	load_err(f, "[limits]\nsmtp_line_max = -1\n", 2,
	    "bad value '-1' for smtp_line_max");
	load_err(f, "[limits]\nsmtp_timeout = 0\n", 2,
	    "bad value '0' for smtp_timeout");
	load_err(f, "[limits]\nimap_timeout = 2d\n", 2,
	    "bad value '2d' for imap_timeout");
	load_err(f, "[limits]\nmax_recipients = 100001\n", 2,
	    "bad value '100001' for max_recipients");
	load_err(f, "[server]\nworkers = 0\n", 2,
	    "bad value '0' for workers");
	load_err(f, "[server]\nio_threads = 257\n", 2,
	    "bad value '257' for io_threads");
	load_err(f, "[server]\nhostname = bad_name.example\n", 2,
	    "bad host name 'bad_name.example'");
	load_err(f, "[server]\nlog_level = verbose\n", 2,
	    "bad log_level 'verbose' (error, warn, info, debug)");
	load_err(f, "[auth]\nfailure_delay = 61s\n", 2,
	    "bad value '61s' for failure_delay");
	load_err(f, "[auth]\nfailure_delay = 60001ms\n", 2,
	    "bad value '60001ms' for failure_delay");
	load_err(f, "[listen]\nimap = 1.2.3.4\n", 2,
	    "bad listen address '1.2.3.4' (want ADDRESS:PORT or [IPV6]:PORT)");
	load_err(f, "[listen]\nimap = 127.0.0.1:0\n", 2,
	    "bad listen address '127.0.0.1:0' (want ADDRESS:PORT or "
	    "[IPV6]:PORT)");
	load_err(f, "[listen]\nimap = 127.0.0.1:65536\n", 2,
	    "bad listen address '127.0.0.1:65536' (want ADDRESS:PORT or "
	    "[IPV6]:PORT)");
	load_err(f, "[listen]\nimap = [::1]:0\n", 2,
	    "bad listen address '[::1]:0' (want ADDRESS:PORT or "
	    "[IPV6]:PORT)");
	load_err(f, "[listen]\nsmtp = 127.0.0.1:25, ::1:25\n", 2,
	    "bad listen address '::1:25' (want ADDRESS:PORT or "
	    "[IPV6]:PORT)");
	load_err(f, "[listen]\nsmtp = localhost:25\n", 2,
	    "bad listen address 'localhost:25' (want ADDRESS:PORT or "
	    "[IPV6]:PORT)");
	load_err(f, "[listen]\nlmtp = 127.0.0.1:24\n", 2,
	    "unknown listener 'lmtp' (smtp, submission, submissions, imap, "
	    "imaps, pop3, pop3s)");
	load_err(f, "[tls]\nmail.example.org = /etc/cert.pem\n", 2,
	    "[tls] mail.example.org: want CERTFILE, KEYFILE");
	load_err(f, "[tls]\nbad_name = a.pem, b.pem\n", 2,
	    "unknown key 'bad_name' in [tls] (want cert, key, or HOSTNAME = "
	    "CERT, KEY)");
	/* A line that is not a key, a section or a comment. */
	load_err(f, "[server]\nhostname mail.example.org\n", 2,
	    "syntax error (want [section] or key = value)");
	load_err(f, "[server]\n[limits\n", 2,
	    "syntax error (want [section] or key = value)");
	/* A key before any section. */
	load_err(f, "hostname = mail.example.org\n", 1, NULL);
}

/*
 * An unknown section is reported on the line of its header, even when it
 * has no keys.
 */
static void
test_error_unknown_section(void **state)
{
	struct fixture *f = *state;

	load_err(f, "[server]\nworkers = 2\n[bogus]\n; comment\nx = 1\n", 3,
	    "unknown section [bogus]");
	load_err(f, "[server]\nworkers = 2\n[bogus]\n[limits]\n", 3,
	    "unknown section [bogus]");
}

/*
 * The first error in file order is the one reported: a syntax error that
 * inih finds on line 1 comes before a bad key on line 2.
 */
static void
test_error_first_in_file_order(void **state)
{
	struct fixture *f = *state;

	load_err(f, "[server\nhostname = x.example\n", 1,
	    "syntax error (want [section] or key = value)");
	load_err(f, "[server]\nhostname mail.example.org\nworkers = 0\n", 2,
	    "syntax error (want [section] or key = value)");
}

/*
 * A cert without a key (or the reverse) is reported with the line of the
 * entry, like every other configuration error.
 */
static void
test_error_cert_without_key(void **state)
{
	struct fixture *f = *state;

	load_err(f, "[server]\nworkers = 2\n[tls]\ncert = /etc/c.pem\n", 4,
	    NULL);
	load_err(f, "[tls]\n\nkey = /etc/k.pem\n", 3, NULL);
}

/*
 * An empty file name is a bad value, not the config file's directory
 * (cfg_path would turn "" into "DIR/").
 */
static void
test_error_empty_paths(void **state)
{
	struct fixture *f = *state;

	load_err(f, "[tls]\nmail.example.org = cert.pem,\n", 2, NULL);
	load_err(f, "[tls]\nmail.example.org = , key.pem\n", 2, NULL);
	load_err(f, "[tls]\ncert =\nkey = k.pem\n", 2, NULL);
	load_err(f, "[server]\ndata_dir =\n", 2, NULL);
}

/* Whatever the message says, it says it about the right file. */
static void
test_error_cert_without_key_names_file(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL, *path;
	struct config *c;

	path = write_conf(f, "c.conf", "[tls]\ncert = /etc/c.pem\n");
	c = config_load(path, &err);
	assert_null(c);
	assert_non_null(err);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, "without a key"));
	path = write_conf(f, "c.conf", "[tls]\ncert = a.pem\nkey = b.pem\n");
	c = config_load(path, &err);
	assert_non_null(c);
	assert_int_equal(c->ncerts, 1);
	config_free(&c);
}

static void
test_error_line_numbers(void **state)
{
	struct fixture *f = *state;
	static const char *const cycle[] = {
		"max_recipients = 5\n",
		"; comment\n",
		"\n",
		"   \t\n",
		"smtp_timeout = 5m ; inline\n",
		"# hash comment\n",
		"[limits]\n",
	};
	char text[4096];
	size_t n = 0;

	/* Error on line 1. */
	load_err(f, "bogus = 1\n[server]\nworkers = 2\n", 1, NULL);
	load_err(f, "[server\n", 1,
	    "syntax error (want [section] or key = value)");
	load_err(f, "log_level = debug\n", 1, NULL);

	/* Error on line 7: six good lines first, a later error after. */
	load_err(f,
	    "; posthorn\n"			/* 1 */
	    "[server]\n"			/* 2 */
	    "hostname = a.example\n"		/* 3 */
	    "\n"				/* 4 */
	    "# comment\n"			/* 5 */
	    "workers = 2\n"			/* 6 */
	    "wrkers = 3\n"			/* 7 */
	    "[limits]\n"			/* 8 */
	    "message_size = bad\n",		/* 9 */
	    7, "unknown key 'wrkers' in [server]");

	/* Error on line 30 with every kind of line before it. */
	n += (size_t)snprintf(text + n, sizeof(text) - n, "[limits]\n");
	for (int line = 2; line <= 28; line++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
		    cycle[line % 7]);
	n += (size_t)snprintf(text + n, sizeof(text) - n,
	    "[listen]\n"			/* 29 */
	    "imap = 127.0.0.1:65536\n"		/* 30 */
	    "smtp = nonsense\n");		/* 31 */
	load_err(f, text, 30, "bad listen address '127.0.0.1:65536' (want "
	    "ADDRESS:PORT or [IPV6]:PORT)");
	/* The same 29 lines alone are fine. */
	*strstr(text, "imap = 127") = '\0';
	{
		struct config *c = load_ok(f, text);

		assert_true(c->max_recipients == 5);
		assert_true(c->smtp_timeout == 300);
		config_free(&c);
	}
}

static void
test_long_lines(void **state)
{
	struct fixture *f = *state;
	char path[400], text[1200];
	struct config *c;
	size_t n;

	/*
	 * "data_dir = " (11) + path + "\n".  Lines of up to 198 characters
	 * before the newline are read whole.
	 */
	memset(path, 0, sizeof(path));
	path[0] = '/';
	for (n = 1; n < 187; n++)
		path[n] = n % 10 == 0 ? '/' : (char)('a' + n % 26);
	snprintf(text, sizeof(text), "[server]\ndata_dir = %s\n", path);
	assert_int_equal(strlen(strchr(text, '\n') + 1), 198 + 1);
	c = load_ok(f, text);
	assert_string_equal(c->data_dir, path);
	config_free(&c);

	/*
	 * A longer line is never silently cut: it is an error naming its
	 * line, whether it is a value, a comment or the last line.
	 */
	for (n = 187; n < 300; n++)
		path[n] = n % 10 == 0 ? '/' : (char)('a' + n % 26);
	path[n] = '\0';
	snprintf(text, sizeof(text), "[server]\nworkers = 2\n\n"
	    "data_dir = %s\nworkers = 3\n", path);
	load_err(f, text, 4, "line too long");
	snprintf(text, sizeof(text), "[server]\ndata_dir = %s", path);
	load_err(f, text, 2, "line too long");
	snprintf(text, sizeof(text), "[server]\n;%s\nworkers = 2\n", path);
	load_err(f, text, 2, "line too long");
	/* 199 characters plus the newline: already too long. */
	path[188] = '\0';
	snprintf(text, sizeof(text), "[server]\ndata_dir = %s\n", path);
	assert_int_equal(strlen(strchr(text, '\n') + 1), 199 + 1);
	load_err(f, text, 2, "line too long");
	/* Many long lines: still the first one's line. */
	path[188] = 'x';
	snprintf(text, sizeof(text), "[server]\n\n\ngreeting = %s\n"
	    "greeting = %s\n", path, path);
	load_err(f, text, 4, "line too long");
}

/* [delivery] TLS policy keys: dane, mta_sts, tls_ca_file. */
static void
test_delivery_tls(void **state)
{
	struct fixture *f = *state;
	struct config *c;
	char *want;

	c = load_ok(f, "[delivery]\ndane = no\nmta_sts = off\n"
	    "tls_ca_file = ca/test.pem\n");
	assert_false(c->dane);
	assert_false(c->mta_sts);
	assert_true(asprintf(&want, "%s/ca/test.pem", f->real) > 0);
	assert_string_equal(c->tls_ca_file, want);
	free(want);
	config_free(&c);
	/* Empty: no extra CA file. */
	c = load_ok(f, "[delivery]\ntls_ca_file =\n");
	assert_null(c->tls_ca_file);
	assert_true(c->dane && c->mta_sts);
	config_free(&c);
	load_err(f, "[delivery]\ndane = sometimes\n", 2,
	    "bad value 'sometimes' for dane (want yes or no)");
	load_err(f, "[delivery]\n\nmta_sts = 2\n", 3,
	    "bad value '2' for mta_sts (want yes or no)");
	load_err(f, "[delivery]\nmta-sts = yes\n", 2,
	    "unknown key 'mta-sts' in [delivery]");
}

/* [delivery] mx_address_limit, mx_session_limit: Postfix's defaults. */
static void
test_delivery_mx_limits(void **state)
{
	struct fixture *f = *state;
	struct config *c;

	c = load_ok(f, "[delivery]\nport = 2525\n");
	assert_int_equal(c->mx_address_limit, 5);
	assert_int_equal(c->mx_session_limit, 2);
	config_free(&c);
	c = load_ok(f, "[delivery]\nmx_address_limit = 100\n"
	    "mx_session_limit = 1\n");
	assert_int_equal(c->mx_address_limit, 100);
	assert_int_equal(c->mx_session_limit, 1);
	config_free(&c);
	load_err(f, "[delivery]\nmx_address_limit = 0\n", 2,
	    "bad value '0' for mx_address_limit");
	load_err(f, "[delivery]\nmx_session_limit = 101\n", 2,
	    "bad value '101' for mx_session_limit");
	load_err(f, "[delivery]\nmx_session_limit = two\n", 2,
	    "bad value 'two' for mx_session_limit");
}

static void
test_relative_paths(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char *want, cwd[PATH_MAX];
	struct config *c;

	c = load_ok(f, "[server]\ndata_dir = var/lib\n[tls]\ncert = c.pem\n"
	    "key = /abs/k.pem\nmx.example.org = sni/c.pem, sni/k.pem\n");
	assert_true(asprintf(&want, "%s/var/lib", f->real) > 0);
	assert_string_equal(c->data_dir, want);
	free(want);
	assert_int_equal(c->ncerts, 2);
	assert_true(asprintf(&want, "%s/c.pem", f->real) > 0);
	assert_string_equal(c->certs[0].cert, want);
	free(want);
	assert_string_equal(c->certs[0].key, "/abs/k.pem");
	assert_string_equal(c->certs[1].name, "mx.example.org");
	assert_true(asprintf(&want, "%s/sni/c.pem", f->real) > 0);
	assert_string_equal(c->certs[1].cert, want);
	free(want);
	assert_true(asprintf(&want, "%s/sni/k.pem", f->real) > 0);
	assert_string_equal(c->certs[1].key, want);
	free(want);
	config_free(&c);

	/* A config file named without a directory: relative to the cwd. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	write_conf(f, "rel.conf", "[server]\ndata_dir = data\n");
	assert_int_equal(chdir(f->dir), 0);
	c = config_load("rel.conf", &err);
	if (c == NULL) {
		assert_int_equal(chdir(cwd), 0);
		fail_msg("%s", err);
	}
	assert_true(asprintf(&want, "%s/data", f->real) > 0);
	assert_string_equal(c->data_dir, want);
	free(want);
	config_free(&c);
	c = config_load("./rel.conf", &err);
	assert_int_equal(chdir(cwd), 0);
	assert_non_null(c);
	assert_true(asprintf(&want, "%s/data", f->real) > 0);
	assert_string_equal(c->data_dir, want);
	free(want);
	config_free(&c);
}

static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	const char *err = NULL;
	char *path, *want;
	struct config *c;

	assert_true(asprintf(&path, "%s/nope.conf", f->dir) > 0);
	c = config_load(path, &err);
	assert_null(c);
	assert_true(asprintf(&want, "%s: No such file or directory", path) > 0);
	assert_string_equal(err, want);
	free(want);
	free(path);
}

/* listen_addr_parse on its own. */
static void
la_ok(const char *s, int family, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char got[INET6_ADDRSTRLEN];

	if (listen_addr_parse(s, &ss, &len) != 0)
		fail_msg("refused '%s'", s);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		assert_int_equal(len, sizeof(*sin));
		inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got));
		assert_int_equal(ntohs(sin->sin_port), port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		assert_int_equal(len, sizeof(*sin6));
		inet_ntop(AF_INET6, &sin6->sin6_addr, got, sizeof(got));
		assert_int_equal(ntohs(sin6->sin6_port), port);
		assert_int_equal(sin6->sin6_scope_id, 0);
		assert_int_equal(sin6->sin6_flowinfo, 0);
	}
	assert_string_equal(got, addr);
}

static void
test_listen_addr_parse(void **state)
{
	static const char *const bad[] = {
		"", ":", "25", "1.2.3.4", "1.2.3.4:", "1.2.3.4:0",
		"1.2.3.4:65536", "1.2.3.4:99999999999999999999", "1.2.3.4:-1",
		"1.2.3.4:+25", "1.2.3.4: 25", "1.2.3.4:25 ", " 1.2.3.4:25",
		"1.2.3.4:2a", "1.2.3:25", "256.1.1.1:25", "localhost:25",
		"::1:25", "[::1]", "[::1]25", "[::1]:", "[::1]:0",
		"[::1]:65536", "[::1:25", "::1]:25", "[1.2.3.4]:25",
		"[]:25", "[::g]:25", "[fe80::1%lo]:25", "*:", "**:25",
		"[*]:25", "1.2.3.4:25:26", "[::1]:25]",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char big[300];

	la_ok("1.2.3.4:25", AF_INET, "1.2.3.4", 25);
	la_ok("0.0.0.0:1", AF_INET, "0.0.0.0", 1);
	la_ok("255.255.255.255:65535", AF_INET, "255.255.255.255", 65535);
	la_ok("127.0.0.1:00143", AF_INET, "127.0.0.1", 143);
	la_ok("*:25", AF_INET, "0.0.0.0", 25);
	la_ok(":25", AF_INET, "0.0.0.0", 25);
	la_ok("[::1]:143", AF_INET6, "::1", 143);
	la_ok("[::]:25", AF_INET6, "::", 25);
	la_ok("[2001:DB8::a:1]:993", AF_INET6, "2001:db8::a:1", 993);
	la_ok("[::ffff:192.0.2.1]:25", AF_INET6, "::ffff:192.0.2.1", 25);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = 12345;
		if (listen_addr_parse(bad[i], &ss, &len) != -1)
			fail_msg("accepted '%s'", bad[i]);
	}
	/* A host part longer than any address is refused, not overrun. */
	memset(big, '1', sizeof(big));
	memcpy(big + sizeof(big) - 4, ":25", 4);
	assert_int_equal(listen_addr_parse(big, &ss, &len), -1);
	big[0] = '[';
	memcpy(big + sizeof(big) - 5, "]:25", 5);
	assert_int_equal(listen_addr_parse(big, &ss, &len), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test(test_example_as_shipped),
		cmocka_unit_test_setup_teardown(test_example_all_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_comments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_unknown_section,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_first_in_file_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_empty_paths,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_cert_without_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_error_cert_without_key_names_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_line_numbers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delivery_tls, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delivery_mx_limits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		    teardown),
		cmocka_unit_test(test_listen_addr_parse),
	};

	log_init("test_config", LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

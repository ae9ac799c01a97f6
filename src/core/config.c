/*
 * config - parse the INI file into a struct config.
 *
 * inih does the lexing; we count lines in our own reader so every error can
 * name FILE:LINE (Debian's libinih is built without handler line numbers).
 * Relative paths are taken relative to the directory of the config file.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "config.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

const char *listen_kind_names[LISTEN_KIND_COUNT] = {
	"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s",
};

struct cfg_parse {
	struct config	*cfg;
	FILE		*fp;
	int		 line;
	char		*error;		/* first error, "FILE:LINE: msg" */
	int		 error_line;
	int		 tls_line;	/* where the default cert/key was set */
	char		*dir;		/* directory of the config file */
	bool		 seen_tls_default;
};

/* Like policyd-spf's skip_addresses: mail from this host is ours. */
#define CONFIG_CHECKS_SKIP	"127.0.0.0/8, ::1"

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->hostname = xstrdup("localhost");
	c->data_dir = xstrdup("/var/lib/posthorn");
	c->user = NULL;
	c->io_threads = 0;
	c->sandbox = true;
	c->workers = 4;
	c->log_level = LOG_LVL_INFO;
	c->plaintext_on_loopback = true;
	c->plaintext_without_tls = false;
	c->auth_fail_delay_ms = 2000;
	c->auth_max_delay_ms = 15000;
	c->auth_lockout_failures = 20;
	c->auth_lockout_time = 15ULL * 60;
	c->message_size = 50ULL * 1024 * 1024;
	c->max_recipients = 1000;
	c->smtp_line_max = 4096;
	c->imap_line_max = 64ULL * 1024;
	c->smtp_timeout = 300;
	c->imap_timeout = 1800;
	c->imap_idle_timeout = 1800;
	c->pop3_timeout = 600;
	c->login_timeout = 180;
	c->max_bad_commands = 20;
	c->max_connections_per_ip = 50;
	c->ipv6_prefix_length = 84;	/* as Postfix 3.8 */
	c->connection_rate_per_ip = 120;
	c->message_rate_per_ip = 300;
	c->nrate_exempt = (size_t)netlist_parse(CONFIG_CHECKS_SKIP,
	    &c->rate_exempt);
	c->helo_strict = false;
	c->checks = true;
	c->recipient_delimiter[0] = '+';
	c->srs = true;
	c->nchecks_skip = (size_t)netlist_parse(CONFIG_CHECKS_SKIP,
	    &c->checks_skip);
	c->dnssec = true;
	c->delivery_port = 25;
	c->retry_first = 5ULL * 60;
	c->retry_max = 4ULL * 3600;
	c->queue_lifetime = 5ULL * 86400;
	c->delay_warning = 4ULL * 3600;
	c->max_connections = 50;
	c->max_per_destination = 4;
	c->mx_address_limit = 5;	/* Postfix's smtp_mx_address_limit */
	c->mx_session_limit = 2;	/* and smtp_mx_session_limit */
	c->connect_timeout = 30;
	c->command_timeout = 300;
	c->dane = true;
	c->mta_sts = true;
}

static void
cfg_error(struct cfg_parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cfg_error(struct cfg_parse *p, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	/* Keep the error of the earliest line. */
	if (p->error != NULL && p->error_line <= p->line)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	free(p->error);
	p->error = xasprintf("%s:%d: %s", p->cfg->path, p->line, msg);
	p->error_line = p->line;
	free(msg);
}

static char *
cfg_path(struct cfg_parse *p, const char *v)
{
	if (v[0] == '\0') {
		cfg_error(p, "empty file name");
		return xstrdup("");
	}
	if (v[0] == '/' || p->dir == NULL)
		return xstrdup(v);
	return xasprintf("%s/%s", p->dir, v);
}

int
listen_addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon, *hs, *he;
	uint64_t port;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL || he[1] != ':')
			return -1;
		colon = he + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		hs = s;
		he = colon;
	}
	if (parse_u64(colon + 1, strlen(colon + 1), 65535, &port) < 0 ||
	    port == 0)
		return -1;
	if ((size_t)(he - hs) >= sizeof(host))
		return -1;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (s[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (strcmp(host, "*") == 0 || host[0] == '\0')
			strcpy(host, "0.0.0.0");
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	}
	return 0;
}

static void
cfg_listen(struct cfg_parse *p, enum listen_kind kind, const char *value)
{
	struct config *c = p->cfg;
	char *copy = xstrdup(value), *item, *save = NULL;

	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		struct listen_addr *la;

		while (isspace((unsigned char)*item))
			item++;
		for (size_t n = strlen(item);
		    n > 0 && isspace((unsigned char)item[n - 1]); n--)
			item[n - 1] = '\0';
		if (*item == '\0')
			continue;
		c->listens = xreallocarray(c->listens, c->nlistens + 1,
		    sizeof(*c->listens));
		la = &c->listens[c->nlistens];
		memset(la, 0, sizeof(*la));
		if (listen_addr_parse(item, &la->ss, &la->sslen) < 0) {
			cfg_error(p, "bad listen address '%s' (want "
			    "ADDRESS:PORT or [IPV6]:PORT)", item);
			break;
		}
		la->kind = kind;
		la->text = xstrdup(item);
		c->nlistens++;
	}
	free(copy);
}

static void
cfg_tls(struct cfg_parse *p, const char *name, const char *value)
{
	struct config *c = p->cfg;
	struct tls_cert_conf *tc;

	if (strcasecmp(name, "cert") == 0 || strcasecmp(name, "key") == 0) {
		for (size_t i = 0; i < c->ncerts; i++)
			if (c->certs[i].name == NULL) {
				tc = &c->certs[i];
				goto set;
			}
		c->certs = xreallocarray(c->certs, c->ncerts + 1,
		    sizeof(*c->certs));
		tc = &c->certs[c->ncerts++];
		memset(tc, 0, sizeof(*tc));
set:
		p->tls_line = p->line;
		if (tolower((unsigned char)name[0]) == 'c') {
			free(tc->cert);
			tc->cert = cfg_path(p, value);
		} else {
			free(tc->key);
			tc->key = cfg_path(p, value);
		}
		return;
	}
	/* "host.name = cert.pem, key.pem" */
	{
		const char *comma = strchr(value, ',');
		const char *k;
		char *cert;

		if (!domain_valid(name, strlen(name)) &&
		    !(name[0] == '*' && name[1] == '.' &&
		    domain_valid(name + 2, strlen(name + 2)))) {
			cfg_error(p, "unknown key '%s' in [tls] (want cert, "
			    "key, or HOSTNAME = CERT, KEY)", name);
			return;
		}
		if (comma == NULL) {
			cfg_error(p, "[tls] %s: want CERTFILE, KEYFILE", name);
			return;
		}
		cert = xstrndup(value, (size_t)(comma - value));
		for (size_t n = strlen(cert);
		    n > 0 && isspace((unsigned char)cert[n - 1]); n--)
			cert[n - 1] = '\0';
		for (k = comma + 1; isspace((unsigned char)*k); k++)
			;
		c->certs = xreallocarray(c->certs, c->ncerts + 1,
		    sizeof(*c->certs));
		tc = &c->certs[c->ncerts++];
		tc->name = xstrdup(name);
		ascii_lower(tc->name);
		tc->cert = cfg_path(p, cert);
		tc->key = cfg_path(p, k);
		free(cert);
	}
}

static int
want_u64(struct cfg_parse *p, const char *key, const char *v,
    int (*fn)(const char *, uint64_t *), uint64_t min, uint64_t max,
    uint64_t *out)
{
	uint64_t x;

	if (fn(v, &x) < 0 || x < min || x > max) {
		cfg_error(p, "bad value '%s' for %s", v, key);
		return -1;
	}
	*out = x;
	return 0;
}

static int
parse_plain_u64(const char *s, uint64_t *out)
{
	return parse_u64(s, strlen(s), UINT64_MAX, out);
}

static int
want_bool(struct cfg_parse *p, const char *key, const char *v, bool *out)
{
	if (parse_bool(v, out) < 0) {
		cfg_error(p, "bad value '%s' for %s (want yes or no)", v, key);
		return -1;
	}
	return 0;
}

/* Milliseconds: "0", "500ms", or seconds with a unit ("2s", "1m"). */
static void
parse_ms(struct cfg_parse *p, const char *name, const char *value,
    uint64_t max_secs, uint64_t *out)
{
	size_t n = strlen(value);
	uint64_t u;

	if (n > 2 && strcasecmp(value + n - 2, "ms") == 0) {
		if (parse_u64(value, n - 2, max_secs * 1000, &u) < 0)
			cfg_error(p, "bad value '%s' for %s", value, name);
		else
			*out = u;
	} else if (want_u64(p, name, value, parse_duration, 0, max_secs,
	    &u) == 0)
		*out = u * 1000;
}

static int
cfg_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cfg_parse *p = user;
	struct config *c = p->cfg;
	uint64_t u;

#define IS(s, k) (strcasecmp(section, s) == 0 && strcasecmp(name, k) == 0)
	if (IS("server", "hostname")) {
		if (!domain_valid(value, strlen(value))) {
			cfg_error(p, "bad host name '%s'", value);
			return 1;
		}
		free(c->hostname);
		c->hostname = xstrdup(value);
		ascii_lower(c->hostname);
	} else if (IS("server", "data_dir")) {
		free(c->data_dir);
		c->data_dir = cfg_path(p, value);
	} else if (IS("server", "user")) {
		free(c->user);
		c->user = xstrdup(value);
	} else if (IS("server", "io_threads")) {
		if (want_u64(p, name, value, parse_plain_u64, 0, 256, &u) == 0)
			c->io_threads = (unsigned)u;
	} else if (IS("server", "sandbox")) {
		want_bool(p, name, value, &c->sandbox);
	} else if (IS("server", "workers")) {
		if (want_u64(p, name, value, parse_plain_u64, 1, 256, &u) == 0)
			c->workers = (unsigned)u;
	} else if (IS("server", "log_level")) {
		enum log_level l;

		if (log_level_parse(value, &l) < 0)
			cfg_error(p, "bad log_level '%s' (error, warn, info, "
			    "debug)", value);
		else
			c->log_level = (int)l;
	} else if (IS("server", "greeting")) {
		free(c->greeting);
		c->greeting = xstrdup(value);
	} else if (strcasecmp(section, "tls") == 0) {
		cfg_tls(p, name, value);
	} else if (IS("auth", "plaintext_on_loopback")) {
		want_bool(p, name, value, &c->plaintext_on_loopback);
	} else if (IS("auth", "plaintext_without_tls")) {
		want_bool(p, name, value, &c->plaintext_without_tls);
	} else if (IS("auth", "failure_delay")) {
		parse_ms(p, name, value, 60, &c->auth_fail_delay_ms);
	} else if (IS("auth", "max_failure_delay")) {
		parse_ms(p, name, value, 600, &c->auth_max_delay_ms);
	} else if (IS("auth", "lockout_failures")) {
		want_u64(p, name, value, parse_plain_u64, 0, 1000000,
		    &c->auth_lockout_failures);
	} else if (IS("auth", "lockout_time")) {
		want_u64(p, name, value, parse_duration, 1, 7ULL * 86400,
		    &c->auth_lockout_time);
	} else if (strcasecmp(section, "listen") == 0) {
		int k;

		for (k = 0; k < LISTEN_KIND_COUNT; k++)
			if (strcasecmp(name, listen_kind_names[k]) == 0)
				break;
		if (k == LISTEN_KIND_COUNT)
			cfg_error(p, "unknown listener '%s' (smtp, submission, "
			    "submissions, imap, imaps, pop3, pop3s)", name);
		else
			cfg_listen(p, (enum listen_kind)k, value);
	} else if (IS("limits", "message_size")) {
		want_u64(p, name, value, parse_size, 1024,
		    2ULL * 1024 * 1024 * 1024, &c->message_size);
	} else if (IS("limits", "max_recipients")) {
		want_u64(p, name, value, parse_plain_u64, 1, 100000,
		    &c->max_recipients);
	} else if (IS("limits", "smtp_line_max")) {
		want_u64(p, name, value, parse_size, 512, 1024ULL * 1024,
		    &c->smtp_line_max);
	} else if (IS("limits", "imap_line_max")) {
		want_u64(p, name, value, parse_size, 1024, 16ULL * 1024 * 1024,
		    &c->imap_line_max);
	} else if (IS("limits", "smtp_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 86400,
		    &c->smtp_timeout);
	} else if (IS("limits", "imap_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 86400,
		    &c->imap_timeout);
	} else if (IS("limits", "imap_idle_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 86400,
		    &c->imap_idle_timeout);
	} else if (IS("limits", "pop3_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 86400,
		    &c->pop3_timeout);
	} else if (IS("limits", "login_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 86400,
		    &c->login_timeout);
	} else if (IS("limits", "max_bad_commands")) {
		want_u64(p, name, value, parse_plain_u64, 1, 10000,
		    &c->max_bad_commands);
	} else if (IS("limits", "max_connections_per_ip")) {
		want_u64(p, name, value, parse_plain_u64, 1, 1000000,
		    &c->max_connections_per_ip);
	} else if (IS("limits", "ipv6_prefix_length")) {
		if (want_u64(p, name, value, parse_plain_u64, 32, 128,
		    &u) == 0)
			c->ipv6_prefix_length = (unsigned)u;
	} else if (IS("limits", "connection_rate_per_ip")) {
		want_u64(p, name, value, parse_plain_u64, 0, 1000000,
		    &c->connection_rate_per_ip);
	} else if (IS("limits", "message_rate_per_ip")) {
		want_u64(p, name, value, parse_plain_u64, 0, 1000000,
		    &c->message_rate_per_ip);
	} else if (IS("limits", "rate_exempt")) {
		struct netmask *list;
		int n = netlist_parse(value, &list);

		if (n < 0)
			cfg_error(p, "bad network list '%s' for %s", value,
			    name);
		else {
			free(c->rate_exempt);
			c->rate_exempt = list;
			c->nrate_exempt = (size_t)n;
		}
	} else if (IS("smtp", "helo_strict")) {
		want_bool(p, name, value, &c->helo_strict);
	} else if (IS("smtp", "checks")) {
		want_bool(p, name, value, &c->checks);
	} else if (IS("smtp", "checks_skip")) {
		struct netmask *list;
		int n = netlist_parse(value, &list);

		if (n < 0)
			cfg_error(p, "bad network list '%s' for %s", value,
			    name);
		else {
			free(c->checks_skip);
			c->checks_skip = list;
			c->nchecks_skip = (size_t)n;
		}
	} else if (IS("smtp", "spf_fail")) {
		if (strcasecmp(value, "reject") == 0)
			c->spf_fail = CONFIG_SPF_REJECT;
		else if (strcasecmp(value, "mark") == 0)
			c->spf_fail = CONFIG_SPF_MARK;
		else
			cfg_error(p, "bad value '%s' for %s (want reject or "
			    "mark)", value, name);
	} else if (IS("smtp", "recipient_delimiter")) {
		if (strlen(value) >= sizeof(c->recipient_delimiter) ||
		    strpbrk(value, "@\" \t") != NULL)
			cfg_error(p, "bad value '%s' for %s (up to 7 "
			    "characters, not '@')", value, name);
		else
			snprintf(c->recipient_delimiter,
			    sizeof(c->recipient_delimiter), "%s", value);
	} else if (IS("smtp", "srs")) {
		want_bool(p, name, value, &c->srs);
	} else if (IS("smtp", "srs_domain")) {
		if (!domain_valid(value, strlen(value)))
			cfg_error(p, "bad value '%s' for %s (want a domain)",
			    value, name);
		else {
			free(c->srs_domain);
			c->srs_domain = xstrdup(value);
		}
	} else if (IS("smtp", "sender_check")) {
		if (strcasecmp(value, "from") == 0)
			c->sender_check = CONFIG_SENDER_FROM;
		else if (strcasecmp(value, "envelope") == 0)
			c->sender_check = CONFIG_SENDER_ENVELOPE;
		else if (strcasecmp(value, "off") == 0)
			c->sender_check = CONFIG_SENDER_OFF;
		else
			cfg_error(p, "bad value '%s' for %s (want from, "
			    "envelope or off)", value, name);
	} else if (IS("smtp", "dmarc_policy")) {
		if (strcasecmp(value, "apply") == 0)
			c->dmarc_policy = CONFIG_DMARC_APPLY;
		else if (strcasecmp(value, "quarantine") == 0)
			c->dmarc_policy = CONFIG_DMARC_QUARANTINE;
		else if (strcasecmp(value, "none") == 0)
			c->dmarc_policy = CONFIG_DMARC_NONE;
		else
			cfg_error(p, "bad value '%s' for %s (want apply, "
			    "quarantine or none)", value, name);
	} else if (IS("dns", "resolver")) {
		free(c->dns_resolver);
		c->dns_resolver = xstrdup(value);
	} else if (IS("dns", "dnssec")) {
		want_bool(p, name, value, &c->dnssec);
	} else if (IS("dns", "trust_anchor")) {
		free(c->dns_trust_anchor);
		c->dns_trust_anchor = cfg_path(p, value);
	} else if (IS("delivery", "port")) {
		if (want_u64(p, name, value, parse_plain_u64, 1, 65535,
		    &u) == 0)
			c->delivery_port = (unsigned)u;
	} else if (IS("delivery", "retry_first")) {
		want_u64(p, name, value, parse_duration, 1, 86400,
		    &c->retry_first);
	} else if (IS("delivery", "retry_max")) {
		want_u64(p, name, value, parse_duration, 1, 7ULL * 86400,
		    &c->retry_max);
	} else if (IS("delivery", "queue_lifetime")) {
		want_u64(p, name, value, parse_duration, 60, 60ULL * 86400,
		    &c->queue_lifetime);
	} else if (IS("delivery", "delay_warning")) {
		want_u64(p, name, value, parse_duration, 0, 60ULL * 86400,
		    &c->delay_warning);
	} else if (IS("delivery", "max_connections")) {
		if (want_u64(p, name, value, parse_plain_u64, 1, 10000,
		    &u) == 0)
			c->max_connections = (unsigned)u;
	} else if (IS("delivery", "max_per_destination")) {
		if (want_u64(p, name, value, parse_plain_u64, 1, 1000,
		    &u) == 0)
			c->max_per_destination = (unsigned)u;
	} else if (IS("delivery", "mx_address_limit")) {
		if (want_u64(p, name, value, parse_plain_u64, 1, 100,
		    &u) == 0)
			c->mx_address_limit = (unsigned)u;
	} else if (IS("delivery", "mx_session_limit")) {
		if (want_u64(p, name, value, parse_plain_u64, 1, 100,
		    &u) == 0)
			c->mx_session_limit = (unsigned)u;
	} else if (IS("delivery", "connect_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 600,
		    &c->connect_timeout);
	} else if (IS("delivery", "command_timeout")) {
		want_u64(p, name, value, parse_duration, 1, 3600,
		    &c->command_timeout);
	} else if (IS("delivery", "dane")) {
		want_bool(p, name, value, &c->dane);
	} else if (IS("delivery", "mta_sts")) {
		want_bool(p, name, value, &c->mta_sts);
	} else if (IS("delivery", "tls_ca_file")) {
		free(c->tls_ca_file);
		c->tls_ca_file = value[0] ? cfg_path(p, value) : NULL;
	} else if (strcasecmp(section, "server") == 0 ||
	    strcasecmp(section, "auth") == 0 ||
	    strcasecmp(section, "limits") == 0 ||
	    strcasecmp(section, "smtp") == 0 ||
	    strcasecmp(section, "dns") == 0 ||
	    strcasecmp(section, "delivery") == 0) {
		cfg_error(p, "unknown key '%s' in [%s]", name, section);
	} else if (section[0] == '\0')
		cfg_error(p, "key '%s' outside any [section]", name);
	/* Keys of unknown sections: the header line was reported already. */
#undef IS
	return 1;
}

static const char *const sections[] = {
	"server", "tls", "auth", "listen", "limits", "smtp", "dns",
	"delivery",
};

/*
 * inih calls the handler for key lines only, so section headers are
 * checked here, on their own line.
 */
static void
cfg_check_section(struct cfg_parse *p, const char *line)
{
	const char *s = line, *e;
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '[' || (e = strchr(s, ']')) == NULL)
		return;
	s++;
	n = (size_t)(e - s);
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strlen(sections[i]) == n && strncasecmp(sections[i], s,
		    n) == 0)
			return;
	cfg_error(p, "unknown section [%.*s]", (int)(n > 64 ? 64 : n), s);
}

/* inih reader: one line per call, so we know which line is being parsed. */
static char *
cfg_reader(char *str, int num, void *stream)
{
	struct cfg_parse *p = stream;
	char *r = fgets(str, num, p->fp);

	if (r != NULL) {
		size_t n = strlen(r);

		p->line++;
		cfg_check_section(p, r);
		if (n > 0 && r[n - 1] != '\n' && !feof(p->fp)) {
			int ch;

			cfg_error(p, "line too long");
			/* Skip the rest of the over-long line. */
			while ((ch = fgetc(p->fp)) != EOF && ch != '\n')
				;
		}
	}
	return r;
}

struct config *
config_load(const char *path, const char **error_r)
{
	static char errbuf[1024];
	struct config *c = xmalloc(sizeof(*c));
	struct cfg_parse p;
	char *slash;
	int r;

	config_defaults(c);
	c->path = xstrdup(path);
	memset(&p, 0, sizeof(p));
	p.cfg = c;
	slash = strrchr(path, '/');
	if (slash != NULL) {
		char *dir = xstrndup(path, (size_t)(slash - path));
		char real[PATH_MAX];

		p.dir = realpath(dir[0] ? dir : "/", real) ?
		    xstrdup(real) : xstrdup(dir);
		free(dir);
	} else {
		char real[PATH_MAX];

		p.dir = realpath(".", real) ? xstrdup(real) : NULL;
	}
	if ((p.fp = fopen(path, "r")) == NULL) {
		snprintf(errbuf, sizeof(errbuf), "%s: %s", path,
		    strerror(errno));
		*error_r = errbuf;
		free(p.dir);
		config_free(&c);
		return NULL;
	}
	r = ini_parse_stream(cfg_reader, &p, cfg_handler, &p);
	fclose(p.fp);
	if (r > 0) {
		/* inih's own first error, if it comes before ours. */
		p.line = r;
		cfg_error(&p, "syntax error (want [section] or key = value)");
	}
	/* Whole-file checks. */
	if (p.error == NULL) {
		for (size_t i = 0; i < c->ncerts; i++) {
			if (c->certs[i].cert == NULL || c->certs[i].key == NULL) {
				p.line = p.tls_line;
				cfg_error(&p, "[tls] has a cert without a key "
				    "or a key without a cert");
			}
		}
	}
	free(p.dir);
	if (p.error != NULL) {
		snprintf(errbuf, sizeof(errbuf), "%s", p.error);
		free(p.error);
		*error_r = errbuf;
		config_free(&c);
		return NULL;
	}
	return c;
}

void
config_free(struct config **cp)
{
	struct config *c = *cp;

	if (c == NULL)
		return;
	free(c->path);
	free(c->hostname);
	free(c->data_dir);
	free(c->user);
	free(c->greeting);
	free(c->checks_skip);
	free(c->rate_exempt);
	free(c->srs_domain);
	free(c->dns_resolver);
	free(c->dns_trust_anchor);
	free(c->tls_ca_file);
	for (size_t i = 0; i < c->ncerts; i++) {
		free(c->certs[i].name);
		free(c->certs[i].cert);
		free(c->certs[i].key);
	}
	free(c->certs);
	for (size_t i = 0; i < c->nlistens; i++)
		free(c->listens[i].text);
	free(c->listens);
	free(c);
	*cp = NULL;
}

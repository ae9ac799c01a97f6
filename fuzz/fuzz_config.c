/*
 * fuzz_config - the INI configuration loader (core/config.h).
 *
 * Input: a configuration file.  It is written to a private temporary file
 * (one per process, removed at exit) and loaded with config_load(), then
 * freed; every line is also tried with listen_addr_parse().  Checked:
 *  - config_load() returns a config, or NULL with a "FILE:LINE: ..."-style
 *    message that names the file;
 *  - a loaded config is consistent: every certificate has cert and key,
 *    every listener a kind below LISTEN_KIND_COUNT, its text and an
 *    address length that fits its family;
 *  - listen_addr_parse() results have a matching family and length.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "fuzz_common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	conf_path[64];

static void
remove_conf(void)
{
	if (conf_path[0] != '\0')
		unlink(conf_path);
}

static void
check_addr(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET)
		FUZZ_CHECK(len == sizeof(struct sockaddr_in), "IPv4 length %u",
		    (unsigned)len);
	else if (ss->ss_family == AF_INET6)
		FUZZ_CHECK(len == sizeof(struct sockaddr_in6), "IPv6 length %u",
		    (unsigned)len);
	else
		FUZZ_CHECK(false, "family %d", (int)ss->ss_family);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	const char *err = NULL;
	FILE *fp;
	const char *p = (const char *)data, *end = p + size;

	if (conf_path[0] == '\0') {
		const char *tmp = getenv("TMPDIR");
		int fd;

		snprintf(conf_path, sizeof(conf_path), "%s/fuzz_config.XXXXXX",
		    tmp != NULL && strlen(tmp) < 40 ? tmp : "/tmp");
		if ((fd = mkstemp(conf_path)) < 0) {
			perror("mkstemp");
			abort();
		}
		close(fd);
		atexit(remove_conf);
	}
	if ((fp = fopen(conf_path, "w")) == NULL ||
	    fwrite(data, 1, size, fp) != size || fclose(fp) != 0) {
		perror(conf_path);
		abort();
	}

	c = config_load(conf_path, &err);
	if (c == NULL) {
		FUZZ_CHECK(err != NULL && strncmp(err, conf_path,
		    strlen(conf_path)) == 0, "error '%s' does not name the file",
		    err != NULL ? err : "(null)");
	} else {
		for (size_t i = 0; i < c->ncerts; i++)
			FUZZ_CHECK(c->certs[i].cert != NULL &&
			    c->certs[i].key != NULL, "certificate %zu", i);
		for (size_t i = 0; i < c->nlistens; i++) {
			FUZZ_CHECK((unsigned)c->listens[i].kind <
			    LISTEN_KIND_COUNT && c->listens[i].text != NULL,
			    "listener %zu", i);
			check_addr(&c->listens[i].ss, c->listens[i].sslen);
		}
		config_free(&c);
		FUZZ_CHECK(c == NULL, "config_free");
	}

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((lf != NULL ? lf : end) - p);
		char *line = malloc(n + 1);
		struct sockaddr_storage ss;
		socklen_t sl;

		memcpy(line, p, n);
		line[n] = '\0';
		if (listen_addr_parse(line, &ss, &sl) == 0)
			check_addr(&ss, sl);
		free(line);
		p += n + (lf != NULL);
	}
	return 0;
}

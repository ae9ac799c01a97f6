/*
 * server - `posthorn serve`: bind every listener, load certificates, drop
 * privileges, start the I/O threads and the worker pool, then wait for
 * SIGTERM/SIGINT and stop gracefully (every acknowledged message is already
 * durable; sessions get a goodbye; in-flight commits finish).
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth/auth.h"
#include "auth/auth_sasl.h"
#include "auth/authfail.h"
#include "auth/password.h"
#include "core/conn.h"
#include "core/hub.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/sandbox.h"
#include "core/util.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "dmarc/psl.h"
#include "dns/dns.h"
#include "queue/queue.h"
#include "server.h"
#include "store/fts_index.h"
#include "store/store.h"
#include "tls/tls.h"

struct server *srv;

struct listener {
	int		 fd;
	enum listen_kind kind;
	const char	*text;
	struct event	**evs;		/* one per I/O thread */
};

static struct listener *listeners;
static size_t nlisteners;

/*
 * Per I/O thread: when accept() runs out of descriptors or memory the
 * pending connection stays in the queue and the listener stays readable;
 * its events are taken off for ACCEPT_PAUSE_MS instead of spinning (as
 * nginx does), and that is logged at most once a minute.
 */
#define ACCEPT_PAUSE_MS		500L
#define ACCEPT_LOG_EVERY_MS	60000
struct accept_pause {
	unsigned	 idx;
	struct event	*timer;
	uint64_t	 last_log_ms;
	unsigned	 unlogged;	/* pauses since the last log line */
};
static struct accept_pause *pauses;	/* one per I/O thread */

bool
server_plaintext_ok(const struct conn *c)
{
	if (c->tls)
		return true;
	if (srv->cfg->plaintext_without_tls)
		return true;
	return c->loopback && srv->cfg->plaintext_on_loopback;
}

static int
bind_one(const struct listen_addr *la)
{
	int fd, one = 1;

	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("socket for %s", la->text);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&la->ss, la->sslen) < 0) {
		log_warn("cannot listen on %s (%s)", la->text,
		    listen_kind_names[la->kind]);
		close(fd);
		return -1;
	}
	if (listen(fd, 1024) < 0) {
		log_warn("listen %s", la->text);
		close(fd);
		return -1;
	}
	return fd;
}

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct accept_pause *p = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].evs[p->idx] != NULL)
			event_add(listeners[i].evs[p->idx], NULL);
}

static void
accept_pause(const struct listener *l, int err)
{
	struct iothread *t = iothread_self();
	struct accept_pause *p = NULL;
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	uint64_t now = mono_ms();

	for (unsigned i = 0; i < iothread_count(); i++)
		if (iothread_get(i) == t)
			p = &pauses[i];
	if (p == NULL || p->timer == NULL)
		return;
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].evs[p->idx] != NULL)
			event_del(listeners[i].evs[p->idx]);
	evtimer_add(p->timer, &tv);
	p->unlogged++;
	if (p->last_log_ms == 0 || now - p->last_log_ms >= ACCEPT_LOG_EVERY_MS) {
		log_warnx("accept on %s: %s; new connections wait (%u time(s) "
		    "since the last report)", l->text, strerror(err),
		    p->unlogged);
		p->last_log_ms = now;
		p->unlogged = 0;
	}
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;

	/* A bounded batch per wake-up keeps one listener from starving. */
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd;

		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_pause(l, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s", l->text);
			return;
		}
		switch (l->kind) {
		case LISTEN_SMTP:
		case LISTEN_SUBMISSION:
		case LISTEN_SUBMISSIONS:
			smtp_accept(fd, (struct sockaddr *)&ss, sslen, l->kind);
			break;
		case LISTEN_IMAP:
		case LISTEN_IMAPS:
			imap_accept(fd, (struct sockaddr *)&ss, sslen, l->kind);
			break;
		case LISTEN_POP3:
		case LISTEN_POP3S:
			pop3_accept(fd, (struct sockaddr *)&ss, sslen, l->kind);
			break;
		default:
			close(fd);
		}
	}
}

static void
listeners_attach(void *arg)
{
	struct iothread *t = iothread_self();
	unsigned idx = (unsigned)(uintptr_t)arg;

	for (size_t i = 0; i < nlisteners; i++) {
		struct event *ev = event_new(iothread_base(t), listeners[i].fd,
		    EV_READ | EV_PERSIST, accept_cb, &listeners[i]);

		event_add(ev, NULL);
		listeners[i].evs[idx] = ev;
	}
	pauses[idx].idx = idx;
	pauses[idx].timer = evtimer_new(iothread_base(t), accept_resume,
	    &pauses[idx]);
}

static void
listeners_detach(void *arg)
{
	unsigned idx = (unsigned)(uintptr_t)arg;

	if (pauses[idx].timer != NULL) {
		event_free(pauses[idx].timer);
		pauses[idx].timer = NULL;
	}
	for (size_t i = 0; i < nlisteners; i++)
		if (listeners[i].evs[idx] != NULL) {
			event_free(listeners[i].evs[idx]);
			listeners[i].evs[idx] = NULL;
		}
}

static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (st->st_uid != chown_uid || st->st_gid != chown_gid)
		if (lchown(path, chown_uid, chown_gid) < 0)
			log_warn("chown %s", path);
	return 0;
}

int
server_prepare_and_drop(struct config *cfg, bool for_cli)
{
	const char *user = cfg->user ? cfg->user : "posthorn";
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (cfg->user != NULL) {
			log_error("user '%s' (server.user) does not exist", user);
			return -1;
		}
		/* No dedicated user was made: fall back to nobody. */
		if ((pw = getpwnam("nobody")) == NULL) {
			log_error("neither user 'posthorn' nor 'nobody' exists; "
			    "create one or set [server] user");
			return -1;
		}
		if (!for_cli)
			log_warnx("user 'posthorn' does not exist; running "
			    "as 'nobody' (create a system user 'posthorn')");
	}
	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		log_warn("mkdir %s", cfg->data_dir);
		return -1;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (nftw(cfg->data_dir, chown_cb, 32, FTW_PHYS) < 0) {
		log_warn("chown %s", cfg->data_dir);
		return -1;
	}
	if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid,
	    pw->pw_gid) < 0 || setresuid(pw->pw_uid, pw->pw_uid,
	    pw->pw_uid) < 0) {
		log_warn("cannot drop privileges to %s", user);
		return -1;
	}
	if (setuid(0) == 0) {
		log_error("privilege drop failed: could become root again");
		return -1;
	}
	if (access(cfg->data_dir, R_OK | W_OK | X_OK) < 0) {
		log_error("data_dir %s is not accessible to user %s (is a "
		    "parent directory private?); move data_dir or set [server] "
		    "user", cfg->data_dir, pw->pw_name);
		return -1;
	}
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	/* We still want core dumps after setuid, for bug reports. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (!for_cli)
		log_info("running as user %s (uid %u)", pw->pw_name,
		    (unsigned)pw->pw_uid);
	return 0;
}

/*
 * Account changes made elsewhere (the CLI, another node) show up as a new
 * directory generation; then every logged-in session checks that its
 * account may still be there, and the ones that may not are ended.
 */
#define DIRECTORY_POLL_MS	1000
#define PURGE_EVERY_SECS	60

static uint64_t directory_gen;
static struct event *directory_timer;
static struct event *purge_timer;
static bool purge_running;	/* iothread 0 only */

static void
recheck_conn(struct conn *c, void *ctx)
{
	struct account a;
	unsigned proto;
	const char *why = NULL;
	int r;

	if (c->account == 0 || c->closing)
		return;
	memset(&a, 0, sizeof(a));
	r = store_account_get_id(srv->store, c->account, &a);
	proto = auth_conn_protocol(c);
	if (r == 0)
		why = "Account was deleted";
	else if (r == 1 && !a.enabled)
		why = "Account is disabled";
	else if (r == 1 && proto != 0 && !(a.protocols & proto))
		why = "Access to this service was disabled for the account";
	account_clear(&a);
	if (why != NULL)
		conn_evict(c, why);
}

static void
recheck_thread(void *arg)
{
	conn_foreach(recheck_conn, NULL);
}

static void
directory_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t gen;

	if (store_directory_generation(srv->store, &gen) < 0 ||
	    gen == directory_gen)
		return;
	directory_gen = gen;
	for (unsigned i = 0; i < iothread_count(); i++)
		iothread_post(iothread_get(i), recheck_thread, NULL);
}

/* Expunged messages past their grace go on a worker, once a minute. */
static void
purge_work(void *arg)
{
	const char *err = NULL;

	if (store_purge_due(srv->store, time(NULL), &err) < 0)
		log_warnx("purging expunged messages: %s", err ? err :
		    "store error");
}

static void
purge_done(void *arg)
{
	purge_running = false;
}

static void
purge_cb(evutil_socket_t fd, short what, void *arg)
{
	if (purge_running)
		return;
	purge_running = true;
	worker_submit(purge_work, purge_done, NULL);
}

static void
directory_watch_start(void *arg)
{
	struct timeval tv = { DIRECTORY_POLL_MS / 1000,
	    (suseconds_t)(DIRECTORY_POLL_MS % 1000) * 1000 };
	struct timeval ptv = { PURGE_EVERY_SECS, 0 };

	(void)store_directory_generation(srv->store, &directory_gen);

	directory_timer = event_new(iothread_base(iothread_self()), -1,
	    EV_PERSIST, directory_poll_cb, NULL);
	event_add(directory_timer, &tv);
	purge_timer = event_new(iothread_base(iothread_self()), -1,
	    EV_PERSIST, purge_cb, NULL);
	event_add(purge_timer, &ptv);
}

static void
delivery_start(void *arg)
{
	const char *err;

	if (dns_init(srv->cfg->dns_resolver, srv->cfg->dns_trust_anchor,
	    srv->cfg->dnssec, &err) < 0) {
		log_error("dns: %s; outbound mail waits in the queue", err);
		return;
	}
	queue_start();
}

static void
delivery_stop(void *arg)
{
	queue_stop();
	dns_shutdown();
}

static void
directory_watch_stop(void *arg)
{
	if (directory_timer != NULL)
		event_free(directory_timer);
	directory_timer = NULL;
	if (purge_timer != NULL)
		event_free(purge_timer);
	purge_timer = NULL;
}

static void
store_changed(void *ctx, int64_t account, int64_t mailbox)
{
	hub_publish(account, mailbox);
}

static void
thread_exit_hook(void)
{
	if (srv != NULL && srv->store != NULL)
		store_thread_done(srv->store);
	password_idle();
}

static void
job_end_hook(void)
{
	if (srv != NULL && srv->store != NULL)
		store_thread_release(srv->store);
}

/*
 * Raises the descriptor limit to the hard one and returns the descriptor
 * number from which connections are refused as "server busy": a sixteenth
 * of the limit (at least 64) is kept for the store's databases, spools,
 * outbound connections and DNS, so a flood of connections cannot starve
 * the mail already under way.
 */
static int
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		rl.rlim_cur = INT_MAX;
	reserve = rl.rlim_cur / 16 < 64 ? 64 : rl.rlim_cur / 16;
	return rl.rlim_cur > 2 * reserve ? (int)(rl.rlim_cur - reserve) :
	    (int)(rl.rlim_cur / 2);
}

const char *
server_srs_domain(void)
{
	return srv->cfg->srs_domain != NULL ? srv->cfg->srs_domain :
	    srv->cfg->hostname;
}

int
server_run(struct config *cfg)
{
	static struct server server;
	const char *err;
	sigset_t set;
	unsigned nthr;
	int sig, fd_high;

	server.cfg = cfg;
	srv = &server;
	signal(SIGPIPE, SIG_IGN);
	fd_high = raise_nofile();
	if (cfg->nlistens == 0)
		log_warnx("no listeners configured ([listen]); nothing to "
		    "serve");
	/* Bind as root (privileged ports), before anything else. */
	listeners = xcalloc(cfg->nlistens ? cfg->nlistens : 1,
	    sizeof(*listeners));
	for (size_t i = 0; i < cfg->nlistens; i++) {
		int fd = bind_one(&cfg->listens[i]);

		if (fd < 0)
			return 1;
		listeners[nlisteners].fd = fd;
		listeners[nlisteners].kind = cfg->listens[i].kind;
		listeners[nlisteners].text = cfg->listens[i].text;
		nlisteners++;
	}
	if (mkdir(cfg->data_dir, 0750) < 0 && errno != EEXIST) {
		log_warn("mkdir %s", cfg->data_dir);
		return 1;
	}
	/* Keys are read while we may still be root. */
	if (tls_init(cfg, &err) < 0) {
		log_error("tls: %s", err);
		return 1;
	}
	if (server_prepare_and_drop(cfg, false) < 0)
		return 1;
	if (store_open(cfg->data_dir, &server.store, &err) < 0) {
		log_error("store: %s", err);
		return 1;
	}
	store_set_change_hook(server.store, store_changed, NULL);
	store_set_recipient_delimiter(server.store, cfg->recipient_delimiter);
	{
		unsigned char secret[32];

		if (store_secret(server.store, "scram", secret, &err) < 0) {
			log_error("store: %s", err);
			return 1;
		}
		auth_sasl_set_secret(secret);
		explicit_bzero(secret, sizeof(secret));
		if (store_secret(server.store, "srs", server.srs_secret,
		    &err) < 0) {
			log_error("store: %s", err);
			return 1;
		}
	}
	{
		struct conn_limits cl = { cfg->max_connections_per_ip,
		    (unsigned)cfg->connection_rate_per_ip,
		    (unsigned)cfg->message_rate_per_ip, cfg->rate_exempt,
		    cfg->nrate_exempt, fd_high, cfg->ipv6_prefix_length };

		conn_set_limits(&cl);
	}
	{
		bool fallback = false;

		if ((server.psl = psl_load(NULL, &fallback, &err)) == NULL) {
			log_error("public suffix list: %s", err);
			return 1;
		}
		if (fallback)
			log_warnx("%s not found (Debian package publicsuffix); "
			    "DMARC uses a small built-in list", PSL_DEFAULT_PATH);
	}
	{
		struct authfail_limits al = { cfg->auth_fail_delay_ms,
		    cfg->auth_max_delay_ms, cfg->auth_lockout_failures,
		    cfg->auth_lockout_time };

		authfail_configure(&al);
	}

	/*
	 * From here on every thread inherits the sandbox.  A sanitizer build
	 * goes without: its leak check at exit stops the world with ptrace
	 * and its reports are written outside data_dir.
	 */
#if defined(__SANITIZE_ADDRESS__)
	if (cfg->sandbox)
		log_info("sandbox: off in a sanitizer build");
#else
	if (cfg->sandbox) {
		struct sandbox_report sr;

		if (sandbox_enter(cfg->data_dir, &sr, &err) < 0) {
			log_error("sandbox: %s", err);
			return 1;
		}
		if (sr.landlock_abi == 0)
			log_warnx("sandbox: the kernel has no landlock; writes "
			    "are not confined to %s", cfg->data_dir);
		log_info("sandbox: seccomp filter on, landlock %s",
		    sr.landlock_abi > 0 ? "on" : "off");
	}
#endif

	/* Every thread inherits this mask; only this thread takes signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	loop_global_init();
	nthr = cfg->io_threads ? cfg->io_threads :
	    (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (nthr < 1)
		nthr = 1;
	iothreads_create(nthr);
	iothreads_set_shutdown_hook(conn_shutdown_thread);
	iothreads_set_exit_hook(thread_exit_hook);
	workers_set_exit_hook(thread_exit_hook);
	workers_set_job_hook(job_end_hook);
	workers_set_idle_hook(password_idle);
	workers_start(cfg->workers);
	for (size_t i = 0; i < nlisteners; i++)
		listeners[i].evs = xcalloc(nthr, sizeof(struct event *));
	pauses = xcalloc(nthr, sizeof(*pauses));
	for (unsigned i = 0; i < nthr; i++)
		iothread_post(iothread_get(i), listeners_attach,
		    (void *)(uintptr_t)i);
	iothread_post(iothread_get(0), directory_watch_start, NULL);
	iothread_post(iothread_get(0), delivery_start, NULL);
	iothreads_run();
	/* Warm the dummy hash so the first failed login is not faster. */
	(void)password_verify("", NULL);
	password_idle();
	for (size_t i = 0; i < nlisteners; i++)
		log_info("listening on %s (%s)", listeners[i].text,
		    listen_kind_names[listeners[i].kind]);
	log_info("posthorn %s ready: hostname=%s data_dir=%s io_threads=%u "
	    "workers=%u", POSTHORN_VERSION, cfg->hostname, cfg->data_dir, nthr,
	    cfg->workers);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: configuration reload is not "
			    "supported yet; restart to apply changes");
			continue;
		}
		break;
	}
	log_info("received %s, stopping", sig == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	server.stopping = true;
	iothread_post(iothread_get(0), directory_watch_stop, NULL);
	iothread_post(iothread_get(0), delivery_stop, NULL);
	for (unsigned i = 0; i < nthr; i++)
		iothread_post(iothread_get(i), listeners_detach,
		    (void *)(uintptr_t)i);
	iothreads_stop();
	fts_index_stop();
	workers_stop();
	for (size_t i = 0; i < nlisteners; i++) {
		close(listeners[i].fd);
		free(listeners[i].evs);
	}
	free(listeners);
	smtp_dkim_shutdown();
	psl_free(&server.psl);
	store_close(&server.store);
	tls_deinit();
	log_info("stopped");
	return 0;
}

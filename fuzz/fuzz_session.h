/*
 * fuzz_session - the running server that the whole-session harnesses
 * (fuzz_smtp_session.c, fuzz_imap_session.c, fuzz_pop3_session.c) talk to.
 *
 *	fuzz_session_run(proto, kind, data, len, control, out)
 *		one client connection to a kind listener: the bytes are what
 *		the client sends, out gets everything the server wrote
 *		(inflated after IMAP COMPRESS); on return the connection is
 *		gone and nothing leaks
 *	fuzz_session_out_max(len)
 *		the most output a session may write for len input bytes
 *
 * Once per process (the first input): a configuration without TLS
 * certificates (STARTTLS replies, then the connection closes when the TLS
 * layer cannot be set up), without DNS (no SPF/DKIM/DMARC checks, no
 * helo_strict, the queue runner never starts), with no delay after a failed
 * login, with small limits the fuzzer can cross (4000-byte messages, 8
 * recipients, 1024-byte SMTP and 4096-byte IMAP lines, lockout after 3
 * failed logins, a 64 KiB quota); the server object (server.h); the
 * one I/O thread, which this thread adopts and whose event_base it runs
 * itself (iothread_adopt); the real worker pool (workers_start(1)); and a
 * template data directory under /dev/shm with the domain example.test,
 * accounts u@example.test and v@example.test (password "p"; v may use
 * neither IMAP nor POP3), an app password for u, aliases, five messages in
 * u's INBOX, one in its Archive and one in v's INBOX.  The password hashes are
 * yescrypt with the cheapest parameters libxcrypt accepts, and the dummy
 * hash unknown users are checked against is made the same way
 * (password_set_dummy), so a login costs well under a millisecond while
 * going through the real auth code.
 *
 * Per input: every database of the live data directory (a copy of the
 * template, on which the store stays open) that the last run wrote to is
 * restored from the template with sqlite's backup API, so every run starts
 * from the same stored state and nothing grows from run to run; failed
 * login counts are forgotten (authfail_reset).  (The \Recent claims of
 * imap_recent.c live in memory: fuzz_imap_session.c claims everything up
 * front.)  A socketpair stands for the TCP connection: the session is made
 * on one end by the protocol's accept function, as server.c's accept_cb
 * does, from 127.0.0.1 (loopback, so plaintext logins are allowed as by
 * default).  The input goes to the other end in chunks the control byte
 * chooses (fuzz_chunker); after each chunk the event loop runs until the
 * session is idle: no worker job or timer holds the connection, no event
 * is active, its output is flushed and read, and it has read what it may.
 * Then the client shuts its sending side down and the session must end.
 * Checked on the way:
 *  - idle means done: a session that is idle, not closing, and leaves a
 *    complete line in its input buffer would wait forever (a stall);
 *  - after the client's EOF the session ends while nothing is pending;
 *  - no stall: something moves at least every few seconds;
 *  - the output stays within fuzz_session_out_max();
 *  - after IMAP COMPRESS (the harness deflates what it sends from then
 *    on), the server's output inflates cleanly.
 *
 * FUZZ_SESSION_LOG=info (or debug, warn) shows the server's log;
 * FUZZ_SESSION_DUMP=1 prints what the server wrote (to stderr).
 * Everything is static: each harness is one translation unit.
 */
#ifndef POSTHORN_FUZZ_SESSION_H
#define POSTHORN_FUZZ_SESSION_H

#include <arpa/inet.h>
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sqlite3.h>
#include <zlib.h>

#include "auth/apppass.h"
#include "auth/auth_sasl.h"
#include "auth/authfail.h"
#include "auth/password.h"
#include "auth/scram.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/conn.h"
#include "core/hub.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/spool.h"
#include "core/worker.h"
#include "core/xmalloc.h"
#include "fuzz_common.h"
#include "mime/mime.h"
#include "server.h"
#include "store/store.h"

/* What a harness tells the driver about its protocol. */
struct fuzz_session_proto {
	void	(*accept)(int, const struct sockaddr *, socklen_t,
		    enum listen_kind);
	/*
	 * Called with each complete line of output (CRLF included) while
	 * the output is plain; true when everything after it is compressed
	 * (IMAP COMPRESS).  NULL when the protocol has no compression.
	 */
	bool	(*compress_after)(const char *, size_t);
	/* Called once, when the server and its store are ready; or NULL. */
	void	(*setup)(void);
};

#define FS_PASSWORD	"p"
#define FS_QUOTA	((int64_t)64 * 1024)
#define FS_STALL_SECS	5
/* yescrypt's cheapest parameters that libxcrypt still takes. */
#define FS_HASH_SETTING	"$y$j1.$fuzzsaltfuzzsalt$"

static struct fs_env {
	bool		 ready;
	char		 root[128];	/* /dev/shm/posthorn-fuzz-<pid>-... */
	char		 tmpl[160];	/* root/template */
	char		 live[160];	/* root/live */
	struct config	*cfg;
	struct server	 server;
	struct event_base *base;
	struct event	*tick;
	/* The template's databases and their live copies (fs_store_reset). */
	sqlite3		*db_src[8], *db_dst[8];
	int64_t		 db_version[8];	/* dst's data_version after restore */
	size_t		 ndb;
} fs;

/* One connection's state in the driver. */
struct fs_run {
	const struct fuzz_session_proto *proto;
	int		 cfd, sfd;	/* client, server end */
	struct event	*cev;		/* output readable on cfd */
	bool		 server_eof;
	bool		 write_closed;	/* the server stopped reading */
	struct buf	*out;		/* plain output */
	size_t		 out_max;
	size_t		 line_start;	/* of the current output line */
	uint64_t	 lit_left;	/* bytes of a literal still to come */
	bool		 z_out;		/* output is deflated from here on */
	bool		 z_in;		/* so is what we send */
	z_stream	 inflater, deflater;
	uint64_t	 moved;		/* progress counter (stall check) */
};

static void
fs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	/* Only bounds how long one blocking loop pass may wait. */
}

static int
fs_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void
fs_rm_tree(const char *path)
{
	(void)nftw(path, fs_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
fs_atexit(void)
{
	if (fs.root[0] != '\0')
		fs_rm_tree(fs.root);
}

/* Directories left by runs that crashed (their pid is gone). */
static void
fs_remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid;
		char path[512];

		if (strncmp(e->d_name, "posthorn-fuzz-", 14) != 0)
			continue;
		pid = strtol(e->d_name + 14, NULL, 10);
		if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		fs_rm_tree(path);
	}
	closedir(d);
}

static void
fs_copy_file(const char *from, const char *to)
{
	char chunk[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	FUZZ_CHECK(in >= 0 && out >= 0, "copy %s: %s", from, strerror(errno));
	while ((n = read(in, chunk, sizeof(chunk))) > 0)
		FUZZ_CHECK(write(out, chunk, (size_t)n) == n, "write %s", to);
	close(in);
	close(out);
}

static void
fs_copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;

	FUZZ_CHECK(d != NULL, "opendir %s", from);
	mkdir(to, 0700);
	while ((e = readdir(d)) != NULL) {
		char a[512], b[512];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		if (lstat(a, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			fs_copy_tree(a, b);
		else if (S_ISREG(st.st_mode))
			fs_copy_file(a, b);
	}
	closedir(d);
}

static char *
fs_hash(const char *password)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	char *h;

	FUZZ_CHECK(crypt_rn(password, FS_HASH_SETTING, cd, sizeof(*cd)) !=
	    NULL && cd->output[0] == '$', "libxcrypt refused %s",
	    FS_HASH_SETTING);
	h = xstrdup(cd->output);
	free(cd);
	return h;
}

static void
fs_add_account(struct store *st, const char *address, int imap, int pop3)
{
	struct account_change ch;
	struct scram_creds sc;
	struct buf scram = BUF_INIT;
	const char *err = NULL;
	char *hash = fs_hash(FS_PASSWORD);

	FUZZ_CHECK(scram_creds_make(FS_PASSWORD, 0, &sc) == 0 &&
	    scram_creds_format(&sc, &scram) == 0, "scram");
	scram_creds_wipe(&sc);
	FUZZ_CHECK(store_account_add(st, address, hash, buf_cstr(&scram), NULL,
	    &err) == 0, "account %s: %s", address, err);
	account_change_init(&ch);
	ch.quota = FS_QUOTA;
	ch.proto[0] = imap;	/* PROTO_IMAP, PROTO_POP3: bits 0 and 1 */
	ch.proto[1] = pop3;
	FUZZ_CHECK(store_account_set(st, address, &ch, &err) == 0,
	    "account %s: %s", address, err);
	free(hash);
	buf_free(&scram);
}

/* Appends one message (LF line ends become CRLF) with flags. */
static void
fs_add_message(struct store *st, int64_t account, const char *mailbox,
    const char *text, uint32_t flags, const char *keywords, time_t when)
{
	struct mailbox_info mi;
	struct spool sp;
	struct buf msg = BUF_INIT, ser = BUF_INIT;
	struct mime_parser *mp = mime_parser_create(NULL);
	struct mime_part *root;
	struct store_msg sm;
	const char *err = NULL;
	uint32_t uid, uv;

	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\n')
			buf_putc(&msg, '\r');
		buf_putc(&msg, *p);
	}
	FUZZ_CHECK(store_mailbox_get(st, account, mailbox, &mi) == 1,
	    "mailbox %s", mailbox);
	spool_init(&sp, store_tmpdir(st));
	FUZZ_CHECK(spool_write(&sp, msg.data, msg.len) == 0, "spool");
	mime_parser_feed(mp, msg.data, msg.len);
	root = mime_parser_finish(&mp);
	mime_serialize(root, &ser);
	mime_part_free(&root);
	memset(&sm, 0, sizeof(sm));
	sm.spool = &sp;
	sm.mime = ser.data;
	sm.mime_len = ser.len;
	sm.internaldate = when;
	FUZZ_CHECK(store_append(st, account, mi.id, &sm, flags, keywords, 0,
	    &uid, &uv, &err) == 0, "append: %s", err);
	spool_free(&sp);
	buf_free(&msg);
	buf_free(&ser);
}

/*
 * The messages.  POP3's output check tells data lines from status lines
 * by their start, so no line here begins with "+OK", "-ERR" or "+ ".
 */
static const char fs_msg1[] =
    "Return-Path: <alice@example.org>\n"
    "From: Alice Example <alice@example.org>\n"
    "To: u@example.test\n"
    "Subject: Hello\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "Message-ID: <1@example.org>\n"
    "\n"
    "Hi,\n"
    "this is the first message.\n"
    ".a line with a leading dot\n"
    "\n"
    "Alice\n";
static const char fs_msg2[] =
    "From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.net>\n"
    "To: Team <team@example.test>, u@example.test\n"
    "Cc: \"Bob, B.\" <bob@example.org>\n"
    "Subject: Re: Hello\n"
    "Date: Tue, 8 Feb 1994 09:00:00 +0100\n"
    "Message-ID: <2@example.net>\n"
    "In-Reply-To: <1@example.org>\n"
    "References: <1@example.org>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"alt\"\n"
    "\n"
    "preamble\n"
    "--alt\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=C3=BC=C3=9Fe aus K=C3=B6ln, a soft line=\n"
    " break.\n"
    "--alt\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>Gr&uuml;&szlig;e <b>aus</b> K&ouml;ln</p>\n"
    "--alt--\n"
    "epilogue\n";
static const char fs_msg3[] =
    "From: Carol <carol@example.com>\n"
    "To: u@example.test\n"
    "Subject: report with attachments\n"
    "Date: Wed, 9 Feb 1994 12:30:00 +0000\n"
    "Message-ID: <3@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"mix\"\n"
    "\n"
    "--mix\n"
    "Content-Type: text/plain\n"
    "\n"
    "The report is attached, and the mail it answers.\n"
    "--mix\n"
    "Content-Type: application/octet-stream; name=\"r.bin\"\n"
    "Content-Disposition: attachment; filename=\"r.bin\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v\n"
    "--mix\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: Dave <dave@example.org>\n"
    "Subject: the original\n"
    "Message-ID: <0@example.org>\n"
    "\n"
    "original body\n"
    "--mix--\n";
static const char fs_msg4[] =
    "From: Alice Example <alice@example.org>\n"
    "To: u@example.test\n"
    "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= again\n"
    "Date: Thu, 10 Feb 1994 08:00:00 -0500\n"
    "Message-ID: <4@example.org>\n"
    "References: <1@example.org> <2@example.net>\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Gr\xc3\xbc\xc3\x9f" "e, the third in the thread.\n"
    "..two dots\n";
static const char fs_msg5[] =
    "From: list@lists.example.org\n"
    "To: u@example.test\n"
    "Subject: [list] digest\n"
    "Date: Fri, 11 Feb 1994 23:59:59 +0000\n"
    "\n"
    "No message id, no MIME.\n";
static const char fs_msg_archive[] =
    "From: u@example.test\n"
    "To: alice@example.org\n"
    "Subject: archived\n"
    "Date: Sat, 1 Jan 1994 00:00:00 +0000\n"
    "\n"
    "old\n";

static void
fs_build_template(void)
{
	static const char *const team[] = { "u@example.test",
	    "v@example.test" };
	static const char *const pm[] = { "u@example.test" };
	static const char *const fwd[] = { "someone@remote.example" };
	struct store *st;
	unsigned char secret[32];
	const char *err = NULL;
	struct account a;
	char *ap;

	FUZZ_CHECK(store_open(fs.tmpl, &st, &err) == 0, "store: %s", err);
	fs.server.store = st;
	FUZZ_CHECK(store_secret(st, "scram", secret, &err) == 0, "%s", err);
	auth_sasl_set_secret(secret);
	FUZZ_CHECK(store_secret(st, "srs", fs.server.srs_secret, &err) == 0,
	    "%s", err);
	FUZZ_CHECK(store_domain_add(st, "example.test", &err) == 0, "%s",
	    err);
	fs_add_account(st, "u@example.test", -1, -1);
	fs_add_account(st, "v@example.test", 0, 0);
	ap = apppass_hash("apppassword");
	FUZZ_CHECK(store_apppass_add(st, "u@example.test", "phone", ap,
	    PROTO_IMAP | PROTO_SUBMISSION, &err) == 0, "%s", err);
	free(ap);
	FUZZ_CHECK(store_alias_add(st, "team@example.test", team, 2,
	    &err) == 0, "%s", err);
	FUZZ_CHECK(store_alias_add(st, "postmaster@example.test", pm, 1,
	    &err) == 0, "%s", err);
	FUZZ_CHECK(store_alias_add(st, "fwd@example.test", fwd, 1,
	    &err) == 0, "%s", err);
	memset(&a, 0, sizeof(a));
	FUZZ_CHECK(store_account_get(st, "u@example.test", &a) == 1, "u");
	fs_add_message(st, a.id, "INBOX", fs_msg1, MAIL_SEEN | MAIL_ANSWERED,
	    NULL, 760680000);
	fs_add_message(st, a.id, "INBOX", fs_msg2, MAIL_FLAGGED, "$Important",
	    760690000);
	fs_add_message(st, a.id, "INBOX", fs_msg3, 0, "work report",
	    760700000);
	fs_add_message(st, a.id, "INBOX", fs_msg4, MAIL_SEEN | MAIL_DELETED,
	    NULL, 760710000);
	fs_add_message(st, a.id, "INBOX", fs_msg5, 0, NULL, 760720000);
	fs_add_message(st, a.id, "Archive", fs_msg_archive, MAIL_SEEN, NULL,
	    757382400);
	account_clear(&a);
	memset(&a, 0, sizeof(a));
	FUZZ_CHECK(store_account_get(st, "v@example.test", &a) == 1, "v");
	fs_add_message(st, a.id, "INBOX", fs_msg5, 0, NULL, 760720000);
	account_clear(&a);
	explicit_bzero(secret, sizeof(secret));
	/* The last connection closed: the WAL is folded into the files. */
	store_close(&st);
	fs.server.store = NULL;
}

static void
fs_store_changed(void *ctx, int64_t account, int64_t mailbox)
{
	hub_publish(account, mailbox);
}

/* As server.c: workers hand their connections back after each job. */
static void
fs_job_end(void)
{
	if (srv != NULL && srv->store != NULL)
		store_thread_release(srv->store);
}

static void	fs_store_setup(void);

static void
fs_init(void)
{
	const char *lvl = getenv("FUZZ_SESSION_LOG");
	enum log_level level = LOG_LVL_ERROR;
	const char *parent = "/dev/shm";
	struct config *c;
	struct stat sb;
	char *dummy;

	if (lvl != NULL && log_level_parse(lvl, &level) < 0)
		level = LOG_LVL_INFO;
	log_init("fuzz", level);
	signal(SIGPIPE, SIG_IGN);

	/* The data directory lives in memory. */
	if (stat(parent, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
	    access(parent, W_OK) < 0)
		parent = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	fs_remove_stale(parent);
	snprintf(fs.root, sizeof(fs.root), "%s/posthorn-fuzz-%ld-XXXXXX",
	    parent, (long)getpid());
	FUZZ_CHECK(mkdtemp(fs.root) != NULL, "mkdtemp %s: %s", fs.root,
	    strerror(errno));
	atexit(fs_atexit);
	snprintf(fs.tmpl, sizeof(fs.tmpl), "%s/template", fs.root);
	snprintf(fs.live, sizeof(fs.live), "%s/live", fs.root);

	c = xcalloc(1, sizeof(*c));
	config_defaults(c);
	free(c->hostname);
	c->hostname = xstrdup("mx.example.test");
	free(c->data_dir);
	c->data_dir = xstrdup(fs.live);
	c->workers = 1;
	c->sandbox = false;
	c->log_level = (int)level;
	c->checks = false;		/* SPF, DKIM, DMARC need DNS */
	c->helo_strict = false;		/* so would HELO names */
	c->auth_fail_delay_ms = 0;
	c->auth_max_delay_ms = 0;
	c->auth_lockout_failures = 3;
	c->message_size = 4000;
	c->max_recipients = 8;
	c->smtp_line_max = 1024;
	c->imap_line_max = 4096;
	c->connection_rate_per_ip = 0;	/* time-dependent: not repeatable */
	c->message_rate_per_ip = 0;
	fs.cfg = c;
	fs.server.cfg = c;
	srv = &fs.server;
	{
		struct conn_limits cl = { c->max_connections_per_ip,
		    (unsigned)c->connection_rate_per_ip,
		    (unsigned)c->message_rate_per_ip, c->rate_exempt,
		    c->nrate_exempt, 0, c->ipv6_prefix_length };

		conn_set_limits(&cl);
	}
	{
		struct authfail_limits al = { c->auth_fail_delay_ms,
		    c->auth_max_delay_ms, c->auth_lockout_failures,
		    c->auth_lockout_time };

		authfail_configure(&al);
	}
	dummy = fs_hash("posthorn-dummy-password");
	password_set_dummy(dummy);
	free(dummy);

	loop_global_init();
	iothreads_create(1);
	iothread_adopt(iothread_get(0));
	fs.base = iothread_base(iothread_get(0));
	fs.tick = event_new(fs.base, -1, EV_PERSIST, fs_tick_cb, NULL);
	event_add(fs.tick, &(struct timeval){ 0, 100 * 1000 });
	workers_set_job_hook(fs_job_end);
	workers_start(c->workers);

	fs_build_template();
	fs_store_setup();
	fs.ready = true;
}

/* Runs the loop until every posted function and job result has run. */
static void
fs_settle(void)
{
	while (event_base_get_num_events(fs.base, EVENT_BASE_COUNT_ACTIVE) > 0)
		event_base_loop(fs.base, EVLOOP_NONBLOCK);
}

static unsigned fs_barriers;

static void
fs_barrier_work(void *arg)
{
}

static void
fs_barrier_done(void *arg)
{
	fs_barriers--;
}

/*
 * Waits until the worker lanes have run every job queued so far (each
 * lane is FIFO), and what their results started, so that no job of one
 * run touches the store while the next run restores it.  Some jobs hold
 * no connection and queue their own successors (the full-text indexer
 * does, one batch per job): a few rounds cover those.
 */
static void
fs_quiesce(void)
{
	for (int round = 0; round < 3; round++) {
		fs_settle();
		fs_barriers = 2;
		worker_submit_to(WORKER_STORE, fs_barrier_work,
		    fs_barrier_done, NULL);
		worker_submit_to(WORKER_AUTH, fs_barrier_work,
		    fs_barrier_done, NULL);
		while (fs_barriers > 0)
			event_base_loop(fs.base, EVLOOP_ONCE);
	}
	fs_settle();
}

static void
fs_db_pair(const char *rel)
{
	char a[512], b[512];

	FUZZ_CHECK(fs.ndb < sizeof(fs.db_src) / sizeof(fs.db_src[0]),
	    "too many databases");
	snprintf(a, sizeof(a), "%s/%s", fs.tmpl, rel);
	snprintf(b, sizeof(b), "%s/%s", fs.live, rel);
	FUZZ_CHECK(sqlite3_open_v2(a, &fs.db_src[fs.ndb],
	    SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_open_v2(b, &fs.db_dst[fs.ndb], SQLITE_OPEN_READWRITE,
	    NULL) == SQLITE_OK, "sqlite open %s", rel);
	sqlite3_busy_timeout(fs.db_dst[fs.ndb], 10000);
	fs.ndb++;
}

/*
 * The live data directory is a copy of the template, and the store stays
 * open on it for the whole process.  Before each input every database the
 * last run wrote to is restored page by page from the template with
 * sqlite's backup API: that goes through sqlite's locking and WAL, so the
 * store's cached connections (on this thread and on the workers) simply
 * see the old content again, and nothing is reopened.
 */
static void
fs_store_setup(void)
{
	const char *err = NULL;
	DIR *d;
	struct dirent *e;
	char path[512];

	fs_rm_tree(fs.live);
	fs_copy_tree(fs.tmpl, fs.live);
	fs_db_pair("posthorn.db");
	snprintf(path, sizeof(path), "%s/accounts", fs.tmpl);
	FUZZ_CHECK((d = opendir(path)) != NULL, "opendir %s", path);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "accounts/%s/mail.db",
			    e->d_name);
			fs_db_pair(path);
		}
	closedir(d);
	FUZZ_CHECK(store_open(fs.live, &fs.server.store, &err) == 0,
	    "store: %s", err);
	store_set_change_hook(fs.server.store, fs_store_changed, NULL);
	store_set_recipient_delimiter(fs.server.store,
	    fs.cfg->recipient_delimiter);
}

/* PRAGMA data_version: changes when another connection committed. */
static int64_t
fs_db_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
fs_store_reset(void)
{
	for (size_t i = 0; i < fs.ndb; i++) {
		sqlite3_backup *bk;
		int r;

		/* Only what the last run wrote to. */
		if (fs.db_version[i] != 0 &&
		    fs_db_version(fs.db_dst[i]) == fs.db_version[i])
			continue;
		bk = sqlite3_backup_init(fs.db_dst[i], "main", fs.db_src[i],
		    "main");
		FUZZ_CHECK(bk != NULL, "backup: %s",
		    sqlite3_errmsg(fs.db_dst[i]));
		r = sqlite3_backup_step(bk, -1);
		FUZZ_CHECK(r == SQLITE_DONE, "backup step: %s",
		    sqlite3_errstr(r));
		FUZZ_CHECK(sqlite3_backup_finish(bk) == SQLITE_OK,
		    "backup: %s", sqlite3_errmsg(fs.db_dst[i]));
		/* (sqlite's automatic checkpoints keep the WAL bounded.) */
		fs.db_version[i] = fs_db_version(fs.db_dst[i]);
	}
	authfail_reset();
}

static size_t
fs_fionread(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (size_t)n;
}

static void
fs_find_cb(struct conn *c, void *ctx)
{
	void **p = ctx;

	if (c->fd == *(int *)p[0])
		p[1] = c;
}

/* The session's connection, or NULL once it has been freed. */
static struct conn *
fs_conn(struct fs_run *r)
{
	void *p[2] = { &r->sfd, NULL };

	conn_foreach(fs_find_cb, p);
	return p[1];
}

/*
 * The size of the literal a server line announces at its end ("{N}\r\n"),
 * or 0.  Only IMAP has literals, and only IMAP can start COMPRESS.
 */
static uint64_t
fs_line_literal(const char *line, size_t len)
{
	uint64_t v = 0, scale = 1;
	size_t i;

	if (len < 4 || memcmp(line + len - 3, "}\r\n", 3) != 0)
		return 0;
	for (i = len - 4; i > 0 && line[i] >= '0' && line[i] <= '9' &&
	    scale <= 1000000000000ULL; i--, scale *= 10)
		v += (uint64_t)(line[i] - '0') * scale;
	return line[i] == '{' && i < len - 4 ? v : 0;
}

/* Server output, as it arrives. */
static void
fs_output(struct fs_run *r, const char *p, size_t n)
{
	r->moved += n;
	while (n > 0 && !r->z_out) {
		const char *lf;
		size_t k;

		/* A literal's bytes are data, never a response line. */
		if (r->lit_left > 0) {
			k = n < r->lit_left ? n : (size_t)r->lit_left;
			buf_append(r->out, p, k);
			p += k;
			n -= k;
			r->lit_left -= k;
			r->line_start = r->out->len;
			continue;
		}
		lf = memchr(p, '\n', n);
		k = lf != NULL ? (size_t)(lf - p) + 1 : n;
		buf_append(r->out, p, k);
		p += k;
		n -= k;
		if (lf == NULL)
			break;
		if (r->proto->compress_after != NULL) {
			const char *line = r->out->data + r->line_start;
			size_t len = r->out->len - r->line_start;

			if (r->proto->compress_after(line, len)) {
				FUZZ_CHECK(inflateInit2(&r->inflater,
				    -MAX_WBITS) == Z_OK, "inflateInit2");
				r->z_out = true;
			}
			r->lit_left = fs_line_literal(line, len);
		}
		r->line_start = r->out->len;
	}
	while (n > 0) {
		static char chunk[16384];
		int z;

		r->inflater.next_in = (Bytef *)(uintptr_t)p;
		r->inflater.avail_in = (uInt)n;
		do {
			r->inflater.next_out = (Bytef *)chunk;
			r->inflater.avail_out = sizeof(chunk);
			z = inflate(&r->inflater, Z_SYNC_FLUSH);
			FUZZ_CHECK(z == Z_OK || z == Z_BUF_ERROR,
			    "server output after COMPRESS does not inflate "
			    "(zlib %d)", z);
			buf_append(r->out, chunk, sizeof(chunk) -
			    r->inflater.avail_out);
		} while (r->inflater.avail_out == 0);
		n = r->inflater.avail_in;
		p = (const char *)r->inflater.next_in;
		FUZZ_CHECK(n == 0, "inflate stopped with input left");
	}
	FUZZ_CHECK(r->out->len <= r->out_max,
	    "%zu bytes of output, more than the bound %zu", r->out->len,
	    r->out_max);
}

static void
fs_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fs_run *r = arg;
	static char chunk[65536];	/* one thread; not on ASan's stack */

	for (;;) {
		ssize_t n = read(r->cfd, chunk, sizeof(chunk));

		if (n > 0) {
			fs_output(r, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EOF (or reset): the server closed its end. */
		r->server_eof = true;
		event_del(r->cev);
		return;
	}
}

/*
 * Idle: nothing is pending that would make the session go on by itself.
 * Its input may still hold bytes: a partial line, or what it may not read.
 */
static bool
fs_idle(struct fs_run *r, struct conn *c)
{
	struct bufferevent *sock = c->under != NULL ? c->under : c->bev;

	if (c->holds > 0 ||
	    event_base_get_num_events(fs.base, EVENT_BASE_COUNT_ACTIVE) > 0)
		return false;
	if (c->bev != NULL && conn_outq(c) > 0)
		return false;
	if (fs_fionread(r->cfd) > 0)
		return false;
	if (sock != NULL && (bufferevent_get_enabled(sock) & EV_READ) &&
	    fs_fionread(r->sfd) > 0)
		return false;
	return true;
}

/* A fingerprint of everything that moves; unchanged for long = stalled. */
static uint64_t
fs_progress(struct fs_run *r, struct conn *c)
{
	uint64_t v = r->moved * 31;

	if (c != NULL) {
		v = (v + c->bytes_in) * 31 + c->bytes_out;
		v = v * 31 + c->holds;
		v = v * 31 + fs_fionread(r->sfd);
		if (c->bev != NULL)
			v = v * 31 + conn_outq(c) + evbuffer_get_length(c->in);
	}
	return v;
}

static uint64_t
fs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Runs the loop until the session is idle (eof: until it is gone).
 * Returns false once the connection has been freed.
 */
static bool
fs_pump(struct fs_run *r, bool eof)
{
	uint64_t last = 0, since = fs_now_ms();
	unsigned idle_rounds = 0;

	for (;;) {
		struct conn *c = fs_conn(r);
		uint64_t now, v;

		if (c == NULL) {
			/* Freed: its socket is closed; take the last words. */
			fs_settle();
			while (!r->server_eof)
				fs_read_cb(r->cfd, EV_READ, r);
			return false;
		}
		if (fs_idle(r, c)) {
			if (!eof) {
				if (!c->closing && c->bev != NULL &&
				    !c->starttls_pending) {
					struct evbuffer_ptr p = evbuffer_search(
					    c->in, "\n", 1, NULL);

					FUZZ_CHECK(p.pos < 0, "the session is "
					    "idle with a complete line in its "
					    "input (%zu bytes waiting)",
					    evbuffer_get_length(c->in));
				}
				return true;
			}
			/* The EOF is seen on the next pass, at the latest. */
			FUZZ_CHECK(++idle_rounds < 4, "the client closed, "
			    "nothing is pending, and the session stays open "
			    "(closing=%d, %zu bytes of input)", c->closing,
			    c->bev != NULL ? evbuffer_get_length(c->in) : 0);
		} else
			idle_rounds = 0;
		v = fs_progress(r, c);
		now = fs_now_ms();
		if (v != last) {
			last = v;
			since = now;
		}
		FUZZ_CHECK(now - since < FS_STALL_SECS * 1000,
		    "stalled for %d s (holds=%u closing=%d out=%zu in=%zu)",
		    FS_STALL_SECS, c->holds, c->closing,
		    c->bev != NULL ? conn_outq(c) : 0,
		    c->bev != NULL ? evbuffer_get_length(c->in) : 0);
		event_base_loop(fs.base, EVLOOP_ONCE);
	}
}

/* Sends bytes as the client (deflated after COMPRESS). */
static void
fs_send(struct fs_run *r, const uint8_t *p, size_t n)
{
	struct buf z = BUF_INIT;
	uint64_t since = fs_now_ms();

	if (r->z_out && !r->z_in) {
		FUZZ_CHECK(deflateInit2(&r->deflater, Z_DEFAULT_COMPRESSION,
		    Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK,
		    "deflateInit2");
		r->z_in = true;
	}
	if (r->z_in) {
		r->deflater.next_in = (Bytef *)(uintptr_t)p;
		r->deflater.avail_in = (uInt)n;
		do {
			buf_reserve(&z, 4096);
			r->deflater.next_out = (Bytef *)z.data + z.len;
			r->deflater.avail_out = (uInt)(z.cap - z.len - 1);
			FUZZ_CHECK(deflate(&r->deflater, Z_SYNC_FLUSH) !=
			    Z_STREAM_ERROR, "deflate");
			z.len = z.cap - 1 - r->deflater.avail_out;
		} while (r->deflater.avail_out == 0);
		p = (const uint8_t *)z.data;
		n = z.len;
	}
	while (n > 0 && !r->write_closed) {
		ssize_t w = write(r->cfd, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* The server reads when it gets to it. */
			if (!fs_pump(r, false)) {
				r->write_closed = true;
				break;
			}
			if (fs_fionread(r->sfd) > 0) {
				FUZZ_CHECK(fs_now_ms() - since <
				    FS_STALL_SECS * 1000, "the session "
				    "stopped reading");
				event_base_loop(fs.base, EVLOOP_ONCE);
			}
			continue;
		}
		r->write_closed = true;	/* EPIPE: it closed */
	}
	buf_free(&z);
}

static size_t
fuzz_session_out_max(size_t len)
{
	/*
	 * Generous, it only stops a runaway writer early (the harnesses
	 * check their protocol's own bounds): one IMAP FETCH item may return
	 * the whole mailbox, which the quota keeps below FS_QUOTA plus one
	 * message.
	 */
	return (size_t)1024 * 1024 + len * (size_t)16 * 1024;
}

static void
fuzz_session_run(const struct fuzz_session_proto *proto, enum listen_kind kind,
    const uint8_t *data, size_t len, uint8_t control, struct buf *out)
{
	struct fs_run r;
	struct fuzz_chunker ch;
	struct sockaddr_in peer;
	int sv[2];

	if (!fs.ready) {
		fs_init();
		if (proto->setup != NULL)
			proto->setup();
	}
	fs_store_reset();
	memset(&r, 0, sizeof(r));
	r.proto = proto;
	r.out = out;
	r.out_max = fuzz_session_out_max(len);
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %s", strerror(errno));
	r.cfd = sv[0];
	r.sfd = sv[1];
	r.cev = event_new(fs.base, r.cfd, EV_READ | EV_PERSIST, fs_read_cb,
	    &r);
	event_add(r.cev, NULL);

	/* What server.c's accept_cb does with an accepted socket. */
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_port = htons(40000);
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	proto->accept(r.sfd, (const struct sockaddr *)&peer, sizeof(peer),
	    kind);

	fuzz_chunker_init(&ch, control);
	if (fs_pump(&r, false))
		for (size_t off = 0; off < len && !r.write_closed;) {
			size_t n = fuzz_chunker_next(&ch, len - off);

			fs_send(&r, data + off, n);
			off += n;
			if (!fs_pump(&r, false))
				break;
		}
	shutdown(r.cfd, SHUT_WR);
	(void)fs_pump(&r, true);

	event_free(r.cev);
	close(r.cfd);
	if (r.z_out)
		inflateEnd(&r.inflater);
	if (r.z_in)
		deflateEnd(&r.deflater);
	fs_quiesce();
	if (getenv("FUZZ_SESSION_DUMP") != NULL) {
		fprintf(stderr, "--- server output (%zu bytes)\n", out->len);
		fwrite(out->data ? out->data : "", 1, out->len, stderr);
		fprintf(stderr, "--- end\n");
	}
}

#endif

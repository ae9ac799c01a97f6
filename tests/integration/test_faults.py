"""
test_faults - the real binary under faults: kill -9 at random moments of a
delivery storm, a full disk (a small tmpfs), fsync/fdatasync failing with
EIO (an LD_PRELOAD shim, tests/integration/shim/failsync.c, compiled here
with gcc into a temporary directory), and kill -9 while a 300-message
EXPUNGE or MOVE is under way.

The rules checked are the durability promises: a message that got 250 (or
an APPEND that got OK) is stored exactly once and byte for byte; one that
did not may be missing but never doubled or truncated; a failed commit
never gets 250/OK; an EXPUNGE or MOVE is all or nothing; `posthorn check`
finds the store consistent; the server restarts cleanly and, after a
transient fault, works again without a restart.
"""
import contextlib
import hashlib
import os
import random
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_hostile as H  # noqa: E402  (wire helpers only)

Server = harness.Server
DOMAIN = Server.DOMAIN
PW = "Faults-Pw-4711"
HERE = os.path.dirname(os.path.abspath(__file__))


# -- helpers ----------------------------------------------------------------

def sha(b):
    return hashlib.sha256(b).hexdigest()


def restart(srv, timeout=20):
    """Starts the server again after a kill -9 (or a stop) and waits for a
    new "ready:" line; returns the log lines it wrote while starting."""
    if srv.log is not None:
        srv.log.close()
        srv.log = None
    before = srv.read_log()
    n = before.count(" ready: ")
    srv.start()
    srv.wait_for(lambda: srv.read_log().count(" ready: ") > n,
                 timeout=timeout, what="a new ready line")
    new = srv.read_log()[len(before):]
    return new[:new.index(" ready: ")].splitlines()


def check_startup(tc, lines):
    bad = [ln for ln in lines
           if re.search(r"fatal|panic|corrupt|malformed|cannot", ln, re.I)]
    tc.assertEqual(bad, [], "\n".join(lines))


def store_check(srv):
    r = srv.cli("check", check=False)
    return r.returncode, r.stdout + r.stderr


@contextlib.contextmanager
def environ(**kw):
    """Sets environment variables for what starts inside (the server is a
    subprocess.Popen child and inherits them), then restores them."""
    old = {k: os.environ.get(k) for k in kw}
    os.environ.update(kw)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Imap:
    """A logged-in raw IMAP session."""

    def __init__(self, srv, user, timeout=60):
        self.rc = H.connect(srv, "imap", timeout=timeout)
        H.imap_login(self.rc, user, PW)
        self.n = 0

    def cmd(self, text):
        self.n += 1
        return H.imap_cmd(self.rc, f"c{self.n}", text)

    def ok(self, text):
        u, t = self.cmd(text)
        if H.imap_status(t) != "OK":
            raise AssertionError(f"{text!r} -> {t!r}")
        return u

    def exists(self, untagged):
        n = [int(x.split()[1]) for x in untagged
             if x.endswith(b" EXISTS\r\n")]
        assert len(n) == 1, untagged
        return n[0]

    def status_messages(self, mailbox):
        u = self.ok(f'STATUS "{mailbox}" (MESSAGES)')
        m = re.match(rb'^\* STATUS "?[^"]*"? \(MESSAGES (\d+)\)\r\n$', u[0])
        assert m, u
        return int(m.group(1))

    def fetch_all(self, mailbox, items="UID BODY.PEEK[]"):
        """EXAMINEs mailbox; returns (EXISTS, [(seq, {item: value})])."""
        u = self.ok(f'EXAMINE "{mailbox}"')
        n = self.exists(u)
        out = []
        if n:
            u = self.ok(f"FETCH 1:* ({items})")
            for x in u:
                m = re.match(rb"^\* (\d+) FETCH ", x)
                if not m:
                    continue
                vals, end = H.parse_imap(x, m.end())
                d = dict(zip(vals[0::2], vals[1::2]))
                out.append((int(m.group(1)), d))
        return n, out

    def append_many(self, mailbox, msgs):
        """Pipelined APPENDs with LITERAL+; returns the tagged replies."""
        data = []
        tags = []
        for m in msgs:
            self.n += 1
            tag = f"a{self.n}"
            tags.append(tag)
            data.append(f'{tag} APPEND "{mailbox}" {{{len(m)}+}}\r\n'
                        .encode() + m + b"\r\n")
        self.rc.send(b"".join(data))
        return [H.imap_read_tagged(self.rc, t)[1] for t in tags]

    def close(self):
        try:
            self.rc.close()
        except OSError:
            pass


def smtp_send(srv, rcpt, msg, listener="smtp"):
    """(code, text) of DATA, or of the command that failed."""
    s = srv.smtp(listener, timeout=30)
    try:
        s.ehlo()
        c, t = s.mail("sender@example.org")
        if c != 250:
            return c, t
        c, t = s.rcpt(rcpt)
        if c != 250:
            return c, t
        return s.data(msg)
    except smtplib.SMTPResponseException as e:
        return e.smtp_code, e.smtp_error
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def log_tail_on_failure(tc, result, run):
    """Runs the test; on a failure prints the end of the server log (kept
    in tc.last_log by tearDown when the server is gone by then)."""
    n = len(result.failures) + len(result.errors) if result else 0
    r = run(result)
    srv = getattr(tc, "srv", None)
    if result is not None and srv is not None and \
            len(result.failures) + len(result.errors) > n:
        log = getattr(tc, "last_log", None) or srv.read_log()
        print(f"\n--- server log (tail) for {tc.id()} ---\n" + log[-4000:])
    return r


# ==========================================================================
# kill -9 during a delivery storm
# ==========================================================================

class KillStormTest(unittest.TestCase):

    USER = f"storm@{DOMAIN}"
    # 50 rounds in the plain pass of ./test; the sanitized pass (a slower
    # binary, the same test) looks for memory errors in the same paths,
    # which 15 rounds go through as well, and saves ./test 40 s.
    ROUNDS = 15 if os.environ.get("POSTHORN_SANITIZED") else 50

    def setUp(self):
        self.srv = Server(users={self.USER: PW})
        self.srv.start()

    def tearDown(self):
        self.last_log = self.srv.read_log()
        self.srv.cleanup()

    def run(self, result=None):
        return log_tail_on_failure(self, result, super().run)

    def test_kill9_under_delivery_storm(self):
        """50 rounds (15 under the sanitizers): 4-8 threads deliver over
        port 25 (each message has a unique Message-ID; sizes from 100
        bytes to 200 KB), the server is killed with SIGKILL after 0.3-1 s
        and started again.  Then: every
        message that got 250 is in the INBOX exactly once, every message
        present is one that was sent, present once and byte for byte
        (body hash); the store passes `check` after kills (every tenth
        round, while the server is down) and at the end; every restart
        logs no error."""
        srv = self.srv
        rnd = random.Random(4711)
        sent = {}       # Message-ID -> sha256 of the message as sent
        acked = set()
        lock = threading.Lock()
        t_start = time.monotonic()

        def storm(rnd_seed, prefix, stop):
            r = random.Random(rnd_seed)
            try:
                s = smtplib.SMTP("127.0.0.1", srv.port["smtp"],
                                 local_hostname="client.example.org",
                                 timeout=5)
                s.ehlo()
            except (OSError, smtplib.SMTPException):
                return
            i = 0
            while not stop.is_set():
                i += 1
                mid = f"{prefix}.{i}@storm.example.org"
                size = r.choice([100, 1000, 4000, 20000]) if \
                    r.random() < 0.95 else 200000
                body = b"".join(b"%06d %s\r\n" % (k, b"x" * 60)
                                for k in range(size // 70 + 1))
                msg = (f"From: storm@example.org\r\nTo: {self.USER}\r\n"
                       f"Subject: {mid}\r\nMessage-ID: <{mid}>\r\n\r\n"
                       ).encode() + body
                with lock:
                    sent[mid] = sha(msg)
                try:
                    res = s.sendmail("storm@example.org", [self.USER], msg)
                except (OSError, smtplib.SMTPException):
                    return
                if res == {}:
                    with lock:
                        acked.add(mid)
            try:
                s.close()
            except OSError:
                pass

        for rno in range(self.ROUNDS):
            stop = threading.Event()
            ths = [threading.Thread(target=storm,
                                    args=(rnd.random(), f"r{rno}t{k}", stop))
                   for k in range(rnd.randint(4, 8))]
            for t in ths:
                t.start()
            time.sleep(rnd.uniform(0.3, 1.0))
            srv.kill9()
            stop.set()
            for t in ths:
                t.join(15)
                self.assertFalse(t.is_alive(), "a client hung")
            if rno % 10 == 9:
                rc, out = store_check(srv)
                self.assertEqual((rc, out), (0, "store ok\n"),
                                 f"after kill {rno + 1}")
            check_startup(self, restart(srv))
        self.assertGreater(len(acked), 100)
        # What the INBOX holds.
        m = Imap(srv, self.USER, timeout=120)
        try:
            n, items = m.fetch_all("INBOX", "BODY.PEEK[]")
        finally:
            m.close()
        self.assertEqual(len(items), n)
        seen = {}
        for seq, d in items:
            msg = H.strip_received(d[b"BODY[]"])
            mm = re.search(rb"^Message-ID: <([^>]+)>\r\n", msg, re.M)
            self.assertIsNotNone(mm, msg[:300])
            mid = mm.group(1).decode()
            seen[mid] = seen.get(mid, 0) + 1
            self.assertIn(mid, sent)
            self.assertEqual(sha(msg), sent[mid], f"{mid} differs")
        twice = sorted(k for k, v in seen.items() if v != 1)
        self.assertEqual(twice, [])
        lost = sorted(acked - set(seen))
        self.assertEqual(lost, [])
        srv.stop()
        self.assertEqual(store_check(srv), (0, "store ok\n"))
        self.assertEqual(os.listdir(os.path.join(srv.data_dir, "tmp")), [])
        self.assertLess(time.monotonic() - t_start, 150)


# ==========================================================================
# Disk full
# ==========================================================================

class DiskFullTest(unittest.TestCase):
    """The data directory lives on an 8 MB tmpfs; a filler file takes all
    but a little of it."""

    USER = f"full@{DOMAIN}"

    def setUp(self):
        self.srv = Server(users={self.USER: PW})
        self.fs = os.path.join(self.srv.dir, "fs")
        os.mkdir(self.fs)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=755",
                            "tmpfs", self.fs], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            self.srv.cleanup()
            self.skipTest(f"cannot mount a tmpfs: {r.stderr.strip()}")
        self.mounted = True
        # The data directory moves onto the tmpfs, owners kept.
        data = os.path.join(self.fs, "data")
        subprocess.run(["cp", "-a", self.srv.data_dir, data], check=True,
                       timeout=30)
        with open(self.srv.conf) as f:
            conf = f.read()
        conf = conf.replace(f"data_dir = {self.srv.data_dir}\n",
                            f"data_dir = {data}\n")
        with open(self.srv.conf, "w") as f:
            f.write(conf)
        shutil.rmtree(self.srv.data_dir)
        self.srv.data_dir = data
        self.filler = os.path.join(self.fs, "filler")
        self.srv.start()

    def tearDown(self):
        self.last_log = self.srv.read_log()
        try:
            self.srv.stop()
        finally:
            if getattr(self, "mounted", False):
                subprocess.run(["umount", self.fs], timeout=60)
            self.srv.cleanup()

    def run(self, result=None):
        return log_tail_on_failure(self, result, super().run)

    def free(self):
        st = os.statvfs(self.fs)
        return st.f_bavail * st.f_frsize

    def fill(self, leave):
        """Grows the filler until about `leave` bytes are free."""
        with open(self.filler, "ab") as f:
            n = self.free() - leave
            while n > 0:
                k = min(n, 1 << 20)
                f.write(b"\0" * k)
                n -= k
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def message(tag, size):
        body = b"".join(b"%s line %06d %s\r\n" % (tag.encode(), k, b"z" * 60)
                        for k in range(size // 80 + 1))
        return (f"From: a@example.org\r\nSubject: {tag}\r\n"
                f"Message-ID: <{tag}@example.org>\r\n\r\n").encode() + body

    def mailbox(self):
        """[message bytes without the Return-Path and Received fields of
        SMTP mail]."""
        m = Imap(self.srv, self.USER)
        try:
            n, items = m.fetch_all("INBOX", "BODY.PEEK[]")
        finally:
            m.close()
        out = []
        for seq, d in items:
            b = d[b"BODY[]"]
            out.append(H.strip_received(b)
                       if b.startswith(b"Return-Path: ") else b)
        return out

    def test_disk_full(self):
        """With the disk (nearly) full: a 1 MB message over SMTP (spooled
        to a file) and a 100 KB one (spooled in memory, refused by the
        database) get "452 4.3.1", APPENDs get a NO that is not
        [SERVERBUG], the SMTP session goes on, mail stored before is
        intact and `check` says "store ok".  Once the filler is gone,
        delivery and APPEND work again - same server process, same SMTP
        session."""
        srv = self.srv
        before = [self.message("before-small", 1000),
                  self.message("before-mid", 50000),
                  self.message("before-big", 300000)]
        for msg in before:
            self.assertEqual(smtp_send(srv, self.USER, msg)[0], 250)
        m = Imap(srv, self.USER)
        appended = self.message("before-append", 20000)
        r = m.append_many("INBOX", [appended])
        self.assertRegex(r[0], rb"^a\d+ OK ")
        self.assertEqual(self.mailbox(), before + [appended])
        pid = srv.proc.pid

        self.fill(200 * 1024)
        self.assertLess(self.free(), 400 * 1024)
        s = srv.smtp(timeout=60)
        s.ehlo()

        def data(msg):
            self.assertEqual(s.mail("sender@example.org")[0], 250)
            self.assertEqual(s.rcpt(self.USER)[0], 250)
            try:
                return s.data(msg)
            except smtplib.SMTPResponseException as e:
                return e.smtp_code, e.smtp_error

        big = self.message("full-big", 1000 * 1000)
        c, text = data(big)
        self.assertEqual((c, text[:6]), (452, b"4.3.1 "), text)
        self.assertEqual(s.noop()[0], 250)
        r = m.append_many("INBOX", [big])
        self.assertRegex(r[0], rb"^a\d+ NO ")
        self.assertNotIn(b"[SERVERBUG]", r[0])
        # Almost nothing left: even a message kept in memory until the
        # commit does not fit into the database.
        self.fill(16 * 1024)
        mid = self.message("full-mid", 100 * 1000)
        c, text = data(mid)
        self.assertEqual((c, text[:6]), (452, b"4.3.1 "), text)
        r = m.append_many("INBOX", [mid])
        self.assertRegex(r[0], rb"^a\d+ NO ")
        self.assertNotIn(b"[SERVERBUG]", r[0])
        self.assertEqual(s.noop()[0], 250)
        # What was stored is intact (EXAMINE: reading writes nothing).
        self.assertEqual(self.mailbox(), before + [appended])
        with self.subTest("check on a full disk"):
            self.assertEqual(store_check(srv), (0, "store ok\n"))

        os.unlink(self.filler)
        c, text = data(big)
        self.assertEqual(c, 250, text)
        s.quit()
        r = m.append_many("INBOX", [mid])
        self.assertRegex(r[0], rb"^a\d+ OK ")
        m.close()
        self.assertEqual(srv.proc.pid, pid)
        self.assertIsNone(srv.proc.poll())
        self.assertEqual(self.mailbox(), before + [appended, big, mid])
        self.assertEqual(store_check(srv), (0, "store ok\n"))


# ==========================================================================
# fsync / fdatasync failing with EIO
# ==========================================================================

class FsyncErrorTest(unittest.TestCase):

    USER = f"sync@{DOMAIN}"

    @classmethod
    def setUpClass(cls):
        if shutil.which("gcc") is None:
            raise unittest.SkipTest("gcc is needed to build the shim")
        cls.tmp = tempfile.mkdtemp(prefix="posthorn-it-shim-")
        os.chmod(cls.tmp, 0o755)
        cls.shim = os.path.join(cls.tmp, "failsync.so")
        r = subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-Wall",
                            "-o", cls.shim,
                            os.path.join(HERE, "shim", "failsync.c"),
                            "-ldl"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("building the shim failed:\n" + r.stderr)
        cls.trigger = os.path.join(cls.tmp, "trigger")
        cls.counter = cls.trigger + ".count"
        cls.trace = os.path.join(cls.tmp, "trace")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        for p in (self.trigger, self.counter, self.trace):
            if os.path.exists(p):
                os.unlink(p)
        for p in (self.counter, self.trace):
            with open(p, "w"):
                pass
            os.chmod(p, 0o666)
        self.srv = Server(users={self.USER: PW})
        asan = harness.asan_runtime()
        preload = f"{asan}:{self.shim}" if asan else self.shim
        with environ(LD_PRELOAD=preload, FAILSYNC_TRIGGER=self.trigger,
                     FAILSYNC_TRACE=self.trace):
            self.srv.start()

    def tearDown(self):
        self.last_log = self.srv.read_log()
        self.srv.cleanup()

    def run(self, result=None):
        return log_tail_on_failure(self, result, super().run)

    def failures(self):
        return os.path.getsize(self.counter)

    def synced(self):
        with open(self.trace) as f:
            return f.read().splitlines()

    def test_new_directory_synced_before_250(self):
        """The first mail to an account creates its directory
        (data_dir/accounts/ID); the entry for it is made durable (its
        parent directory fsynced) before the 250, as the mail in it is."""
        accounts = os.path.realpath(os.path.join(self.srv.data_dir,
                                                 "accounts"))
        self.assertEqual(os.listdir(accounts), [])
        # With fsync failing, the mail is refused and the directory
        # removed again: the next try makes (and syncs) it anew.
        open(self.trigger, "w").close()
        msg = DiskFullTest.message("refused", 3000)
        self.assertIn(smtp_send(self.srv, self.USER, msg)[0], (451, 452))
        self.assertRegex(self.srv.read_log(), r"mkdir \S+/accounts/\d+: "
                                              r"Input/output error")
        self.assertEqual(os.listdir(accounts), [])
        os.unlink(self.trigger)
        self.assertNotIn(accounts, self.synced())
        msg = DiskFullTest.message("first", 3000)
        self.assertEqual(smtp_send(self.srv, self.USER, msg)[0], 250)
        new, = os.listdir(accounts)
        synced = self.synced()
        self.assertIn(accounts, synced)
        self.assertIn(os.path.join(accounts, new, "mail.db-wal"), synced)

    def test_fsync_eio_refuses_mail(self):
        """With fsync/fdatasync failing (EIO): SMTP DATA gets 451 or 452,
        never 250; APPEND gets NO, never OK.  The faults were really hit
        (the shim counts them).  With the fault gone, mail flows again in
        the same process; what got 250/OK is there once, byte for byte,
        also after a restart; `check` says "store ok"."""
        srv = self.srv
        with open(f"/proc/{srv.proc.pid}/maps") as f:
            self.assertIn("failsync.so", f.read())
        ok_msgs = []
        msg = DiskFullTest.message("sync-before", 3000)
        self.assertEqual(smtp_send(srv, self.USER, msg)[0], 250)
        ok_msgs.append(msg)
        self.assertEqual(self.failures(), 0)

        open(self.trigger, "w").close()
        refused = []
        for i in range(3):
            msg = DiskFullTest.message(f"sync-eio-{i}", [500, 5000,
                                                         400000][i])
            c, text = smtp_send(srv, self.USER, msg)
            with self.subTest(smtp=i):
                self.assertIn(c, (451, 452), text)
            refused.append(msg)
        m = Imap(srv, self.USER)
        app = DiskFullTest.message("sync-eio-append", 2000)
        r = m.append_many("INBOX", [app])
        self.assertRegex(r[0], rb"^a\d+ NO ")
        refused.append(app)
        self.assertGreater(self.failures(), 0)

        os.unlink(self.trigger)
        hits = self.failures()
        msg = DiskFullTest.message("sync-after", 3000)
        self.assertEqual(smtp_send(srv, self.USER, msg)[0], 250)
        ok_msgs.append(msg)
        app2 = DiskFullTest.message("sync-after-append", 2000)
        r = m.append_many("INBOX", [app2])
        self.assertRegex(r[0], rb"^a\d+ OK ")
        ok_msgs.append(app2)
        m.close()
        self.assertEqual(self.failures(), hits)

        def contents():
            m = Imap(srv, self.USER)
            try:
                n, items = m.fetch_all("INBOX", "BODY.PEEK[]")
            finally:
                m.close()
            out = []
            for seq, d in items:
                b = d[b"BODY[]"]
                out.append(H.strip_received(b)
                           if b.startswith(b"Return-Path: ") else b)
            return out

        got = contents()
        for msg in ok_msgs:
            self.assertEqual(got.count(msg), 1)
        # A refused message should not be there; if the server kept one
        # anyway, it is at least whole and single (the client retries).
        for msg in got:
            self.assertIn(msg, ok_msgs + refused)
            self.assertEqual(got.count(msg), 1)
        srv.stop()
        check_startup(self, restart(srv))
        self.assertEqual(contents(), got)
        srv.stop()
        self.assertEqual(store_check(srv), (0, "store ok\n"))


# ==========================================================================
# kill -9 during EXPUNGE and MOVE of 300 messages
# ==========================================================================

class CrashExpungeMoveTest(unittest.TestCase):

    USER = f"exp@{DOMAIN}"
    N = 300
    # 0, 5, 20 and 50 ms, and a few in between where a 300-message
    # commit is most likely still under way.
    DELAYS_MS = (0, 1, 2, 3, 5, 20, 50)

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={cls.USER: PW})
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def run(self, result=None):
        return log_tail_on_failure(self, result, super().run)

    def fill(self, m, box):
        m.ok(f'CREATE "{box}"')
        msgs = [(f"From: a@example.org\r\nSubject: {box} {i}\r\n"
                 f"Message-ID: <{box}.{i}@example.org>\r\n\r\n"
                 f"message {i} of {box}\r\n").encode()
                for i in range(self.N)]
        replies = m.append_many(box, msgs)
        for r in replies:
            self.assertRegex(r, rb"^a\d+ OK \[APPENDUID ")
        return {f"<{box}.{i}@example.org>": sha(msg)
                for i, msg in enumerate(msgs)}

    def contents(self, m, box):
        """(STATUS MESSAGES, EXISTS, [(uid, Message-ID, sha, flags)])."""
        status = m.status_messages(box)
        n, items = m.fetch_all(box, "UID FLAGS BODY.PEEK[]")
        out = []
        for seq, d in items:
            body = d[b"BODY[]"]
            mm = re.search(rb"^Message-ID: (<[^>]+>)\r\n", body, re.M)
            out.append((d[b"UID"], mm.group(1).decode(), sha(body),
                        set(d[b"FLAGS"])))
        return status, n, out

    def crash_after(self, m, command, delay_ms):
        m.n += 1
        m.rc.send(f"x{m.n} {command}\r\n".encode())
        if delay_ms:
            time.sleep(delay_ms / 1000)
        self.srv.kill9()
        m.close()
        check_startup(self, restart(self.srv))

    def test_crash_during_expunge(self):
        """300 messages all \\Deleted, EXPUNGE, kill -9 after 0-50 ms:
        after the restart the mailbox holds all 300 (intact, still
        \\Deleted) or none; STATUS MESSAGES = EXISTS = messages FETCH
        sees; UIDs are unique."""
        for delay in self.DELAYS_MS:
            with self.subTest(delay_ms=delay):
                box = f"Exp{delay}"
                m = Imap(self.srv, self.USER)
                want = self.fill(m, box)
                m.ok(f'SELECT "{box}"')
                m.ok(f"STORE 1:{self.N} +FLAGS.SILENT (\\Deleted)")
                self.crash_after(m, "EXPUNGE", delay)
                m = Imap(self.srv, self.USER)
                try:
                    status, n, items = self.contents(m, box)
                finally:
                    m.close()
                self.assertEqual(status, n)
                self.assertEqual(len(items), n)
                self.assertIn(n, (0, self.N))
                uids = [u for u, _, _, _ in items]
                self.assertEqual(len(set(uids)), len(uids))
                if n:
                    self.assertEqual({mid: h for _, mid, h, _ in items},
                                     want)
                    for _, _, _, flags in items:
                        self.assertIn(b"\\Deleted", flags)
        self.assertEqual(store_check(self.srv), (0, "store ok\n"))

    def test_crash_during_move(self):
        """UID MOVE of 300 messages to another mailbox, kill -9 after
        0-50 ms: after the restart the two mailboxes hold exactly the
        300 messages between them (all in one or all in the other), each
        once and intact; STATUS MESSAGES = EXISTS = what FETCH sees in both;
        no UID twice in a mailbox."""
        for delay in self.DELAYS_MS:
            with self.subTest(delay_ms=delay):
                src, dst = f"MoveFrom{delay}", f"MoveTo{delay}"
                m = Imap(self.srv, self.USER)
                want = self.fill(m, src)
                m.ok(f'CREATE "{dst}"')
                m.ok(f'SELECT "{src}"')
                self.crash_after(m, f'UID MOVE 1:* "{dst}"', delay)
                m = Imap(self.srv, self.USER)
                try:
                    s1, n1, items1 = self.contents(m, src)
                    s2, n2, items2 = self.contents(m, dst)
                finally:
                    m.close()
                self.assertEqual((s1, len(items1)), (n1, n1))
                self.assertEqual((s2, len(items2)), (n2, n2))
                self.assertEqual(n1 + n2, self.N)
                self.assertIn(n2, (0, self.N))
                for items in (items1, items2):
                    uids = [u for u, _, _, _ in items]
                    self.assertEqual(len(set(uids)), len(uids))
                mids = [mid for _, mid, _, _ in items1 + items2]
                self.assertEqual(sorted(mids), sorted(want))
                self.assertEqual({mid: h for _, mid, h, _ in
                                  items1 + items2}, want)
        self.assertEqual(store_check(self.srv), (0, "store ok\n"))


if __name__ == "__main__":
    unittest.main()

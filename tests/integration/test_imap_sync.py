"""
test_imap_sync - what one IMAP session learns about another's changes
(untagged FETCH FLAGS / EXISTS / RECENT / EXPUNGE, RFC 3501 5.2, 7.4.1),
IDLE (RFC 2177), UID stability, and a real synchronizing client (mbsync
from isync) against the server.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from test_imap import (ImapConn, make_server, q, fetch_items, fetch_map,
                       fetches, search_hits, status_of, parse,
                       show_log_on_failure, make_msg, wait_untagged)

PW = "sync-password-1"
USERS = ["flags@example.test", "newmail@example.test", "idle@example.test",
         "noexp@example.test", "mbs-plain@example.test",
         "mbs-tls@example.test", "kw@example.test", "recent@example.test",
         "gone@example.test"]

SRV = None


def setUpModule():
    global SRV
    SRV = make_server(users={u: PW for u in USERS})
    try:
        SRV.start()
    except Exception:
        SRV.cleanup()
        raise


def tearDownModule():
    if SRV is not None:
        SRV.cleanup()


def deliver(srv, rcpt, subject, body=b"Hello.\r\n"):
    """Delivers one message over SMTP (port 25 stand-in)."""
    s = srv.smtp()
    try:
        s.sendmail("sender@example.org", [rcpt],
                   make_msg(subject, body, to=rcpt))
    finally:
        s.quit()


def read_until(conn, pred, timeout=5.0):
    """Reads responses (e.g. while idling) until pred(response); returns
    the responses read, the matching one last."""
    out = []
    conn.raw.sock.settimeout(timeout)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            r = conn.read_response()
            out.append(r)
            if pred(r):
                return out
    except socket.timeout:
        pass
    finally:
        conn.raw.sock.settimeout(10)
    raise AssertionError(f"timed out; responses read: {out!r}")


class SyncBase(unittest.TestCase):

    @property
    def srv(self):
        return SRV

    def run(self, result=None):
        return show_log_on_failure(self, result, SRV, super().run)

    def conn(self, user, srv=None):
        c = ImapConn(srv or SRV)
        self.addCleanup(c.close)
        c.login(user, PW)
        return c


class TestTwoSessions(SyncBase):

    def test_flag_change_reported_on_noop(self):
        user = "flags@example.test"
        a = self.conn(user)
        a.ok('CREATE "shared"')
        for i in range(2):
            a.append_ok("shared", make_msg(f"flags {i}"))
        a.ok('SELECT "shared"')              # takes \Recent away
        b = self.conn(user)
        u, _ = b.ok('SELECT "shared"')
        self.assertIn(b"* 2 EXISTS", u)
        self.assertIn(b"* 0 RECENT", u)
        u, _ = a.ok("STORE 1 +FLAGS (\\Flagged)")
        # A was the first session to select: \Recent is A's.
        self.assertEqual({s: set(d["FLAGS"]) for s, d in fetches(u)},
                         {1: {"\\Flagged", "\\Recent"}})
        seen = wait_untagged(b, lambda r: r.startswith(b"* 1 FETCH"))
        self.assertEqual([(s, set(d["FLAGS"])) for s, d in fetches(seen)],
                         [(1, {"\\Flagged"})])
        self.assertFalse([r for r in seen if not r.startswith(b"* 1 FETCH")],
                         seen)
        # A keyword, and a flag removed, on the other message.
        a.ok("STORE 2 +FLAGS (\\Seen kwX)")
        seen = wait_untagged(b, lambda r: r.startswith(b"* 2 FETCH"))
        self.assertEqual({s: set(d["FLAGS"]) for s, d in fetches(seen)},
                         {2: {"\\Seen", "kwX"}})
        a.ok("STORE 2 -FLAGS (\\Seen)")
        seen = wait_untagged(b, lambda r: r.startswith(b"* 2 FETCH"))
        self.assertEqual({s: set(d["FLAGS"]) for s, d in fetches(seen)},
                         {2: {"kwX"}})
        # Nothing more is pending for B.
        u, _ = b.ok("NOOP")
        self.assertEqual(u, [])

    def test_new_mail_exists_and_recent(self):
        user = "newmail@example.test"
        b = self.conn(user)
        u, _ = b.ok("SELECT INBOX")
        self.assertIn(b"* 0 EXISTS", u)
        deliver(self.srv, user, "new mail 1")
        seen = wait_untagged(b, lambda r: r == b"* 1 EXISTS")
        self.assertIn(b"* 1 EXISTS", seen)
        self.assertIn(b"* 1 RECENT", seen)
        u, _ = b.ok("FETCH 1 (FLAGS)")
        self.assertEqual(set(fetch_map(u)[1]["FLAGS"]), {"\\Recent"})
        # B was the first session to be told: the message is not recent for
        # any session that comes later (RFC 3501 2.3.2).
        a = self.conn(user)
        u, _ = a.ok("SELECT INBOX")
        self.assertIn(b"* 1 EXISTS", u)
        self.assertIn(b"* 0 RECENT", u)
        u, _ = a.ok("FETCH 1 (FLAGS)")
        self.assertEqual(fetch_map(u)[1]["FLAGS"], [])


class TestIdle(SyncBase):

    def test_idle_reports_exists_flags_expunge(self):
        user = "idle@example.test"
        b = self.conn(user)
        u, _ = b.ok("SELECT INBOX")
        self.assertIn(b"* 0 EXISTS", u)
        b.send(b"i1 IDLE\r\n")
        cont = b.read_response()
        self.assertTrue(cont.startswith(b"+"), cont)

        s = self.srv.smtp()
        try:
            s.sendmail("sender@example.org", [user],
                       make_msg("idle mail", to=user))
            t0 = time.time()
            got = read_until(b, lambda r: r == b"* 1 EXISTS", timeout=5)
            elapsed = time.time() - t0
        finally:
            s.quit()
        self.assertLess(elapsed, 1.0, f"EXISTS after {elapsed:.3f}s")
        self.assertEqual(got[-1], b"* 1 EXISTS")

        a = self.conn(user)
        a.ok("SELECT INBOX")
        a.ok("STORE 1 +FLAGS (\\Flagged)")
        got = read_until(b, lambda r: r.startswith(b"* 1 FETCH"))
        # B is the session that was first told about the message.
        self.assertEqual(set(fetch_map(got)[1]["FLAGS"]),
                         {"\\Flagged", "\\Recent"})
        self.assertFalse([r for r in got if r.startswith(b"i1 ")], got)

        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        u, _ = a.ok("EXPUNGE")
        self.assertIn(b"* 1 EXPUNGE", u)
        got = read_until(b, lambda r: r.endswith(b"EXPUNGE"))
        self.assertEqual(got[-1], b"* 1 EXPUNGE")

        b.send(b"DONE\r\n")
        u, t = b.read_tagged("i1")
        self.assertEqual(status_of(t), "OK", t)
        self.assertFalse([r for r in u if b"EXPUNGE" in r or b"EXISTS" in r
                          and r != b"* 0 EXISTS"], u)
        u, _ = b.ok("NOOP")
        self.assertEqual(u, [])

    def test_idle_in_authenticated_state_and_bad_continuation(self):
        b = self.conn("idle@example.test")
        b.send(b"i2 IDLE\r\n")
        self.assertTrue(b.read_response().startswith(b"+"))
        b.send(b"DONE\r\n")
        u, t = b.read_tagged("i2")
        self.assertEqual(status_of(t), "OK", t)
        b.send(b"i3 IDLE\r\n")
        self.assertTrue(b.read_response().startswith(b"+"))
        b.send(b"NOOP\r\n")
        u, t = b.read_tagged("i3")
        self.assertEqual(status_of(t), "BAD", t)
        b.ok("NOOP")


class TestNoExpungeDuringFetch(SyncBase):

    def test_expunge_deferred_for_fetch_store_search(self):
        user = "noexp@example.test"
        a = self.conn(user)
        a.ok('CREATE "nx"')
        uids = [a.append_ok("nx", make_msg(f"nx {i}"))[1] for i in range(4)]
        a.ok('SELECT "nx"')
        b = self.conn(user)
        b.ok('SELECT "nx"')
        view = list(uids)          # B's idea of the mailbox

        def check(untagged):
            """Applies B's untagged responses in order: every FETCH
            must name the message the number means at that point."""
            for r in untagged:
                m = re.match(rb"\* (\d+) EXPUNGE$", r)
                if m:
                    del view[int(m.group(1)) - 1]
                    continue
                if re.match(rb"\* \d+ FETCH ", r):
                    seq, d = fetch_items(r)
                    if "UID" in d:
                        self.assertEqual(int(d["UID"]), view[seq - 1],
                                         (r, view))

        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        u, _ = a.ok("EXPUNGE")
        self.assertEqual([r for r in u if r.endswith(b"EXPUNGE")],
                         [b"* 2 EXPUNGE"])
        # Let the change notification reach B's connection.
        time.sleep(0.2)

        u, t = b.command("FETCH 1:4 (UID FLAGS)")
        self.assertIn(status_of(t), ("OK", "NO"), t)
        self.assertFalse([r for r in u if b"EXPUNGE" in r], u)
        check(u)
        f = fetch_map(u)
        # The old numbering still holds: uid 4 is message 4.
        self.assertEqual(f[1]["UID"], str(uids[0]))
        self.assertEqual(f[3]["UID"], str(uids[2]))
        self.assertEqual(f[4]["UID"], str(uids[3]))

        u, t = b.command("SEARCH ALL")
        self.assertEqual(status_of(t), "OK", t)
        self.assertFalse([r for r in u if b"EXPUNGE" in r], u)
        hits = search_hits(u)
        self.assertTrue({1, 3, 4} <= set(hits) <= {1, 2, 3, 4}, hits)

        u, t = b.command("STORE 4 +FLAGS (\\Seen)")
        self.assertEqual(status_of(t), "OK", t)
        self.assertFalse([r for r in u if b"EXPUNGE" in r], u)
        self.assertEqual({s: set(d["FLAGS"]) for s, d in fetches(u)},
                         {4: {"\\Seen"}})

        # UID FETCH may (and must, by now) announce the expunge.
        u, t = b.command("UID FETCH 1:* (FLAGS)")
        self.assertEqual(status_of(t), "OK", t)
        self.assertEqual([r for r in u if r.endswith(b"EXPUNGE")],
                         [b"* 2 EXPUNGE"])
        check(u)
        self.assertEqual(view, [uids[0], uids[2], uids[3]])

        # Second round: announced at the next NOOP.
        a.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        seen = wait_untagged(b, lambda r: r.endswith(b"EXPUNGE"))
        self.assertEqual([r for r in seen if r.endswith(b"EXPUNGE")],
                         [b"* 2 EXPUNGE"])
        check(seen)
        u, _ = b.ok("FETCH 1:* (UID)")
        self.assertEqual([d["UID"] for s, d in fetches(u)],
                         [str(uids[0]), str(uids[3])])


SYSFLAGS = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"


def flags_lines(keywords):
    """The FLAGS and PERMANENTFLAGS responses of a read-write session."""
    kw = "".join(" " + k for k in keywords)
    return [f"* FLAGS ({SYSFLAGS}{kw})".encode(),
            f"* OK [PERMANENTFLAGS ({SYSFLAGS}{kw} \\*)] Flags "
            "permitted.".encode()]


class SessionModel:
    """A client's idea of the selected mailbox, fed responses in order:
    every number must be one the client knows, and every keyword in a
    FETCH must have been announced in FLAGS first (RFC 3501 7.2.6)."""

    def __init__(self, test, exists, keywords=()):
        self.t = test
        self.count = exists
        self.known = {k.lower() for k in keywords}

    def feed(self, untagged):
        for r in untagged:
            if r.startswith(b"* FLAGS "):
                self.known = {f.lower() for f in parse(r[8:])[0]
                              if not f.startswith("\\")}
                continue
            m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH)\b", r)
            if m is None:
                continue
            n = int(m.group(1))
            if m.group(2) == b"EXISTS":
                self.t.assertGreaterEqual(n, self.count, r)
                self.count = n
                continue
            self.t.assertTrue(1 <= n <= self.count, (r, self.count))
            if m.group(2) == b"EXPUNGE":
                self.count -= 1
                continue
            _, d = fetch_items(r)
            for f in d.get("FLAGS", []):
                if not f.startswith("\\"):
                    self.t.assertIn(f.lower(), self.known,
                                    f"keyword used before FLAGS: {r!r}")
            if "MODSEQ" in d:
                self.t.assertGreater(int(d["MODSEQ"][0]), 0, r)


class TestKeywordAnnouncement(SyncBase):
    """A new keyword reaches every session in FLAGS/PERMANENTFLAGS before
    a FETCH shows it, whoever introduced it (STORE, APPEND, COPY)."""

    def test_store_append_copy_announce_keywords(self):
        user = "kw@example.test"
        a = self.conn(user)
        a.ok('CREATE "kwbox"')
        a.ok('CREATE "kwsrc"')
        for i in range(2):
            a.append_ok("kwbox", make_msg(f"kw {i}"))
        a.append_ok("kwsrc", make_msg("kw src"), flags="kwCopied")
        u, _ = a.ok('SELECT "kwbox"')          # \Recent is A's
        self.assertEqual(u[0], flags_lines([])[0])
        b = self.conn(user)
        b.ok('SELECT "kwbox"')
        c = self.conn(user)

        # STORE: the storing session itself, FLAGS first.
        u, _ = a.ok("STORE 1 +FLAGS (kwOne)")
        self.assertEqual(u, flags_lines(["kwOne"]) +
                         [b"* 1 FETCH (FLAGS (\\Recent kwOne))"])
        # ... and the other one at its next command.
        u, _ = b.ok("NOOP")
        self.assertEqual(u, flags_lines(["kwOne"]) +
                         [b"* 1 FETCH (FLAGS (kwOne))"])

        # A FETCH that reads a keyword B has not been told about yet.
        u, _ = a.ok("STORE 1 +FLAGS (kwTwo)")
        self.assertEqual(u, flags_lines(["kwOne", "kwTwo"]) +
                         [b"* 1 FETCH (FLAGS (\\Recent kwOne kwTwo))"])
        u, _ = b.ok("FETCH 1 (FLAGS)")
        self.assertEqual(u[:3], flags_lines(["kwOne", "kwTwo"]) +
                         [b"* 1 FETCH (FLAGS (kwOne kwTwo))"])
        SessionModel(self, 2, ["kwOne"]).feed(u)
        u, _ = a.ok("NOOP")
        self.assertEqual(u, [])

        # APPEND from a third session with a new keyword.
        c.append_ok("kwbox", make_msg("kw appended"), flags="kwAppended")
        u, _ = a.ok("NOOP")
        self.assertEqual(u, flags_lines(["kwOne", "kwTwo", "kwAppended"]) +
                         [b"* 3 EXISTS", b"* 3 RECENT"])
        u, _ = a.ok("FETCH 3 (FLAGS)")
        self.assertEqual(u, [b"* 3 FETCH (FLAGS (\\Recent kwAppended))"])
        u, _ = b.ok("NOOP")
        self.assertEqual(u, flags_lines(["kwOne", "kwTwo", "kwAppended"]) +
                         [b"* 3 EXISTS"])

        # COPY from another mailbox brings its keyword along.
        c.ok('SELECT "kwsrc"')
        c.ok('COPY 1 "kwbox"')
        all_kw = ["kwOne", "kwTwo", "kwAppended", "kwCopied"]
        for conn, recent in ((a, [b"* 4 RECENT"]), (b, [])):
            u, _ = conn.ok("NOOP")
            self.assertEqual(u, flags_lines(all_kw) + [b"* 4 EXISTS"] +
                             recent)
            u, _ = conn.ok("FETCH 4 (FLAGS)")
            self.assertEqual(u, [b"* 4 FETCH (FLAGS (%skwCopied))" %
                                 (b"\\Recent " if recent else b"")])


class TestRecentAcrossSessions(SyncBase):

    def test_examine_shows_recent_without_taking_it(self):
        user = "recent@example.test"
        a = self.conn(user)
        a.ok('CREATE "rx"')
        for i in range(2):
            a.append_ok("rx", make_msg(f"rx {i}"))
        # EXAMINE counts \Recent but must not take it (RFC 3501 6.3.2).
        u, t = a.ok('EXAMINE "rx"')
        self.assertIn(b"* 2 EXISTS", u)
        self.assertIn(b"* 2 RECENT", u)
        self.assertIn(b"[READ-ONLY]", t)
        u, _ = a.ok("FETCH 1:2 (FLAGS)")
        self.assertEqual(u, [b"* 1 FETCH (FLAGS (\\Recent))",
                             b"* 2 FETCH (FLAGS (\\Recent))"])
        a.ok("CLOSE")
        b = self.conn(user)
        u, _ = b.ok('STATUS "rx" (MESSAGES RECENT)')
        self.assertEqual(u, [b'* STATUS "rx" (MESSAGES 2 RECENT 2)'])
        u, _ = b.ok('SELECT "rx"')
        self.assertIn(b"* 2 RECENT", u)
        u, _ = a.ok('STATUS "rx" (RECENT)')
        self.assertEqual(u, [b'* STATUS "rx" (RECENT 0)'])
        u, _ = a.ok('EXAMINE "rx"')
        self.assertIn(b"* 0 RECENT", u)

    def test_status_does_not_count_claimed_recent(self):
        user = "recent@example.test"
        a = self.conn(user)
        a.ok('CREATE "rs"')
        a.ok('SELECT "rs"')
        b = self.conn(user)
        b.ok('SELECT "rs"')
        c = self.conn(user)
        # A appends and learns of the message first: it is A's \Recent.
        u, _ = a.append("rs", make_msg("rs 1"), flags="\\Seen")
        self.assertEqual(u, [b"* 1 EXISTS", b"* 1 RECENT"])
        u, _ = c.ok('STATUS "rs" (MESSAGES UNSEEN RECENT)')
        self.assertEqual(u, [b'* STATUS "rs" (MESSAGES 1 UNSEEN 0 '
                             b'RECENT 0)'])
        u, _ = b.ok("NOOP")
        self.assertEqual(u, [b"* 1 EXISTS"])
        # New mail nobody has heard of is recent in STATUS ...
        c.append_ok("rs", make_msg("rs 2"))
        u, _ = c.ok('STATUS "rs" (MESSAGES RECENT)')
        self.assertEqual(u, [b'* STATUS "rs" (MESSAGES 2 RECENT 1)'])
        # ... until a session with it selected is told.
        u, _ = b.ok("NOOP")
        self.assertEqual(u, [b"* 2 EXISTS", b"* 1 RECENT"])
        u, _ = c.ok('STATUS "rs" (MESSAGES RECENT)')
        self.assertEqual(u, [b'* STATUS "rs" (MESSAGES 2 RECENT 0)'])
        u, _ = a.ok("NOOP")
        self.assertEqual(u, [b"* 2 EXISTS"])
        u, _ = a.ok("FETCH 1:2 (FLAGS)")
        self.assertEqual(u, [b"* 1 FETCH (FLAGS (\\Seen \\Recent))",
                             b"* 2 FETCH (FLAGS ())"])


class TestChangesByOthers(SyncBase):

    def test_store_on_message_expunged_by_other_session(self):
        user = "gone@example.test"
        a = self.conn(user)
        a.ok('CREATE "gx"')
        uids = [a.append_ok("gx", make_msg(f"gx {i}"))[1] for i in range(3)]
        a.ok('SELECT "gx"')
        b = self.conn(user)
        b.ok("ENABLE CONDSTORE")
        b.ok('SELECT "gx"')
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        # B has not heard of the expunge: message 2 is gone under it.  No
        # FETCH for it (no stale flags, no MODSEQ 0) and no EXPUNGE yet
        # (RFC 3501 7.4.1); the others change.
        u, t = b.command("STORE 1:3 +FLAGS (\\Answered)")
        self.assertEqual(status_of(t), "OK", t)
        self.assertEqual([(n, d["UID"], d["FLAGS"]) for n, d in fetches(u)],
                         [(1, str(uids[0]), ["\\Answered"]),
                          (3, str(uids[2]), ["\\Answered"])])
        self.assertEqual(len(u), 2, u)
        SessionModel(self, 3).feed(u)
        u, _ = b.ok("NOOP")
        self.assertEqual(u, [b"* 2 EXPUNGE"])

    def test_expunge_and_new_mail_in_one_update(self):
        user = "gone@example.test"
        a = self.conn(user)
        a.ok('CREATE "gy"')
        uids = [a.append_ok("gy", make_msg(f"gy {i}"))[1] for i in range(3)]
        a.ok('SELECT "gy"')
        b = self.conn(user)
        b.ok('SELECT "gy"')
        c = self.conn(user)
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        new = c.append_ok("gy", make_msg("gy new"))[1]
        # One removed, one added: B still needs EXISTS, after the
        # EXPUNGE, so its numbers stay right (RFC 9051 7.5.1).
        u, _ = b.ok("NOOP")
        self.assertEqual(u, [b"* 1 EXPUNGE", b"* 3 EXISTS", b"* 1 RECENT"])
        u, _ = b.ok("FETCH 1:* (UID)")
        self.assertEqual([d["UID"] for n, d in fetches(u)],
                         [str(uids[1]), str(uids[2]), str(new)])
        u, _ = a.ok("NOOP")
        self.assertEqual(u, [b"* 3 EXISTS"])


class TestUidStability(unittest.TestCase):
    """Own server: it is restarted."""

    def setUp(self):
        self.srv = make_server()
        self.srv.start()
        self.addCleanup(self.srv.cleanup)

    def run(self, result=None):
        return show_log_on_failure(self, result,
                                   getattr(self, "srv", None), super().run)

    def conn(self):
        c = ImapConn(self.srv)
        self.addCleanup(c.close)
        c.login()
        return c

    def select_info(self, c, mbox):
        u, _ = c.ok(f"SELECT {q(mbox)}")
        info = {}
        for r in u:
            m = re.match(rb"\* OK \[(UIDVALIDITY|UIDNEXT) (\d+)\]", r)
            if m:
                info[m.group(1).decode()] = int(m.group(2))
        return info

    def test_uidvalidity_stable_uids_not_reused(self):
        c = self.conn()
        c.ok('CREATE "keep"')
        uv, u1 = c.append_ok("keep", make_msg("keep 1"))
        _, u2 = c.append_ok("keep", make_msg("keep 2"))
        inbox = self.select_info(c, "INBOX")
        keep = self.select_info(c, "keep")
        self.assertEqual(keep, {"UIDVALIDITY": uv, "UIDNEXT": u2 + 1})
        d = self.conn()
        self.assertEqual(self.select_info(d, "INBOX"), inbox)
        d.logout()

        # Expunge the highest UID, append: the UID is not reused.
        c.ok(f"UID STORE {u2} +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        _, u3 = c.append_ok("keep", make_msg("keep 3"))
        self.assertGreater(u3, u2)
        c.logout()

        self.srv.stop()
        self.srv.start()
        c = self.conn()
        self.assertEqual(self.select_info(c, "INBOX")["UIDVALIDITY"],
                         inbox["UIDVALIDITY"])
        self.assertEqual(self.select_info(c, "keep"),
                         {"UIDVALIDITY": uv, "UIDNEXT": u3 + 1})
        c.ok(f"UID STORE {u3} +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.logout()

        self.srv.stop()
        self.srv.start()
        c = self.conn()
        self.assertEqual(self.select_info(c, "keep"),
                         {"UIDVALIDITY": uv, "UIDNEXT": u3 + 1})
        uv4, u4 = c.append_ok("keep", make_msg("keep 4"))
        self.assertEqual(uv4, uv)
        self.assertGreater(u4, u3)
        u, _ = c.ok("UID FETCH 1:* (UID)")
        self.assertEqual([d["UID"] for s, d in fetches(u)],
                         [str(u1), str(u4)])


# ----------------------------------------------------------------------

def maildir_files(root):
    """{relative path: bytes} of every message file under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.basename(dirpath) not in ("new", "cur"):
            continue
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def subject_of(data):
    m = re.search(rb"^Subject: (.*?)\r?$", data, re.M)
    return m.group(1).decode() if m else None


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def strip_tuid(data):
    """mbsync may add an X-TUID header to messages it uploads."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r?\n", b"", data)


class TestMbsync(SyncBase):

    def server_state(self, user):
        """{mailbox: (UIDVALIDITY, UIDNEXT, [(uid, flags, size)])}."""
        c = self.conn(user)
        u, _ = c.ok('LIST "" "*"')
        names = [parse(r[7:])[2] for r in u if r.startswith(b"* LIST ")]
        state = {}
        for n in names:
            n = n.decode() if isinstance(n, bytes) else n
            u, _ = c.ok(f"EXAMINE {q(n)}")
            info = {}
            for r in u:
                m = re.match(rb"\* OK \[(UIDVALIDITY|UIDNEXT) (\d+)\]", r)
                if m:
                    info[m.group(1)] = int(m.group(2))
            msgs = []
            if b"* 0 EXISTS" not in u:
                u, _ = c.ok("FETCH 1:* (UID FLAGS RFC822.SIZE)")
                msgs = [(int(d["UID"]),
                         frozenset(d["FLAGS"]) - {"\\Recent"},
                         int(d["RFC822.SIZE"])) for s, d in fetches(u)]
            state[n] = (info[b"UIDVALIDITY"], info[b"UIDNEXT"], msgs)
        c.logout()
        return state

    def inbox_messages(self, user):
        """{subject: (flags, bytes)} of the server's INBOX."""
        c = self.conn(user)
        c.ok("EXAMINE INBOX")
        u, _ = c.ok("FETCH 1:* (FLAGS BODY.PEEK[])")
        out = {}
        for s, d in fetches(u):
            out[subject_of(d["BODY[]"])] = (
                frozenset(d["FLAGS"]) - {"\\Recent"}, d["BODY[]"])
        c.logout()
        return out

    def mbsync(self, rc):
        r = subprocess.run(["mbsync", "-c", rc, "-a"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0,
                         f"mbsync failed:\n{r.stdout}\n{r.stderr}")
        return r

    def scenario(self, user, listener):
        tmp = tempfile.mkdtemp(prefix="posthorn-mbsync-")
        self.addCleanup(shutil.rmtree, tmp, True)
        mail = os.path.join(tmp, "mail")
        os.makedirs(mail)
        rc = os.path.join(tmp, "mbsyncrc")
        if listener == "imaps":
            tls = ("SSLType IMAPS\nCertificateFile " +
                   os.path.join(self.srv.data_dir, "tls", "selfsigned.crt"))
        else:
            tls = "SSLType None"
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount acct
Host 127.0.0.1
Port {self.srv.port[listener]}
User {user}
Pass {PW}
{tls}

IMAPStore remote
Account acct

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Sync All
Create Both
Expunge Both
SyncState *
""")
        for i in range(3):
            deliver(self.srv, user, f"mb {i}", f"body {i}\r\n".encode())
        before = self.inbox_messages(user)
        self.assertEqual(set(before), {"mb 0", "mb 1", "mb 2"})

        # 1. Everything comes down.
        self.mbsync(rc)
        files = maildir_files(mail)
        inbox_files = {p: d for p, d in files.items()
                       if p.startswith("INBOX" + os.sep)}
        by_subject = {subject_of(d): p for p, d in inbox_files.items()}
        self.assertEqual(set(by_subject), {"mb 0", "mb 1", "mb 2"})
        for subj, p in by_subject.items():
            self.assertEqual(strip_tuid(crlf(inbox_files[p])),
                             before[subj][1])
        for box in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
            self.assertTrue(os.path.isdir(os.path.join(mail, box, "cur")),
                            box)

        # 2. Flag one, delete one, add one locally.
        def rename(p, flags):
            base = os.path.basename(p).split(":2,")[0]
            os.rename(os.path.join(mail, p),
                      os.path.join(mail, "INBOX", "cur", base + ":2," + flags))
        rename(by_subject["mb 0"], "F")
        rename(by_subject["mb 1"], "T")
        new_msg = (b"From: me@example.org\nTo: " + user.encode() +
                   b"\nSubject: mb new\nMessage-ID: <mb-new@example.org>\n"
                   b"\nwritten into the maildir\n")
        with open(os.path.join(mail, "INBOX", "new",
                               f"{int(time.time())}.{os.getpid()}_1.test"),
                  "wb") as f:
            f.write(new_msg)
        self.mbsync(rc)
        after = self.inbox_messages(user)
        self.assertEqual({s: v[0] for s, v in after.items()},
                         {"mb 0": frozenset({"\\Flagged"}),
                          "mb 2": frozenset(),
                          "mb new": frozenset()})
        self.assertEqual(after["mb 0"][1], before["mb 0"][1])
        self.assertEqual(strip_tuid(after["mb new"][1]), crlf(new_msg))
        files = maildir_files(mail)
        self.assertEqual(sorted(subject_of(d) for p, d in files.items()
                                if p.startswith("INBOX" + os.sep)),
                         ["mb 0", "mb 2", "mb new"])

        # 3. Nothing left to do: a third run changes nothing anywhere.
        state = self.server_state(user)
        names = sorted(files)
        self.mbsync(rc)
        self.assertEqual(self.server_state(user), state)
        self.assertEqual(sorted(maildir_files(mail)), names)

    def test_mbsync_plaintext_loopback(self):
        self.scenario("mbs-plain@example.test", "imap")

    def test_mbsync_imaps(self):
        self.scenario("mbs-tls@example.test", "imaps")


if __name__ == "__main__":
    unittest.main()

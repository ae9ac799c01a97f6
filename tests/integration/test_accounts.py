"""
test_accounts - per-account and per-domain settings as real clients see
them: protocol switches (account value, domain default, "default"),
disabled and receive-only accounts, sessions ended when access is taken
away, storage quotas (IMAP QUOTA, RFC 9208; APPEND/COPY [OVERQUOTA];
SMTP 452 4.2.2), app passwords, POP3 "leave on server" (pop3_keep),
POP3 CAPA EXPIRE/LOGIN-DELAY (RFC 2449) and POP3 next to IMAP on one
INBOX.

Most tests share one server and use their own accounts; settings that
are per domain get a domain of their own, so nothing interferes.

Replies are read from raw sockets where the exact bytes matter: a refusal
that is only given to someone who knew the password must not be
distinguishable from a wrong password otherwise, so the wrong-password
replies are compared byte for byte with those of an account whose
switches are all on.
"""
import base64
import email.utils
import glob
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

Server = harness.Server
PW = "Acct-Secret-77"
WRONG = "not-the-password-9"
CONTROL = "control@example.test"     # every switch on, no quota

K = 1024


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def msg(subject, body=b"Hello.\r\n", frm=b"sender@example.org"):
    return (b"From: " + frm + b"\r\nTo: someone@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n\r\n" + body)


def body_of(size):
    """A body of exactly `size` bytes (a multiple of 100), in CRLF lines."""
    assert size % 100 == 0
    return (b"x" * 98 + b"\r\n") * (size // 100)


# -- raw protocol clients ---------------------------------------------------

class Line:
    """Common part: a RawClient with CRLF-checked lines."""

    def __init__(self, srv, listener):
        self.rc = srv.raw(listener, timeout=10)

    def line(self):
        raw = self.rc.readline()
        if not raw:
            raise AssertionError("connection closed")
        if not raw.endswith(b"\r\n"):
            raise AssertionError(f"line without CRLF: {raw!r}")
        return raw[:-2].decode("utf-8", "replace")

    def send(self, data):
        self.rc.send(data.encode() if isinstance(data, str) else data)

    def ended(self, timeout):
        """Waits (bounded) for the server to close; returns (the lines it
        sent before closing, seconds it took)."""
        t0 = time.time()
        closed = self.rc.closed(timeout)
        dt = time.time() - t0
        if not closed:
            raise AssertionError(f"connection still open after {timeout}s")
        data = self.rc.buf
        self.rc.buf = b""
        return data.decode("utf-8", "replace").split("\r\n")[:-1], dt

    def close(self):
        self.rc.close()


class Pop(Line):
    def __init__(self, srv, listener="pop3"):
        super().__init__(srv, listener)
        g = self.line()
        assert g.startswith("+OK"), g

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multi(self):
        out = []
        while True:
            ln = self.line()
            if ln == ".":
                return out
            out.append(ln)

    def multi_bytes(self):
        """A multi-line body, dot-stuffing undone, as bytes."""
        out = b""
        while True:
            raw = self.rc.readline()
            if not raw.endswith(b"\r\n"):
                raise AssertionError(f"bad line {raw!r}")
            if raw == b".\r\n":
                return out
            out += raw[1:] if raw.startswith(b".") else raw

    def user_pass(self, user, pw):
        r = self.cmd(f"USER {user}")
        assert r.startswith("+OK"), r
        return self.cmd(f"PASS {pw}")

    def auth_plain(self, user, pw):
        return self.cmd("AUTH PLAIN " + b64(f"\0{user}\0{pw}"))

    def uidl(self):
        r = self.cmd("UIDL")
        assert r.startswith("+OK"), r
        return [ln.split(" ")[1] for ln in self.multi()]


class Imap(Line):
    LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")

    def __init__(self, srv, listener="imap"):
        super().__init__(srv, listener)
        self.n = 0
        g = self.line()
        assert g.startswith("* OK"), g

    def response(self):
        """One response as bytes, literals included."""
        out = b""
        while True:
            raw = self.rc.readline()
            if not raw:
                raise AssertionError("connection closed")
            out += raw
            m = self.LITERAL.search(raw)
            if not m:
                return out[:-2]
            need = int(m.group(1))
            while len(self.rc.buf) < need:
                chunk = self.rc.sock.recv(65536)
                if not chunk:
                    raise AssertionError("closed in literal")
                self.rc.buf += chunk
            out += self.rc.buf[:need]
            self.rc.buf = self.rc.buf[need:]

    def cmd(self, text, tag=None, literal=None):
        """Sends `tag text` (with an optional LITERAL+ literal appended);
        returns (untagged responses as str, tagged reply as str)."""
        if tag is None:
            self.n += 1
            tag = f"t{self.n}"
        data = f"{tag} {text}".encode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.send(data + b"\r\n")
        untagged = []
        while True:
            r = self.response()
            if r.startswith(tag.encode() + b" "):
                return untagged, r.decode("utf-8", "replace")
            untagged.append(r.decode("utf-8", "replace"))

    def ok(self, text, **kw):
        u, t = self.cmd(text, **kw)
        assert t.split(" ")[1] == "OK", (text, t)
        return u

    def login(self, user, pw=PW):
        u, t = self.cmd(f'LOGIN "{user}" "{pw}"')
        assert t.split(" ")[1] == "OK", t
        return self


class Smtp(Line):
    def __init__(self, srv, listener="smtp"):
        super().__init__(srv, listener)
        g = self.reply()
        assert g.startswith("220"), g
        r = self.cmd("EHLO client.example.org")
        assert r.startswith("250"), r

    def reply(self):
        """A full (possibly multi-line) reply; returns its last line, or
        the whole reply joined with newlines when multi-line."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if len(ln) < 4 or ln[3] != "-":
                return "\n".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def auth_plain(self, user, pw):
        return self.cmd("AUTH PLAIN " + b64(f"\0{user}\0{pw}"))

    def auth_login(self, user, pw):
        r = self.cmd("AUTH LOGIN")
        assert r.startswith("334 "), r
        r = self.cmd(b64(user))
        assert r.startswith("334 "), r
        return self.cmd(b64(pw))

    def data(self, message):
        r = self.cmd("DATA")
        assert r.startswith("354"), r
        lines = message.split(b"\r\n")
        if lines[-1] == b"":
            lines = lines[:-1]
        stuffed = b"".join((b"." + ln if ln.startswith(b".") else ln) +
                           b"\r\n" for ln in lines)
        self.send(stuffed + b".\r\n")
        return self.reply()


# -- helpers on the server ---------------------------------------------------

def deliver(srv, rcpt, message):
    """One message over port 25; returns the RCPT and DATA replies."""
    s = Smtp(srv)
    try:
        r = s.cmd("MAIL FROM:<sender@example.org>")
        assert r.startswith("250"), r
        rcpt_r = s.cmd(f"RCPT TO:<{rcpt}>")
        if not rcpt_r.startswith("250"):
            return rcpt_r, None
        return rcpt_r, s.data(message)
    finally:
        s.cmd("QUIT")
        s.close()


def fetch_all(srv, user, pw=PW, mailbox="INBOX"):
    """[(uid, sorted flags, bytes)] of a mailbox, read with BODY.PEEK.
    \\Recent is left out: EXAMINE shows it until some session claims it,
    so it depends on who looked first, not on the message."""
    m = Imap(srv).login(user, pw)
    try:
        u = m.ok(f'EXAMINE "{mailbox}"')
        n = [int(x.split()[1]) for x in u if x.endswith(" EXISTS")][0]
        if n == 0:
            return []
        meta = []
        for r in m.ok(f"FETCH 1:{n} (UID FLAGS)"):
            uid = int(re.search(r"UID (\d+)", r).group(1))
            flags = re.search(r"FLAGS \(([^)]*)\)", r).group(1).split()
            meta.append((uid, sorted(f for f in flags if f != "\\Recent")))
        m.send(b"b1 FETCH 1:%d (BODY.PEEK[])\r\n" % n)
        bodies = []
        while True:
            r = m.response()
            if r.startswith(b"b1 "):
                assert r.startswith(b"b1 OK"), r
                break
            i = r.index(b"}\r\n")
            size = int(r[r.rindex(b"{", 0, i) + 1:i])
            bodies.append(r[i + 3:i + 3 + size])
        assert len(bodies) == n
        return [(uid, flags, b) for (uid, flags), b in zip(meta, bodies)]
    finally:
        m.close()


def sizes_all_mailboxes(srv, user, pw=PW):
    """RFC822.SIZE of every message in every mailbox, summed."""
    m = Imap(srv).login(user, pw)
    try:
        names = [re.search(r'"/" (.*)$', x).group(1)
                 for x in m.ok('LIST "" "*"')]
        total = 0
        for name in names:
            u = m.ok(f"EXAMINE {name}")
            n = [int(x.split()[1]) for x in u if x.endswith(" EXISTS")][0]
            if n:
                for r in m.ok(f"FETCH 1:{n} (RFC822.SIZE)"):
                    total += int(re.search(r"RFC822\.SIZE (\d+)",
                                           r).group(1))
        return total
    finally:
        m.close()


def show(srv, what, name):
    """`posthorn user|domain show` as {key: value} (both "key: v" and
    "key   v" forms)."""
    out = srv.cli(what, "show", name).stdout
    d = {}
    for ln in out.splitlines():
        m = re.match(r"^([a-z0-9_ ]+?):?\s{2,}(.*)$", ln) or \
            re.match(r"^([a-z0-9_ ]+):\s*(.*)$", ln)
        if m:
            d[m.group(1).strip()] = m.group(2).strip()
    return d


def quotaroot(lines):
    """The untagged GETQUOTAROOT replies with the mailbox name in its
    atom form: RFC 9208 sends it as an astring, so INBOX and "INBOX" are
    the same."""
    return [re.sub(r'^\* QUOTAROOT "INBOX"', "* QUOTAROOT INBOX", x)
            for x in lines]


def used_bytes(srv, user):
    """The "used:" of `user show`: bytes, printed with a k/M/G suffix
    (powers of 1024) when that is exact, e.g. "50k (100%)" for 51200."""
    v = show(srv, "user", user)["used"].split()[0]
    m = re.fullmatch(r"(\d+)([kMG]?)", v)
    assert m, v
    return int(m.group(1)) * {"": 1, "k": K, "M": K * K,
                              "G": K * K * K}[m.group(2)]


ACCOUNTS = [
    CONTROL, "cliset@example.test",
    # 1 protocol switches
    "nopop@example.test", "noimap@example.test", "nosub@example.test",
    "popo@example.test", "imapo@example.test", "arrive@example.test",
    "d1@dflt.test", "d2@dflt.test", "d3@dflt.test",
    # 2 sessions ended
    "evimap@example.test", "evpop@example.test", "evdis@example.test",
    "evdel@example.test", "bystander@example.test", "ev@evict.test",
    # 3 disabled
    "dis@example.test", "ro@example.test", "adis@example.test",
    "alive@example.test", "soledis@example.test",
    # 4 quotas
    "qimap@example.test", "qnone@example.test", "qappend@example.test",
    "qsmtp@example.test", "qsize@example.test", "qused@example.test",
    "dq@quota.test", "dqnone@quota.test",
    # 5 app passwords
    "ap@example.test", "apdel@example.test", "aplog@example.test",
    # 6 pop3_keep
    "k@keep.test", "nokeep@example.test",
    # 7, 8
    "capa@example.test", "fm@example.test", "both@example.test",
]


class AccountsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        try:
            for d in ("dflt.test", "evict.test", "quota.test", "keep.test"):
                cls.srv.cli("domain", "add", d)
            for a in ACCOUNTS:
                cls.srv.add_user(a, PW)
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def set(self, *args):
        return self.srv.cli(*args)

    # -- reference replies for a wrong password (switches on) -------------

    def pop_replies(self, user, pw):
        """(USER/PASS reply, AUTH PLAIN reply) for user/pw.  When USER/PASS
        gets in, the session QUITs (releasing the maildrop lock) and the
        second reply is None."""
        p = Pop(self.srv)
        try:
            r1 = p.user_pass(user, pw)
            if r1.startswith("+OK"):
                assert p.cmd("QUIT").startswith("+OK")
                assert p.rc.closed()
                return r1, None
            return r1, p.auth_plain(user, pw)
        finally:
            p.close()

    def imap_replies(self, user, pw):
        """(LOGIN reply, AUTHENTICATE PLAIN reply), tags a1/a2."""
        m = Imap(self.srv)
        try:
            _, r1 = m.cmd(f'LOGIN "{user}" "{pw}"', tag="a1")
            _, r2 = m.cmd("AUTHENTICATE PLAIN " + b64(f"\0{user}\0{pw}"),
                          tag="a2")
            return r1, r2
        finally:
            m.close()

    def smtp_replies(self, user, pw):
        """(AUTH PLAIN reply, AUTH LOGIN reply) on the submission port,
        each on a connection of its own."""
        out = []
        for how in ("auth_plain", "auth_login"):
            s = Smtp(self.srv, "submission")
            try:
                out.append(getattr(s, how)(user, pw))
            finally:
                s.close()
        return tuple(out)

    def wrong_refs(self):
        return (self.pop_replies(CONTROL, WRONG),
                self.imap_replies(CONTROL, WRONG),
                self.smtp_replies(CONTROL, WRONG))

    def test_reference_replies(self):
        pop, imap, smtp = self.wrong_refs()
        self.assertEqual(pop, ("-ERR [AUTH] Authentication failed.",
                               "-ERR [AUTH] Authentication failed."))
        self.assertEqual(imap, (
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
            "a2 NO [AUTHENTICATIONFAILED] Authentication failed."))
        self.assertTrue(smtp[0].startswith("535 5.7.8 "), smtp)
        self.assertTrue(smtp[1].startswith("535 5.7.8 "), smtp)

    # == 1. protocol switches ==============================================

    def test_pop3_off(self):
        user = "nopop@example.test"
        self.set("user", "set", user, "pop3=off")
        self.assertEqual(show(self.srv, "user", user)["pop3"], "off")
        refs = self.wrong_refs()
        r = "-ERR [AUTH] POP3 is disabled for this account."
        self.assertEqual(self.pop_replies(user, PW), (r, r))
        self.assertEqual(self.pop_replies(user, WRONG), refs[0])
        # IMAP and submission are untouched ("IMAP only").
        self.assertEqual(self.imap_replies(user, PW)[0][:6], "a1 OK ")
        self.assertTrue(self.smtp_replies(user, PW)[0].startswith("235 "))

    def test_imap_off(self):
        user = "noimap@example.test"
        self.set("user", "set", user, "imap=off")
        refs = self.wrong_refs()
        self.assertEqual(self.imap_replies(user, PW), (
            "a1 NO [NOPERM] IMAP is disabled for this account.",
            "a2 NO [NOPERM] IMAP is disabled for this account."))
        self.assertEqual(self.imap_replies(user, WRONG), refs[1])
        # POP3 only: POP3 works.
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.assertEqual(p.cmd("STAT"), "+OK 0 0")
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()

    def test_submission_off(self):
        user = "nosub@example.test"
        self.set("user", "set", user, "submission=off")
        refs = self.wrong_refs()
        r = "535 5.7.1 Sending mail is disabled for this account"
        self.assertEqual(self.smtp_replies(user, PW), (r, r))
        self.assertEqual(self.smtp_replies(user, WRONG), refs[2])
        # Port 25 still takes mail for it.
        rcpt, data = deliver(self.srv, user, msg("to nosub"))
        self.assertTrue(rcpt.startswith("250 "), rcpt)
        self.assertTrue(data.startswith("250 "), data)

    def test_pop3_only_and_imap_only_accounts(self):
        popo, imapo = "popo@example.test", "imapo@example.test"
        self.set("user", "set", popo, "imap=off")
        self.set("user", "set", imapo, "pop3=off")
        for u in (popo, imapo):
            rcpt, data = deliver(self.srv, u, msg("for " + u))
            self.assertTrue(data.startswith("250 "), data)
        # popo: POP3 reads its message, IMAP refused.
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(popo, PW), "+OK Logged in.")
            self.assertTrue(p.cmd("RETR 1").startswith("+OK"))
            self.assertIn(b"\r\nSubject: for popo@example.test\r\n",
                          p.multi_bytes())
        finally:
            p.close()
        self.assertEqual(self.imap_replies(popo, PW)[0],
                         "a1 NO [NOPERM] IMAP is disabled for this account.")
        # imapo: IMAP reads it, POP3 refused.
        got = fetch_all(self.srv, imapo)
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0][2].endswith(msg("for imapo@example.test")))
        self.assertEqual(self.pop_replies(imapo, PW)[0],
                         "-ERR [AUTH] POP3 is disabled for this account.")

    def test_mail_arrives_while_switched_off(self):
        user = "arrive@example.test"
        self.set("user", "set", user, "imap=off", "pop3=off")
        m = msg("arrives anyway", b"kept while switched off\r\n")
        rcpt, data = deliver(self.srv, user, m)
        self.assertTrue(rcpt.startswith("250 "), rcpt)
        self.assertTrue(data.startswith("250 "), data)
        self.assertEqual(self.imap_replies(user, PW)[0],
                         "a1 NO [NOPERM] IMAP is disabled for this account.")
        self.set("user", "set", user, "imap=on")
        got = fetch_all(self.srv, user)
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0][2].startswith(b"Return-Path: <"))
        self.assertIn(b"\r\nReceived: ", got[0][2])
        self.assertTrue(got[0][2].endswith(m))
        self.set("user", "set", user, "pop3=default")
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.assertEqual(p.cmd("STAT"), f"+OK 1 {len(got[0][2])}")
        finally:
            p.close()

    def test_domain_defaults_and_overrides(self):
        d1, d2, d3 = "d1@dflt.test", "d2@dflt.test", "d3@dflt.test"
        self.set("domain", "set", "dflt.test", "pop3=off", "imap=off")
        dom = show(self.srv, "domain", "dflt.test")
        self.assertEqual((dom["imap"], dom["pop3"], dom["submission"]),
                         ("off", "off", "on"))
        self.set("user", "set", d2, "pop3=on")
        self.set("user", "set", d3, "imap=on", "pop3=off")
        self.assertEqual(show(self.srv, "user", d1)["pop3"],
                         "off (domain default)")
        self.assertEqual(show(self.srv, "user", d2)["pop3"], "on")
        self.assertEqual(show(self.srv, "user", d2)["imap"],
                         "off (domain default)")
        refs = self.wrong_refs()
        pop_off = "-ERR [AUTH] POP3 is disabled for this account."
        imap_off = "a1 NO [NOPERM] IMAP is disabled for this account."
        # d1 follows the domain: both off.
        self.assertEqual(self.pop_replies(d1, PW)[0], pop_off)
        self.assertEqual(self.imap_replies(d1, PW)[0], imap_off)
        self.assertEqual(self.pop_replies(d1, WRONG), refs[0])
        self.assertEqual(self.imap_replies(d1, WRONG), refs[1])
        # d2: pop3=on overrides the domain; imap from the domain.
        self.assertEqual(self.pop_replies(d2, PW)[0], "+OK Logged in.")
        self.assertEqual(self.imap_replies(d2, PW)[0], imap_off)
        # d3: imap=on overrides; pop3=off the same as the domain.
        self.assertEqual(self.imap_replies(d3, PW)[0][:6], "a1 OK ")
        self.assertEqual(self.pop_replies(d3, PW)[0], pop_off)
        # "default" goes back to the domain's value.
        self.set("user", "set", d2, "pop3=default")
        self.assertEqual(show(self.srv, "user", d2)["pop3"],
                         "off (domain default)")
        self.assertEqual(self.pop_replies(d2, PW)[0], pop_off)
        # Changing the domain changes d1 and d2, not d3's own imap=on.
        self.set("domain", "set", "dflt.test", "pop3=on", "imap=on")
        self.assertEqual(self.pop_replies(d2, PW)[0], "+OK Logged in.")
        self.assertEqual(self.imap_replies(d1, PW)[0][:6], "a1 OK ")
        self.assertEqual(self.pop_replies(d3, PW)[0], pop_off)

    def test_cli_settings(self):
        user = "cliset@example.test"
        srv = self.srv
        srv.cli("user", "set", user, "quota=100k", "imap=off")
        d = show(srv, "user", user)
        self.assertEqual((d["quota"], d["imap"], d["pop3"], d["webmail"],
                          d["status"], d["app passwords"]),
                         ("100k", "off", "on (domain default)",
                          "on (domain default)", "enabled", "0"))
        srv.cli("user", "set", user, "quota=5m", "imap=default",
                "webmail=off", "enabled=receive-only")
        d = show(srv, "user", user)
        self.assertEqual((d["quota"], d["imap"], d["webmail"]),
                         ("5M", "on (domain default)", "off"))
        self.assertTrue(d["status"].startswith("disabled"), d)
        self.assertIn("receive-only", d["status"])
        # Bad settings are refused and change nothing.
        for bad in (["quota=5q"], ["imap=maybe"], ["enabled=perhaps"],
                    ["bogus=1"], ["pop3=off", "quota=-1"]):
            r = srv.cli("user", "set", user, *bad, check=False)
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertEqual(show(srv, "user", user), d, bad)
        r = srv.cli("apppass", "add", user, "x", "protocols=ftp",
                    check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertEqual(srv.cli("apppass", "list", user).stdout, "")
        for cmd in (["user", "show", "nosuch@example.test"],
                    ["user", "set", "nosuch@example.test", "imap=off"],
                    ["domain", "show", "nosuch.test"],
                    ["apppass", "add", "nosuch@example.test", "x"]):
            r = srv.cli(*cmd, check=False)
            self.assertNotEqual(r.returncode, 0, cmd)
            self.assertEqual(r.stdout, "", cmd)

    # == 2. open sessions are ended ========================================

    def assert_imap_ended(self, m, timeout=4):
        lines, dt = m.ended(timeout)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("* BYE "), lines)
        self.assertLess(dt, 2.5)
        return lines[0]

    def assert_pop_ended(self, p, timeout=4):
        lines, dt = p.ended(timeout)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("-ERR [AUTH] "), lines)
        self.assertLess(dt, 2.5)
        return lines[0]

    def test_imap_session_ended_when_imap_switched_off(self):
        user = "evimap@example.test"
        m = Imap(self.srv).login(user)
        by = Imap(self.srv).login("bystander@example.test")
        try:
            m.ok("SELECT INBOX")
            by.ok("SELECT INBOX")
            self.set("user", "set", user, "imap=off")
            self.assert_imap_ended(m)
            # Another account's session goes on.
            u, t = by.cmd("NOOP")
            self.assertEqual(t.split(" ")[1], "OK")
        finally:
            m.close()
            by.close()
        # And a new IMAP login is refused.
        self.assertEqual(self.imap_replies(user, PW)[0],
                         "a1 NO [NOPERM] IMAP is disabled for this account.")

    def test_pop3_session_ended_when_pop3_switched_off(self):
        user = "evpop@example.test"
        deliver(self.srv, user, msg("ev pop"))
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.assertTrue(p.cmd("DELE 1").startswith("+OK"))
            self.set("user", "set", user, "pop3=off")
            self.assert_pop_ended(p)
        finally:
            p.close()
        # Ended without QUIT: the DELE was not carried out.
        self.assertEqual(len(fetch_all(self.srv, user)), 1)

    def test_sessions_ended_when_account_disabled(self):
        """IMAP in IDLE, POP3 in TRANSACTION and an authenticated
        submission session, all of one account, end when it is disabled;
        SMTP closes with 421 (RFC 5321 3.8)."""
        user = "evdis@example.test"
        m = Imap(self.srv).login(user)
        p = Pop(self.srv)
        s = Smtp(self.srv, "submission")
        try:
            m.ok("SELECT INBOX")
            m.send("i1 IDLE\r\n")
            self.assertTrue(m.line().startswith("+"))
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.assertTrue(s.auth_plain(user, PW).startswith("235 "))
            self.set("user", "set", user, "enabled=no")
            self.assertEqual(self.assert_imap_ended(m),
                             "* BYE Account is disabled.")
            self.assertEqual(self.assert_pop_ended(p),
                             "-ERR [AUTH] Account is disabled.")
            lines, dt = s.ended(4)
            self.assertEqual(len(lines), 1, lines)
            self.assertTrue(lines[0].startswith("421 4.7.0 "), lines)
            self.assertLess(dt, 2.5)
        finally:
            m.close()
            p.close()
            s.close()

    def test_sessions_ended_when_account_deleted(self):
        user = "evdel@example.test"
        m = Imap(self.srv).login(user)
        p = Pop(self.srv)
        try:
            m.ok("SELECT INBOX")
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.set("user", "del", user)
            self.assertEqual(self.assert_imap_ended(m),
                             "* BYE Account was deleted.")
            self.assertEqual(self.assert_pop_ended(p),
                             "-ERR [AUTH] Account was deleted.")
        finally:
            m.close()
            p.close()
        self.assertEqual(self.imap_replies(user, PW)[0],
                         "a1 NO [AUTHENTICATIONFAILED] "
                         "Authentication failed.")

    def test_session_ended_when_domain_default_switched_off(self):
        user = "ev@evict.test"
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.set("domain", "set", "evict.test", "pop3=off")
            self.assert_pop_ended(p)
        finally:
            p.close()

    # == 3. disabled accounts ==============================================

    def test_disabled_account(self):
        user = "dis@example.test"
        deliver(self.srv, user, msg("before disabling"))
        self.set("user", "set", user, "enabled=no")
        self.assertTrue(show(self.srv, "user", user)["status"]
                        .startswith("disabled"))
        refs = self.wrong_refs()
        self.assertEqual(self.imap_replies(user, PW), (
            "a1 NO [NOPERM] Account is disabled.",
            "a2 NO [NOPERM] Account is disabled."))
        self.assertEqual(self.pop_replies(user, PW), (
            "-ERR [AUTH] Account is disabled.",
            "-ERR [AUTH] Account is disabled."))
        sub = self.smtp_replies(user, PW)
        self.assertTrue(sub[0].startswith("535 5.7.1 "), sub)
        self.assertEqual(self.imap_replies(user, WRONG), refs[1])
        self.assertEqual(self.pop_replies(user, WRONG), refs[0])
        self.assertEqual(self.smtp_replies(user, WRONG), refs[2])
        rcpt, _ = deliver(self.srv, user, msg("while disabled"))
        self.assertTrue(rcpt.startswith("550 5.2.1 "), rcpt)
        self.set("user", "set", user, "enabled=yes")
        self.assertEqual(show(self.srv, "user", user)["status"], "enabled")
        got = fetch_all(self.srv, user)
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0][2].endswith(msg("before disabling")))

    def test_receive_only_account(self):
        user = "ro@example.test"
        self.set("user", "set", user, "enabled=receive-only")
        m = msg("receive only", b"stored while logins are refused\r\n")
        rcpt, data = deliver(self.srv, user, m)
        self.assertTrue(rcpt.startswith("250 "), rcpt)
        self.assertTrue(data.startswith("250 "), data)
        self.assertEqual(self.imap_replies(user, PW)[0],
                         "a1 NO [NOPERM] Account is disabled.")
        self.assertEqual(self.pop_replies(user, PW)[0],
                         "-ERR [AUTH] Account is disabled.")
        self.assertTrue(self.smtp_replies(user, PW)[0]
                        .startswith("535 5.7.1 "))
        self.set("user", "set", user, "enabled=yes")
        got = fetch_all(self.srv, user)
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0][2].endswith(m))

    def test_alias_skips_disabled_target(self):
        dis, live = "adis@example.test", "alive@example.test"
        self.set("alias", "add", "team@example.test", f"{dis},{live}")
        self.set("user", "set", dis, "enabled=no")
        m = msg("to the team")
        rcpt, data = deliver(self.srv, "team@example.test", m)
        self.assertTrue(rcpt.startswith("250 "), rcpt)
        self.assertTrue(data.startswith("250 "), data)
        got = fetch_all(self.srv, live)
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0][2].endswith(m))
        self.set("user", "set", dis, "enabled=yes")
        self.assertEqual(fetch_all(self.srv, dis), [])

    def test_alias_to_only_disabled_account(self):
        """RFC 3463: X.2.1 "the mailbox exists, but is not accepting
        messages"; X.1.1 would say the address does not exist, which is
        not true of an alias that expands to a disabled mailbox."""
        user = "soledis@example.test"
        self.set("alias", "add", "solo@example.test", user)
        self.set("user", "set", user, "enabled=no")
        rcpt, _ = deliver(self.srv, "solo@example.test", msg("solo"))
        self.assertTrue(rcpt.startswith("550 5.2.1 "), rcpt)

    # == 4. quotas =========================================================

    def test_quota_imap_commands(self):
        user = "qimap@example.test"
        self.set("user", "set", user, "quota=50k")
        self.assertEqual(show(self.srv, "user", user)["quota"], "50k")
        deliver(self.srv, user, msg("q one", body_of(3000)))
        deliver(self.srv, user, msg("q two", body_of(1200)))
        m = Imap(self.srv).login(user)
        try:
            # One more in another mailbox: the quota root covers all.
            m.ok("APPEND Sent", literal=msg("sent", body_of(700)))
            caps = m.ok("CAPABILITY")
            self.assertEqual(len(caps), 1)
            self.assertIn(" QUOTA ", caps[0] + " ")
            self.assertIn(" QUOTA=RES-STORAGE ", caps[0] + " ")
            total = 0
            for box in ("INBOX", "Sent"):
                u = m.ok(f"EXAMINE {box}")
                n = [int(x.split()[1]) for x in u if x.endswith(" EXISTS")][0]
                for r in m.ok(f"FETCH 1:{n} (RFC822.SIZE)"):
                    total += int(re.search(r"RFC822\.SIZE (\d+)", r).group(1))
            # Not a whole number of KiB, so rounding up is visible.
            self.assertNotEqual(total % 1024, 0)
            kib = (total + 1023) // 1024
            u, t = m.cmd("GETQUOTAROOT INBOX")
            self.assertEqual(quotaroot(u), [
                '* QUOTAROOT INBOX ""', f'* QUOTA "" (STORAGE {kib} 50)'])
            self.assertEqual(t.split(" ")[1], "OK")
            u, t = m.cmd('GETQUOTA ""')
            self.assertEqual(u, [f'* QUOTA "" (STORAGE {kib} 50)'])
            self.assertEqual(t.split(" ")[1], "OK")
            u, t = m.cmd('SETQUOTA "" (STORAGE 100)')
            self.assertEqual(u, [])
            self.assertEqual(t.split(" ")[1], "NO")
            u, t = m.cmd('GETQUOTA "nosuchroot"')
            self.assertEqual(t.split(" ")[1], "NO")
        finally:
            m.close()
        self.assertEqual(used_bytes(self.srv, user), total)

    def test_no_quota(self):
        user = "qnone@example.test"
        self.assertEqual(show(self.srv, "user", user)["quota"],
                         "none (domain default)")
        m = Imap(self.srv).login(user)
        try:
            u, t = m.cmd("GETQUOTAROOT INBOX")
            self.assertEqual(quotaroot(u), ["* QUOTAROOT INBOX"])
            self.assertEqual(t.split(" ")[1], "OK")
            u, t = m.cmd('GETQUOTA ""')
            self.assertEqual(t.split(" ")[1], "NO")
        finally:
            m.close()

    def test_quota_append_copy_move(self):
        user = "qappend@example.test"
        self.set("user", "set", user, "quota=50k")   # 51200 bytes
        big = msg("big", b"")
        big += b"y" * (30000 - len(big) - 2) + b"\r\n"
        self.assertEqual(len(big), 30000)
        m = Imap(self.srv).login(user)
        try:
            m.ok("APPEND INBOX", literal=big)
            m.ok("SELECT INBOX")
            # Another 30000 would exceed 51200.
            u, t = m.cmd("APPEND INBOX", literal=big)
            self.assertRegex(t, r"^t\d+ NO \[OVERQUOTA\] ")
            u, t = m.cmd("COPY 1 Archive")
            self.assertRegex(t, r"^t\d+ NO \[OVERQUOTA\] ")
            # MOVE does not add to the usage: allowed.
            u, t = m.cmd("MOVE 1 Archive")
            self.assertEqual(t.split(" ")[1], "OK", t)
            self.assertIn("* 1 EXPUNGE", u)
            self.assertEqual(used_bytes(self.srv, user), 30000)
            # Exactly up to the limit is fine; one byte more is not.
            fill = msg("fill", b"")
            fill += b"z" * (21200 - len(fill) - 2) + b"\r\n"
            self.assertEqual(len(fill), 21200)
            m.ok("APPEND INBOX", literal=fill)
            u, t = m.cmd("APPEND INBOX", literal=b"Subject: one more\r\n\r\n")
            self.assertRegex(t, r"^t\d+ NO \[OVERQUOTA\] ")
            u, t = m.cmd('GETQUOTA ""')
            self.assertEqual(u, ['* QUOTA "" (STORAGE 50 50)'])
        finally:
            m.close()
        self.assertEqual(show(self.srv, "user", user)["used"], "50k (100%)")
        self.assertEqual(used_bytes(self.srv, user), 51200)
        self.assertEqual(sizes_all_mailboxes(self.srv, user), 51200)

    def test_quota_smtp_grace_then_452(self):
        """The quota is checked at RCPT against the usage before the
        message: a message is refused only when the mailbox is already
        full (or its announced SIZE does not fit).  So the one message
        that crosses the limit is accepted ("grace of one message"); the
        next RCPT gets 452 4.2.2 (temporary: the sender retries)."""
        user = "qsmtp@example.test"
        self.set("user", "set", user, "quota=50k")
        rcpt, data = deliver(self.srv, user, msg("first", body_of(40000)))
        self.assertTrue(data.startswith("250 "), data)
        self.assertLess(used_bytes(self.srv, user), 51200)
        # Crosses the line: accepted.
        rcpt, data = deliver(self.srv, user, msg("second", body_of(20000)))
        self.assertTrue(rcpt.startswith("250 "), rcpt)
        self.assertTrue(data.startswith("250 "), data)
        used = used_bytes(self.srv, user)
        self.assertGreater(used, 51200)
        # Full now: port 25 ...
        s = Smtp(self.srv)
        try:
            self.assertTrue(s.cmd("MAIL FROM:<x@example.org>")
                            .startswith("250 "))
            r = s.cmd(f"RCPT TO:<{user}>")
            self.assertTrue(r.startswith("452 4.2.2 "), r)
            # Another recipient in the same transaction is fine.
            self.assertTrue(s.cmd(f"RCPT TO:<{CONTROL}>").startswith("250 "))
        finally:
            s.close()
        # ... and submission.
        s = Smtp(self.srv, "submission")
        try:
            self.assertTrue(s.auth_plain(CONTROL, PW).startswith("235 "))
            self.assertTrue(s.cmd(f"MAIL FROM:<{CONTROL}>")
                            .startswith("250 "))
            r = s.cmd(f"RCPT TO:<{user}>")
            self.assertTrue(r.startswith("452 4.2.2 "), r)
        finally:
            s.close()
        self.assertEqual(used_bytes(self.srv, user), used)
        self.assertEqual(sizes_all_mailboxes(self.srv, user), used)
        self.assertEqual(len(fetch_all(self.srv, user)), 2)
        # IMAP APPEND is refused too.
        m = Imap(self.srv).login(user)
        try:
            u, t = m.cmd("APPEND INBOX", literal=b"Subject: s\r\n\r\nx\r\n")
            self.assertRegex(t, r"^t\d+ NO \[OVERQUOTA\] ")
        finally:
            m.close()

    def test_quota_smtp_declared_size(self):
        user = "qsize@example.test"
        self.set("user", "set", user, "quota=50k")
        deliver(self.srv, user, msg("ten k", body_of(10000)))
        used = used_bytes(self.srv, user)
        room = 51200 - used
        s = Smtp(self.srv)
        try:
            r = s.cmd(f"MAIL FROM:<x@example.org> SIZE={room + 1}")
            self.assertTrue(r.startswith("250 "), r)
            r = s.cmd(f"RCPT TO:<{user}>")
            self.assertTrue(r.startswith("452 4.2.2 "), r)
            self.assertTrue(s.cmd("RSET").startswith("250 "))
            r = s.cmd(f"MAIL FROM:<x@example.org> SIZE={room}")
            self.assertTrue(r.startswith("250 "), r)
            r = s.cmd(f"RCPT TO:<{user}>")
            self.assertTrue(r.startswith("250 "), r)
            self.assertTrue(s.cmd("RSET").startswith("250 "))
        finally:
            s.close()

    def test_domain_quota_and_none_override(self):
        dq, dqn = "dq@quota.test", "dqnone@quota.test"
        self.set("domain", "set", "quota.test", "quota=50k")
        self.set("user", "set", dqn, "quota=none")
        self.assertEqual(show(self.srv, "domain", "quota.test")["quota"],
                         "50k")
        self.assertEqual(show(self.srv, "user", dq)["quota"],
                         "50k (domain default)")
        self.assertEqual(show(self.srv, "user", dqn)["quota"], "none")
        for u in (dq, dqn):
            rcpt, data = deliver(self.srv, u, msg("sixty", body_of(60000)))
            self.assertTrue(data.startswith("250 "), (u, data))
        rcpt, _ = deliver(self.srv, dq, msg("more"))
        self.assertTrue(rcpt.startswith("452 4.2.2 "), rcpt)
        rcpt, data = deliver(self.srv, dqn, msg("more"))
        self.assertTrue(data.startswith("250 "), data)
        m = Imap(self.srv).login(dq)
        try:
            u, _ = m.cmd("GETQUOTAROOT INBOX")
            kib = (used_bytes(self.srv, dq) + 1023) // 1024
            self.assertEqual(quotaroot(u), [
                '* QUOTAROOT INBOX ""', f'* QUOTA "" (STORAGE {kib} 50)'])
        finally:
            m.close()
        m = Imap(self.srv).login(dqn)
        try:
            self.assertEqual(quotaroot(m.cmd("GETQUOTAROOT INBOX")[0]),
                             ["* QUOTAROOT INBOX"])
        finally:
            m.close()

    def test_user_show_used_counts_all_mailboxes(self):
        user = "qused@example.test"
        self.assertEqual(used_bytes(self.srv, user), 0)
        deliver(self.srv, user, msg("a", body_of(1000)))
        deliver(self.srv, user, msg("b", body_of(2000)))
        deliver(self.srv, user, msg("c", body_of(500)))
        m = Imap(self.srv).login(user)
        try:
            m.ok("APPEND Drafts", literal=msg("draft", body_of(300)))
            m.ok("SELECT INBOX")
            m.ok("COPY 1 Archive")
            m.ok("MOVE 2 Junk")
            m.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")   # was message "c"
            m.ok("EXPUNGE")
        finally:
            m.close()
        total = sizes_all_mailboxes(self.srv, user)
        self.assertEqual(used_bytes(self.srv, user), total)
        # INBOX "a", Archive "a", Junk "b", Drafts "draft".
        self.assertEqual(len(fetch_all(self.srv, user)), 1)
        self.assertEqual(len(fetch_all(self.srv, user, mailbox="Archive")),
                         1)
        self.assertEqual(len(fetch_all(self.srv, user, mailbox="Junk")), 1)

    # == 5. app passwords ==================================================

    def apppass_add(self, user, name, *extra):
        r = self.srv.cli("apppass", "add", user, name, *extra)
        self.assertRegex(r.stdout, r"^[A-Za-z0-9]{20}\n$")
        return r.stdout.strip()

    def apppass_list(self, user):
        return {ln.split()[0]: ln for ln in
                self.srv.cli("apppass", "list", user).stdout.splitlines()}

    def test_app_passwords(self):
        user = "ap@example.test"
        phone = self.apppass_add(user, "phone")
        tab = self.apppass_add(user, "tablet", "protocols=pop3")
        self.assertNotEqual(phone, tab)
        r = self.srv.cli("apppass", "add", user, "phone", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertIn("exists already", r.stderr)
        lst = self.apppass_list(user)
        self.assertEqual(sorted(lst), ["phone", "tablet"])
        self.assertEqual(lst["phone"].split()[:2],
                         ["phone", "imap,pop3,submission"])
        self.assertEqual(lst["tablet"].split()[:2], ["tablet", "pop3"])
        self.assertTrue(lst["phone"].endswith("never used"), lst)
        self.assertTrue(lst["tablet"].endswith("never used"), lst)
        self.assertEqual(show(self.srv, "user", user)["app passwords"], "2")

        # phone: IMAP (LOGIN, AUTHENTICATE PLAIN), POP3 (USER/PASS, AUTH
        # PLAIN), submission (AUTH PLAIN, AUTH LOGIN).
        self.assertRegex(self.imap_replies(user, phone)[0], r"^a1 OK ")
        m = Imap(self.srv)
        try:
            _, t = m.cmd("AUTHENTICATE PLAIN " + b64(f"\0{user}\0{phone}"))
            self.assertRegex(t, r"^t1 OK ")
        finally:
            m.close()
        for auth in ("user_pass", "auth_plain"):
            p = Pop(self.srv)
            try:
                r = getattr(p, auth)(user, phone)
                self.assertTrue(r.startswith("+OK"), (auth, r))
                self.assertTrue(p.cmd("QUIT").startswith("+OK"))
                self.assertTrue(p.rc.closed())
            finally:
                p.close()
        plain, login = self.smtp_replies(user, phone)
        self.assertTrue(plain.startswith("235 "), plain)
        self.assertTrue(login.startswith("235 "), login)
        s = Smtp(self.srv, "submission")
        try:
            self.assertTrue(s.auth_login(user, phone).startswith("235 "))
            self.assertTrue(s.cmd(f"MAIL FROM:<{user}>").startswith("250 "))
            self.assertTrue(s.cmd(f"RCPT TO:<{CONTROL}>").startswith("250 "))
            self.assertTrue(s.data(msg("sent with an app password", frm=user.encode()))
                            .startswith("250 "))
        finally:
            s.close()

        # tablet: POP3 only.
        self.assertEqual(self.imap_replies(user, tab), (
            "a1 NO [NOPERM] This app password is not valid for IMAP.",
            "a2 NO [NOPERM] This app password is not valid for IMAP."))
        self.assertTrue(self.smtp_replies(user, tab)[0]
                        .startswith("535 5.7.1 "))
        p = Pop(self.srv)
        try:
            self.assertTrue(p.user_pass(user, tab).startswith("+OK"))
        finally:
            p.close()

        # The main password still works.
        self.assertRegex(self.imap_replies(user, PW)[0], r"^a1 OK ")

        lst = self.apppass_list(user)
        now = time.time()
        for name in ("phone", "tablet"):
            mm = re.search(r"  last used (.*)$", lst[name])
            self.assertIsNotNone(mm, lst[name])
            when = email.utils.parsedate_to_datetime(mm.group(1))
            self.assertLess(abs(when.timestamp() - now), 120, lst[name])

    def test_app_password_revoked(self):
        user = "apdel@example.test"
        a = self.apppass_add(user, "a")
        b = self.apppass_add(user, "b", "protocols=imap")
        m = Imap(self.srv).login(user, a)
        try:
            m.ok("SELECT INBOX")
            r = self.srv.cli("apppass", "del", user, "a")
            self.assertEqual(r.returncode, 0)
            # The open session need not end; a new login must fail.
            self.assertEqual(self.imap_replies(user, a)[0],
                             "a1 NO [AUTHENTICATIONFAILED] "
                             "Authentication failed.")
            self.assertEqual(self.pop_replies(user, a)[0],
                             "-ERR [AUTH] Authentication failed.")
            self.assertTrue(self.smtp_replies(user, a)[0]
                            .startswith("535 5.7.8 "))
        finally:
            m.close()
        self.assertEqual(sorted(self.apppass_list(user)), ["b"])
        self.assertRegex(self.imap_replies(user, b)[0], r"^a1 OK ")
        r = self.srv.cli("apppass", "del", user, "a", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_app_password_not_logged(self):
        user = "aplog@example.test"
        pw = self.apppass_add(user, "secret", "protocols=pop3")
        # Right (IMAP: refused for the protocol), right (POP3), and as a
        # wrong password for another account.
        self.imap_replies(user, pw)
        self.pop_replies(user, pw)
        self.imap_replies(CONTROL, pw)
        self.smtp_replies(user, pw)
        log = self.srv.read_log()
        self.assertIn("pop3 auth ok user=aplog@example.test", log)
        self.assertNotIn(pw, log)
        self.assertNotIn(b64(f"\0{user}\0{pw}"), log)
        self.assertNotIn(b64(pw), log)

    # == 6. POP3 leave-on-server ===========================================

    def test_pop3_keep(self):
        user = "k@keep.test"
        self.set("domain", "set", "keep.test", "pop3_keep=yes")
        self.assertEqual(show(self.srv, "domain", "keep.test")["pop3_keep"],
                         "yes")
        for i in (1, 2, 3):
            deliver(self.srv, user, msg(f"keep {i}"))
        before = fetch_all(self.srv, user)
        m = Imap(self.srv).login(user)
        p = Pop(self.srv)
        try:
            m.ok("SELECT INBOX")
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            uidl = p.uidl()
            self.assertTrue(p.cmd("DELE 1").startswith("+OK"))
            self.assertTrue(p.cmd("DELE 3").startswith("+OK"))
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
            self.assertTrue(p.rc.closed())
            # The IMAP session sees flag changes, no EXPUNGE.
            u = m.ok("NOOP")
            self.assertEqual([x for x in u if "EXPUNGE" in x], [])
            seen = {}
            for x in u:
                f = re.match(r"^\* (\d+) FETCH \(FLAGS \(([^)]*)\)\)$", x)
                if f:
                    seen[int(f.group(1))] = sorted(
                        set(f.group(2).split()) - {"\\Recent"})
            self.assertEqual(seen, {1: ["\\Deleted", "\\Seen"],
                                    3: ["\\Deleted", "\\Seen"]}, u)
        finally:
            p.close()
            m.close()
        after = fetch_all(self.srv, user)
        self.assertEqual([(u, b) for u, _, b in after],
                         [(u, b) for u, _, b in before])
        flags = [[f for f in fl if f != "\\Recent"] for _, fl, _ in after]
        self.assertEqual(flags, [["\\Deleted", "\\Seen"], [],
                                 ["\\Deleted", "\\Seen"]])
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.assertEqual(p.cmd("STAT"), f"+OK 1 {len(before[1][2])}")
            self.assertEqual(p.uidl(), [uidl[1]])
            self.assertTrue(p.cmd("RETR 1").startswith("+OK"))
            self.assertEqual(p.multi_bytes(), before[1][2])
        finally:
            p.close()

    def test_pop3_no_keep_expunges(self):
        user = "nokeep@example.test"
        self.assertEqual(show(self.srv, "domain", "example.test")
                         ["pop3_keep"], "no")
        deliver(self.srv, user, msg("gone 1"))
        deliver(self.srv, user, msg("stays 2"))
        before = fetch_all(self.srv, user)
        m = Imap(self.srv).login(user)
        try:
            m.ok("SELECT INBOX")
            p = Pop(self.srv)
            try:
                self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
                self.assertTrue(p.cmd("DELE 1").startswith("+OK"))
                self.assertTrue(p.cmd("QUIT").startswith("+OK"))
                self.assertTrue(p.rc.closed())
            finally:
                p.close()
            u = m.ok("NOOP")
            self.assertEqual([x for x in u if x.endswith("EXPUNGE")],
                             ["* 1 EXPUNGE"])
            # (A repeated "* 1 EXISTS" may follow; it must say 1.)
            self.assertEqual([x for x in u if x.endswith("EXISTS")][-1:]
                             or ["* 1 EXISTS"], ["* 1 EXISTS"])
        finally:
            m.close()
        self.assertEqual(fetch_all(self.srv, user), [before[1]])

    # == 7. CAPA, fetchmail ================================================

    def test_pop3_capa(self):
        common = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING",
                  "AUTH-RESP-CODE", "EXPIRE NEVER", "LOGIN-DELAY 0"]
        p = Pop(self.srv)
        try:
            self.assertTrue(p.cmd("CAPA").startswith("+OK"))
            pre = p.multi()
            impl = [c for c in pre if c.startswith("IMPLEMENTATION ")]
            self.assertEqual(len(impl), 1, pre)
            # The SASL mechanisms are not the subject here (SCRAM may be
            # offered too); PLAIN and LOGIN must be.
            sasl = [c for c in pre if c.startswith("SASL ")]
            self.assertEqual(len(sasl), 1, pre)
            self.assertLessEqual({"PLAIN", "LOGIN"}, set(sasl[0].split()[1:]))
            self.assertEqual(sorted(c for c in pre
                                    if c not in impl and c not in sasl),
                             sorted(common + ["USER", "STLS"]))
            self.assertEqual(p.user_pass("capa@example.test", PW),
                             "+OK Logged in.")
            self.assertTrue(p.cmd("CAPA").startswith("+OK"))
            post = [c for c in p.multi()
                    if not c.startswith("IMPLEMENTATION ")]
            self.assertEqual(sorted(post), sorted(common))
        finally:
            p.close()

    def test_fetchmail_with_app_password(self):
        user = "fm@example.test"
        apw = self.apppass_add(user, "fetchmail", "protocols=pop3")
        deliver(self.srv, user, msg("fm one", b"line\r\n.\r\n..dots\r\n"))
        deliver(self.srv, user, msg("fm two", body_of(5000)))
        stored = [b for _, _, b in fetch_all(self.srv, user)]
        self.assertEqual(len(stored), 2)
        with tempfile.TemporaryDirectory() as home:
            outdir = os.path.join(home, "out")
            os.mkdir(outdir)
            mda = os.path.join(home, "mda.py")
            with open(mda, "w") as f:
                f.write(f"#!{sys.executable}\n"
                        "import os, sys\n"
                        "d = sys.argv[1]\n"
                        "data = sys.stdin.buffer.read()\n"
                        "n = len(os.listdir(d))\n"
                        "open(os.path.join(d, '%04d.eml' % n), 'wb')"
                        ".write(data)\n")
            os.chmod(mda, 0o755)
            rc = os.path.join(home, "fetchmailrc")
            with open(rc, "w") as f:
                f.write("set no syslog\nset invisible\n"
                        "poll 127.0.0.1 with protocol POP3 port "
                        f"{self.srv.port['pop3']} :\n"
                        f'  user "{user}" there with password "{apw}" '
                        "is root here\n"
                        "  options keep no stripcr no rewrite "
                        "sslproto 'TLS1.2+' no sslcertck "
                        f'mda "{mda} {outdir}"\n')
            os.chmod(rc, 0o600)
            r = subprocess.run(["fetchmail", "-f", rc, "-v", "--nodetach"],
                               env={"HOME": home, "FETCHMAILHOME": home,
                                    "PATH": os.environ.get("PATH", "")},
                               capture_output=True, timeout=60)
            out = (r.stdout + r.stderr).decode("utf-8", "replace")
            self.assertEqual(r.returncode, 0, out)
            self.assertIn("POP3> STLS", out)
            got = []
            for fn in sorted(glob.glob(os.path.join(outdir, "*.eml"))):
                with open(fn, "rb") as fh:
                    got.append(fh.read())
        self.assertEqual(got, stored)
        # keep: still on the server, unchanged.
        self.assertEqual([b for _, _, b in fetch_all(self.srv, user)],
                         stored)
        self.assertIn("last used ", self.apppass_list(user)["fetchmail"])

    # == 8. POP3 and IMAP on one INBOX =====================================

    def test_pop3_deletes_while_imap_selected(self):
        user = "both@example.test"
        for i in range(1, 6):
            deliver(self.srv, user, msg(f"both {i}"))
        m = Imap(self.srv).login(user)
        try:
            u = m.ok("SELECT INBOX")
            self.assertIn("* 5 EXISTS", u)
            uids = [int(re.search(r"UID (\d+)", r).group(1))
                    for r in m.ok("FETCH 1:5 (UID)")]
            p = Pop(self.srv)
            try:
                self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
                pop_uidl = p.uidl()
                self.assertTrue(p.cmd("DELE 2").startswith("+OK"))
                self.assertTrue(p.cmd("DELE 4").startswith("+OK"))
                self.assertTrue(p.cmd("QUIT").startswith("+OK"))
                self.assertTrue(p.rc.closed())
            finally:
                p.close()
            u = m.ok("NOOP")
            expunges = [int(x.split()[1]) for x in u
                        if x.endswith(" EXPUNGE")]
            self.assertEqual(len(expunges), 2, u)
            # Applying them in order must remove messages 2 and 4.
            left = list(uids)
            for n in expunges:
                del left[n - 1]
            self.assertEqual(left, [uids[0], uids[2], uids[4]])
            now = [int(re.search(r"UID (\d+)", r).group(1))
                   for r in m.ok("FETCH 1:* (UID)")]
            self.assertEqual(now, left)
        finally:
            m.close()
        p = Pop(self.srv)
        try:
            self.assertEqual(p.user_pass(user, PW), "+OK Logged in.")
            self.assertEqual(p.uidl(),
                             [pop_uidl[0], pop_uidl[2], pop_uidl[4]])
        finally:
            p.close()


if __name__ == "__main__":
    unittest.main()

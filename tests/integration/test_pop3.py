"""
test_pop3 - POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595), AUTH
(RFC 5034) and response codes (RFC 2449 8, RFC 3206) against the real
binary, mostly over raw sockets so the bytes on the wire are checked:
dot-stuffing, multi-line terminators, pipelined replies.

Every test uses its own account, because a maildrop is locked by one POP3
session at a time.
"""
import base64
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import tls_context  # noqa: E402

PW = "Pop-Secret-31"


Server = harness.Server


class Pop:
    """A raw POP3 connection."""

    def __init__(self, sock):
        self.rc = harness.RawClient(sock)

    def line(self):
        raw = self.rc.readline()
        if not raw:
            raise AssertionError("connection closed")
        if not raw.endswith(b"\r\n"):
            raise AssertionError(f"line without CRLF: {raw!r}")
        return raw[:-2]

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line().decode("utf-8", "replace")

    def send(self, text):
        self.rc.send(text.encode() if isinstance(text, str) else text)

    def multi(self):
        """The lines of a multi-line body as sent (still dot-stuffed),
        without the terminating "." line."""
        out = []
        while True:
            line = self.line()
            if line == b".":
                return out
            out.append(line)

    def multi_data(self):
        """A multi-line body with the dot-stuffing undone, as bytes."""
        return b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n"
                        for ln in self.multi())

    def close(self):
        self.rc.close()


def pop_connect(srv, listener="pop3"):
    sock = socket.create_connection(("127.0.0.1", srv.port[listener]),
                                    timeout=10)
    if listener == "pop3s":
        sock = tls_context().wrap_socket(sock)
    p = Pop(sock)
    greeting = p.line()
    assert greeting.startswith(b"+OK"), greeting
    return p


def pop_login(srv, user, pw=PW, listener="pop3"):
    p = pop_connect(srv, listener)
    r = p.cmd(f"USER {user}")
    assert r.startswith("+OK"), r
    r = p.cmd(f"PASS {pw}")
    assert r.startswith("+OK"), r
    return p


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def deliver(srv, rcpt, msgs):
    s = srv.smtp()
    try:
        for m in msgs:
            assert s.sendmail("sender@example.org", [rcpt], m) == {}
    finally:
        s.quit()


def imap_messages(srv, user, pw=PW):
    m = srv.imap()
    try:
        m.login(user, pw)
        typ, data = m.select("INBOX", readonly=True)
        n = int(data[0])
        if n == 0:
            return []
        typ, data = m.fetch(f"1:{n}", "(BODY.PEEK[])")
        out = {}
        for item in data:
            if isinstance(item, tuple):
                out[int(item[0].split()[0])] = item[1]
        return [out[i] for i in range(1, n + 1)]
    finally:
        m.logout()


def msg(n, body=b"Hello.\r\n"):
    return (b"From: sender@example.org\r\nTo: x@example.test\r\n"
            b"Subject: message %d\r\n\r\n" % n + body)


BASE_CAPA = ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING",
             "EXPIRE NEVER", "LOGIN-DELAY 0",
             "AUTH-RESP-CODE"]

USERS = ["capa", "userpass", "plainir", "plain", "login", "wrong", "stat",
         "dots", "edge", "top", "rset", "dele", "drop", "inuse", "uidl",
         "stls", "pops", "pipe", "bad", "range"]


class POP3Test(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={f"{u}@example.test": PW for u in USERS})
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def u(self, name):
        return f"{name}@example.test"

    def capa(self, p):
        r = p.cmd("CAPA")
        self.assertTrue(r.startswith("+OK"), r)
        lines = [ln.decode() for ln in p.multi()]
        impl = [ln for ln in lines if ln.startswith("IMPLEMENTATION")]
        self.assertLessEqual(len(impl), 1)
        return sorted(ln for ln in lines if not ln.startswith(
            "IMPLEMENTATION"))

    # -- CAPA ------------------------------------------------------------

    def test_capa_pre_and_post_login(self):
        p = pop_connect(self.srv)
        try:
            self.assertEqual(self.capa(p), sorted(BASE_CAPA + [
                "USER", "SASL SCRAM-SHA-256 PLAIN LOGIN", "STLS"]))
            self.assertTrue(p.cmd(f"USER {self.u('capa')}").startswith("+OK"))
            self.assertTrue(p.cmd(f"PASS {PW}").startswith("+OK"))
            self.assertEqual(self.capa(p), sorted(BASE_CAPA))
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()
        p = pop_connect(self.srv, "pop3s")
        try:
            self.assertEqual(self.capa(p), sorted(BASE_CAPA + [
                "USER", "SASL SCRAM-SHA-256 PLAIN LOGIN"]))
        finally:
            p.close()

    # -- logins ----------------------------------------------------------

    def test_user_pass_poplib(self):
        deliver(self.srv, self.u("userpass"), [msg(1)])
        c = self.srv.pop3()
        try:
            self.assertTrue(c.user(self.u("userpass")).startswith(b"+OK"))
            self.assertTrue(c.pass_(PW).startswith(b"+OK"))
            n, size = c.stat()
            self.assertEqual(n, 1)
            self.assertEqual(size, len(imap_messages(
                self.srv, self.u("userpass"))[0]))
        finally:
            c.quit()

    def test_auth_plain_initial_response(self):
        p = pop_connect(self.srv)
        try:
            r = p.cmd("AUTH PLAIN " + b64(f"\0{self.u('plainir')}\0{PW}"))
            self.assertTrue(r.startswith("+OK"), r)
            self.assertEqual(p.cmd("STAT"), "+OK 0 0")
        finally:
            p.close()

    def test_auth_plain_without_initial_response(self):
        p = pop_connect(self.srv)
        try:
            r = p.cmd("AUTH PLAIN")
            self.assertTrue(r == "+ " or r == "+", r)
            r = p.cmd(b64(f"\0{self.u('plain')}\0{PW}"))
            self.assertTrue(r.startswith("+OK"), r)
            self.assertEqual(p.cmd("STAT"), "+OK 0 0")
        finally:
            p.close()

    def test_auth_login(self):
        p = pop_connect(self.srv)
        try:
            self.assertTrue(p.cmd("AUTH LOGIN").startswith("+ "))
            self.assertTrue(p.cmd(b64(self.u("login"))).startswith("+ "))
            r = p.cmd(b64(PW))
            self.assertTrue(r.startswith("+OK"), r)
            self.assertEqual(p.cmd("STAT"), "+OK 0 0")
        finally:
            p.close()

    def test_wrong_password(self):
        p = pop_connect(self.srv)
        try:
            self.assertTrue(p.cmd(f"USER {self.u('wrong')}").startswith("+OK"))
            r = p.cmd("PASS not-the-password")
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
            r = p.cmd("AUTH PLAIN " + b64(f"\0{self.u('wrong')}\0nope"))
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
            self.assertTrue(p.cmd("AUTH LOGIN").startswith("+ "))
            self.assertTrue(p.cmd(b64(self.u("wrong"))).startswith("+ "))
            r = p.cmd(b64("nope-again"))
            self.assertTrue(r.startswith("-ERR [AUTH]"), r)
            # Still in AUTHORIZATION: transaction commands are refused.
            self.assertTrue(p.cmd("STAT").startswith("-ERR"))
            # The right password still works on the same connection.
            self.assertTrue(p.cmd(f"USER {self.u('wrong')}").startswith("+OK"))
            self.assertTrue(p.cmd(f"PASS {PW}").startswith("+OK"))
            self.assertEqual(p.cmd("STAT"), "+OK 0 0")
        finally:
            p.close()

    # -- STAT, LIST, UIDL, RETR --------------------------------------------

    def test_stat_list_uidl_retr(self):
        msgs = [msg(1), msg(2, b"x" * 500 + b"\r\n" * 3),
                msg(3, b"line\r\n" * 40)]
        deliver(self.srv, self.u("stat"), msgs)
        stored = imap_messages(self.srv, self.u("stat"))
        sizes = [len(m) for m in stored]
        p = pop_login(self.srv, self.u("stat"))
        try:
            self.assertEqual(p.cmd("STAT"), f"+OK 3 {sum(sizes)}")
            self.assertTrue(p.cmd("LIST").startswith("+OK"))
            self.assertEqual([ln.decode() for ln in p.multi()],
                             [f"{i} {sizes[i - 1]}" for i in (1, 2, 3)])
            for i in (1, 2, 3):
                self.assertEqual(p.cmd(f"LIST {i}"), f"+OK {i} {sizes[i - 1]}")
            self.assertTrue(p.cmd("UIDL").startswith("+OK"))
            uidl = [ln.decode().split(" ") for ln in p.multi()]
            self.assertEqual([x[0] for x in uidl], ["1", "2", "3"])
            uids = [x[1] for x in uidl]
            self.assertEqual(len(set(uids)), 3)
            for i, uid in enumerate(uids, 1):
                # RFC 1939 7: 1 to 70 characters in the range 0x21-0x7E.
                self.assertRegex(uid, r"^[\x21-\x7e]{1,70}$")
                self.assertEqual(p.cmd(f"UIDL {i}"), f"+OK {i} {uid}")
            for i in (1, 2, 3):
                r = p.cmd(f"RETR {i}")
                self.assertTrue(r.startswith("+OK"), r)
                data = p.multi_data()
                self.assertEqual(data, stored[i - 1])
                self.assertEqual(len(data), sizes[i - 1])
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()

    def test_retr_dot_stuffing_on_the_wire(self):
        body = (b"first\r\n"
                b".\r\n"
                b"..x\r\n"
                b".hidden\r\n"
                b"a.b\r\n"
                b"mid\rbare-cr\r\n"
                b"last\r\n")
        m = msg(1, body)
        deliver(self.srv, self.u("dots"), [m])   # smtplib dot-stuffs
        stored = imap_messages(self.srv, self.u("dots"))
        self.assertEqual(len(stored), 1)
        self.assertTrue(stored[0].endswith(m), stored[0])
        p = pop_login(self.srv, self.u("dots"))
        try:
            self.assertEqual(p.cmd("RETR 1"),
                             f"+OK {len(stored[0])} octets")
            lines = p.multi()
            self.assertEqual(lines[-7:], [b"first", b"..", b"...x",
                                          b"..hidden", b"a.b",
                                          b"mid\rbare-cr", b"last"])
            self.assertEqual(b"".join((ln[1:] if ln.startswith(b".")
                                       else ln) + b"\r\n" for ln in lines),
                             stored[0])
        finally:
            p.close()

    def test_retr_crlf_edge_cases(self):
        """Messages added over IMAP APPEND: one without a final CRLF (the
        server must add one before the terminator), one ending in a "."
        line, one that is headers only."""
        user = self.u("edge")
        appended = [b"Subject: no final newline\r\n\r\nno newline at end",
                    b"Subject: dot last\r\n\r\nbody\r\n.\r\n",
                    b"Subject: header only\r\n\r\n",
                    b"Subject: empty lines\r\n\r\n\r\n\r\n.\r\n\r\n"]
        m = self.srv.imap()
        try:
            m.login(user, PW)
            for a in appended:
                typ, data = m.append("INBOX", None, None, a)
                self.assertEqual(typ, "OK", data)
        finally:
            m.logout()
        self.assertEqual(imap_messages(self.srv, user), appended)
        wire = [
            [b"Subject: no final newline", b"", b"no newline at end"],
            [b"Subject: dot last", b"", b"body", b".."],
            [b"Subject: header only", b""],
            [b"Subject: empty lines", b"", b"", b"", b"..", b""],
        ]
        p = pop_login(self.srv, user)
        try:
            for i, a in enumerate(appended, 1):
                self.assertEqual(p.cmd(f"LIST {i}"), f"+OK {i} {len(a)}")
                self.assertEqual(p.cmd(f"RETR {i}"), f"+OK {len(a)} octets")
                self.assertEqual(p.multi(), wire[i - 1])
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()

    def test_top(self):
        body = (b"body 1\r\n"
                b".dotted body 2\r\n"
                b"body 3\r\n"
                b"body 4\r\n")
        deliver(self.srv, self.u("top"), [msg(1, body)])
        stored = imap_messages(self.srv, self.u("top"))[0]
        head, _, rest = stored.partition(b"\r\n\r\n")
        self.assertEqual(rest, body)
        p = pop_login(self.srv, self.u("top"))
        try:
            self.assertTrue(p.cmd("TOP 1 0").startswith("+OK"))
            self.assertEqual(p.multi_data(), head + b"\r\n\r\n")
            self.assertTrue(p.cmd("TOP 1 2").startswith("+OK"))
            lines = p.multi()
            self.assertEqual(lines[-3:], [b"", b"body 1", b"..dotted body 2"])
            self.assertEqual(b"".join((ln[1:] if ln.startswith(b".")
                                       else ln) + b"\r\n" for ln in lines),
                             head + b"\r\n\r\nbody 1\r\n.dotted body 2\r\n")
            self.assertTrue(p.cmd("TOP 1 100").startswith("+OK"))
            self.assertEqual(p.multi_data(), stored)
            # TOP does not count as retrieval; RETR still works after.
            self.assertTrue(p.cmd("RETR 1").startswith("+OK"))
            self.assertEqual(p.multi_data(), stored)
        finally:
            p.close()

    # -- DELE, RSET, QUIT ------------------------------------------------

    def test_dele_then_rset_keeps(self):
        deliver(self.srv, self.u("rset"), [msg(1), msg(2)])
        stored = imap_messages(self.srv, self.u("rset"))
        total = sum(len(m) for m in stored)
        p = pop_login(self.srv, self.u("rset"))
        try:
            self.assertTrue(p.cmd("DELE 1").startswith("+OK"))
            self.assertEqual(p.cmd("STAT"), f"+OK 1 {len(stored[1])}")
            self.assertTrue(p.cmd("DELE 1").startswith("-ERR"))
            self.assertTrue(p.cmd("RETR 1").startswith("-ERR"))
            self.assertTrue(p.cmd("LIST 1").startswith("-ERR"))
            self.assertTrue(p.cmd("LIST").startswith("+OK"))
            self.assertEqual(p.multi(), [b"2 %d" % len(stored[1])])
            self.assertTrue(p.cmd("RSET").startswith("+OK"))
            self.assertEqual(p.cmd("STAT"), f"+OK 2 {total}")
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()
        self.assertEqual(imap_messages(self.srv, self.u("rset")), stored)

    def test_dele_then_quit_removes_and_imap_sees_expunge(self):
        user = self.u("dele")
        deliver(self.srv, user, [msg(1), msg(2), msg(3)])
        stored = imap_messages(self.srv, user)
        m = self.srv.imap()
        try:
            m.login(user, PW)
            typ, data = m.select("INBOX")
            self.assertEqual(data, [b"3"])
            p = pop_login(self.srv, user)
            try:
                self.assertTrue(p.cmd("UIDL").startswith("+OK"))
                before = p.multi()
                self.assertTrue(p.cmd("DELE 2").startswith("+OK"))
                self.assertTrue(p.cmd("QUIT").startswith("+OK"))
                self.assertTrue(p.rc.closed())
            finally:
                p.close()
            typ, _ = m.noop()
            self.assertEqual(typ, "OK")
            self.assertEqual(m.response("EXPUNGE"), ("EXPUNGE", [b"2"]))
        finally:
            m.logout()
        self.assertEqual(imap_messages(self.srv, user),
                         [stored[0], stored[2]])
        p = pop_login(self.srv, user)
        try:
            self.assertTrue(p.cmd("UIDL").startswith("+OK"))
            after = p.multi()
            self.assertEqual(after, [b"1 " + before[0].split()[1],
                                     b"2 " + before[2].split()[1]])
        finally:
            p.close()

    def test_drop_without_quit_deletes_nothing(self):
        user = self.u("drop")
        deliver(self.srv, user, [msg(1), msg(2)])
        stored = imap_messages(self.srv, user)
        p = pop_login(self.srv, user)
        self.assertTrue(p.cmd("DELE 1").startswith("+OK"))
        self.assertTrue(p.cmd("DELE 2").startswith("+OK"))
        p.close()

        def relogin():
            q = pop_connect(self.srv)
            q.cmd(f"USER {user}")
            r = q.cmd(f"PASS {PW}")
            if r.startswith("+OK"):
                return q
            q.close()
            self.assertTrue(r.startswith("-ERR [IN-USE]"), r)
            return None
        q = self.srv.wait_for(relogin, what="maildrop unlocked")
        try:
            self.assertEqual(q.cmd("STAT"),
                             f"+OK 2 {sum(len(m) for m in stored)}")
        finally:
            q.close()
        self.assertEqual(imap_messages(self.srv, user), stored)

    def test_second_session_in_use(self):
        user = self.u("inuse")
        p = pop_login(self.srv, user)
        try:
            q = pop_connect(self.srv)
            try:
                self.assertTrue(q.cmd(f"USER {user}").startswith("+OK"))
                r = q.cmd(f"PASS {PW}")
                self.assertTrue(r.startswith("-ERR [IN-USE]"), r)
                r = q.cmd("AUTH PLAIN " + b64(f"\0{user}\0{PW}"))
                self.assertTrue(r.startswith("-ERR [IN-USE]"), r)
                self.assertTrue(p.cmd("QUIT").startswith("+OK"))
                self.assertTrue(p.rc.closed())
                # Now the maildrop is free: the same connection logs in.
                self.assertTrue(q.cmd(f"USER {user}").startswith("+OK"))
                self.assertTrue(q.cmd(f"PASS {PW}").startswith("+OK"))
                self.assertEqual(q.cmd("STAT"), "+OK 0 0")
                self.assertTrue(q.cmd("QUIT").startswith("+OK"))
            finally:
                q.close()
        finally:
            p.close()

    def test_uidl_stable(self):
        user = self.u("uidl")
        deliver(self.srv, user, [msg(1), msg(2)])
        p = pop_login(self.srv, user)
        try:
            self.assertTrue(p.cmd("UIDL").startswith("+OK"))
            first = p.multi()
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()
        m = self.srv.imap()
        try:
            m.login(user, PW)
            m.select("INBOX")
            typ, _ = m.fetch("1:2", "(BODY[])")  # sets \Seen
            self.assertEqual(typ, "OK")
            typ, data = m.fetch("1:2", "(FLAGS)")
            self.assertTrue(all(b"\\Seen" in d for d in data), data)
        finally:
            m.logout()
        deliver(self.srv, user, [msg(3)])
        p = pop_login(self.srv, user)
        try:
            self.assertTrue(p.cmd("UIDL").startswith("+OK"))
            second = p.multi()
        finally:
            p.close()
        self.assertEqual(second[:2], first)
        self.assertEqual(len(second), 3)
        self.assertNotIn(second[2].split()[1], [x.split()[1] for x in first])

    # -- TLS ---------------------------------------------------------------

    def test_stls_poplib(self):
        c = self.srv.pop3()
        try:
            self.assertTrue(c.stls(context=tls_context()).startswith(b"+OK"))
            self.assertNotIn("STLS", c.capa())
            c.user(self.u("stls"))
            self.assertTrue(c.pass_(PW).startswith(b"+OK"))
            self.assertEqual(c.stat(), (0, 0))
        finally:
            c.quit()

    def test_pop3s(self):
        c = self.srv.pop3s()
        try:
            self.assertNotIn("STLS", c.capa())
            c.user(self.u("pops"))
            self.assertTrue(c.pass_(PW).startswith(b"+OK"))
            self.assertEqual(c.stat(), (0, 0))
        finally:
            c.quit()
        p = pop_connect(self.srv, "pop3s")
        try:
            self.assertTrue(p.cmd("STLS").startswith("-ERR"))
            self.assertTrue(p.cmd("NOOP").startswith("+OK"))
        finally:
            p.close()

    # -- pipelining and errors -------------------------------------------

    def test_pipelined_commands(self):
        user = self.u("pipe")
        deliver(self.srv, user, [msg(1), msg(2)])
        sizes = [len(m) for m in imap_messages(self.srv, user)]
        p = pop_connect(self.srv)
        try:
            p.send(f"USER {user}\r\nPASS {PW}\r\n"
                   "STAT\r\nLIST\r\nUIDL\r\nNOOP\r\n")
            self.assertTrue(p.line().startswith(b"+OK"))
            self.assertTrue(p.line().startswith(b"+OK"))
            self.assertEqual(p.line().decode(), f"+OK 2 {sum(sizes)}")
            self.assertTrue(p.line().startswith(b"+OK"))
            self.assertEqual(p.multi(), [b"1 %d" % sizes[0],
                                         b"2 %d" % sizes[1]])
            self.assertTrue(p.line().startswith(b"+OK"))
            uidl = p.multi()
            self.assertEqual([x.split()[0] for x in uidl], [b"1", b"2"])
            self.assertTrue(p.line().startswith(b"+OK"))
            p.send("RETR 1\r\nRETR 2\r\nQUIT\r\n")
            self.assertTrue(p.line().startswith(b"+OK"))
            self.assertEqual(len(p.multi_data()), sizes[0])
            self.assertTrue(p.line().startswith(b"+OK"))
            self.assertEqual(len(p.multi_data()), sizes[1])
            self.assertTrue(p.line().startswith(b"+OK"))
            self.assertTrue(p.rc.closed())
        finally:
            p.close()

    def test_bad_commands_session_continues(self):
        p = pop_connect(self.srv)
        try:
            for bad in ("FOO", "STAT", "LIST", "RETR 1", "PASS x",
                        "XYZZY 1 2 3"):
                r = p.cmd(bad)
                self.assertTrue(r.startswith("-ERR"), (bad, r))
            self.assertTrue(p.cmd(f"USER {self.u('bad')}").startswith("+OK"))
            self.assertTrue(p.cmd(f"PASS {PW}").startswith("+OK"))
            for bad in ("FOO", "USER someone", "RETR", "TOP 1", "STLS",
                        "AUTH PLAIN"):
                r = p.cmd(bad)
                self.assertTrue(r.startswith("-ERR"), (bad, r))
            self.assertEqual(p.cmd("STAT"), "+OK 0 0")
            self.assertTrue(p.cmd("NOOP").startswith("+OK"))
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()

    def test_message_numbers_out_of_range(self):
        user = self.u("range")
        deliver(self.srv, user, [msg(1), msg(2)])
        p = pop_login(self.srv, user)
        try:
            for bad in ("RETR 0", "RETR 3", "RETR 99999999999", "RETR -1",
                        "RETR abc", "DELE 0", "DELE 3", "LIST 3", "LIST 0",
                        "UIDL 3", "TOP 3 0", "TOP 0 1", "TOP 1 -1",
                        "TOP 1 x"):
                r = p.cmd(bad)
                self.assertTrue(r.startswith("-ERR"), (bad, r))
            self.assertTrue(p.cmd("STAT").startswith("+OK 2 "))
            self.assertTrue(p.cmd("RETR 2").startswith("+OK"))
            p.multi()
            self.assertTrue(p.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()
        self.assertEqual(len(imap_messages(self.srv, user)), 2)


class POP3PlaintextOffTest(unittest.TestCase):
    """plaintext_on_loopback = no: login only after STLS."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(plaintext_on_loopback=False,
                         users={"tls@example.test": PW})
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_user_refused_before_stls(self):
        p = pop_connect(self.srv)
        try:
            r = p.cmd("CAPA")
            self.assertTrue(r.startswith("+OK"))
            capa = [ln.decode() for ln in p.multi()]
            self.assertIn("STLS", capa)
            self.assertNotIn("USER", capa)
            # No SASL mechanism at all before TLS.
            self.assertFalse(any(c.startswith("SASL") for c in capa), capa)
            r = p.cmd("USER tls@example.test")
            self.assertTrue(r.startswith("-ERR"), r)
            r = p.cmd("PASS " + PW)
            self.assertTrue(r.startswith("-ERR"), r)
            r = p.cmd("AUTH PLAIN " + b64(f"\0tls@example.test\0{PW}"))
            self.assertTrue(r.startswith("-ERR"), r)
            self.assertTrue(p.cmd("STLS").startswith("+OK"))
            self.assertEqual(p.rc.buf, b"")
            q = Pop(tls_context().wrap_socket(p.rc.sock))
            r = q.cmd("CAPA")
            capa = [ln.decode() for ln in q.multi()]
            self.assertNotIn("STLS", capa)
            self.assertIn("USER", capa)
            self.assertIn("SASL SCRAM-SHA-256 PLAIN LOGIN", capa)
            self.assertTrue(q.cmd("USER tls@example.test").startswith("+OK"))
            self.assertTrue(q.cmd("PASS " + PW).startswith("+OK"))
            self.assertEqual(q.cmd("STAT"), "+OK 0 0")
            self.assertTrue(q.cmd("QUIT").startswith("+OK"))
        finally:
            p.close()

    def test_pop3s_allows_login(self):
        c = self.srv.pop3s()
        try:
            c.user("tls@example.test")
            self.assertTrue(c.pass_(PW).startswith(b"+OK"))
        finally:
            c.quit()


if __name__ == "__main__":
    unittest.main()

"""
test_smtp - SMTP (RFC 5321) on the MX port and submission (RFC 6409, 8314)
against the real binary: EHLO extensions, local delivery and relay
control, AUTH, argument checks, limits, PIPELINING (RFC 2920), SMTP
smuggling, STARTTLS command injection (RFC 3207 4.2), 8-bit bodies,
concurrency, durability across kill -9, SIGTERM and the log.

Messages are compared over IMAP and POP3 with the server's Received
header (the first header, folded with TAB continuation lines) removed.
"""
import base64
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import tls_context  # noqa: E402

PW = "Sekrit-Pw-4711"
HOST = harness.Server.HOSTNAME


Server = harness.Server


# -- helpers ------------------------------------------------------------

def strip_received(msg):
    """The message without its first header, which must be the server's
    Received header (one line plus TAB continuation lines)."""
    msg = harness.strip_return_path(msg)
    assert msg.startswith(b"Received: "), msg[:100]
    i = msg.index(b"\r\n") + 2
    while msg[i:i + 1] == b"\t":
        i = msg.index(b"\r\n", i) + 2
    return msg[i:]


def imap_fetch_all(srv, user, pw=PW):
    """Every message in user's INBOX, in sequence order, as bytes."""
    m = srv.imap()
    try:
        m.login(user, pw)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        n = int(data[0])
        if n == 0:
            return []
        typ, data = m.fetch(f"1:{n}", "(BODY.PEEK[])")
        assert typ == "OK", data
        out = {}
        for item in data:
            if isinstance(item, tuple):
                out[int(item[0].split()[0])] = item[1]
        assert sorted(out) == list(range(1, n + 1)), sorted(out)
        return [out[i] for i in range(1, n + 1)]
    finally:
        try:
            m.logout()
        except Exception:
            pass


def imap_count(srv, user, pw=PW):
    m = srv.imap()
    try:
        m.login(user, pw)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        return int(data[0])
    finally:
        m.logout()


def pop3_read_multiline(rc):
    """Reads a POP3 multi-line body up to the terminating ".", undoing
    the dot-stuffing; returns the bytes."""
    out = []
    while True:
        line = rc.readline()
        if not line:
            raise AssertionError("connection closed inside a multi-line "
                                 "response")
        if line == b".\r\n":
            return b"".join(out)
        if line.startswith(b"."):
            line = line[1:]
        out.append(line)


def pop3_fetch_all(srv, user, pw=PW):
    """Every message in the maildrop over POP3 RETR (raw socket)."""
    rc = srv.raw("pop3")
    try:
        assert rc.readline().startswith(b"+OK"), "greeting"
        rc.send(f"USER {user}\r\n".encode())
        assert rc.readline().startswith(b"+OK")
        rc.send(f"PASS {pw}\r\n".encode())
        line = rc.readline()
        assert line.startswith(b"+OK"), line
        rc.send(b"STAT\r\n")
        line = rc.readline()
        assert line.startswith(b"+OK "), line
        n = int(line.split()[1])
        msgs = []
        for i in range(1, n + 1):
            rc.send(b"RETR %d\r\n" % i)
            line = rc.readline()
            assert line.startswith(b"+OK"), line
            msgs.append(pop3_read_multiline(rc))
        rc.send(b"QUIT\r\n")
        assert rc.readline().startswith(b"+OK")
        return msgs
    finally:
        rc.close()


def raw_tls(srv, listener, timeout=10):
    sock = socket.create_connection(("127.0.0.1", srv.port[listener]),
                                    timeout=timeout)
    return harness.RawClient(tls_context().wrap_socket(sock))


def reply(rc):
    """One SMTP reply from a RawClient: a list of its lines (str)."""
    lines = []
    while True:
        line = rc.readline()
        if not line:
            raise AssertionError(f"connection closed; reply so far {lines}")
        if not line.endswith(b"\r\n"):
            raise AssertionError(f"reply line without CRLF: {line!r}")
        s = line[:-2].decode("utf-8", "replace")
        lines.append(s)
        if len(s) < 4 or s[3] != "-":
            return lines


def code(rc):
    """The last line of the next SMTP reply (the one with the code)."""
    return reply(rc)[-1]


def greet(rc, ehlo="client.example.org"):
    line = code(rc)
    assert line.startswith(f"220 {HOST} "), line
    rc.send(f"EHLO {ehlo}\r\n".encode())
    r = reply(rc)
    assert r[-1].startswith("250 "), r
    return r


def auth_plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


def queue_count(srv):
    r = subprocess.run(["sqlite3", os.path.join(srv.data_dir, "posthorn.db"),
                        "select count(*) from queue"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


def ehlo_exts(s):
    """(hostname line, sorted extension lines) from smtplib's ehlo()."""
    c, msg = s.ehlo()
    assert c == 250, (c, msg)
    lines = msg.decode().split("\n")
    return lines[0], sorted(lines[1:])


def message(subject, body=b"Hello.\r\n", extra=b"",
            frm=b"Sender <sender@example.org>"):
    return (b"From: " + frm + b"\r\n"
            b"To: someone@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.replace(" ", "-").encode() +
            b"@client.example.org>\r\n" + extra +
            b"\r\n" + body)


MX_EXTS = sorted(["PIPELINING", "SIZE 52428800", "STARTTLS",
                  "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8",
                  "CHUNKING"])


# -- the shared server --------------------------------------------------

USERS = ["local", "postmaster", "al1", "al2", "dup", "subm", "pipe",
         "smug", "dots", "eight", "par", "big", "misc", "logu", "inj"]


class SMTPTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={f"{u}@example.test": PW for u in USERS})
        try:
            cls.srv.cli("alias", "add", "team@example.test",
                        "al1@example.test,al2@example.test")
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def addr(self, u):
        return f"{u}@example.test"

    # -- greeting and EHLO ---------------------------------------------

    def test_greeting_has_hostname(self):
        rc = self.srv.raw("smtp")
        try:
            line = rc.readline()
            self.assertTrue(line.startswith(b"220 mail.example.test "), line)
            self.assertTrue(line.endswith(b"\r\n"))
        finally:
            rc.close()

    def test_ehlo_port25(self):
        s = self.srv.smtp()
        try:
            host, exts = ehlo_exts(s)
            self.assertEqual(host, HOST)
            self.assertEqual(exts, MX_EXTS)
            c, _ = s.starttls(context=tls_context())
            self.assertEqual(c, 220)
            host, exts = ehlo_exts(s)
            self.assertEqual(exts, sorted(set(MX_EXTS) - {"STARTTLS"}))
            # AUTH is not offered on the MX port, so it is refused.
            self.assertIn(s.docmd("AUTH", "PLAIN " + auth_plain(
                harness.Server.USER, harness.Server.PASSWORD))[0],
                (500, 502, 503))
        finally:
            s.quit()

    def test_ehlo_submission_loopback_plaintext(self):
        want = sorted(MX_EXTS + ["AUTH SCRAM-SHA-256 PLAIN LOGIN"])
        for listener in ("submission", "submission2"):
            with self.subTest(listener=listener):
                s = self.srv.smtp(listener)
                try:
                    host, exts = ehlo_exts(s)
                    self.assertEqual(host, HOST)
                    self.assertEqual(exts, want)
                    self.assertEqual(s.starttls(context=tls_context())[0],
                                     220)
                    _, exts = ehlo_exts(s)
                    self.assertEqual(exts, sorted(set(want) -
                                                  {"STARTTLS"}))
                finally:
                    s.quit()

    def test_ehlo_implicit_tls_465(self):
        s = self.srv.smtps()
        try:
            host, exts = ehlo_exts(s)
            self.assertEqual(host, HOST)
            self.assertEqual(exts, sorted(["PIPELINING", "SIZE 52428800",
                                           "AUTH SCRAM-SHA-256 PLAIN LOGIN",
                                           "ENHANCEDSTATUSCODES",
                                           "8BITMIME", "DSN", "SMTPUTF8",
                                           "CHUNKING"]))
            self.assertEqual(s.docmd("STARTTLS")[0], 554)
            self.assertEqual(s.noop()[0], 250)
        finally:
            s.quit()

    # -- port 25 -------------------------------------------------------

    def test_local_delivery_port25(self):
        msg = message("local delivery", b"Line one\r\n\r\n\tindented  \r\n"
                      b"last line\r\n")
        s = self.srv.smtp()
        try:
            s.ehlo()
            self.assertEqual(s.mail("sender@example.org"),
                             (250, b"2.1.0 Ok"))
            self.assertEqual(s.rcpt(self.addr("local")), (250, b"2.1.5 Ok"))
            c, text = s.data(msg)
            self.assertEqual(c, 250)
            self.assertRegex(text, rb"^2\.0\.0 ")
        finally:
            s.quit()
        got = imap_fetch_all(self.srv, self.addr("local"))
        self.assertEqual(len(got), 1)
        self.assertEqual(strip_received(got[0]), msg)
        rcv = got[0][:len(got[0]) - len(msg)]
        # Final delivery: the return path first (RFC 5321 4.4).
        self.assertTrue(rcv.startswith(
            b"Return-Path: <sender@example.org>\r\n"
            b"Received: from client.example.org ([127.0.0.1])\r\n"
            b"\tby mail.example.test "), rcv)
        self.assertIn(b"for <local@example.test>", rcv)
        self.assertEqual(pop3_fetch_all(self.srv, self.addr("local")), got)

    def test_relay_refused(self):
        s = self.srv.smtp()
        try:
            s.ehlo()
            s.mail("sender@example.org")
            c, text = s.rcpt("victim@remote.example")
            self.assertEqual(c, 554)
            self.assertTrue(text.startswith(b"5.7.1 "), text)
            c, text = s.rcpt("nobody-here@example.test")
            self.assertEqual(c, 550)
            self.assertTrue(text.startswith(b"5.1.1 "), text)
            # No valid recipient: DATA is refused.
            self.assertEqual(s.docmd("DATA")[0], 554)
        finally:
            s.quit()

    def test_relay_tricks_refused(self):
        s = self.srv.smtp()
        try:
            s.ehlo()
            s.mail("sender@example.org")
            for rcpt in ("demo%other.example@example.test",
                         "other.example!demo@example.test",
                         '"demo@other.example"@example.test'):
                with self.subTest(rcpt=rcpt):
                    c, text = s.rcpt(rcpt)
                    self.assertEqual(c, 554, text)
                    self.assertTrue(text.startswith(b"5.7.1 "), text)
        finally:
            s.quit()

    def test_postmaster_without_domain(self):
        msg = message("to postmaster")
        s = self.srv.smtp()
        try:
            s.ehlo()
            s.mail("")
            self.assertEqual(s.docmd("RCPT TO:<Postmaster>")[0], 250)
            self.assertEqual(s.data(msg)[0], 250)
        finally:
            s.quit()
        got = imap_fetch_all(self.srv, self.addr("postmaster"))
        self.assertEqual([strip_received(m) for m in got], [msg])

    def test_alias_two_targets_once_each(self):
        msg = message("alias fanout")
        s = self.srv.smtp()
        try:
            s.ehlo()
            s.mail("sender@example.org")
            self.assertEqual(s.rcpt("team@example.test")[0], 250)
            # al1 again directly: still one copy for al1.
            self.assertEqual(s.rcpt(self.addr("al1"))[0], 250)
            self.assertEqual(s.data(msg)[0], 250)
        finally:
            s.quit()
        for u in ("al1", "al2"):
            got = imap_fetch_all(self.srv, self.addr(u))
            self.assertEqual([strip_received(m) for m in got], [msg], u)

    def test_duplicate_rcpt_delivers_once(self):
        msg = message("duplicate rcpt")
        s = self.srv.smtp()
        try:
            s.ehlo()
            s.mail("sender@example.org")
            self.assertEqual(s.rcpt(self.addr("dup"))[0], 250)
            self.assertEqual(s.rcpt(self.addr("dup"))[0], 250)
            self.assertEqual(s.data(msg)[0], 250)
        finally:
            s.quit()
        got = imap_fetch_all(self.srv, self.addr("dup"))
        self.assertEqual([strip_received(m) for m in got], [msg])

    # -- submission ----------------------------------------------------

    def test_submission_mail_before_auth(self):
        for listener in ("submission", "submission2"):
            with self.subTest(listener=listener):
                s = self.srv.smtp(listener)
                try:
                    s.ehlo()
                    c, text = s.mail(harness.Server.USER)
                    self.assertEqual(c, 530)
                    self.assertTrue(text.startswith(b"5.7.0 "), text)
                finally:
                    s.quit()
        s = self.srv.smtps()
        try:
            s.ehlo()
            c, text = s.mail(harness.Server.USER)
            self.assertEqual(c, 530)
            self.assertTrue(text.startswith(b"5.7.0 "), text)
        finally:
            s.quit()

    def test_submission_wrong_password(self):
        rc = self.srv.raw("submission")
        try:
            greet(rc)
            rc.send(("AUTH PLAIN " + auth_plain(harness.Server.USER,
                                                "wrong-Pw-1") +
                     "\r\n").encode())
            line = code(rc)
            self.assertTrue(line.startswith("535 5.7.8 "), line)
            rc.send(b"AUTH LOGIN\r\n")
            self.assertTrue(code(rc).startswith("334 "))
            rc.send(base64.b64encode(harness.Server.USER.encode()) + b"\r\n")
            self.assertTrue(code(rc).startswith("334 "))
            rc.send(base64.b64encode(b"wrong-Pw-2") + b"\r\n")
            line = code(rc)
            self.assertTrue(line.startswith("535 5.7.8 "), line)
            # Still not authenticated.
            rc.send(b"MAIL FROM:<demo@example.test>\r\n")
            self.assertTrue(code(rc).startswith("530 5.7.0 "))
        finally:
            rc.close()

    def test_submission_auth_plain_and_login(self):
        user, pw = harness.Server.USER, harness.Server.PASSWORD
        dialogues = {
            "PLAIN-IR": [("AUTH PLAIN " + auth_plain(user, pw), "235 ")],
            "PLAIN": [("AUTH PLAIN", "334 "),
                      (auth_plain(user, pw), "235 ")],
            "LOGIN": [("AUTH LOGIN", "334 "),
                      (base64.b64encode(user.encode()).decode(), "334 "),
                      (base64.b64encode(pw.encode()).decode(), "235 ")],
        }
        for name, steps in dialogues.items():
            with self.subTest(mech=name):
                rc = self.srv.raw("submission")
                try:
                    greet(rc)
                    for send, want in steps:
                        rc.send(send.encode() + b"\r\n")
                        line = code(rc)
                        self.assertTrue(line.startswith(want), line)
                    self.assertEqual(line, "235 2.7.0 Authentication "
                                     "successful")
                    rc.send(b"MAIL FROM:<demo@example.test>\r\n")
                    self.assertEqual(code(rc), "250 2.1.0 Ok")
                    rc.send(b"QUIT\r\n")
                    self.assertTrue(code(rc).startswith("221 "))
                finally:
                    rc.close()

    def test_submission_remote_is_queued(self):
        before = queue_count(self.srv)
        msg = message("queued remote", frm=harness.Server.USER.encode())
        self.assertEqual(self.srv.submit(msg, ["friend@remote.example"]), {})
        self.assertEqual(queue_count(self.srv), before + 1)

    def test_submission_ports_byte_identical(self):
        msgs = {}
        for listener in ("submission", "submission2", "submissions"):
            msgs[listener] = message(
                f"via {listener}",
                b"first line\r\n"
                b".leading dot\r\n"
                b"trailing blanks   \r\n"
                b"\ttab line\r\n"
                b"\r\n"
                b"x" * 900 + b"\r\n"
                b"end\r\n", frm=harness.Server.USER.encode())
        self.srv.submit(msgs["submission"], [self.addr("subm")],
                        listener="submission")
        self.srv.submit(msgs["submission2"], [self.addr("subm")],
                        listener="submission2")
        s = self.srv.smtps()
        try:
            s.login(harness.Server.USER, harness.Server.PASSWORD)
            self.assertEqual(s.sendmail(harness.Server.USER,
                                        [self.addr("subm")],
                                        msgs["submissions"]), {})
        finally:
            s.quit()
        imap = imap_fetch_all(self.srv, self.addr("subm"))
        self.assertEqual([strip_received(m) for m in imap],
                         [msgs["submission"], msgs["submission2"],
                          msgs["submissions"]])
        for m in imap:
            self.assertIn(b" with ESMTPSA id ", m.split(b"\r\n\r\n")[0])
        self.assertEqual(pop3_fetch_all(self.srv, self.addr("subm")), imap)

    # -- HELO/EHLO and command errors ------------------------------------

    def test_ehlo_argument_checks(self):
        rc = self.srv.raw("smtp")
        try:
            self.assertTrue(code(rc).startswith("220 "))
            for bad in (b"EHLO", b"EHLO bad name", b"EHLO -foo.",
                        b"HELO"):
                rc.send(bad + b"\r\n")
                line = code(rc)
                self.assertTrue(line.startswith("501 5.5.2"), (bad, line))
            rc.send(b"MAIL FROM:<a@example.org>\r\n")
            self.assertTrue(code(rc).startswith("503 "))
            rc.send(b"EHLO [127.0.0.1]\r\n")
            r = reply(rc)
            self.assertEqual(r[0], f"250-{HOST}")
            self.assertEqual(r[-1], "250 CHUNKING")
            rc.send(b"HELO client.example.org\r\n")
            self.assertEqual(code(rc), f"250 {HOST}")
        finally:
            rc.close()

    def test_mail_before_ehlo(self):
        rc = self.srv.raw("smtp")
        try:
            self.assertTrue(code(rc).startswith("220 "))
            rc.send(b"MAIL FROM:<a@example.org>\r\n")
            line = code(rc)
            self.assertTrue(line.startswith("503 5.5.1 "), line)
            rc.send(b"RCPT TO:<misc@example.test>\r\n")
            self.assertTrue(code(rc).startswith("503 5.5.1 "))
            rc.send(b"DATA\r\n")
            self.assertTrue(code(rc).startswith("503 5.5.1 "))
        finally:
            rc.close()

    def test_unknown_command_session_survives(self):
        rc = self.srv.raw("smtp")
        try:
            greet(rc)
            rc.send(b"FROBNICATE now\r\n")
            line = code(rc)
            self.assertTrue(line.startswith("500 5.5.2 "), line)
            msg = message("after unknown command")
            rc.send(b"MAIL FROM:<sender@example.org>\r\n")
            self.assertEqual(code(rc), "250 2.1.0 Ok")
            rc.send(b"RCPT TO:<misc@example.test>\r\n")
            self.assertEqual(code(rc), "250 2.1.5 Ok")
            rc.send(b"DATA\r\n")
            self.assertTrue(code(rc).startswith("354 "))
            rc.send(msg + b".\r\n")
            self.assertTrue(code(rc).startswith("250 2.0.0 "))
            rc.send(b"QUIT\r\n")
            self.assertTrue(code(rc).startswith("221 "))
        finally:
            rc.close()
        got = imap_fetch_all(self.srv, self.addr("misc"))
        self.assertEqual([strip_received(m) for m in got], [msg])

    def test_too_many_bad_commands(self):
        rc = self.srv.raw("smtp")
        try:
            greet(rc)
            for i in range(19):
                rc.send(b"XYZZY %d\r\n" % i)
                line = code(rc)
                self.assertTrue(line.startswith("500 5.5.2 "), (i, line))
            rc.send(b"NOOP\r\n")
            self.assertTrue(code(rc).startswith("250 "))
            rc.send(b"XYZZY 20\r\n")
            line = code(rc)
            if line.startswith("500 "):
                line = code(rc)
            self.assertTrue(line.startswith("421 "), line)
            self.assertTrue(rc.closed())
        finally:
            rc.close()

    # -- limits ----------------------------------------------------------

    def test_long_command_line(self):
        rc = self.srv.raw("smtp")
        try:
            greet(rc)
            line = b"MAIL FROM:<" + b"a" * 4074 + b"@example.org>"
            self.assertEqual(len(line) + 2, 4100)
            rc.send(line + b"\r\n")
            r = code(rc)
            self.assertTrue(r.startswith("500 "), r)
            rc.send(b"NOOP\r\n")
            self.assertEqual(code(rc), "250 2.0.0 Ok")
            rc.send(b"MAIL FROM:<sender@example.org>\r\n")
            self.assertEqual(code(rc), "250 2.1.0 Ok")
        finally:
            rc.close()

    def test_size_parameter_over_limit(self):
        s = self.srv.smtp()
        try:
            s.ehlo()
            c, text = s.mail("sender@example.org", ["SIZE=52428801"])
            self.assertEqual(c, 552)
            self.assertTrue(text.startswith(b"5.3.4 "), text)
            self.assertEqual(s.mail("sender@example.org", ["SIZE=52428800"]),
                             (250, b"2.1.0 Ok"))
        finally:
            s.quit()

    def test_10mb_message_intact(self):
        body = b"".join(b"%08d " % i + b"0123456789abcdef" * 4 +
                        b"-line\r\n" for i in range(131072))
        self.assertGreater(len(body), 10 * 1000 * 1000)
        msg = message("big message", body)
        s = self.srv.smtp(timeout=60)
        try:
            s.ehlo()
            self.assertEqual(s.sendmail("sender@example.org",
                                        [self.addr("big")], msg), {})
        finally:
            s.quit()
        m = self.srv.imap(timeout=60)
        try:
            m.login(self.addr("big"), PW)
            m.select("INBOX", readonly=True)
            typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
            self.assertEqual(typ, "OK")
            got = data[0][1]
        finally:
            m.logout()
        self.assertEqual(len(got), len(body))
        self.assertEqual(hashlib.sha256(got).hexdigest(),
                         hashlib.sha256(body).hexdigest())

    # -- PIPELINING --------------------------------------------------------

    def test_pipelining(self):
        rc = self.srv.raw("smtp")
        msg = message("pipelined")
        try:
            self.assertTrue(code(rc).startswith("220 "))
            rc.send(b"EHLO client.example.org\r\n"
                    b"MAIL FROM:<sender@example.org>\r\n"
                    b"RCPT TO:<pipe@example.test>\r\n"
                    b"RCPT TO:<no-such-user@example.test>\r\n"
                    b"DATA\r\n")
            r = reply(rc)
            self.assertEqual(r[0], f"250-{HOST}")
            self.assertEqual(r[-1], "250 CHUNKING")
            self.assertEqual(code(rc), "250 2.1.0 Ok")
            self.assertEqual(code(rc), "250 2.1.5 Ok")
            self.assertTrue(code(rc).startswith("550 5.1.1 "))
            self.assertTrue(code(rc).startswith("354 "))
            rc.send(msg + b".\r\nQUIT\r\n")
            self.assertTrue(code(rc).startswith("250 2.0.0 "))
            self.assertTrue(code(rc).startswith("221 "))
            self.assertTrue(rc.closed())
        finally:
            rc.close()
        got = imap_fetch_all(self.srv, self.addr("pipe"))
        self.assertEqual([strip_received(m) for m in got], [msg])

    # -- smuggling and dot-stuffing --------------------------------------

    def test_smtp_smuggling(self):
        seqs = [b"\n.\n", b"\r.\r", b"\n.\r\n", b"\r\n.\n"]
        for n, seq in enumerate(seqs):
            with self.subTest(seq=seq):
                before = imap_count(self.srv, self.addr("smug"))
                evil = (b"MAIL FROM:<evil%d@remote.example>\r\n"
                        b"RCPT TO:<smug@example.test>\r\n"
                        b"DATA\r\n"
                        b"Subject: smuggled %d\r\n\r\nsmuggled\r\n" % (n, n))
                rc = self.srv.raw("smtp")
                try:
                    greet(rc)
                    rc.send(b"MAIL FROM:<sender@example.org>\r\n"
                            b"RCPT TO:<smug@example.test>\r\nDATA\r\n")
                    self.assertEqual(code(rc), "250 2.1.0 Ok")
                    self.assertEqual(code(rc), "250 2.1.5 Ok")
                    self.assertTrue(code(rc).startswith("354 "))
                    rc.send(b"Subject: real %d\r\n\r\nbody" % n + seq +
                            evil + b".\r\nNOOP\r\nQUIT\r\n")
                    self.assertTrue(code(rc).startswith("250 2.0.0 "))
                    self.assertEqual(code(rc), "250 2.0.0 Ok")
                    self.assertTrue(code(rc).startswith("221 "))
                    self.assertTrue(rc.closed())
                finally:
                    rc.close()
                got = imap_fetch_all(self.srv, self.addr("smug"))
                self.assertEqual(len(got), before + 1)
                stored = got[-1]
                self.assertIn(b"Subject: real %d\r\n" % n, stored)
                self.assertIn(b"MAIL FROM:<evil%d@remote.example>" % n,
                              stored)
                self.assertIn(b"Subject: smuggled %d" % n, stored)

    def test_dot_stuffing(self):
        rc = self.srv.raw("smtp")
        try:
            greet(rc)
            rc.send(b"MAIL FROM:<sender@example.org>\r\n")
            self.assertEqual(code(rc), "250 2.1.0 Ok")
            rc.send(b"RCPT TO:<dots@example.test>\r\n")
            self.assertEqual(code(rc), "250 2.1.5 Ok")
            rc.send(b"DATA\r\n")
            self.assertTrue(code(rc).startswith("354 "))
            rc.send(b"Subject: dots\r\n\r\n"
                    b"..\r\n"
                    b"...\r\n"
                    b"...x\r\n"
                    b"..hidden\r\n"
                    b"a.b\r\n"
                    b" .\r\n"
                    b".\r\n")
            self.assertTrue(code(rc).startswith("250 2.0.0 "))
        finally:
            rc.close()
        got = imap_fetch_all(self.srv, self.addr("dots"))
        self.assertEqual([strip_received(m) for m in got],
                         [b"Subject: dots\r\n\r\n.\r\n..\r\n..x\r\n"
                          b".hidden\r\na.b\r\n .\r\n"])

    # -- STARTTLS injection ----------------------------------------------

    def test_starttls_injection(self):
        for listener in ("smtp", "submission"):
            for after in ("EHLO", "MAIL"):
                with self.subTest(listener=listener, after=after):
                    rc = self.srv.raw(listener)
                    try:
                        greet(rc)
                        rc.send(b"STARTTLS\r\nRSET\r\n")
                        self.assertTrue(code(rc).startswith("220 "))
                        self.assertEqual(rc.buf, b"")
                        tls = harness.RawClient(
                            tls_context().wrap_socket(rc.sock))
                        if after == "EHLO":
                            tls.send(b"EHLO client.example.org\r\n")
                            r = reply(tls)
                            self.assertEqual(r[0], f"250-{HOST}")
                            self.assertNotIn("250-STARTTLS", r)
                        else:
                            tls.send(b"MAIL FROM:<demo@example.test>\r\n")
                            line = code(tls)
                            self.assertTrue(line.startswith("503 "), line)
                        tls.send(b"QUIT\r\n")
                        self.assertTrue(code(tls).startswith("221 "))
                    finally:
                        rc.close()

    # -- 8-bit ---------------------------------------------------------------

    def test_8bit_body_byte_exact(self):
        body = ("Grüße aus Köln — 日本語 ✓\r\n".encode("utf-8") +
                b"Latin-1: caf\xe9 na\xefve \xa9\r\n"
                b"\x80\x81\xfe\xff raw high bytes\r\n")
        msg = message("eight bit", body,
                      b"MIME-Version: 1.0\r\n"
                      b"Content-Type: text/plain; charset=utf-8\r\n"
                      b"Content-Transfer-Encoding: 8bit\r\n")
        s = self.srv.smtp()
        try:
            s.ehlo()
            self.assertEqual(s.mail("sender@example.org",
                                    ["BODY=8BITMIME"]), (250, b"2.1.0 Ok"))
            self.assertEqual(s.rcpt(self.addr("eight"))[0], 250)
            self.assertEqual(s.data(msg)[0], 250)
        finally:
            s.quit()
        imap = imap_fetch_all(self.srv, self.addr("eight"))
        self.assertEqual([strip_received(m) for m in imap], [msg])
        self.assertEqual(pop3_fetch_all(self.srv, self.addr("eight")), imap)

    # -- concurrency -----------------------------------------------------

    def test_parallel_200_messages(self):
        ids = [f"<par-{t}-{i}@client.example.org>"
               for t in range(20) for i in range(10)]
        errors = []

        def worker(t):
            try:
                s = self.srv.smtp(timeout=60)
                try:
                    s.ehlo()
                    for i in range(10):
                        mid = f"<par-{t}-{i}@client.example.org>"
                        msg = (f"Subject: parallel {t} {i}\r\n"
                               f"Message-ID: {mid}\r\n\r\n"
                               f"body {t} {i}\r\n").encode()
                        r = s.sendmail("sender@example.org",
                                       [self.addr("par")], msg)
                        if r != {}:
                            errors.append((t, i, r))
                finally:
                    s.quit()
            except Exception as e:  # reported below
                errors.append((t, repr(e)))

        threads = [threading.Thread(target=worker, args=(t,))
                   for t in range(20)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        self.assertFalse(any(th.is_alive() for th in threads))
        self.assertEqual(errors, [])
        m = self.srv.imap()
        try:
            m.login(self.addr("par"), PW)
            m.select("INBOX", readonly=True)
            typ, data = m.search(None, "ALL")
            self.assertEqual(typ, "OK")
            self.assertEqual(len(data[0].split()), 200)
            typ, data = m.fetch("1:*",
                                "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            self.assertEqual(typ, "OK")
            got = []
            for item in data:
                if isinstance(item, tuple):
                    mm = re.search(rb"(?i)Message-ID: (<[^>]*>)", item[1])
                    got.append(mm.group(1).decode())
        finally:
            m.logout()
        self.assertEqual(len(got), 200)
        self.assertEqual(sorted(got), sorted(ids))

    # -- log -------------------------------------------------------------

    def test_log_lines(self):
        rc = self.srv.raw("submission")
        try:
            greet(rc)
            rc.send(("AUTH PLAIN " + auth_plain(self.addr("logu"),
                                                "Wr0ng-Secret-99") +
                     "\r\n").encode())
            self.assertTrue(code(rc).startswith("535 "))
            rc.send(("AUTH PLAIN " + auth_plain(self.addr("logu"), PW) +
                     "\r\n").encode())
            self.assertTrue(code(rc).startswith("235 "))
            rc.send(b"MAIL FROM:<logu@example.test>\r\n"
                    b"RCPT TO:<logu@example.test>\r\n"
                    b"RCPT TO:<someone@remote.example>\r\nDATA\r\n")
            self.assertEqual(code(rc), "250 2.1.0 Ok")
            self.assertEqual(code(rc), "250 2.1.5 Ok")
            self.assertEqual(code(rc), "250 2.1.5 Ok")
            self.assertTrue(code(rc).startswith("354 "))
            rc.send(b"Subject: log test\r\n\r\nhello\r\n.\r\n")
            line = code(rc)
            mm = re.match(r"250 2\.0\.0 Ok: queued as (\S+)$", line)
            self.assertIsNotNone(mm, line)
            qid = mm.group(1)
            rc.send(b"QUIT\r\n")
            self.assertTrue(code(rc).startswith("221 "))
        finally:
            rc.close()
        stored = imap_fetch_all(self.srv, self.addr("logu"))
        self.assertEqual(len(stored), 1)
        # The size logged is the message's, without the Return-Path that
        # only the local copy gets.
        size = len(harness.strip_return_path(stored[0]))

        def logged():
            t = self.srv.read_log()
            if qid in t and "disconnect" in t.split(qid, 1)[1]:
                return t
            return None
        log = self.srv.wait_for(logged, what="disconnect logged")
        self.assertRegex(log, r"smtp connect from=127\.0\.0\.1 port=\d+")
        self.assertRegex(log, r"smtp auth failed user=logu@example\.test\b")
        self.assertRegex(log, r"smtp auth ok user=logu@example\.test\b")
        self.assertRegex(log, r"smtp message accepted id=%s size=%d "
                         r"rcpts=2\b" % (re.escape(qid), size))
        self.assertRegex(log, r"smtp disconnect reason=")
        for secret in (PW, "Wr0ng-Secret-99", harness.Server.PASSWORD,
                       auth_plain(self.addr("logu"), PW),
                       auth_plain(self.addr("logu"), "Wr0ng-Secret-99"),
                       base64.b64encode(PW.encode()).decode()):
            self.assertNotIn(secret, log)


class PlaintextOffTest(unittest.TestCase):
    """plaintext_on_loopback = no: no AUTH before STARTTLS."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(plaintext_on_loopback=False)
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_auth_only_after_starttls(self):
        s = self.srv.smtp("submission")
        try:
            _, exts = ehlo_exts(s)
            self.assertEqual(exts, MX_EXTS)
            c, text = s.docmd("AUTH", "PLAIN " + auth_plain(
                harness.Server.USER, harness.Server.PASSWORD))
            self.assertEqual(c, 538)
            self.assertTrue(text.startswith(b"5.7.11 "), text)
            c, text = s.mail(harness.Server.USER)
            self.assertEqual(c, 530)
            self.assertTrue(text.startswith(b"5.7.0 "), text)
            self.assertEqual(s.starttls(context=tls_context())[0], 220)
            _, exts = ehlo_exts(s)
            self.assertEqual(exts, sorted(["PIPELINING", "SIZE 52428800",
                                           "AUTH SCRAM-SHA-256 PLAIN LOGIN",
                                           "ENHANCEDSTATUSCODES",
                                           "8BITMIME", "DSN", "SMTPUTF8",
                                           "CHUNKING"]))
            self.assertEqual(s.login(harness.Server.USER,
                                     harness.Server.PASSWORD)[0], 235)
        finally:
            s.quit()


class SizeLimitTest(unittest.TestCase):
    """[limits] message_size = 100k."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(extra_config="[limits]\nmessage_size = 100k\n",
                         users={"lim@example.test": PW})
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_oversized_message_then_next_works(self):
        big = message("too big", b"y" * 78 + b"\r\n") + \
            (b"z" * 78 + b"\r\n") * 1500
        small = message("fits")
        s = self.srv.smtp()
        try:
            _, exts = ehlo_exts(s)
            self.assertIn("SIZE 102400", exts)
            c, text = s.mail("sender@example.org", ["SIZE=102401"])
            self.assertEqual(c, 552)
            self.assertTrue(text.startswith(b"5.3.4 "), text)
            self.assertEqual(s.mail("sender@example.org")[0], 250)
            self.assertEqual(s.rcpt("lim@example.test")[0], 250)
            c, text = s.data(big)
            self.assertEqual(c, 552)
            self.assertTrue(text.startswith(b"5.3.4 "), text)
            self.assertEqual(s.noop()[0], 250)
            self.assertEqual(s.mail("sender@example.org")[0], 250)
            self.assertEqual(s.rcpt("lim@example.test")[0], 250)
            c, text = s.data(small)
            self.assertEqual(c, 250, text)
        finally:
            s.quit()
        got = imap_fetch_all(self.srv, "lim@example.test")
        self.assertEqual([strip_received(m) for m in got], [small])


class LifecycleTest(unittest.TestCase):
    """kill -9 after 250 loses nothing; SIGTERM says 421 and exits 0."""

    def setUp(self):
        self.srv = Server(users={"dura@example.test": PW})

    def tearDown(self):
        if self.srv.proc is not None and self.srv.proc.poll() is None:
            self.srv.kill9()
        if self.srv.log:
            self.srv.log.close()
            self.srv.log = None
        self.srv.cleanup()

    def test_durable_after_kill9(self):
        sent = []
        for i in range(5):
            self.srv.start()
            msg = message(f"durable {i}", b"body %d\r\n" % i)
            rc = self.srv.raw("smtp")
            try:
                greet(rc)
                rc.send(b"MAIL FROM:<sender@example.org>\r\n"
                        b"RCPT TO:<dura@example.test>\r\nDATA\r\n")
                self.assertEqual(code(rc), "250 2.1.0 Ok")
                self.assertEqual(code(rc), "250 2.1.5 Ok")
                self.assertTrue(code(rc).startswith("354 "))
                rc.send(msg + b".\r\n")
                self.assertTrue(code(rc).startswith("250 2.0.0 "))
                self.srv.kill9()
            finally:
                rc.close()
            self.srv.log.close()
            self.srv.log = None
            sent.append(msg)
            self.srv.start()
            got = imap_fetch_all(self.srv, "dura@example.test")
            self.assertEqual([strip_received(m) for m in got], sent)
            self.srv.kill9()
            self.srv.log.close()
            self.srv.log = None

    def test_sigterm(self):
        self.srv.start()
        rc = self.srv.raw("smtp")
        try:
            greet(rc)
            rc.send(b"MAIL FROM:<sender@example.org>\r\n")
            self.assertEqual(code(rc), "250 2.1.0 Ok")
            self.assertEqual(self.srv.stop(signal.SIGTERM), 0)
            line = rc.readline()
            self.assertTrue(line.startswith(b"421 "), line)
            self.assertTrue(rc.closed())
        finally:
            rc.close()


if __name__ == "__main__":
    unittest.main()

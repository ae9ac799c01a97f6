"""
test_delivery - outbound delivery between two real posthorn instances:
the queue, MX choice (RFC 5321 5.1, RFC 7505 null MX), STARTTLS, one
transaction per destination, retries, DSNs (RFC 3464) and the queue CLI.

    A  the sender: mail.example.test, domain example.test, user demo;
       [dns] resolver = a local unbound (dnsfixture), [delivery] port =
       the port B listens on.  Its smtp listener is also bound to
       127.0.0.1:that port, so an MX pointing at A loops back to A.
    B  the receiver on 127.0.0.2: mx.remote.test, domain remote.test
       (users bob, carol, full), aliases for the other test domains.
    A2 a second sender with retry_first = 1h (retries only by
       `queue retry`) and delay_warning = 2s.

The DNS (one unbound for the module, names under .test, TTL 1):
    remote.test     MX 10 mx.remote.test.      mx.remote.test  A 127.0.0.2
    nullmx.test     MX 0 .                     (RFC 7505)
    implicit.test   A 127.0.0.2                (no MX: RFC 5321 5.1)
    fallback.test   MX 10 mx1 -> 127.0.0.3 (closed), MX 20 mx2 -> B
    equal.test      MX 10 mxa -> 127.0.0.3 (closed), MX 10 mxb -> B
    loop.test       MX 10 mail.example.test.   mail.example.test A 127.0.0.1
    moved.test      MX 10 mx.moved.test.       A 127.0.0.3, changed to B by
                                               a test (dnsfixture restart)
    nosuch.test     (none: NXDOMAIN)
    badmx.test      MX 10 "bad host.badmx.test" (a space in a label: no
                    host name), A 127.0.0.2 (B, which takes its mail)
    many.test       MX 10..70 mx1..mx7 -> 127.0.0.11..17 (all closed)
    drops.test      MX 10, 20, 30 mx1..mx3 -> 127.0.0.21..23, where a test
                    runs servers that answer EHLO and hang up at MAIL
    soft.test       MX 10 mx1 -> 127.0.0.24, MX 20 mx2 -> B; a test runs
                    a stand-in on .24 that answers some RCPTs with 450
    soft2.test      MX 10 mx1, MX 20 mx2 -> 127.0.0.25, .26: stand-ins
                    answering 451 at MAIL and 450 at RCPT
B also has the alias ü@remote.test -> bob@remote.test (SMTPUTF8 bounces).
"""
import email
import email.utils
import os
import re
import smtplib
import socket
import sys
import time
import imaplib
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port, tls_context  # noqa: E402
from dnsfixture import Unbound  # noqa: E402

B_IP = "127.0.0.2"
BOB_PW = "bob-password-1"
CAROL_PW = "carol-password-2"
FULL_PW = "full-password-3"
A_HOST = harness.Server.HOSTNAME          # mail.example.test
B_HOST = "mx.remote.test"
WAIT = 15                                 # bound for one delivery

DNS_RECORDS = {
    "remote.test": ["MX 10 mx.remote.test."],
    "mx.remote.test": ["A 127.0.0.2"],
    "nullmx.test": ["MX 0 ."],
    "implicit.test": ["A 127.0.0.2"],
    "fallback.test": ["MX 10 mx1.fallback.test.",
                      "MX 20 mx2.fallback.test."],
    "mx1.fallback.test": ["A 127.0.0.3"],
    "mx2.fallback.test": ["A 127.0.0.2"],
    "equal.test": ["MX 10 mxa.equal.test.", "MX 10 mxb.equal.test."],
    "mxa.equal.test": ["A 127.0.0.3"],
    "mxb.equal.test": ["A 127.0.0.2"],
    "loop.test": ["MX 10 mail.example.test."],
    "moved.test": ["MX 10 mx.moved.test."],
    "mx.moved.test": ["A 127.0.0.3"],
    "mail.example.test": ["A 127.0.0.1"],
    "badmx.test": ["MX 10 bad\\032host.badmx.test.", "A 127.0.0.2"],
    "many.test": [f"MX {10 * i} mx{i}.many.test." for i in range(1, 8)],
    "drops.test": [f"MX {10 * i} mx{i}.drops.test." for i in range(1, 4)],
}
DNS_RECORDS.update({
    "soft.test": ["MX 10 mx1.soft.test.", "MX 20 mx2.soft.test."],
    "mx1.soft.test": ["A 127.0.0.24"],
    "mx2.soft.test": ["A 127.0.0.2"],
    "soft2.test": ["MX 10 mx1.soft2.test.", "MX 20 mx2.soft2.test."],
    "mx1.soft2.test": ["A 127.0.0.25"],
    "mx2.soft2.test": ["A 127.0.0.26"],
})
DNS_RECORDS.update({f"mx{i}.many.test": [f"A 127.0.0.{10 + i}"]
                    for i in range(1, 8)})
DNS_RECORDS.update({f"mx{i}.drops.test": [f"A 127.0.0.{20 + i}"]
                    for i in range(1, 4)})


def delivery_port():
    """A port free on 127.0.0.2 (B's smtp) and on 127.0.0.1 (A's second
    smtp listener, for the loop test) and nothing on 127.0.0.3."""
    return free_port((B_IP, "127.0.0.1"))


def free_port_on(ip):
    return free_port((ip,))


def _set_listen(conf, key, value):
    with open(conf) as f:
        text = f.read()
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert n == 1, (key, text)
    with open(conf, "w") as f:
        f.write(text)


class Receiver(harness.Server):
    """B: smtp and imap on 127.0.0.2 (the others stay on 127.0.0.1)."""
    DOMAIN = "remote.test"
    USER = "bob@remote.test"
    PASSWORD = BOB_PW
    HOSTNAME = B_HOST

    def __init__(self, smtp_port, extra_config="", **kw):
        super().__init__(extra_config=extra_config, **kw)
        self.port["smtp"] = smtp_port
        self.port["imap"] = free_port_on(B_IP)
        _set_listen(self.conf, "smtp", f"{B_IP}:{smtp_port}")
        _set_listen(self.conf, "imap", f"{B_IP}:{self.port['imap']}")

    def smtp(self, listener="smtp", timeout=30):
        assert listener == "smtp"
        return smtplib.SMTP(B_IP, self.port["smtp"],
                            local_hostname="client.example.org",
                            timeout=timeout)

    def imap(self, timeout=30):
        return imaplib.IMAP4(B_IP, self.port["imap"], timeout=timeout)


class Sender(harness.Server):
    """A: its smtp listener also on 127.0.0.1:loop_port."""

    def __init__(self, loop_port=None, **kw):
        super().__init__(**kw)
        if loop_port is not None:
            _set_listen(self.conf, "smtp",
                        f"127.0.0.1:{self.port['smtp']}, "
                        f"127.0.0.1:{loop_port}")


def sender_config(dns, port, **delivery):
    d = {"port": port, "retry_first": "1s", "retry_max": "2s",
         "delay_warning": "0", "connect_timeout": "5s",
         "command_timeout": "30s"}
    d.update(delivery)
    # sender_check = off: the bounce tests submit with senders at other
    # domains (a sender that does not exist), as an admin may allow.
    return (f"[dns]\nresolver = {dns.resolver}\ndnssec = no\n"
            "[smtp]\nsender_check = off\n"
            "[delivery]\n" + "".join(f"{k} = {v}\n" for k, v in d.items()))


# -- module fixtures ----------------------------------------------------

DNS = None
B = None
PORT = None


def setUpModule():
    global DNS, B, PORT
    DNS = Unbound(DNS_RECORDS)
    try:
        DNS.start()
        PORT = delivery_port()
        B = Receiver(PORT, users={"carol@remote.test": CAROL_PW,
                                  "full@remote.test": FULL_PW},
                     extra_config=f"[dns]\nresolver = {DNS.resolver}\n"
                                  "dnssec = no\n")
        for dom in ("implicit.test", "fallback.test", "equal.test",
                    "moved.test", "badmx.test", "soft.test"):
            B.cli("domain", "add", dom)
            B.cli("alias", "add", f"bob@{dom}", "bob@remote.test")
        B.cli("alias", "add", "carol@soft.test", "carol@remote.test")
        B.cli("alias", "add", "ü@remote.test", "bob@remote.test")
        B.start()
    except Exception:
        tearDownModule()
        raise


def tearDownModule():
    if B is not None:
        B.cleanup()
    if DNS is not None:
        DNS.cleanup()


# -- helpers ------------------------------------------------------------

_counter = [0]


def unique(tag):
    _counter[0] += 1
    return f"{tag}-{os.getpid()}-{_counter[0]}-{int(time.time() * 1000)}"


def make_msg(subject, msgid, to="bob@remote.test", frm="demo@example.test",
             body=None):
    if body is None:
        body = f"Body of {subject}.\r\nSecond line.\r\n"
    return (f"From: Demo <{frm}>\r\n"
            f"To: <{to}>\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: <{msgid}>\r\n"
            "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" + body).encode()


class HangUpAtMail(harness.TcpServer):
    """An MX host that greets, answers EHLO and hangs up at MAIL FROM;
    counts its sessions."""

    def __init__(self, ip, port):
        self.sessions = 0
        super().__init__(ip, port, self._session_hang_up)

    def _session_hang_up(self, c):
        self.sessions += 1
        with c.makefile("rb") as f:
            c.sendall(b"220 drops.test ESMTP\r\n")
            for line in f:
                if line[:4].upper() != b"EHLO":
                    break       # MAIL FROM (or anything else)
                c.sendall(b"250-drops.test\r\n250 8BITMIME\r\n")


class StandInMx(harness.TcpServer):
    """An MX host speaking just enough SMTP (no PIPELINING): MAIL gets
    mail_reply, RCPT rcpt_reply(address); keeps the RCPT addresses it
    saw and each message taken as (recipients, data).  hang_up_at_mail:
    the MAIL FROM of a session (1, 2, ...) at which it hangs up.  After
    a 421 reply it closes the connection (RFC 5321 3.8)."""

    def __init__(self, ip, port, mail_reply=b"250 2.1.0 Ok",
                 rcpt_reply=lambda addr: b"250 2.1.5 Ok",
                 hang_up_at_mail=None):
        self.hang_up_at_mail = hang_up_at_mail
        self.sessions = 0
        self.rcpts_seen = []
        self.messages = []
        self.mail_reply = mail_reply
        self.rcpt_reply = rcpt_reply
        super().__init__(ip, port, self._smtp)

    def _smtp(self, c):
        self.sessions += 1
        rcpts = []
        mails = 0
        with c.makefile("rb") as f:
            c.sendall(b"220 stand-in ESMTP\r\n")
            for line in f:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    c.sendall(b"250-stand-in\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    rcpts = []
                    mails += 1
                    if mails == self.hang_up_at_mail:
                        break
                    c.sendall(self.mail_reply + b"\r\n")
                    if self.mail_reply.startswith(b"421"):
                        break
                elif verb == b"RCPT":
                    addr = line[line.index(b"<") + 1:
                                line.index(b">")].decode()
                    self.rcpts_seen.append(addr)
                    reply = self.rcpt_reply(addr)
                    if reply.startswith(b"250"):
                        rcpts.append(addr)
                    c.sendall(reply + b"\r\n")
                    if reply.startswith(b"421"):
                        break
                elif verb == b"DATA":
                    c.sendall(b"354 go ahead\r\n")
                    data = b""
                    for dl in f:
                        if dl == b".\r\n":
                            break
                        data += dl
                    self.messages.append((rcpts, data))
                    c.sendall(b"250 2.0.0 Ok: taken\r\n")
                elif verb == b"RSET":
                    rcpts = []
                    c.sendall(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    c.sendall(b"502 5.5.2 what?\r\n")


class MailRefused(AssertionError):
    """MAIL FROM was not accepted on submission."""


def submit(a, rcpts, msg, sender=None, options=()):
    """demo submits over 587 with STARTTLS + AUTH; returns A's queue id
    (the id of `250 2.0.0 Ok: queued as ID`).  options: MAIL FROM's
    ("SMTPUTF8" makes smtplib send the commands in UTF-8)."""
    s = a.smtp("submission")
    try:
        s.starttls(context=tls_context())
        s.login(a.USER, a.PASSWORD)
        s.ehlo()
        code, resp = s.mail(a.USER if sender is None else sender,
                            list(options))
        if code != 250:
            raise MailRefused(code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, (code, resp)
        m = re.match(rb"2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$", resp)
        assert m, resp
        return m.group(1).decode()
    finally:
        s.quit()


def fetch_all(srv, user, pw, mailbox="INBOX"):
    m = srv.imap()
    try:
        m.login(user, pw)
        typ, data = m.select(mailbox, readonly=True)
        assert typ == "OK", data
        n = int(data[0])
        if n == 0:
            return []
        typ, data = m.fetch(f"1:{n}", "(BODY.PEEK[])")
        assert typ == "OK", data
        return [item[1] for item in data if isinstance(item, tuple)]
    finally:
        try:
            m.logout()
        except Exception:
            pass


def with_msgid(msgs, msgid):
    pat = re.compile(rb"(?im)^Message-ID: <" + re.escape(msgid.encode()) +
                     rb">\r$")
    return [m for m in msgs if pat.search(m)]


def qlines(srv, qid):
    """(rcpt, relay, attempts, status, reason) of each outcome logged."""
    return [(r, rel, int(n), st, why) for r, rel, n, st, why in re.findall(
        rf"queue id={qid} to=<([^>]*)> relay=(\S+) attempts=(\d+) "
        rf"status=(\w+) \((.*)\)\r?$", srv.read_log(), re.M)]


def wait_status(srv, qid, rcpt, status, timeout=WAIT, count=1):
    """Waits until count outcomes rcpt/status are logged; returns them."""
    def found():
        ls = [x for x in qlines(srv, qid) if x[0] == rcpt and x[3] == status]
        return ls if len(ls) >= count else None
    return srv.wait_for(found, timeout,
                        f"queue id={qid} to=<{rcpt}> status={status}")


def wait_log(srv, pattern, timeout=WAIT, since=0):
    return srv.wait_for(lambda: re.search(pattern, srv.read_log()[since:],
                                           re.M), timeout, pattern)


def queue_list(srv):
    return srv.cli("queue", "list").stdout


def wait_queue_empty(srv, timeout=WAIT):
    srv.wait_for(lambda: queue_list(srv) == "queue is empty\n", timeout,
                 "an empty queue")


def smtp_connects(srv, since=0):
    return len(re.findall(r"s=\S+ smtp connect from=",
                          srv.read_log()[since:]))


def ensure_b_running():
    if B.proc is None:
        B.start()


def stop_b():
    if B.proc is not None:
        B.stop()


def parse_date(s):
    d = email.utils.parsedate_to_datetime(s)
    assert d is not None, s
    return d.timestamp()


def dsns(a, subject, kind="failed"):
    """The DSNs in demo's INBOX on a whose returned header block has
    Subject: subject; (message, parts, delivery-status blocks)."""
    out = []
    for raw in fetch_all(a, a.USER, a.PASSWORD):
        msg = email.message_from_bytes(raw)
        if "MAILER-DAEMON@" not in msg.get("From", ""):
            continue
        parts = msg.get_payload()
        if not isinstance(parts, list) or len(parts) < 3:
            out.append((msg, parts, None))      # malformed: let it show
            continue
        orig = parts[2].get_payload(decode=True) or b""
        if not re.search(rb"(?m)^Subject: " + re.escape(subject.encode()) +
                         rb"\r?$", orig):
            continue
        blocks = parts[1].get_payload()
        action = blocks[1].get("Action") if len(blocks) > 1 else None
        if action == kind:
            out.append((msg, parts, blocks))
    return out


def show_log_on_failure(test, result, run):
    n = len(result.failures) + len(result.errors) if result else 0
    r = run(result)
    if result is not None and \
            len(result.failures) + len(result.errors) > n:
        for name, srv in (("A", getattr(type(test), "A", None)),
                          ("B", B)):
            if srv is not None:
                print(f"\n--- {name} log (tail) for {test.id()} ---\n" +
                      srv.read_log()[-5000:])
    return r


class DeliveryBase(unittest.TestCase):
    A = None
    A_CONFIG = {}
    LOOP = False

    @classmethod
    def setUpClass(cls):
        ensure_b_running()
        cls.A = Sender(loop_port=PORT if cls.LOOP else None,
                       extra_config=sender_config(DNS, PORT,
                                                  **cls.A_CONFIG))
        try:
            cls.A.start()
        except Exception:
            cls.A.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.A is not None:
            cls.A.cleanup()

    def run(self, result=None):
        return show_log_on_failure(self, result, super().run)

    def setUp(self):
        ensure_b_running()
        if self.A.proc is None:
            self.A.start()

    def tearDown(self):
        # Leave nothing behind for the next test, even after a failure.
        ensure_b_running()
        if self.A.proc is None:
            self.A.start()
        for line in queue_list(self.A).splitlines():
            qid = line.split()[0]
            if qid != "queue":
                self.A.cli("queue", "delete", qid, check=False)

    def check_dsn_envelope(self, msg, parts, kind="failed"):
        """The common parts of a DSN (RFC 3464 2, RFC 3462)."""
        self.assertEqual(msg["From"],
                         f"Mail Delivery System <MAILER-DAEMON@{A_HOST}>")
        self.assertEqual(msg["To"], "<demo@example.test>")
        self.assertEqual(msg["Subject"],
                         "Undelivered Mail Returned to Sender"
                         if kind == "failed" else
                         "Delayed Mail (still being retried)")
        self.assertEqual(msg["Auto-Submitted"], "auto-replied")
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "delivery-status")
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/delivery-status",
                          "text/rfc822-headers"])
        blocks = parts[1].get_payload()
        self.assertEqual(blocks[0]["Reporting-MTA"], f"dns; {A_HOST}")
        arrival = parse_date(blocks[0]["Arrival-Date"])
        self.assertLess(abs(arrival - time.time()), 120)
        return blocks


# -- the sender with quick retries --------------------------------------

class TestDelivery(DeliveryBase):
    A_CONFIG = {}
    LOOP = True

    def test_01_starttls_delivery(self):
        subj, mid = unique("tls"), unique("tls") + "@example.test"
        msg = make_msg(subj, mid)
        qid = submit(self.A, ["bob@remote.test"], msg)
        (rc, relay, n, st, why), = wait_status(self.A, qid,
                                               "bob@remote.test", "sent")
        self.assertEqual(relay, "mx.remote.test[127.0.0.2]")
        self.assertEqual(n, 1)
        m = re.fullmatch(r"250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)", why)
        self.assertTrue(m, why)
        b_id = m.group(1)
        wait_log(self.A, rf"queue id={qid} removed$")
        self.assertEqual(queue_list(self.A), "queue is empty\n")

        got = with_msgid(fetch_all(B, "bob@remote.test", BOB_PW), mid)
        self.assertEqual(len(got), 1)
        raw = got[0]
        # The return path of B's final delivery; A's copy had none.
        self.assertTrue(raw.startswith(b"Return-Path: <demo@example.test>"
                                       b"\r\n"), raw[:200])
        self.assertEqual(raw.count(b"Return-Path:"), 1)
        raw = raw[raw.index(b"\r\n") + 2:]
        # B's trace header next: from A over STARTTLS, no AUTH.
        mb = re.match(
            rb"Received: from mail\.example\.test \(\[127\.0\.0\.1\]\)\r\n"
            rb"\tby mx\.remote\.test \(posthorn\) with ESMTPS id (\w+)\r\n"
            rb"\t\(version=TLSv1\.3 cipher=[A-Z0-9_-]+\)\r\n"
            rb"\tfor <bob@remote\.test>; ([^\r\n]+)\r\n", raw)
        self.assertTrue(mb, raw[:400])
        self.assertEqual(mb.group(1).decode(), b_id)
        rest = raw[mb.end():]
        # Then A's, from demo's submission (ESMTPSA), with A's queue id.
        ma = re.match(
            rb"Received: from client\.example\.org \(\[127\.0\.0\.1\]\)\r\n"
            rb"\tby mail\.example\.test \(posthorn\) with ESMTPSA id (\w+)"
            rb"\r\n\t\(version=TLSv1\.3 cipher=[A-Z0-9_-]+\)\r\n"
            rb"\tfor <bob@remote\.test>; ([^\r\n]+)\r\n", rest)
        self.assertTrue(ma, rest[:400])
        self.assertEqual(ma.group(1).decode(), qid)
        # The message itself, byte for byte.
        self.assertEqual(rest[ma.end():], msg)
        # B logged a TLS session for A's connection.
        self.assertRegex(B.read_log(), r"smtp tls version=TLSv1\.3 ")

    def test_02_one_transaction_for_two_recipients(self):
        subj, mid = unique("two"), unique("two") + "@example.test"
        qid = submit(self.A, ["bob@remote.test", "carol@remote.test"],
                     make_msg(subj, mid))
        (_, rel1, n1, _, why1), = wait_status(self.A, qid,
                                              "bob@remote.test", "sent")
        (_, rel2, n2, _, why2), = wait_status(self.A, qid,
                                              "carol@remote.test", "sent")
        self.assertEqual((rel1, n1, rel2, n2),
                         ("mx.remote.test[127.0.0.2]", 1,
                          "mx.remote.test[127.0.0.2]", 1))
        # One DATA: both recipients got the same final reply.
        self.assertEqual(why1, why2)
        b_id = re.fullmatch(r"250 2\.0\.0 Ok: queued as (\w+)", why1)
        self.assertTrue(b_id, why1)
        self.assertRegex(
            B.read_log(),
            rf"smtp message accepted id={b_id.group(1)} size=\d+ rcpts=2 "
            rf"local=2 queued=0 from=<demo@example\.test>")
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        self.assertEqual(len(with_msgid(
            fetch_all(B, "carol@remote.test", CAROL_PW), mid)), 1)
        wait_queue_empty(self.A)

    def test_03_retry_after_4xx_mailbox_full(self):
        # full@remote.test over quota on B: RCPT gets 452 4.2.2.
        B.cli("user", "set", "full@remote.test", "quota=1k")
        s = B.smtp()
        try:
            s.ehlo()
            self.assertEqual(s.mail("filler@example.org")[0], 250)
            self.assertEqual(s.rcpt("full@remote.test")[0], 250)
            # No SIZE: the message that crosses the quota is let in.
            self.assertEqual(s.data(make_msg(
                "filler", unique("fill") + "@example.org",
                to="full@remote.test", body=("y" * 78 + "\r\n") * 25))[0],
                250)
        finally:
            s.quit()
        try:
            subj, mid = unique("full"), unique("full") + "@example.test"
            qid = submit(self.A, ["full@remote.test"],
                         make_msg(subj, mid, to="full@remote.test"))
            (_, relay, n, _, why), = wait_status(self.A, qid,
                                                 "full@remote.test",
                                                 "deferred")
            self.assertEqual(
                (relay, n, why),
                ("mx.remote.test[127.0.0.2]", 1,
                 "452 4.2.2 <full@remote.test>: Mailbox full"))
            out = self.A.cli("queue", "show", qid).stdout
            lines = out.splitlines()
            self.assertEqual(lines[0], f"id:      {qid}")
            self.assertEqual(lines[1], "sender:  <demo@example.test>")
            self.assertRegex(lines[2], r"^size:    \d+$")
            self.assertRegex(lines[3], r"^queued:  \w{3}, ")
            m = re.fullmatch(
                r'rcpt:    <full@remote\.test> pending attempts=(\d+) '
                r'next="([^"]+)" last="452 4\.2\.2 <full@remote\.test>: '
                r'Mailbox full"', lines[4])
            self.assertTrue(m, out)
            self.assertEqual(len(lines), 5, out)
            self.assertGreaterEqual(int(m.group(1)), 1)
            # The next try is at most retry_max (2 s) away.
            self.assertLessEqual(parse_date(m.group(2)), time.time() + 3)
            self.assertEqual(queue_list(self.A).count(" 1/1 pending"), 1)
        finally:
            B.cli("user", "set", "full@remote.test", "quota=none")
        (_, relay, n, _, _), = wait_status(self.A, qid, "full@remote.test",
                                           "sent")
        deferred = [x for x in qlines(self.A, qid) if x[3] == "deferred"]
        self.assertGreaterEqual(len(deferred), 1)
        # Attempts count up by one per try.
        self.assertEqual([x[2] for x in deferred],
                         list(range(1, len(deferred) + 1)))
        self.assertEqual(n, len(deferred) + 1)
        self.assertEqual(relay, "mx.remote.test[127.0.0.2]")
        self.assertEqual(len(with_msgid(
            fetch_all(B, "full@remote.test", FULL_PW), mid)), 1)
        wait_queue_empty(self.A)
        self.assertEqual(dsns(self.A, subj), [])

    def test_04_retry_while_receiver_down(self):
        stop_b()
        subj, mid = unique("down"), unique("down") + "@example.test"
        qid = submit(self.A, ["bob@remote.test"], make_msg(subj, mid))
        (_, relay, n, _, why), = wait_status(self.A, qid, "bob@remote.test",
                                             "deferred")
        self.assertEqual((relay, n, why),
                         ("mx.remote.test[127.0.0.2]", 1,
                          "4.4.1 no MX host accepted a connection"))
        self.assertRegex(self.A.read_log(),
                         r"queue domain=remote\.test relay=mx\.remote\.test"
                         r"\[127\.0\.0\.2\] connection failed: ")
        B.start()
        (_, relay, n, _, _), = wait_status(self.A, qid, "bob@remote.test",
                                           "sent")
        deferred = [x for x in qlines(self.A, qid) if x[3] == "deferred"]
        self.assertEqual(n, len(deferred) + 1)
        self.assertEqual(relay, "mx.remote.test[127.0.0.2]")
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        wait_queue_empty(self.A)

    def test_05_bounce_unknown_user(self):
        subj, mid = unique("bounce"), unique("bounce") + "@example.test"
        qid = submit(self.A, ["nobody@remote.test"],
                     make_msg(subj, mid, to="nobody@remote.test"))
        (_, relay, n, _, why), = wait_status(self.A, qid,
                                             "nobody@remote.test", "bounced")
        reply = ("550 5.1.1 <nobody@remote.test>: Recipient address "
                 "rejected: User unknown in local recipient table")
        self.assertEqual((relay, n, why),
                         ("mx.remote.test[127.0.0.2]", 1, reply))
        wait_log(self.A, rf"queue id={qid} failure notice sent to "
                         rf"<demo@example\.test> for 1 recipient\(s\)$")
        wait_log(self.A, rf"queue id={qid} removed$")
        self.assertEqual(queue_list(self.A), "queue is empty\n")
        found = dsns(self.A, subj)
        self.assertEqual(len(found), 1)
        msg, parts, blocks = found[0]
        blocks = self.check_dsn_envelope(msg, parts)
        self.assertEqual(len(blocks), 2)
        r = blocks[1]
        self.assertEqual(r["Final-Recipient"], "rfc822; nobody@remote.test")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], "5.1.1")
        self.assertEqual(r["Diagnostic-Code"], "smtp; " + reply)
        self.assertLess(abs(parse_date(r["Last-Attempt-Date"]) -
                            time.time()), 60)
        # The human-readable part names the recipient and the reply.
        text = parts[0].get_payload(decode=True).decode()
        self.assertIn(f"<nobody@remote.test>: {reply}", text)
        # The original's header block, without its body.
        orig = parts[2].get_payload(decode=True)
        self.assertIn(f"Subject: {subj}\r\n".encode(), orig)
        self.assertIn(f"Message-ID: <{mid}>\r\n".encode(), orig)
        self.assertNotIn(b"Second line.", orig)
        # RFC 3464 2.3.5: mta-name of type dns is the host's DNS name.
        self.assertEqual(r["Remote-MTA"], "dns; mx.remote.test")

    def test_05b_bounce_to_utf8_sender(self):
        # RFC 6531/6533: the bounce of an SMTPUTF8 message to a UTF-8
        # sender goes with SMTPUTF8 and as an internationalized DSN.
        subj, mid = unique("u8"), unique("u8") + "@example.test"
        msg = (f"From: Jöran <ü@remote.test>\r\nTo: nobody@remote.test\r\n"
               f"Subject: {subj}\r\nMessage-ID: <{mid}>\r\n"
               "\r\nGrüße.\r\n").encode()
        qid = submit(self.A, ["nobody5@remote.test"], msg,
                     sender="ü@remote.test", options=["SMTPUTF8"])
        wait_status(self.A, qid, "nobody5@remote.test", "bounced")
        m = wait_log(self.A, r"queue id=(\w+) from=<> to=<ü@remote\.test> "
                             r"size=\d+ status=queued \(notification\)$")
        wait_status(self.A, m.group(1), "ü@remote.test", "sent")
        found = []
        for raw in fetch_all(B, "bob@remote.test", BOB_PW):
            if b"MAILER-DAEMON@" in raw and subj.encode() in raw:
                found.append(email.message_from_bytes(raw))
        self.assertEqual(len(found), 1)
        dsn = found[0]
        self.assertEqual(dsn.get_content_type(), "multipart/report")
        self.assertEqual(dsn.get_param("report-type"),
                         "global-delivery-status")
        parts = dsn.get_payload()
        self.assertEqual([p.get_content_type() for p in parts],
                         ["text/plain", "message/global-delivery-status",
                          "message/global-headers"])
        self.assertEqual(parts[0].get_content_charset(), "utf-8")
        status = parts[1].as_bytes()
        self.assertIn(b"Final-Recipient: rfc822; nobody5@remote.test\n",
                      status.replace(b"\r\n", b"\n"))
        self.assertIn("From: Jöran <ü@remote.test>".encode(),
                      parts[2].as_bytes())

    def test_06_bounce_mixed_recipients(self):
        subj, mid = unique("mixed"), unique("mixed") + "@example.test"
        qid = submit(self.A, ["bob@remote.test", "nobody2@remote.test"],
                     make_msg(subj, mid))
        wait_status(self.A, qid, "bob@remote.test", "sent")
        (_, _, _, _, why), = wait_status(self.A, qid, "nobody2@remote.test",
                                         "bounced")
        wait_log(self.A, rf"queue id={qid} failure notice sent to "
                         rf"<demo@example\.test> for 1 recipient\(s\)$")
        wait_log(self.A, rf"queue id={qid} removed$")
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        found = dsns(self.A, subj)
        self.assertEqual(len(found), 1)
        msg, parts, blocks = found[0]
        blocks = self.check_dsn_envelope(msg, parts)
        self.assertEqual([b["Final-Recipient"] for b in blocks[1:]],
                         ["rfc822; nobody2@remote.test"])
        self.assertEqual(blocks[1]["Status"], "5.1.1")
        self.assertEqual(blocks[1]["Diagnostic-Code"], "smtp; " + why)
        self.assertNotIn("bob@remote.test",
                         parts[0].get_payload(decode=True).decode())
        self.assertEqual(queue_list(self.A), "queue is empty\n")

    def _bounced_locally(self, rcpt, status, reason):
        """Submits to rcpt, expects a bounce without any connection;
        returns the DSN's recipient block and its text part."""
        b_off = len(B.read_log())
        subj, mid = unique("local"), unique("local") + "@example.test"
        qid = submit(self.A, [rcpt], make_msg(subj, mid, to=rcpt))
        (_, relay, n, _, why), = wait_status(self.A, qid, rcpt, "bounced")
        self.assertEqual((relay, n, why), ("none", 1, reason))
        wait_log(self.A, rf"queue id={qid} failure notice sent to "
                         rf"<demo@example\.test> for 1 recipient\(s\)$")
        wait_log(self.A, rf"queue id={qid} removed$")
        domain = rcpt.split("@")[1]
        self.assertNotIn(f"queue domain={domain} relay=", self.A.read_log())
        self.assertEqual(smtp_connects(B, b_off), 0)
        found = dsns(self.A, subj)
        self.assertEqual(len(found), 1)
        msg, parts, blocks = found[0]
        blocks = self.check_dsn_envelope(msg, parts)
        self.assertEqual(len(blocks), 2)
        r = blocks[1]
        self.assertEqual(r["Final-Recipient"], f"rfc822; {rcpt}")
        self.assertEqual(r["Action"], "failed")
        self.assertEqual(r["Status"], status)
        # Nothing remote was involved.
        self.assertIsNone(r["Remote-MTA"])
        self.assertIsNone(r["Diagnostic-Code"])
        self.assertIn(f"<{rcpt}>: {reason}",
                      parts[0].get_payload(decode=True).decode())
        self.assertEqual(queue_list(self.A), "queue is empty\n")

    def test_07_null_mx_bounces_at_once(self):
        # RFC 7505 3, 4.1: no delivery attempt; 556 / 5.1.10.
        self._bounced_locally("someone@nullmx.test", "5.1.10",
                              "5.1.10 the domain accepts no mail (null MX)")

    def test_08_nxdomain_bounces(self):
        self._bounced_locally("someone@nosuch.test", "5.1.2",
                              "5.1.2 domain nosuch.test does not exist")

    def test_09_implicit_mx(self):
        # RFC 5321 5.1: no MX records: the domain's own address.
        subj, mid = unique("impl"), unique("impl") + "@example.test"
        qid = submit(self.A, ["bob@implicit.test"],
                     make_msg(subj, mid, to="bob@implicit.test"))
        (_, relay, n, _, _), = wait_status(self.A, qid, "bob@implicit.test",
                                           "sent")
        self.assertEqual((relay, n), ("implicit.test[127.0.0.2]", 1))
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        wait_queue_empty(self.A)

    def test_09_malformed_mx_defers(self):
        # The domain has an MX record, but its name is no host name: not
        # "no MX" (that would take the domain's own address, B here, which
        # the domain never named); a temporary failure, as Postfix does.
        subj, mid = unique("badmx"), unique("badmx") + "@example.test"
        b_off = len(B.read_log())
        qid = submit(self.A, ["bob@badmx.test"],
                     make_msg(subj, mid, to="bob@badmx.test"))
        (_, relay, n, _, why), = wait_status(self.A, qid, "bob@badmx.test",
                                             "deferred")
        self.assertEqual((relay, n, why), (
            "none", 1, "4.4.3 DNS lookup of badmx.test failed: "
            "malformed MX records"))
        self.assertEqual(smtp_connects(B, b_off), 0)
        self.A.cli("queue", "delete", qid)
        wait_queue_empty(self.A)

    def test_10_null_sender_is_never_bounced(self):
        subj, mid = unique("null"), unique("null") + "@example.test"
        try:
            qid = submit(self.A, ["nobody3@remote.test"],
                         make_msg(subj, mid, to="nobody3@remote.test"),
                         sender="")
        except MailRefused as e:
            self.skipTest(f"submission refuses MAIL FROM:<> ({e}); "
                          "covered by test_11 instead")
        wait_status(self.A, qid, "nobody3@remote.test", "bounced")
        wait_log(self.A, rf"queue id={qid} removed$")
        self.assertNotIn(f"queue id={qid} failure notice", self.A.read_log())
        self.assertEqual(queue_list(self.A), "queue is empty\n")
        self.assertEqual(dsns(self.A, subj), [])

    def test_11_bounce_of_a_bounce_is_not_bounced(self):
        # The sender is at remote.test and does not exist there: the DSN
        # (null sender) to it bounces too, and that is the end of it.
        off = len(self.A.read_log())
        subj, mid = unique("bb"), unique("bb") + "@example.test"
        qid = submit(self.A, ["nobody4@remote.test"],
                     make_msg(subj, mid, to="nobody4@remote.test",
                              frm="ghost@remote.test"),
                     sender="ghost@remote.test")
        wait_status(self.A, qid, "nobody4@remote.test", "bounced")
        wait_log(self.A, rf"queue id={qid} failure notice sent to "
                         rf"<ghost@remote\.test> for 1 recipient\(s\)$")
        m = wait_log(self.A, r"queue id=(\w+) from=<> to=<ghost@remote\.test>"
                             r" size=\d+ status=queued \(notification\)$",
                     since=off)
        dsn_id = m.group(1)
        (_, relay, n, _, why), = wait_status(self.A, dsn_id,
                                             "ghost@remote.test", "bounced")
        self.assertEqual(
            (relay, n, why),
            ("mx.remote.test[127.0.0.2]", 1,
             "550 5.1.1 <ghost@remote.test>: Recipient address rejected: "
             "User unknown in local recipient table"))
        wait_log(self.A, rf"queue id={dsn_id} removed$")
        wait_queue_empty(self.A)
        log = self.A.read_log()[off:]
        self.assertNotIn(f"queue id={dsn_id} failure notice", log)
        self.assertEqual(len(re.findall(r"failure notice sent", log)), 1)
        self.assertNotIn("from=<> to=<demo", log)
        self.assertEqual(dsns(self.A, subj), [])

    def test_12_mx_preference_fallback(self):
        subj, mid = unique("fb"), unique("fb") + "@example.test"
        qid = submit(self.A, ["bob@fallback.test"],
                     make_msg(subj, mid, to="bob@fallback.test"))
        (_, relay, n, _, _), = wait_status(self.A, qid, "bob@fallback.test",
                                           "sent")
        self.assertEqual((relay, n), ("mx2.fallback.test[127.0.0.2]", 1))
        log = self.A.read_log()
        # The preferred MX was tried first, and failed.
        i1 = log.find("queue domain=fallback.test relay="
                      "mx1.fallback.test[127.0.0.3] connection failed: ")
        self.assertGreaterEqual(i1, 0)
        self.assertLess(i1, log.find(f"queue id={qid} to=<bob@fallback.test>"
                                     " relay=mx2.fallback.test"))
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        wait_queue_empty(self.A)

    def test_13_mx_equal_preference(self):
        # mxa and mxb share preference 10; whichever is tried first, the
        # message goes through the one that answers, in one attempt.
        subj, mid = unique("eq"), unique("eq") + "@example.test"
        qid = submit(self.A, ["bob@equal.test"],
                     make_msg(subj, mid, to="bob@equal.test"))
        (_, relay, n, _, _), = wait_status(self.A, qid, "bob@equal.test",
                                           "sent")
        self.assertEqual((relay, n), ("mxb.equal.test[127.0.0.2]", 1))
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        wait_queue_empty(self.A)

    def test_14_mail_loop(self):
        subj, mid = unique("loop"), unique("loop") + "@example.test"
        qid = submit(self.A, ["bob@loop.test"],
                     make_msg(subj, mid, to="bob@loop.test"))
        reason = "5.4.6 mail for mail.example.test loops back to myself"
        (_, relay, n, _, why), = wait_status(self.A, qid, "bob@loop.test",
                                             "bounced")
        self.assertEqual((relay, n, why),
                         ("mail.example.test[127.0.0.1]", 1, reason))
        wait_log(self.A, rf"queue id={qid} failure notice sent to "
                         rf"<demo@example\.test> for 1 recipient\(s\)$")
        wait_log(self.A, rf"queue id={qid} removed$")
        found = dsns(self.A, subj)
        self.assertEqual(len(found), 1)
        msg, parts, blocks = found[0]
        blocks = self.check_dsn_envelope(msg, parts)
        self.assertEqual(blocks[1]["Final-Recipient"], "rfc822; bob@loop.test")
        self.assertEqual(blocks[1]["Status"], "5.4.6")
        self.assertIn(f"<bob@loop.test>: {reason}",
                      parts[0].get_payload(decode=True).decode())
        self.assertEqual(queue_list(self.A), "queue is empty\n")

    def test_15_queue_survives_kill9(self):
        stop_b()
        mids, qids = [], []
        for i in range(5):
            mid = unique(f"k9-{i}") + "@example.test"
            mids.append(mid)
            qids.append(submit(self.A, ["bob@remote.test"],
                               make_msg(unique("k9"), mid)))
        for qid in qids:
            wait_status(self.A, qid, "bob@remote.test", "deferred")
        self.assertEqual(queue_list(self.A).count(" 1/1 pending"), 5)
        self.A.kill9()
        self.A.start()
        B.start()
        for qid in qids:
            wait_status(self.A, qid, "bob@remote.test", "sent")
        wait_queue_empty(self.A)
        box = fetch_all(B, "bob@remote.test", BOB_PW)
        self.assertEqual([len(with_msgid(box, mid)) for mid in mids],
                         [1, 1, 1, 1, 1])
        for qid in qids:
            self.assertEqual(
                len([x for x in qlines(self.A, qid) if x[3] == "sent"]), 1)


    def test_16_mx_change_between_tries(self):
        # Each try resolves afresh: the MX moves from a dead host to B.
        subj, mid = unique("mv"), unique("mv") + "@example.test"
        try:
            qid = submit(self.A, ["bob@moved.test"],
                         make_msg(subj, mid, to="bob@moved.test"))
            (_, relay, n, _, why), = wait_status(self.A, qid,
                                                 "bob@moved.test",
                                                 "deferred")
            self.assertEqual((relay, n, why),
                             ("mx.moved.test[127.0.0.3]", 1,
                              "4.4.1 no MX host accepted a connection"))
            DNS.set("mx.moved.test", "A 127.0.0.2")
            (_, relay, _, _, _), = wait_status(self.A, qid,
                                               "bob@moved.test", "sent")
            self.assertEqual(relay, "mx.moved.test[127.0.0.2]")
        finally:
            DNS.set("mx.moved.test", "A 127.0.0.3")
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        wait_queue_empty(self.A)

    def _first_try(self, qid, rcpt, since):
        """The log of the first try of qid, and its deferral reason."""
        (_, _, n, _, why), = wait_status(self.A, qid, rcpt, "deferred")
        self.assertEqual(n, 1)
        log = self.A.read_log()[since:]
        end = log.index(f"queue id={qid} to=<{rcpt}>")
        return log[:end], why

    def test_17_mx_address_limit(self):
        # Seven MX hosts, none listening: one try connects to the five
        # most preferred (mx_address_limit) and leaves the mail queued.
        since = len(self.A.read_log())
        subj, mid = unique("many"), unique("many") + "@example.test"
        qid = submit(self.A, ["bob@many.test"],
                     make_msg(subj, mid, to="bob@many.test"))
        log, why = self._first_try(qid, "bob@many.test", since)
        tried = re.findall(r"queue domain=many\.test relay=(mx\d)\.many\.test"
                           r"\[127\.0\.0\.(\d+)\] connection failed: ", log)
        self.assertEqual(tried, [(f"mx{i}", str(10 + i))
                                 for i in range(1, 6)])
        self.assertIn("queue domain=many.test: 5 addresses and 0 sessions "
                      "tried; the rest wait for the next try", log)
        self.assertEqual(why, "4.4.1 no MX host accepted a connection")

    def test_18_mx_session_limit(self):
        # Three MX hosts that answer EHLO and hang up at MAIL FROM: one
        # try has two sessions (mx_session_limit); the third host is
        # not contacted, and the reason names the last host's failure.
        servers = [HangUpAtMail(f"127.0.0.{20 + i}", PORT)
                   for i in range(1, 4)]
        try:
            since = len(self.A.read_log())
            subj, mid = unique("drops"), unique("drops") + "@example.test"
            qid = submit(self.A, ["bob@drops.test"],
                         make_msg(subj, mid, to="bob@drops.test"))
            log, why = self._first_try(qid, "bob@drops.test", since)
            self.A.cli("queue", "delete", qid)
            self.assertEqual([s.sessions for s in servers], [1, 1, 0])
            self.assertIn("queue domain=drops.test: 2 addresses and 2 "
                          "sessions tried; the rest wait for the next try",
                          log)
            self.assertRegex(why, r"^4\.4\.2 mx2\.drops\.test\[127\.0\.0\.22\]"
                                  r": connection to mx2\.drops\.test lost")
        finally:
            for s in servers:
                s.stop()

    def test_19_soft_error_goes_to_next_mx(self):
        # mx1 takes bob and answers 450 for carol: carol's copy goes to
        # mx2 in the same try (Postfix's way), bob's is not sent again.
        def rcpt_reply(addr):
            return (b"450 4.2.0 <carol@soft.test>: greylisted"
                    if addr == "carol@soft.test" else b"250 2.1.5 Ok")
        mx1 = StandInMx("127.0.0.24", PORT, rcpt_reply=rcpt_reply)
        try:
            subj, mid = unique("soft"), unique("soft") + "@example.test"
            qid = submit(self.A, ["bob@soft.test", "carol@soft.test"],
                         make_msg(subj, mid, to="bob@soft.test"))
            (_, relay, n, _, _), = wait_status(self.A, qid,
                                               "carol@soft.test", "sent")
            self.assertEqual((relay, n), ("mx2.soft.test[127.0.0.2]", 1))
            (_, relay, n, _, _), = wait_status(self.A, qid,
                                               "bob@soft.test", "sent")
            self.assertEqual((relay, n), ("mx1.soft.test[127.0.0.24]", 1))
            self.assertEqual(
                [x for x in qlines(self.A, qid) if x[3] != "sent"], [])
            self.assertIn(f"queue id={qid} to=<carol@soft.test> relay="
                          "mx1.soft.test[127.0.0.24] kept for the next host "
                          "(450 4.2.0 <carol@soft.test>: greylisted)",
                          self.A.read_log())
            self.assertEqual(mx1.sessions, 1)
            self.assertEqual(mx1.rcpts_seen,
                             ["bob@soft.test", "carol@soft.test"])
            self.assertEqual(len(mx1.messages), 1)
            self.assertEqual(mx1.messages[0][0], ["bob@soft.test"])
            self.assertIn(f"Message-ID: <{mid}>".encode(),
                          mx1.messages[0][1])
            self.assertEqual(len(with_msgid(
                fetch_all(B, "carol@remote.test", CAROL_PW), mid)), 1)
            self.assertEqual(len(with_msgid(
                fetch_all(B, "bob@remote.test", BOB_PW), mid)), 0)
            wait_queue_empty(self.A)
        finally:
            mx1.stop()

    def test_20_soft_error_on_every_mx(self):
        # mx1 answers 451 at MAIL, mx2 450 at RCPT: one try sees both,
        # and the deferral is mx2's answer.
        mx1 = StandInMx("127.0.0.25", PORT,
                        mail_reply=b"451 4.3.0 mx1 is busy")
        mx2 = StandInMx("127.0.0.26", PORT, rcpt_reply=lambda addr:
                        b"450 4.2.0 <bob@soft2.test>: mx2 says later")
        try:
            subj, mid = unique("soft2"), unique("soft2") + "@example.test"
            qid = submit(self.A, ["bob@soft2.test"],
                         make_msg(subj, mid, to="bob@soft2.test"))
            (_, relay, n, _, why), = wait_status(self.A, qid,
                                                 "bob@soft2.test",
                                                 "deferred")
            self.A.cli("queue", "delete", qid)
            self.assertEqual(
                (relay, n, why),
                ("mx2.soft2.test[127.0.0.26]", 1,
                 "450 4.2.0 <bob@soft2.test>: mx2 says later"))
            self.assertEqual(len(qlines(self.A, qid)), 1)
            self.assertEqual((mx1.sessions, mx1.rcpts_seen), (1, []))
            self.assertEqual(mx2.sessions, 1)
            self.assertEqual(mx2.rcpts_seen, ["bob@soft2.test"])
            self.assertEqual(mx1.messages + mx2.messages, [])
        finally:
            mx1.stop()
            mx2.stop()

    def test_21_421_ends_the_session(self):
        # mx1 answers MAIL with 421, mx2 the RCPT, and both close: the
        # client sends nothing more to either, and the deferral names
        # mx2's 421 (not a lost connection).
        mx1 = StandInMx("127.0.0.25", PORT,
                        mail_reply=b"421 4.3.2 mx1 going down")
        mx2 = StandInMx("127.0.0.26", PORT, rcpt_reply=lambda addr:
                        b"421 4.3.2 mx2 going down")
        try:
            subj, mid = unique("s421"), unique("s421") + "@example.test"
            qid = submit(self.A, ["bob@soft2.test"],
                         make_msg(subj, mid, to="bob@soft2.test"))
            (_, relay, n, _, why), = wait_status(self.A, qid,
                                                 "bob@soft2.test",
                                                 "deferred")
            self.A.cli("queue", "delete", qid)
            self.assertEqual(
                (relay, n, why),
                ("mx2.soft2.test[127.0.0.26]", 1,
                 "4.4.2 mx2.soft2.test[127.0.0.26]: 421 4.3.2 mx2 going "
                 "down"))
            self.assertIn("queue domain=soft2.test relay=mx1.soft2.test"
                          "[127.0.0.25] connection failed: 421 4.3.2 mx1 "
                          "going down", self.A.read_log())
            self.assertEqual((mx1.sessions, mx2.sessions), (1, 1))
            self.assertEqual(mx2.rcpts_seen, ["bob@soft2.test"])
        finally:
            mx1.stop()
            mx2.stop()


# -- the sender that retries only when told -----------------------------

class TestForwarding(DeliveryBase):
    """Aliases that forward mail from other servers to another domain:
    the envelope sender is rewritten with SRS (SPF passes downstream) and
    bounces to the rewritten sender go back to the original sender."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.A.cli("alias", "add", "fwd@example.test", "bob@remote.test")
        cls.A.cli("alias", "add", "fwdbad@example.test",
                  "nobody7@remote.test")

    def port25(self, sender, rcpt, msg):
        s = self.A.smtp()
        try:
            s.ehlo()
            code, resp = s.mail(sender)
            self.assertEqual(code, 250, resp)
            code, resp = s.rcpt(rcpt)
            if code != 250:
                return code, resp
            code, resp = s.data(msg)
            self.assertEqual(code, 250, resp)
            return code, resp
        finally:
            s.quit()

    def test_forward_rewrites_sender(self):
        subj, mid = unique("srs"), unique("srs") + "@sender.test"
        off = len(B.read_log())
        self.port25("alice@sender.test", "fwd@example.test",
                    make_msg(subj, mid, to="fwd@example.test",
                             frm="alice@sender.test"))
        m = wait_log(B, r"smtp message accepted id=\w+ size=\d+ rcpts=1 "
                        r"local=1 queued=0 from=<(SRS0=[^>]+)>", since=off)
        srs = m.group(1)
        self.assertRegex(srs, r"^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}="
                              r"sender\.test=alice@" + re.escape(A_HOST) +
                              "$")
        got = with_msgid(fetch_all(B, "bob@remote.test", BOB_PW), mid)
        self.assertEqual(len(got), 1)
        # The author is unchanged; only the envelope is ours.
        self.assertIn(b"From: Demo <alice@sender.test>\r\n", got[0])
        # A bounce to that address reaches the original sender (here a
        # user of B, so the reversed address is relayed to B).
        r = self.port25("", srs, make_msg("bounce back", unique("bb"),
                                          to=srs, frm="MAILER-DAEMON@x"))
        self.assertEqual(r[0], 250)
        wait_log(self.A, r"smtp srs rcpt=<" + re.escape(srs) +
                 r"> -> <alice@sender\.test>")

    def test_bounce_of_forwarded_mail_returns_to_sender(self):
        subj, mid = unique("srsb"), unique("srsb") + "@remote.test"
        off = len(self.A.read_log())
        self.port25("carol@remote.test", "fwdbad@example.test",
                    make_msg(subj, mid, to="fwdbad@example.test",
                             frm="carol@remote.test"))
        # A's queue holds it from the SRS sender; B refuses nobody7; the
        # failure notice to the SRS sender is turned back into carol.
        m = wait_log(self.A, r"queue id=(\w+) to=<nobody7@remote\.test> "
                             r"relay=\S+ attempts=1 status=bounced",
                     since=off)
        wait_log(self.A, rf"queue id={m.group(1)} failure notice sent to "
                         r"<carol@remote\.test> for 1 recipient", since=off)
        dsn = self.A.wait_for(
            lambda: [x for x in fetch_all(B, "carol@remote.test", CAROL_PW)
                     if subj.encode() in x and
                     b"multipart/report" in x], WAIT, "the DSN at carol")
        self.assertEqual(len(dsn), 1)
        self.assertIn(b"To: <carol@remote.test>", dsn[0])

    def test_forged_srs_refused(self):
        for rcpt, why in (
                (f"SRS0=AAAA=AA=sender.test=alice@{A_HOST}", "bad hash"),
                (f"SRS0=zzzz@{A_HOST}", "malformed")):
            s = self.A.smtp()
            try:
                s.ehlo()
                s.mail("")
                code, resp = s.rcpt(rcpt)
                self.assertEqual((code, resp.decode()),
                                 (550, f"5.1.1 <{rcpt}>: Recipient address "
                                  f"rejected: invalid SRS address ({why})"))
            finally:
                s.quit()

    def test_submission_is_not_rewritten(self):
        # Our own users' mail keeps its sender: SPF covers us for it.
        subj, mid = unique("nosrs"), unique("nosrs") + "@example.test"
        off = len(B.read_log())
        submit(self.A, ["fwd@example.test"], make_msg(subj, mid,
                                                      to="fwd@example.test"))
        wait_log(B, r"smtp message accepted .* from=<demo@example\.test>",
                 since=off)


class TestQueueControl(DeliveryBase):
    A_CONFIG = {"retry_first": "1h", "retry_max": "4h",
                "delay_warning": "2s"}

    def _deferred(self, n=1):
        """B down; n messages to bob, each deferred once."""
        stop_b()
        out = []
        for i in range(n):
            subj, mid = unique("qc"), unique("qc") + "@example.test"
            qid = submit(self.A, ["bob@remote.test"], make_msg(subj, mid))
            out.append((qid, subj, mid))
        for qid, _, _ in out:
            (_, _, k, _, _), = wait_status(self.A, qid, "bob@remote.test",
                                           "deferred")
            self.assertEqual(k, 1)
        return out

    def test_backlog_goes_over_one_connection(self):
        msgs = self._deferred(5)
        B.start()
        off = len(B.read_log())
        r = self.A.cli("queue", "retry")
        self.assertEqual(r.stdout, "every pending message will be retried "
                                   "now\n")
        for qid, _, _ in msgs:
            wait_status(self.A, qid, "bob@remote.test", "sent")
        wait_queue_empty(self.A)
        # RFC 5321 4.5.4.1 / the brief: one connection for the backlog.
        self.assertEqual(smtp_connects(B, off), 1)
        self.assertEqual(len(re.findall(
            r"smtp message accepted id=\w+ size=\d+ rcpts=1 local=1 "
            r"queued=0 from=<demo@example\.test>", B.read_log()[off:])), 5)
        box = fetch_all(B, "bob@remote.test", BOB_PW)
        self.assertEqual([len(with_msgid(box, mid)) for _, _, mid in msgs],
                         [1] * 5)

    def _soft_backlog(self, n):
        """n messages to bob and carol @soft.test, deferred once with no
        MX host up; returns [(qid, mid)]."""
        stop_b()
        out = []
        for i in range(n):
            mid = unique("sb") + "@example.test"
            qid = submit(self.A, ["bob@soft.test", "carol@soft.test"],
                         make_msg(unique("sb"), mid, to="bob@soft.test"))
            out.append((qid, mid))
        for qid, _ in out:
            for r in ("bob@soft.test", "carol@soft.test"):
                wait_status(self.A, qid, r, "deferred")
        return out

    @staticmethod
    def _greylist_carol(addr):
        return (b"450 4.2.0 <carol@soft.test>: greylisted"
                if addr == "carol@soft.test" else b"250 2.1.5 Ok")

    def test_soft_errors_of_a_backlog_go_to_next_mx(self):
        # One try of three messages: mx1 takes bob's copies and answers
        # 450 for carol's, which then go to mx2 over one connection.
        msgs = self._soft_backlog(3)
        mx1 = StandInMx("127.0.0.24", PORT, rcpt_reply=self._greylist_carol)
        try:
            B.start()
            off = len(B.read_log())
            self.A.cli("queue", "retry")
            for qid, _ in msgs:
                (_, relay, n, _, _), = wait_status(self.A, qid,
                                                   "carol@soft.test", "sent")
                self.assertEqual((relay, n), ("mx2.soft.test[127.0.0.2]", 2))
                (_, relay, n, _, _), = wait_status(self.A, qid,
                                                   "bob@soft.test", "sent")
                self.assertEqual((relay, n), ("mx1.soft.test[127.0.0.24]", 2))
            wait_queue_empty(self.A)
            self.assertEqual(mx1.sessions, 1)
            self.assertEqual([r for r, _ in mx1.messages],
                             [["bob@soft.test"]] * 3)
            self.assertEqual(smtp_connects(B, off), 1)
            self.assertEqual(len(re.findall(
                r"smtp message accepted id=\w+ size=\d+ rcpts=1 ",
                B.read_log()[off:])), 3)
            carol = fetch_all(B, "carol@remote.test", CAROL_PW)
            bob = fetch_all(B, "bob@remote.test", BOB_PW)
            self.assertEqual([(len(with_msgid(carol, mid)),
                               len(with_msgid(bob, mid)))
                              for _, mid in msgs], [(1, 0)] * 3)
        finally:
            mx1.stop()

    def test_soft_errors_then_lost_connection(self):
        # mx1 takes bob's copy of two messages, answers 450 for carol's
        # and hangs up at the third MAIL: mx2 gets the third message and
        # then, over the same connection, carol's two copies.
        msgs = self._soft_backlog(3)
        mx1 = StandInMx("127.0.0.24", PORT, rcpt_reply=self._greylist_carol,
                        hang_up_at_mail=3)
        try:
            B.start()
            off = len(B.read_log())
            self.A.cli("queue", "retry")
            relays = {}
            for qid, _ in msgs:
                for r in ("bob@soft.test", "carol@soft.test"):
                    (_, relay, n, _, _), = wait_status(self.A, qid, r,
                                                       "sent")
                    self.assertEqual(n, 2)
                    relays[qid, r] = relay
            wait_queue_empty(self.A)
            self.assertEqual(mx1.sessions, 1)
            self.assertEqual([r for r, _ in mx1.messages],
                             [["bob@soft.test"]] * 2)
            via_mx1 = [q for (q, r), rel in relays.items()
                       if rel == "mx1.soft.test[127.0.0.24]"]
            self.assertEqual(len(via_mx1), 2)
            self.assertTrue(all(relays[q, "bob@soft.test"] ==
                                "mx1.soft.test[127.0.0.24]" for q in via_mx1))
            self.assertEqual(list(relays.values()).count(
                "mx2.soft.test[127.0.0.2]"), 4)
            self.assertEqual(smtp_connects(B, off), 1)
            carol = fetch_all(B, "carol@remote.test", CAROL_PW)
            bob = fetch_all(B, "bob@remote.test", BOB_PW)
            self.assertEqual(sorted((len(with_msgid(carol, mid)),
                                     len(with_msgid(bob, mid)))
                                    for _, mid in msgs),
                             [(1, 0), (1, 0), (1, 1)])
        finally:
            mx1.stop()

    def test_kept_answers_recorded_when_no_host_is_left(self):
        # As above with mx2 down: carol's copies are deferred with the
        # 450 mx1 gave, the third message with the lost connection.
        msgs = self._soft_backlog(3)
        mx1 = StandInMx("127.0.0.24", PORT, rcpt_reply=self._greylist_carol,
                        hang_up_at_mail=3)
        try:
            self.A.cli("queue", "retry")
            got = {}
            for qid, _ in msgs:
                for r in ("bob@soft.test", "carol@soft.test"):
                    def second(qid=qid, r=r):
                        ls = [x for x in qlines(self.A, qid)
                              if x[0] == r and x[2] == 2]
                        return ls or None
                    (x,) = self.A.wait_for(second, WAIT,
                                           f"{qid} {r} attempts=2")
                    got[qid, r] = x[1:]
            self.assertEqual(mx1.sessions, 1)
            self.assertEqual([r for r, _ in mx1.messages],
                             [["bob@soft.test"]] * 2)
            lost = [q for q, _ in msgs
                    if got[q, "bob@soft.test"][2] == "deferred"]
            self.assertEqual(len(lost), 1)
            for q, _ in msgs:
                bob, carol = got[q, "bob@soft.test"], got[q, "carol@soft.test"]
                if q in lost:
                    for x in (bob, carol):
                        self.assertEqual(x[2], "deferred")
                        self.assertRegex(
                            x[3], r"^4\.4\.2 mx1\.soft\.test\[127\.0\.0\.24\]"
                                  r": connection to mx1\.soft\.test lost")
                else:
                    self.assertEqual(bob[:3], ("mx1.soft.test[127.0.0.24]",
                                               2, "sent"))
                    self.assertEqual(carol, (
                        "mx1.soft.test[127.0.0.24]", 2, "deferred",
                        "450 4.2.0 <carol@soft.test>: greylisted"))
            self.assertEqual(len(qlines(self.A, lost[0])), 4)
        finally:
            mx1.stop()

    def test_queue_retry_sends_now(self):
        (qid, subj, mid), = self._deferred(1)
        out = self.A.cli("queue", "show", qid).stdout
        m = re.search(r'rcpt:    <bob@remote\.test> pending attempts=1 '
                      r'next="([^"]+)" last="4\.4\.1 no MX host accepted a '
                      r'connection"\n', out)
        self.assertTrue(m, out)
        # retry_first = 1h.
        self.assertAlmostEqual(parse_date(m.group(1)), time.time() + 3600,
                               delta=30)
        B.start()
        r = self.A.cli("queue", "retry", qid)
        self.assertEqual(r.stdout, f"{qid} will be retried now\n")
        t0 = time.time()
        (_, _, n, _, _), = wait_status(self.A, qid, "bob@remote.test",
                                       "sent", timeout=10)
        self.assertEqual(n, 2)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual(len(with_msgid(
            fetch_all(B, "bob@remote.test", BOB_PW), mid)), 1)
        wait_queue_empty(self.A)

    def test_queue_delete(self):
        (qid, subj, mid), = self._deferred(1)
        r = self.A.cli("queue", "delete", qid)
        self.assertEqual(r.stdout, f"{qid} deleted from the queue\n")
        self.assertEqual(queue_list(self.A), "queue is empty\n")
        r = self.A.cli("queue", "show", qid, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no such queued message", r.stderr)
        r = self.A.cli("queue", "retry", qid, check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.A.cli("queue", "delete", qid, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(dsns(self.A, subj), [])

    def test_delay_warning_sent_once(self):
        (qid, subj, mid), = self._deferred(1)
        # No warning before delay_warning (2 s) has passed.
        self.assertNotIn(f"queue id={qid} delay notice", self.A.read_log())
        time.sleep(2.1)
        self.A.cli("queue", "retry", qid)
        wait_status(self.A, qid, "bob@remote.test", "deferred", count=2)
        wait_log(self.A, rf"queue id={qid} delay notice sent to "
                         rf"<demo@example\.test> for 1 recipient\(s\)$")
        self.A.cli("queue", "retry", qid)
        wait_status(self.A, qid, "bob@remote.test", "deferred", count=3)
        found = dsns(self.A, subj, kind="delayed")
        self.assertEqual(len(found), 1)
        self.assertEqual(self.A.read_log().count(
            f"queue id={qid} delay notice sent"), 1)
        msg, parts, blocks = found[0]
        blocks = self.check_dsn_envelope(msg, parts, kind="delayed")
        self.assertEqual(len(blocks), 2)
        r = blocks[1]
        self.assertEqual(r["Final-Recipient"], "rfc822; bob@remote.test")
        self.assertEqual(r["Action"], "delayed")
        self.assertEqual(r["Status"], "4.4.1")
        # RFC 3464 2.3.7: when the MTA gives up - at the end of the
        # queue lifetime (5 days by default), not the next try.
        if r["Will-Retry-Until"] is not None:
            arrival = parse_date(blocks[0]["Arrival-Date"])
            self.assertAlmostEqual(parse_date(r["Will-Retry-Until"]),
                                   arrival + 5 * 86400, delta=5)
        self.assertEqual(dsns(self.A, subj, kind="failed"), [])
        # Still queued: nothing was given up.
        self.assertIn(" 1/1 pending", queue_list(self.A))


if __name__ == "__main__":
    unittest.main()

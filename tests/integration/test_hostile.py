"""
test_hostile - hostile clients against the real binary: silent and
trickling connections on every listener, thousands of connections from one
address, control characters smuggled into command arguments, absurd IMAP
literal sizes, pathological MIME, mailbox names that try to leave the
account, open-relay tricks on port 25, and old TLS versions and weak TLS 1.2
cipher suites.

What the slow-client tests assert, and why: the [limits] *_timeout values
are idle timeouts, reset by every byte the client sends.  So
  (a) a silent client is cut at the timeout (login_timeout before an IMAP or
      POP3 login, imap_timeout / imap_idle_timeout / pop3_timeout /
      smtp_timeout otherwise), after the protocol's goodbye (SMTP "421 4.4.2
      ... timeout exceeded", IMAP "* BYE ...", POP3 "-ERR ..."), and a normal
      client on the same listener is served at the same time;
  (b) a client that trickles one byte per second is NOT cut by a 3 s
      timeout - its command is answered when it is complete.  What bounds
      such a client is the line-length limit: a line longer than the limit
      is refused with the protocol's "too long" error (SMTP 500 5.5.2 at the
      end of the line, IMAP "BAD [TOOBIG]" as soon as the limit is passed,
      POP3 -ERR) and the session goes on; the bytes of an endless line are
      thrown away as they come, so the server's memory (VmRSS) does not grow
      with it.
"""
import base64
import ctypes
import hashlib
import os
import re
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import tls_context  # noqa: E402

Server = harness.Server
HOST = Server.HOSTNAME
PW = "Hostile-Pw-0815"
DOMAIN = Server.DOMAIN

# A reply line of SMTP (RFC 5321 4.2: Reply-code [SP / "-" textstring]
# CRLF, textstring = 1*(%d09 / %d32-126)).
SMTP_LINE = re.compile(rb"^[2-5][0-9][0-9]([ -][\t\x20-\x7e]*)?\r\n$")
_LIT_EOL = re.compile(rb"\{(\d+)\}\r\n$")


# -- wire helpers ---------------------------------------------------------

def connect(srv, listener, tls=False, source=None, timeout=10):
    """A RawClient on a listener; tls wraps the socket at once (implicit
    TLS); source binds the client to that loopback address."""
    sock = socket.create_connection(
        ("127.0.0.1", srv.port[listener]), timeout=timeout,
        source_address=(source, 0) if source else None)
    if tls:
        sock = tls_context().wrap_socket(sock)
    return harness.RawClient(sock)


def starttls(rc):
    rc.sock = tls_context().wrap_socket(rc.sock)


def read_exact(rc, n):
    parts, have = [rc.buf[:n]], len(rc.buf[:n])
    rc.buf = rc.buf[n:]
    while have < n:
        chunk = rc.sock.recv(min(1 << 20, n - have))
        if not chunk:
            raise EOFError("connection closed inside a literal")
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


def read_to_eof(rc, timeout):
    """Everything the server still sends until it closes (bounded)."""
    out = rc.buf
    rc.buf = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"connection still open after {timeout}s;"
                                 f" got {out[-300:]!r}")
        rc.sock.settimeout(left)
        try:
            chunk = rc.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return out
        except socket.timeout:
            continue
        if not chunk:
            return out
        out += chunk


def smtp_reply(rc):
    """One SMTP reply: its raw lines (bytes, CRLF included)."""
    lines = []
    while True:
        line = rc.readline()
        if not line:
            raise AssertionError(f"connection closed; reply so far {lines}")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def smtp_code(rc):
    return int(smtp_reply(rc)[-1][:3])


def smtp_hello(rc, name="client.example.org"):
    line = rc.readline()
    assert line.startswith(f"220 {HOST} ".encode()), line
    rc.send(f"EHLO {name}\r\n".encode())
    r = smtp_reply(rc)
    assert r[-1].startswith(b"250 "), r
    return r


def auth_plain(user, pw):
    return base64.b64encode(f"\0{user}\0{pw}".encode()).decode()


def imap_response(rc):
    """One IMAP response, literals included (CRLF kept)."""
    out = b""
    while True:
        line = rc.readline()
        if not line:
            raise EOFError(f"connection closed (read so far: {out[:300]!r})")
        out += line
        m = _LIT_EOL.search(line)
        if m is None:
            return out
        out += read_exact(rc, int(m.group(1)))


def imap_cmd(rc, tag, text):
    """Sends 'tag text'; returns (untagged responses, tagged line)."""
    if isinstance(text, str):
        text = text.encode()
    rc.send(tag.encode() + b" " + text + b"\r\n")
    return imap_read_tagged(rc, tag)


def imap_read_tagged(rc, tag):
    untagged = []
    t = tag.encode() + b" "
    while True:
        r = imap_response(rc)
        if r.startswith(t):
            return untagged, r
        untagged.append(r)


def imap_status(tagged):
    return tagged.split(b" ", 2)[1].decode()


def imap_login(rc, user, pw=PW):
    greeting = rc.readline()
    assert greeting.startswith(b"* OK"), greeting
    u, t = imap_cmd(rc, "L", f'LOGIN "{user}" "{pw}"')
    assert imap_status(t) == "OK", t


def pop3_login(rc, user, pw=PW):
    greeting = rc.readline()
    assert greeting.startswith(b"+OK"), greeting
    rc.send(f"USER {user}\r\n".encode())
    assert rc.readline().startswith(b"+OK")
    rc.send(f"PASS {pw}\r\n".encode())
    line = rc.readline()
    assert line.startswith(b"+OK"), line


def smtp_deliver(srv, rcpt, msg, listener="smtp"):
    """Delivers msg to rcpt over port 25 with smtplib; the DATA reply."""
    s = srv.smtp(listener, timeout=120)
    try:
        s.ehlo()
        c, t = s.mail("sender@example.org")
        assert c == 250, (c, t)
        c, t = s.rcpt(rcpt)
        assert c == 250, (c, t)
        return s.data(msg)
    finally:
        s.quit()


def strip_received(msg):
    """The message without the server's Received header (first header, one
    line plus TAB continuation lines)."""
    msg = harness.strip_return_path(msg)
    assert msg.startswith(b"Received: "), msg[:100]
    i = msg.index(b"\r\n") + 2
    while msg[i:i + 1] == b"\t":
        i = msg.index(b"\r\n", i) + 2
    return msg[i:]


def queue_count(srv):
    r = subprocess.run(["sqlite3", os.path.join(srv.data_dir, "posthorn.db"),
                        "select count(*) from queue"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


# -- a small IMAP data parser (for BODYSTRUCTURE) -------------------------

def parse_imap(data, pos=0):
    """Parses one IMAP value at data[pos:]; returns (value, new pos).
    Lists are Python lists, strings bytes, NIL None, numbers int."""
    while data[pos:pos + 1] == b" ":
        pos += 1
    c = data[pos:pos + 1]
    if c == b"(":
        pos += 1
        out = []
        while True:
            while data[pos:pos + 1] == b" ":
                pos += 1
            if data[pos:pos + 1] == b")":
                return out, pos + 1
            if pos >= len(data):
                raise ValueError("unterminated list")
            v, pos = parse_imap(data, pos)
            out.append(v)
    if c == b'"':
        pos += 1
        out = bytearray()
        while True:
            ch = data[pos:pos + 1]
            if ch == b"":
                raise ValueError("unterminated quoted string")
            if ch == b"\\":
                out += data[pos + 1:pos + 2]
                pos += 2
                continue
            if ch == b'"':
                return bytes(out), pos + 1
            out += ch
            pos += 1
    if c == b"{":
        end = data.index(b"}\r\n", pos)
        n = int(data[pos + 1:end])
        start = end + 3
        return data[start:start + n], start + n
    m = re.compile(rb"[^ ()\r\n]+").match(data, pos)
    if m is None:
        raise ValueError(f"unexpected {data[pos:pos + 20]!r}")
    tok = m.group(0)
    if tok == b"NIL":
        return None, m.end()
    if tok.isdigit():
        return int(tok), m.end()
    return tok, m.end()


def paren_depths(data):
    """(max depth, final depth, went negative) counting parentheses outside
    quoted strings and literals."""
    depth = mx = 0
    neg = False
    i = 0
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            i += 1
            while data[i:i + 1] != b'"':
                i += 2 if data[i:i + 1] == b"\\" else 1
        elif c == b"{":
            m = re.compile(rb"\{(\d+)\}\r\n").match(data, i)
            if m:
                i = m.end() + int(m.group(1))
                continue
        elif c == b"(":
            depth += 1
            mx = max(mx, depth)
        elif c == b")":
            depth -= 1
            neg = neg or depth < 0
        i += 1
    return mx, depth, neg


def fetch_item(resp, name):
    """The value of the one item of an untagged FETCH response, whose name
    (the key, e.g. b"BODY[]") must be name; returns (value, raw bytes)."""
    i = resp.index(b" FETCH (") + len(b" FETCH (")
    j, depth = i, 0
    while resp[j:j + 1] != b" " or depth:
        c = resp[j:j + 1]
        if c == b"":
            raise AssertionError(f"no value in {resp[:200]!r}")
        depth += (c == b"[") - (c == b"]")
        j += 1
    key = resp[i:j]
    assert key.upper() == name.upper(), (key, name)
    val, end = parse_imap(resp, j + 1)
    assert resp[end:] == b")\r\n", resp[end:end + 100]
    return val, resp[j + 1:end]


# ==========================================================================
# Slow clients
# ==========================================================================

SLOW_USERS = [f"slow{i}@{DOMAIN}" for i in range(8)]
FAST_USERS = [f"fast{i}@{DOMAIN}" for i in range(8)]
TRICKLE_USERS = [f"trickle{i}@{DOMAIN}" for i in range(4)]

TIMEOUTS = {"smtp": 3, "login": 3, "imap": 4, "idle": 5, "pop3": 4}

SMTP_BYE = re.compile(rb"^421 4\.4\.2 " + HOST.encode().replace(b".", rb"\.")
                      + rb" [\x20-\x7e]*timeout exceeded\r\n$")
IMAP_BYE = re.compile(rb"^\* BYE [\x20-\x7e]*\r\n$")
POP3_BYE = re.compile(rb"^-ERR [\x20-\x7e]*\r\n$")


def setup_session(srv, case, user):
    """Opens the connection described by case and brings it to the state
    the case names; returns the RawClient."""
    proto, listener, tls, login = (case["proto"], case["listener"],
                                   case["tls"], case["login"])
    rc = connect(srv, listener, tls=(tls == "implicit"), timeout=30)
    if proto == "smtp":
        smtp_hello(rc)
        if tls == "starttls":
            rc.send(b"STARTTLS\r\n")
            assert smtp_code(rc) == 220
            starttls(rc)
            rc.send(b"EHLO client.example.org\r\n")
            assert smtp_reply(rc)[-1].startswith(b"250 ")
    elif proto == "imap":
        greeting = rc.readline()
        assert greeting.startswith(b"* OK"), greeting
        if tls == "starttls":
            u, t = imap_cmd(rc, "S", "STARTTLS")
            assert imap_status(t) == "OK", t
            starttls(rc)
        if login:
            u, t = imap_cmd(rc, "L", f'LOGIN "{user}" "{PW}"')
            assert imap_status(t) == "OK", t
        if case.get("idle"):
            u, t = imap_cmd(rc, "S", "SELECT INBOX")
            assert imap_status(t) == "OK", t
            rc.send(b"I IDLE\r\n")
            line = rc.readline()
            assert line.startswith(b"+ "), line
    else:
        greeting = rc.readline()
        assert greeting.startswith(b"+OK"), greeting
        if tls == "starttls":
            rc.send(b"STLS\r\n")
            line = rc.readline()
            assert line.startswith(b"+OK"), line
            starttls(rc)
        if login:
            rc.send(f"USER {user}\r\nPASS {PW}\r\n".encode())
            assert rc.readline().startswith(b"+OK")
            line = rc.readline()
            assert line.startswith(b"+OK"), line
    return rc


SILENT_CASES = [
    # name, proto, listener, tls, login, timeout key
    ("smtp", "smtp", "smtp", None, False, "smtp"),
    ("smtp+STARTTLS", "smtp", "smtp", "starttls", False, "smtp"),
    ("submission", "smtp", "submission", None, False, "smtp"),
    ("submission+STARTTLS", "smtp", "submission", "starttls", False, "smtp"),
    ("submission2", "smtp", "submission2", None, False, "smtp"),
    ("submissions", "smtp", "submissions", "implicit", False, "smtp"),
    ("imap", "imap", "imap", None, False, "login"),
    ("imap+STARTTLS", "imap", "imap", "starttls", False, "login"),
    ("imaps", "imap", "imaps", "implicit", False, "login"),
    ("imap logged in", "imap", "imap", None, True, "imap"),
    ("imaps logged in", "imap", "imaps", "implicit", True, "imap"),
    ("imap IDLE", "imap", "imap", None, True, "idle"),
    ("pop3", "pop3", "pop3", None, False, "login"),
    ("pop3+STLS", "pop3", "pop3", "starttls", False, "login"),
    ("pop3s", "pop3", "pop3s", "implicit", False, "login"),
    ("pop3 logged in", "pop3", "pop3", None, True, "pop3"),
    ("pop3s logged in", "pop3", "pop3s", "implicit", True, "pop3"),
]


class SlowClientTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        users = {u: PW for u in SLOW_USERS + FAST_USERS + TRICKLE_USERS}
        cls.srv = Server(users=users, extra_config=f"""[limits]
smtp_timeout = {TIMEOUTS['smtp']}
login_timeout = {TIMEOUTS['login']}
imap_timeout = {TIMEOUTS['imap']}
imap_idle_timeout = {TIMEOUTS['idle']}
pop3_timeout = {TIMEOUTS['pop3']}
smtp_line_max = 1024
imap_line_max = 4096
""")
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def run(self, result=None):
        n = len(result.failures) + len(result.errors) if result else 0
        r = super().run(result)
        if result is not None and \
                len(result.failures) + len(result.errors) > n:
            print(f"\n--- server log (tail) for {self.id()} ---\n" +
                  self.srv.read_log()[-4000:])
        return r

    # -- (a) silent clients ----------------------------------------------

    def normal_sessions(self):
        """One ordinary, complete session per listener; returns
        {name: (seconds, error or None)}."""
        srv = self.srv
        # From: the submitting user, who must own it (sender_check).
        msg = (b"From: " + FAST_USERS[1].encode() + b"\r\n"
               b"Subject: normal\r\n\r\nserved while slow clients wait\r\n")

        def smtp25():
            s = srv.smtp(timeout=10)
            s.ehlo()
            r = s.sendmail("a@example.org", [FAST_USERS[0]], msg)
            s.quit()
            assert r == {}, r

        def submission(listener, tls):
            def f():
                s = srv.smtp(listener, timeout=10)
                s.ehlo()
                if tls:
                    s.starttls(context=tls_context())
                    s.ehlo()
                s.login(FAST_USERS[1], PW)
                r = s.sendmail(FAST_USERS[1], [FAST_USERS[0]], msg)
                s.quit()
                assert r == {}, r
            return f

        def submissions():
            s = srv.smtps(timeout=10)
            s.ehlo()
            s.login(FAST_USERS[1], PW)
            r = s.sendmail(FAST_USERS[1], [FAST_USERS[0]], msg)
            s.quit()
            assert r == {}, r

        def imap(tls, user):
            def f():
                m = srv.imaps(timeout=10) if tls else srv.imap(timeout=10)
                m.login(user, PW)
                typ, _ = m.select("INBOX")
                assert typ == "OK"
                assert m.noop()[0] == "OK"
                m.logout()
            return f

        def pop3(tls, user):
            def f():
                p = srv.pop3s(timeout=10) if tls else srv.pop3(timeout=10)
                p.user(user)
                p.pass_(PW)
                p.stat()
                p.quit()
            return f

        jobs = {"smtp": smtp25,
                "submission": submission("submission", True),
                "submission2": submission("submission2", False),
                "submissions": submissions,
                "imap": imap(False, FAST_USERS[2]),
                "imaps": imap(True, FAST_USERS[3]),
                "pop3": pop3(False, FAST_USERS[4]),
                "pop3s": pop3(True, FAST_USERS[5])}
        out = {}

        def wrap(name, fn):
            t0 = time.monotonic()
            try:
                fn()
                out[name] = (time.monotonic() - t0, None)
            except Exception as e:  # reported by the caller
                out[name] = (time.monotonic() - t0, repr(e))

        ths = [threading.Thread(target=wrap, args=(n, f))
               for n, f in jobs.items()]
        for t in ths:
            t.start()
        for t in ths:
            t.join(30)
        return out

    def test_silent_clients_cut_at_timeout(self):
        """(a): a silent client on every listener and in every state is
        closed at its idle timeout (login_timeout 3 s, smtp_timeout 3 s,
        imap_timeout 4 s, pop3_timeout 4 s, imap_idle_timeout 5 s; within
        -0.5/+1.5 s), after the protocol's goodbye; meanwhile normal clients
        on the same listeners are served within 2 s each, while all the
        silent ones are still open."""
        results, ready, lock = {}, [], threading.Lock()
        users = iter(SLOW_USERS)
        cases = []
        for name, proto, listener, tls, login, key in SILENT_CASES:
            case = {"name": name, "proto": proto, "listener": listener,
                    "tls": tls, "login": login, "idle": key == "idle",
                    "timeout": TIMEOUTS[key]}
            # POP3 sessions of one account exclude each other; IMAP
            # doesn't care, but every logged-in case gets its own user.
            case["user"] = next(users) if login else None
            cases.append(case)

        def silent(case):
            try:
                rc = setup_session(self.srv, case, case["user"])
                t0 = time.monotonic()
                with lock:
                    ready.append(case["name"])
                data = read_to_eof(rc, case["timeout"] + 5)
                results[case["name"]] = (time.monotonic() - t0, data, None)
                rc.close()
            except Exception as e:
                results[case["name"]] = (None, b"", repr(e))

        ths = [threading.Thread(target=silent, args=(c,)) for c in cases]
        for t in ths:
            t.start()
        deadline = time.monotonic() + 10
        while len(ready) + len(results) < len(cases) and \
                time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(sorted(ready), sorted(c["name"] for c in cases),
                         results)
        normal = self.normal_sessions()
        finished_early = sorted(results)
        for t in ths:
            t.join(20)
        for name, (secs, err) in sorted(normal.items()):
            with self.subTest(normal=name):
                self.assertIsNone(err)
                self.assertLess(secs, 2.0)
        self.assertEqual(finished_early, [],
                         "slow sessions ended before the normal ones "
                         "were served")
        for case in cases:
            name = case["name"]
            with self.subTest(silent=name):
                secs, data, err = results[name]
                self.assertIsNone(err)
                # t0 is taken after the set-up; before a login the
                # timer already runs during it.
                self.assertGreaterEqual(secs, case["timeout"] - 0.5, data)
                self.assertLessEqual(secs, case["timeout"] + 1.5, data)
                bye = {"smtp": SMTP_BYE, "imap": IMAP_BYE,
                       "pop3": POP3_BYE}[case["proto"]]
                self.assertRegex(data, bye)
        # The mail of the normal sessions arrived, once each.
        m = self.srv.imap()
        m.login(FAST_USERS[0], PW)
        typ, data = m.select("INBOX", readonly=True)
        m.logout()
        self.assertEqual(data, [b"4"])

    def test_silent_before_tls_handshake(self):
        """A client that connects to an implicit-TLS listener and never
        starts the handshake is closed at the timeout too (login_timeout
        for IMAP/POP3, smtp_timeout for 465); there is no session yet to
        say goodbye to, so nothing may come back but the close."""
        res = {}

        def run(listener, timeout):
            rc = connect(self.srv, listener, timeout=30)
            t0 = time.monotonic()
            try:
                data = read_to_eof(rc, timeout + 15)
                res[listener] = (time.monotonic() - t0, data)
            except AssertionError as e:
                res[listener] = (None, str(e))
            rc.close()

        cases = {"submissions": TIMEOUTS["smtp"], "imaps": TIMEOUTS["login"],
                 "pop3s": TIMEOUTS["login"]}
        ths = [threading.Thread(target=run, args=(lst, t))
               for lst, t in cases.items()]
        for t in ths:
            t.start()
        for t in ths:
            t.join(30)
        for listener, timeout in cases.items():
            with self.subTest(listener=listener):
                secs, data = res[listener]
                self.assertIsNotNone(secs, data)
                self.assertGreaterEqual(secs, timeout - 0.5)
                self.assertLessEqual(secs, timeout + 1.5)
                # Whatever came is TLS records, never a plaintext line.
                self.assertFalse(data.startswith((b"421", b"* ", b"-ERR")),
                                 data)

    # -- (b) trickling clients ---------------------------------------------

    def test_trickling_clients_not_cut_but_line_bounded(self):
        """(b): one byte per second keeps a connection alive past a 3-5 s
        idle timeout, and the command is answered once complete; a line
        over the limit, sent in pieces one second apart, gets the
        protocol's "too long" error and the session goes on."""
        users = iter(TRICKLE_USERS)
        cases = [
            # name, proto, listener, tls, login, command, want,
            # long line, want for the long line
            ("smtp", "smtp", "smtp", None, False),
            ("submissions", "smtp", "submissions", "implicit", False),
            ("imap", "imap", "imap", None, False),
            ("imaps", "imap", "imaps", "implicit", False),
            ("imap logged in", "imap", "imap", None, True),
            ("pop3", "pop3", "pop3", None, False),
            ("pop3s", "pop3", "pop3s", "implicit", False),
            ("pop3 logged in", "pop3", "pop3", None, True),
        ]
        results = {}

        def trickle(rc, data):
            # The first five bytes one second apart, then the rest: five
            # seconds in all, longer than every timeout configured here.
            for i in range(5):
                rc.send(data[i:i + 1])
                time.sleep(1.0)
            rc.send(data[5:])

        def in_pieces(rc, data, n=3):
            k = -(-len(data) // n)
            for i in range(n):
                rc.send(data[i * k:(i + 1) * k])
                time.sleep(1.0)

        def run(name, proto, listener, tls, login, user):
            case = {"proto": proto, "listener": listener, "tls": tls,
                    "login": login}
            got = []
            try:
                rc = setup_session(self.srv, case, user)
                if proto == "smtp":
                    trickle(rc, b"NOOP\r\n")
                    got.append(smtp_reply(rc))
                    # smtp_line_max = 1024
                    in_pieces(rc, b"NOOP " + b"x" * 1500)
                    rc.send(b"\r\n")
                    got.append(smtp_reply(rc))
                    rc.send(b"NOOP\r\n")
                    got.append(smtp_reply(rc))
                elif proto == "imap":
                    trickle(rc, b"t1 NOOP\r\n")
                    got.append(imap_read_tagged(rc, "t1"))
                    # 4096 after login (imap_line_max); before login the
                    # server has a limit of its own (at most 64 KiB).
                    n = 6000 if login else 70000
                    in_pieces(rc, b"t2 NOOP " + b"x" * n)
                    got.append(imap_response(rc))
                    rc.send(b"\r\n")
                    got.append(imap_cmd(rc, "t3", "NOOP"))
                else:
                    verb = b"NOOP" if login else b"CAPA"
                    trickle(rc, verb + b"\r\n")
                    got.append(rc.readline())
                    if not login:
                        got.append(rc.read_until(b"\r\n.\r\n"))
                    # The POP3 line limit is not configurable; 70,000
                    # is past any sensible one (RFC 2449: 255 octets).
                    in_pieces(rc, verb + b" " + b"x" * 70000)
                    rc.send(b"\r\n")
                    got.append(rc.readline())
                    rc.send(b"NOOP\r\n" if login else b"CAPA\r\n")
                    got.append(rc.readline())
                results[name] = (got, None)
                rc.close()
            except Exception as e:
                results[name] = (got, repr(e))

        ths = []
        for name, proto, listener, tls, login in cases:
            user = next(users) if login else None
            ths.append(threading.Thread(target=run, args=(
                name, proto, listener, tls, login, user)))
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        for name, proto, listener, tls, login in cases:
            with self.subTest(case=name):
                got, err = results[name]
                self.assertIsNone(err, got)
                if proto == "smtp":
                    self.assertEqual(got, [[b"250 2.0.0 Ok\r\n"],
                                           [b"500 5.5.2 Error: line too "
                                            b"long\r\n"],
                                           [b"250 2.0.0 Ok\r\n"]])
                elif proto == "imap":
                    (u1, t1), bad, (u3, t3) = got
                    self.assertTrue(t1.startswith(b"t1 OK"), t1)
                    self.assertRegex(bad, rb"^t2 BAD \[TOOBIG\] ")
                    self.assertTrue(t3.startswith(b"t3 OK"), t3)
                elif login:
                    self.assertEqual(got[0], b"+OK\r\n")
                    self.assertTrue(got[1].startswith(b"-ERR "), got)
                    self.assertEqual(got[2], b"+OK\r\n")
                else:
                    self.assertTrue(got[0].startswith(b"+OK"), got)
                    self.assertIn(b"\r\nUSER\r\n", got[1])
                    self.assertTrue(got[2].startswith(b"-ERR "), got)
                    self.assertTrue(got[3].startswith(b"+OK"), got)

    def test_endless_line_memory_bounded(self):
        """8 MB without a line end on every listener at once: the server's
        resident memory grows by far less than what was sent (the bytes
        past the line limit are dropped as they come), each connection then
        gets its "too long" error at the line end and still works."""
        pid = self.srv.proc.pid

        def rss_kb():
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
            raise AssertionError("no VmRSS")

        before = rss_kb()
        listeners = ["smtp", "submission", "submission2", "submissions",
                     "imap", "imaps", "pop3", "pop3s"]
        res = {}

        def run(listener):
            try:
                tls = listener in ("submissions", "imaps", "pop3s")
                rc = connect(self.srv, listener, tls=tls, timeout=60)
                rc.readline()
                head = b"t1 NOOP " if listener.startswith("imap") \
                    else b"NOOP "
                rc.send(head)
                chunk = b"y" * 65536
                for _ in range(128):
                    rc.send(chunk)
                rc.send(b"\r\n")
                first = rc.readline()
                if listener.startswith("imap"):
                    u, t = imap_cmd(rc, "t2", "NOOP")
                    after = t
                elif listener.startswith("pop3"):
                    rc.send(b"CAPA\r\n")
                    after = rc.readline()
                else:
                    rc.send(b"NOOP\r\n")
                    after = rc.readline()
                res[listener] = (first, after, rc)
            except Exception as e:
                res[listener] = (repr(e), None, None)

        ths = [threading.Thread(target=run, args=(lst,))
               for lst in listeners]
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        grown = rss_kb() - before
        for listener in listeners:
            with self.subTest(listener=listener):
                first, after, rc = res[listener]
                if rc is not None:
                    rc.close()
                if listener.startswith("imap"):
                    self.assertRegex(first, rb"^t1 BAD \[TOOBIG\] ")
                    self.assertTrue(after.startswith(b"t2 OK"), after)
                elif listener.startswith("pop3"):
                    self.assertTrue(first.startswith(b"-ERR "), first)
                    self.assertTrue(after.startswith(b"+OK"), after)
                else:
                    self.assertEqual(first,
                                     b"500 5.5.2 Error: line too long\r\n")
                    self.assertEqual(after, b"250 2.0.0 Ok\r\n")
        # 64 MB went in; allow 16 MB for buffers, TLS state and malloc.
        # A sanitizer build's RSS (shadow memory, freed-memory quarantine)
        # measures the sanitizer, not us: there only the replies count.
        if harness.asan_runtime() is None:
            self.assertLess(grown, 16 * 1024, f"VmRSS grew by {grown} kB")


# ==========================================================================
# Many connections from one address
# ==========================================================================

class RateLimitTest(unittest.TestCase):
    """Per-address rates ([limits] connection_rate_per_ip,
    message_rate_per_ip, rate_exempt): over the rate, SMTP gets 421 4.7.0
    at connect and 450 4.7.1 at MAIL, IMAP a BYE and POP3 -ERR; other
    addresses are not affected; exempt networks are not counted."""

    USER = f"rate@{DOMAIN}"

    def server(self, conf):
        srv = Server(users={self.USER: PW}, extra_config="[limits]\n" + conf)
        srv.start()
        self.addCleanup(srv.cleanup)
        return srv

    def greeting(self, srv, listener, source):
        rc = connect(srv, listener, source=source)
        try:
            return rc.readline()
        finally:
            rc.close()

    def test_connection_rate(self):
        srv = self.server("connection_rate_per_ip = 5\nrate_exempt =\n")
        # Five connections a minute, whatever the protocol.
        # (From 127.0.0.3: the harness's start-up probes come from .1.)
        for listener in ("smtp", "imap", "pop3", "smtp", "imap"):
            self.assertNotIn(b"Too many", self.greeting(srv, listener,
                                                        "127.0.0.3"))
        self.assertEqual(self.greeting(srv, "smtp", "127.0.0.3"),
                         f"421 4.7.0 {HOST} Error: too many connections "
                         "from 127.0.0.3\r\n".encode())
        self.assertEqual(self.greeting(srv, "imap", "127.0.0.3"),
                         b"* BYE [UNAVAILABLE] Too many connections from "
                         b"your address.\r\n")
        self.assertEqual(self.greeting(srv, "pop3", "127.0.0.3"),
                         b"-ERR [SYS/TEMP] Too many connections from your "
                         b"address.\r\n")
        # Another address is served.
        self.assertTrue(self.greeting(srv, "smtp", "127.0.0.5")
                        .startswith(b"220 "))
        self.assertIn('disconnect reason="connection rate"',
                      srv.read_log())

    def test_message_rate(self):
        srv = self.server("message_rate_per_ip = 3\nrate_exempt =\n")

        def mails(source, n):
            rc = connect(srv, "smtp", source=source)
            try:
                smtp_hello(rc)
                out = []
                for _ in range(n):
                    rc.send(b"MAIL FROM:<a@example.org>\r\n")
                    out.append(rc.readline())
                    rc.send(b"RSET\r\n")
                    self.assertEqual(smtp_code(rc), 250)
                return out
            finally:
                rc.close()

        got = mails("127.0.0.1", 5)
        self.assertEqual(got[:3], [b"250 2.1.0 Ok\r\n"] * 3)
        self.assertEqual(got[3:], [b"450 4.7.1 Error: too much mail from "
                                   b"127.0.0.1\r\n"] * 2)
        self.assertEqual(mails("127.0.0.6", 1), [b"250 2.1.0 Ok\r\n"])

    def test_exempt_networks(self):
        # The default exempts loopback: 20 connections and messages pass.
        srv = self.server("connection_rate_per_ip = 2\n"
                          "message_rate_per_ip = 2\n")
        for _ in range(20):
            rc = connect(srv, "smtp")
            try:
                smtp_hello(rc)
                rc.send(b"MAIL FROM:<a@example.org>\r\n")
                self.assertEqual(smtp_code(rc), 250)
            finally:
                rc.close()


class ConnectionLimitTest(unittest.TestCase):

    LIMIT = 50
    TOTAL = 2000
    USER = f"limit@{DOMAIN}"

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 4 * cls.TOTAL
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else \
                min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        cls.srv = Server(users={cls.USER: PW}, extra_config=f"""[limits]
max_connections_per_ip = {cls.LIMIT}
""")
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def works_from(self, source):
        """A full SMTP delivery, IMAP login + SELECT and POP3 login + STAT
        from source; returns the new INBOX message count."""
        rc = connect(self.srv, "smtp", source=source)
        try:
            smtp_hello(rc)
            rc.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<{self.USER}>"
                    f"\r\nDATA\r\n".encode())
            self.assertEqual([smtp_code(rc) for _ in range(3)],
                             [250, 250, 354])
            rc.send(f"Subject: from {source}\r\n\r\nhi\r\n.\r\n".encode())
            self.assertEqual(smtp_code(rc), 250)
            rc.send(b"QUIT\r\n")
            self.assertEqual(smtp_code(rc), 221)
        finally:
            rc.close()
        rc = connect(self.srv, "imap", source=source)
        try:
            imap_login(rc, self.USER)
            u, t = imap_cmd(rc, "s", "SELECT INBOX")
            self.assertEqual(imap_status(t), "OK", t)
            n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS\r\n")]
            imap_cmd(rc, "z", "LOGOUT")
        finally:
            rc.close()
        rc = connect(self.srv, "pop3", source=source)
        try:
            pop3_login(rc, self.USER)
            rc.send(b"STAT\r\nQUIT\r\n")
            stat = rc.readline()
            self.assertTrue(stat.startswith(b"+OK "), stat)
            self.assertEqual(rc.readline()[:3], b"+OK")
        finally:
            rc.close()
        self.assertEqual(len(n), 1)
        self.assertEqual(int(stat.split()[1]), n[0])
        return n[0]

    def test_two_thousand_connections_one_address(self):
        srv = self.srv
        t_start = time.monotonic()
        held = []
        try:
            for i in range(self.LIMIT):
                rc = connect(srv, "smtp")
                line = rc.readline()
                self.assertTrue(line.startswith(f"220 {HOST} ".encode()),
                                (i, line))
                held.append(rc)
            refusal = {
                "smtp": re.compile(
                    rb"^421 4\.7\.0 " + re.escape(HOST.encode()) +
                    rb" [\x20-\x7e]*\r\n$"),
                "imap": re.compile(rb"^\* BYE \[UNAVAILABLE\] "
                                   rb"[\x20-\x7e]*\r\n$"),
                "pop3": re.compile(rb"^-ERR \[SYS/TEMP\] [\x20-\x7e]*\r\n$"),
            }
            rest = self.TOTAL - self.LIMIT
            order = ["smtp", "imap", "pop3"]
            done = 0
            batch = 150
            refused = dict.fromkeys(order, 0)
            while done < rest:
                n = min(batch, rest - done)
                socks = []
                for i in range(n):
                    lst = order[(done + i) % 3]
                    socks.append((lst, connect(srv, lst, timeout=20)))
                for lst, rc in socks:
                    data = read_to_eof(rc, 20)
                    self.assertRegex(data, refusal[lst])
                    rc.close()
                    refused[lst] += 1
                done += n
                self.assertLess(time.monotonic() - t_start, 120,
                                f"{done} refusals took too long")
            self.assertEqual(sum(refused.values()), rest)
            self.assertEqual(min(refused.values()), rest // 3)
            # Another loopback address is not affected.
            self.assertEqual(self.works_from("127.0.0.2"), 1)
            # The 50 are still served.
            for rc in held[:5] + held[-5:]:
                rc.send(b"NOOP\r\n")
                self.assertEqual(rc.readline(), b"250 2.0.0 Ok\r\n")
        finally:
            ports = {rc.sock.getsockname()[1] for rc in held}
            for rc in held:
                rc.close()
        # Once they are gone, 127.0.0.1 gets in again.  The server notices
        # the closes asynchronously: wait until its log has every one of
        # them (one admitted connection alone does not say that the next
        # one has room too).
        def all_closed():
            log = srv.read_log()
            sids = {m.group(1) for m in re.finditer(
                r"s=(\w+) smtp connect from=127\.0\.0\.1 port=(\d+) ",
                log) if int(m.group(2)) in ports}
            gone = set(re.findall(r"s=(\w+) smtp disconnect ", log))
            return len(sids) == self.LIMIT and sids <= gone
        srv.wait_for(all_closed, timeout=10,
                     what="the held connections' closes")
        self.assertEqual(self.works_from("127.0.0.1"), 2)
        self.assertLess(time.monotonic() - t_start, 150)


class NetNamespace:
    """A network namespace of our own, with these IPv6 addresses on its
    loopback, that the calling thread (and what it starts) enters with
    `with`; the one it came from is restored after."""

    def __init__(self, addrs):
        self.name = f"posthorn-it-{os.getpid()}"
        self.addrs = addrs
        self.libc = ctypes.CDLL(None, use_errno=True)

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True,
                       capture_output=True)
        try:
            ns = f"ip netns exec {self.name} ip"
            subprocess.run(f"{ns} link set lo up", shell=True, check=True)
            for a in self.addrs:
                subprocess.run(f"{ns} -6 addr add {a}/128 dev lo nodad",
                               shell=True, check=True)
            self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
            fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
            try:
                if self.libc.setns(fd, 0) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
        except Exception:
            subprocess.run(["ip", "netns", "del", self.name])
            raise
        return self

    def __exit__(self, *exc):
        self.libc.setns(self.home, 0)
        os.close(self.home)
        subprocess.run(["ip", "netns", "del", self.name])


class Ipv6NetworkLimitTest(unittest.TestCase):
    """Per-address limits count an IPv6 client by its /84 (ipv6_prefix_length):
    two addresses of one /84 share max_connections_per_ip, an address
    of the next /84 does not."""

    A1, A2 = "fd00:a:b:c:d:fff::1", "fd00:a:b:c:d:ab:0:2"  # one /84
    B1 = "fd00:a:b:c:d:1000::1"                         # the next /84

    def test_connections_counted_by_network(self):
        if os.geteuid() != 0 or shutil.which("ip") is None:
            self.skipTest("needs root and ip(8) for a network namespace")
        try:
            ns = NetNamespace([self.A1, self.A2, self.B1]).__enter__()
        except (OSError, subprocess.CalledProcessError) as e:
            self.skipTest(f"no network namespace here: {e}")
        held = []
        srv = None
        try:
            srv = Server(extra_config="""[limits]
max_connections_per_ip = 2
connection_rate_per_ip = 0
rate_exempt =
""")
            with open(srv.conf, "a") as f:
                f.write(f"[listen]\nsmtp = [::]:{srv.port['smtp']}\n")
            srv.start()

            def smtp6(src):
                s = socket.create_connection(("::1", srv.port["smtp"]), 10,
                                             source_address=(src, 0))
                rc = harness.RawClient(s)
                held.append(rc)
                return rc.readline()

            self.assertTrue(smtp6(self.A1).startswith(b"220 "))
            self.assertTrue(smtp6(self.A2).startswith(b"220 "))
            self.assertEqual(smtp6(self.A2),
                             f"421 4.7.0 {HOST} Error: too many connections "
                             f"from {self.A2}\r\n".encode())
            self.assertTrue(smtp6(self.B1).startswith(b"220 "))
            # IPv4 clients are counted per address as before.
            for _ in range(2):
                rc = connect(srv, "smtp")
                held.append(rc)
                self.assertTrue(rc.readline().startswith(b"220 "))
        finally:
            for rc in held:
                rc.close()
            if srv is not None:
                srv.cleanup()
            ns.__exit__(None, None, None)


def proc_cpu_seconds(pid):
    """User + system CPU time of a process and all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DescriptorLimitTest(unittest.TestCase):
    """The server started with 256 descriptors: connections beyond what
    leaves a reserve of 64 for the store are refused as "busy" in each
    protocol (implicit TLS ones closed at once), and when accept() itself
    runs out of descriptors the server neither spins nor floods its log,
    and takes the waiting connections once descriptors are free again."""

    NOFILE = 256
    USER = f"fds@{DOMAIN}"

    def setUp(self):
        self.srv = Server(users={self.USER: PW}, extra_config="""[limits]
max_connections_per_ip = 100000
connection_rate_per_ip = 0
""")
        self.srv.nofile = self.NOFILE
        self.srv.start()
        self.held = []

    def tearDown(self):
        for rc in self.held:
            rc.close()
        self.srv.cleanup()

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.srv.proc.pid}/fd"))

    def test_busy_refusals_and_no_spin_at_emfile(self):
        srv = self.srv
        busy = 0
        for i in range(self.NOFILE):
            rc = connect(srv, "smtp")
            line = rc.readline()
            if line.startswith(b"220 "):
                self.assertEqual(busy, 0, "a 220 after a refusal")
                self.held.append(rc)
                continue
            self.assertEqual(line, f"421 4.3.2 {HOST} Service busy, try "
                             "again later\r\n".encode())
            self.assertEqual(read_to_eof(rc, 10), b"")
            rc.close()
            busy += 1
            if busy == 3:
                break
        self.assertEqual(busy, 3)
        # The reserve: at most 256 - 64 descriptors in use, and at least
        # 120 sessions admitted besides the server's own.
        self.assertGreater(len(self.held), 120)
        self.assertLessEqual(self.open_fds(), self.NOFILE - 64 + 1)
        for lst, want in (("imap", b"* BYE [UNAVAILABLE] Server busy, try "
                                   b"again later.\r\n"),
                          ("pop3", b"-ERR [SYS/TEMP] Server busy, try "
                                   b"again later.\r\n")):
            rc = connect(srv, lst)
            self.assertEqual(read_to_eof(rc, 10), want)
            rc.close()
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            connect(srv, "imaps", tls=True)
        # The held sessions still work, and mail goes through one.
        rc = self.held[0]
        rc.send(b"EHLO client.example.org\r\n")
        self.assertTrue(smtp_reply(rc)[-1].startswith(b"250 "))
        rc.send(f"MAIL FROM:<a@example.org>\r\nRCPT TO:<{self.USER}>"
                f"\r\nDATA\r\n".encode())
        self.assertEqual([smtp_code(rc) for _ in range(3)], [250, 250, 354])
        rc.send(b"Subject: busy\r\n\r\nstill here\r\n.\r\n")
        self.assertEqual(smtp_code(rc), 250)

        # Now the reserve goes too: 100 sessions each put 300 KB of a
        # message into a spool file, and accept() runs out of descriptors.
        # Connections wait in the listen queue.
        pid = srv.proc.pid
        body = b"".join(b"%06d " % i + b"x" * 991 + b"\r\n"
                        for i in range(300))
        senders = self.held[1:101]
        for rc in senders:
            rc.send(f"EHLO c.example.org\r\nMAIL FROM:<a@example.org>\r\n"
                    f"RCPT TO:<{self.USER}>\r\nDATA\r\n".encode())
            self.assertTrue(smtp_reply(rc)[-1].startswith(b"250 "))
            self.assertEqual([smtp_code(rc) for _ in range(3)],
                             [250, 250, 354])
            rc.send(body)
        srv.wait_for(lambda: self.open_fds() >= self.NOFILE - 1, 30,
                     "the spools to take every descriptor")
        log_at = len(srv.read_log())
        waiting = []
        for i in range(4):
            s = socket.create_connection(("127.0.0.1", srv.port["smtp"]),
                                         timeout=20)
            waiting.append(harness.RawClient(s))
        cpu0 = proc_cpu_seconds(pid)
        time.sleep(2)
        cpu = proc_cpu_seconds(pid) - cpu0
        self.assertLess(cpu, 0.5, "the server spins on accept()")
        reports = re.findall(r"accept on 127\.0\.0\.1:\d+: Too many open "
                             r"files; new connections wait",
                             srv.read_log()[log_at:])
        self.assertTrue(1 <= len(reports) <= 2, reports)
        # The messages end: each is taken (250) or refused for now (4xx,
        # no spool or no descriptor for the store), and the sessions go.
        taken = 1
        for rc in senders:
            rc.send(b".\r\nQUIT\r\n")
            code = smtp_code(rc)
            self.assertTrue(code == 250 or 400 <= code < 500, code)
            taken += code == 250
            self.assertEqual(smtp_code(rc), 221)
        self.assertGreater(taken, 1)
        # Descriptors are back: the waiting connections are greeted.
        for rc in waiting:
            self.assertTrue(rc.readline().startswith(f"220 {HOST} ".encode()))
            self.held.append(rc)
        # Every message that got its 250 is there, whole.
        rc = connect(srv, "imap")
        imap_login(rc, self.USER)
        u, t = imap_cmd(rc, "s", "SELECT INBOX")
        n = [int(x.split()[1]) for x in u if x.endswith(b" EXISTS\r\n")]
        self.assertEqual(n, [taken])
        u, t = imap_cmd(rc, "f", "FETCH 2:* (RFC822.SIZE)")
        sizes = {int(m) for m in re.findall(rb"RFC822\.SIZE (\d+)",
                                            b"".join(u))}
        self.assertEqual(len(sizes), 1, sizes)
        self.assertGreater(sizes.pop(), len(body))
        rc.close()


# ==========================================================================
# Injection, smuggling, literals, MIME, mailbox names, relay tricks
# ==========================================================================

INJ_USERS = ["inj", "injimap", "owner", "intruder", "relay", "mime", "lit",
             "p3"]


def U(name):
    return f"{name}@{DOMAIN}"


class InjectionTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={U(u): PW for u in INJ_USERS},
                         extra_config="""[limits]
message_size = 40m
max_bad_commands = 100
""")
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def run(self, result=None):
        n = len(result.failures) + len(result.errors) if result else 0
        r = super().run(result)
        if result is not None and \
                len(result.failures) + len(result.errors) > n:
            print(f"\n--- server log (tail) for {self.id()} ---\n" +
                  self.srv.read_log()[-4000:])
        return r

    # -- SMTP --------------------------------------------------------------

    def smtp_session(self, state, listener="smtp"):
        rc = connect(self.srv, listener)
        if state == "fresh":
            line = rc.readline()
            assert line.startswith(b"220 "), line
            return rc
        smtp_hello(rc)
        if state == "mail":
            rc.send(b"MAIL FROM:<sender@example.org>\r\n")
            assert smtp_code(rc) == 250
        return rc

    def test_smtp_control_characters_in_arguments(self):
        """CR, LF and NUL inside the arguments of HELO, EHLO, MAIL, RCPT,
        VRFY and AUTH: a syntax error (5xx) - never 2xx - and no state
        change (checked with the next command); every reply line is
        RFC 5321 text (no control characters echoed back); the session
        and the server go on.  A bare LF ends the command line (as with
        many servers), so the part after it is a separate, unknown
        command (500)."""
        b64 = auth_plain(U("inj"), PW).encode()
        half = len(b64) // 2
        # (state, listener, line, want, probe, probe's code).  want is
        # "one": one reply, a syntax error (500, 501 or 504); or, for a
        # bare LF, [the code for the part before the LF] - the part after
        # it then gets 500.  The probe shows the state did not change.
        cases = [
            ("fresh", "smtp", b"HELO cl\x00ient.example.org", "one",
             b"MAIL FROM:<a@example.org>", 503),
            ("fresh", "smtp", b"HELO cl\rient.example.org", "one",
             b"MAIL FROM:<a@example.org>", 503),
            ("fresh", "smtp", b"HELO [127.0.0.1\n]", [501],
             b"MAIL FROM:<a@example.org>", 503),
            ("fresh", "smtp", b"EHLO client.example.org\x00", "one",
             b"MAIL FROM:<a@example.org>", 503),
            ("fresh", "smtp", b"EHLO client\r.example.org", "one",
             b"MAIL FROM:<a@example.org>", 503),
            ("ehlo", "smtp", b"MAIL FROM:<a\x00b@example.org>", "one",
             b"RCPT TO:<" + U("inj").encode() + b">", 503),
            ("ehlo", "smtp", b"MAIL FROM:<a\rb@example.org>", "one",
             b"RCPT TO:<" + U("inj").encode() + b">", 503),
            ("ehlo", "smtp", b"MAIL FROM:<a@example.org>\r", "one",
             b"RCPT TO:<" + U("inj").encode() + b">", 503),
            ("ehlo", "smtp", b"MAIL FROM:<a\nb@example.org>", [501],
             b"RCPT TO:<" + U("inj").encode() + b">", 503),
            ("ehlo", "smtp", b"MAIL FROM:<a@example.org> SIZE=1\x00", "one",
             b"RCPT TO:<" + U("inj").encode() + b">", 503),
            ("mail", "smtp", b"RCPT TO:<in\x00j@example.test>", "one",
             b"DATA", 554),
            ("mail", "smtp", b"RCPT TO:<in\rj@example.test>", "one",
             b"DATA", 554),
            ("mail", "smtp", b"RCPT TO:<inj@example.test>\r", "one",
             b"DATA", 554),
            ("mail", "smtp", b"RCPT TO:<inj@example.test\n>", [501],
             b"DATA", 554),
            ("mail", "smtp", b"RCPT TO:<inj@example.test>\x00", "one",
             b"DATA", 554),
            ("ehlo", "smtp", b"VRFY in\x00j", "one", b"NOOP", 250),
            ("ehlo", "smtp", b"VRFY in\rj", "one", b"NOOP", 250),
            ("ehlo", "smtp", b"VRFY inj@example.test\r", "one", b"NOOP",
             250),
            ("ehlo", "smtp", b"VRFY in\nj", [252], b"NOOP", 250),
            ("ehlo", "submission", b"AUTH PL\x00AIN " + b64, "one",
             b"MAIL FROM:<" + U("inj").encode() + b">", 530),
            ("ehlo", "submission", b"AUTH PLA\rIN " + b64, "one",
             b"MAIL FROM:<" + U("inj").encode() + b">", 530),
            ("ehlo", "submission", b"AUTH PLAIN " + b64 + b"\x00", "one",
             b"MAIL FROM:<" + U("inj").encode() + b">", 530),
            ("ehlo", "submission", b"AUTH PLAIN " + b64[:half] + b"\r" +
             b64[half:], "one",
             b"MAIL FROM:<" + U("inj").encode() + b">", 530),
            ("ehlo", "submission", b"AUTH PLAIN " + b64 + b"\r", "one",
             b"MAIL FROM:<" + U("inj").encode() + b">", 530),
            ("ehlo", "submission", b"AUTH PLAIN " + b64[:half] + b"\n" +
             b64[half:], [501],
             b"MAIL FROM:<" + U("inj").encode() + b">", 530),
        ]
        for state, listener, line, want, probe, probe_code in cases:
            with self.subTest(line=line, listener=listener):
                rc = self.smtp_session(state, listener)
                try:
                    rc.send(line + b"\r\n")
                    replies = [smtp_reply(rc)]
                    if want != "one":
                        # Bare LF: the part before it, then the rest as a
                        # command of its own.
                        replies.append(smtp_reply(rc))
                    for r in replies:
                        for ln in r:
                            self.assertRegex(ln, SMTP_LINE)
                    codes = [int(r[-1][:3]) for r in replies]
                    if want == "one":
                        self.assertEqual(len(codes), 1)
                        self.assertIn(codes[0], (500, 501, 504), replies)
                    else:
                        self.assertEqual(codes, want + [500], replies)
                    rc.send(probe + b"\r\n")
                    self.assertEqual(smtp_code(rc), probe_code)
                    rc.send(b"NOOP\r\n")
                    self.assertEqual(smtp_reply(rc), [b"250 2.0.0 Ok\r\n"])
                finally:
                    rc.close()
        # Nothing was delivered, and the server still takes mail.
        c, _ = smtp_deliver(self.srv, U("inj"), b"Subject: after\r\n\r\n"
                            b"still here\r\n")
        self.assertEqual(c, 250)
        m = self.srv.imap()
        m.login(U("inj"), PW)
        self.assertEqual(m.select("INBOX", readonly=True)[1], [b"1"])
        m.logout()

    # -- IMAP --------------------------------------------------------------

    def test_imap_control_characters_in_arguments(self):
        """CR, LF and NUL inside LOGIN, SELECT, LIST and FETCH arguments
        (quoted, atom, and inside literals): the command fails (BAD, or NO
        where a literal carries a well-formed but wrong value), the rest of
        a line split by a bare LF gets an untagged BAD, the state does not
        change and the session goes on."""
        lu = U("injimap").encode()
        login = f'"{U("injimap")}" "{PW}"'.encode()
        cases = [
            # (state, command after the tag, status, extra untagged BAD)
            ("notauth", b'LOGIN "' + lu + b'\x00" "' + PW.encode() + b'"',
             "BAD", 0),
            ("notauth", b'LOGIN "' + lu[:3] + b'\r' + lu[3:] + b'" "' +
             PW.encode() + b'"', "BAD", 0),
            ("notauth", b'LOGIN "' + lu[:3] + b'\n' + lu[3:] + b'" "' +
             PW.encode() + b'"', "BAD", 1),
            ("notauth", b"LOGIN " + lu + b" " + PW.encode()[:4] + b"\x00" +
             PW.encode()[4:], "BAD", 0),
            ("notauth", b"LOGIN " + lu + b" " + PW.encode()[:4] + b"\r" +
             PW.encode()[4:], "BAD", 0),
            ("notauth", b"LOGIN " + lu + b" {%d}\r\n" % (len(PW) + 1) +
             PW.encode()[:4] + b"\x00" + PW.encode()[4:], "BAD", 0),
            ("notauth", b"LOGIN " + lu + b" {%d}\r\n" % (len(PW) + 1) +
             PW.encode()[:4] + b"\r" + PW.encode()[4:], "NO", 0),
            ("notauth", b"LOGIN " + lu + b" {%d}\r\n" % (len(PW) + 1) +
             PW.encode() + b"\n", "NO", 0),
            ("auth", b'SELECT "IN\x00BOX"', "BAD", 0),
            ("auth", b'SELECT "IN\rBOX"', "BAD", 0),
            ("auth", b'SELECT "IN\nBOX"', "BAD", 1),
            ("auth", b"SELECT IN\rBOX", "BAD", 0),
            ("auth", b"SELECT INBOX\x00", "BAD", 0),
            ("auth", b"SELECT {6}\r\nIN\rBOX", "NO", 0),
            ("auth", b"SELECT {6}\r\nIN\nBOX", "NO", 0),
            ("auth", b"SELECT {6}\r\nIN\x00BOX", "BAD", 0),
            ("auth", b'LIST "" "IN\x00*"', "BAD", 0),
            ("auth", b'LIST "" "IN\r*"', "BAD", 0),
            ("auth", b'LIST "" "IN\n*"', "BAD", 1),
            ("auth", b'LIST "\x00" "*"', "BAD", 0),
            ("selected", b"FETCH 1\x00 (FLAGS)", "BAD", 0),
            ("selected", b"FETCH 1 (FL\rAGS)", "BAD", 0),
            ("selected", b"FETCH 1 (FLAGS\n)", "BAD", 1),
            ("selected", b"FETCH 1 BODY[HEADER.FIELDS (SUB\x00JECT)]", "BAD",
             0),
            ("selected", b'FETCH 1 BODY[HEADER.FIELDS ("SUB\rJECT")]', "BAD",
             0),
            ("selected", b"FETCH 1:\r* (FLAGS)", "BAD", 0),
        ]
        smtp_deliver(self.srv, U("injimap"),
                     b"Subject: for fetch\r\n\r\nx\r\n")
        for state, cmd, want, extra in cases:
            with self.subTest(cmd=cmd):
                rc = connect(self.srv, "imap")
                try:
                    greeting = rc.readline()
                    self.assertTrue(greeting.startswith(b"* OK"))
                    if state != "notauth":
                        u, t = imap_cmd(rc, "p", b"LOGIN " + login)
                        self.assertEqual(imap_status(t), "OK")
                    if state == "selected":
                        u, t = imap_cmd(rc, "p", "SELECT INBOX")
                        self.assertEqual(imap_status(t), "OK")
                    head, lit, tail = cmd.partition(b"}\r\n")
                    if lit:
                        # A synchronizing literal: wait for "+".
                        rc.send(b"a " + head + lit)
                        cont = rc.readline()
                        self.assertTrue(cont.startswith(b"+ "), cont)
                        rc.send(tail + b"\r\n")
                    else:
                        rc.send(b"a " + cmd + b"\r\n")
                    u, t = imap_read_tagged(rc, "a")
                    self.assertEqual(imap_status(t), want, t)
                    if extra:
                        # The rest of the line after the LF.
                        rc.send(b"n NOOP\r\n")
                        u2, t2 = imap_read_tagged(rc, "n")
                        u = u + u2
                        self.assertEqual(imap_status(t2), "OK", t2)
                    bad = [x for x in u if x.startswith(b"* BAD")]
                    self.assertEqual(len(bad), extra, u)
                    # The state is unchanged.
                    if state == "notauth":
                        u, t = imap_cmd(rc, "c", "SELECT INBOX")
                        self.assertIn(imap_status(t), ("BAD", "NO"), t)
                    elif state == "auth":
                        u, t = imap_cmd(rc, "c", "FETCH 1 (FLAGS)")
                        self.assertEqual(imap_status(t), "BAD", t)
                    else:
                        u, t = imap_cmd(rc, "c", "FETCH 1 (UID)")
                        self.assertEqual(imap_status(t), "OK", t)
                        self.assertEqual(len(u), 1, u)
                    u, t = imap_cmd(rc, "d", "NOOP")
                    self.assertEqual(imap_status(t), "OK", t)
                finally:
                    rc.close()

    def test_imap_bad_literal_sizes(self):
        """Literal sizes past 2^32-1 (RFC 3501 number is 32 bits), negative
        or not a number: a tagged BAD.  With a synchronizing literal the
        client sends nothing until "+", so the session can go on (NOOP
        gets OK); with a non-synchronizing one (LITERAL+) the server cannot
        know where the data ends and may close after the BAD."""
        sync = [b"{4294967295}", b"{4294967296}", b"{-1}",
                b"{99999999999999999999}", b"{}", b"{1+2}"]
        nonsync = [b"{4294967296+}", b"{-1+}", b"{99999999999999999999+}"]
        cmds = [b"SELECT ", b"APPEND INBOX ", b"LOGIN " +
                U("lit").encode() + b" "]
        for cmd in cmds:
            for lit in sync + nonsync:
                with self.subTest(cmd=cmd, literal=lit):
                    rc = connect(self.srv, "imap")
                    try:
                        rc.readline()
                        if not cmd.startswith(b"LOGIN"):
                            u, t = imap_cmd(rc, "p", f'LOGIN "{U("lit")}" '
                                                     f'"{PW}"')
                            self.assertEqual(imap_status(t), "OK")
                        rc.send(b"a " + cmd + lit + b"\r\n")
                        u, t = imap_read_tagged(rc, "a")
                        if cmd.startswith(b"APPEND") and \
                                lit == b"{4294967295}":
                            # A valid size, over message_size.
                            self.assertRegex(t, rb"^a NO \[TOOBIG\] ")
                        else:
                            self.assertEqual(imap_status(t), "BAD", t)
                        self.assertEqual(u, [])
                        if lit in sync:
                            try:
                                u, t = imap_cmd(rc, "n", "NOOP")
                            except (EOFError, ConnectionResetError,
                                    BrokenPipeError):
                                self.fail("the server closed the session "
                                          "after the BAD")
                            self.assertEqual(imap_status(t), "OK", t)
                        else:
                            try:
                                u, t = imap_cmd(rc, "n", "NOOP")
                                self.assertEqual(imap_status(t), "OK", t)
                            except (EOFError, ConnectionResetError,
                                    BrokenPipeError):
                                pass
                    finally:
                        rc.close()
        # The server still serves.
        rc = connect(self.srv, "imap")
        try:
            imap_login(rc, U("lit"))
            u, t = imap_cmd(rc, "s", "STATUS INBOX (MESSAGES)")
            self.assertEqual(u, [b'* STATUS "INBOX" (MESSAGES 0)\r\n'])
        finally:
            rc.close()

    # -- POP3 --------------------------------------------------------------

    def test_pop3_control_characters_in_arguments(self):
        """CR, LF and NUL inside USER and PASS: -ERR (USER may say +OK to
        any name, RFC 1939 7 - then the PASS must fail), never a login; the
        rest of a line split by a bare LF is an unknown command (-ERR); the
        session goes on and a correct login then works."""
        user = U("p3").encode()
        pw = PW.encode()
        cases = [
            # (sent lines, acceptable first replies)
            ([b"USER " + user[:2] + b"\x00" + user[2:], b"PASS " + pw],
             "user-err"),
            ([b"USER " + user[:2] + b"\r" + user[2:], b"PASS " + pw],
             "user-any"),
            ([b"USER " + user + b"\x00", b"PASS " + pw], "user-err"),
            ([b"USER " + user[:2] + b"\n" + user[2:], b"PASS " + pw],
             "user-lf"),
            ([b"USER " + user, b"PASS " + pw[:3] + b"\x00" + pw[3:]],
             "pass-err"),
            ([b"USER " + user, b"PASS " + pw[:3] + b"\r" + pw[3:]],
             "pass-err"),
            ([b"USER " + user, b"PASS " + pw + b"\x00"], "pass-err"),
            ([b"USER " + user, b"PASS " + pw[:3] + b"\n" + pw[3:]],
             "pass-lf"),
        ]
        for lines, kind in cases:
            with self.subTest(lines=lines):
                rc = connect(self.srv, "pop3")
                try:
                    self.assertTrue(rc.readline().startswith(b"+OK"))
                    rc.send(lines[0] + b"\r\n")
                    r1 = rc.readline()
                    extra = []
                    if kind == "user-lf":
                        extra.append(rc.readline())
                    rc.send(lines[1] + b"\r\n")
                    r2 = rc.readline()
                    if kind == "pass-lf":
                        extra.append(rc.readline())
                    if kind == "user-err":
                        self.assertTrue(r1.startswith(b"-ERR"), r1)
                    elif kind in ("user-any", "user-lf"):
                        self.assertTrue(r1.startswith((b"+OK", b"-ERR")), r1)
                    else:
                        self.assertEqual(r1, b"+OK\r\n")
                    # Never logged in.
                    self.assertTrue(r2.startswith(b"-ERR"), r2)
                    for x in extra:
                        self.assertTrue(x.startswith(b"-ERR"), x)
                    rc.send(b"STAT\r\n")
                    self.assertTrue(rc.readline().startswith(b"-ERR"))
                    # The session goes on: a proper login works.
                    rc.send(b"USER " + user + b"\r\nPASS " + pw + b"\r\n")
                    self.assertEqual(rc.readline(), b"+OK\r\n")
                    line = rc.readline()
                    self.assertTrue(line.startswith(b"+OK"), line)
                    rc.send(b"QUIT\r\n")
                    self.assertTrue(rc.readline().startswith(b"+OK"))
                finally:
                    rc.close()

    # -- MIME --------------------------------------------------------------

    def fetch_one(self, user, items, seq=1, timeout=60):
        rc = connect(self.srv, "imap", timeout=timeout)
        try:
            imap_login(rc, user)
            u, t = imap_cmd(rc, "s", "EXAMINE INBOX")
            self.assertEqual(imap_status(t), "OK", t)
            t0 = time.monotonic()
            u, t = imap_cmd(rc, "f", f"FETCH {seq} ({items})")
            secs = time.monotonic() - t0
            self.assertEqual(imap_status(t), "OK", t)
            fetches = [x for x in u if re.match(rb"^\* \d+ FETCH ", x)]
            self.assertEqual(len(fetches), 1, [x[:100] for x in u])
            return fetches[0], secs
        finally:
            rc.close()

    def deliver_mime(self, user, msg):
        c, text = smtp_deliver(self.srv, user, msg)
        self.assertEqual(c, 250, text)
        m = self.srv.imap()
        m.login(user, PW)
        n = int(m.select("INBOX", readonly=True)[1][0])
        m.logout()
        return n

    def check_body(self, user, seq, msg):
        resp, secs = self.fetch_one(user, "BODY.PEEK[]", seq)
        val, _ = fetch_item(resp, b"BODY[]")
        self.assertEqual(hashlib.sha256(strip_received(val)).hexdigest(),
                         hashlib.sha256(msg).hexdigest())
        self.assertLess(secs, 30)

    def test_deeply_nested_multipart(self):
        """10,000 levels of multipart/mixed: delivered (250); BODYSTRUCTURE
        is well-formed (parentheses balance, it parses), each level shown
        is the right multipart (boundary b0, b1, ... in order) and the
        nesting is cut (at most MIME_DEPTH_HARD_MAX = 1024 levels);
        BODY[] is the exact bytes."""
        n = 10000
        parts = [b"From: a@example.org\r\nTo: mime@example.test\r\n"
                 b"Subject: deep\r\nMessage-ID: <deep@example.org>\r\n"
                 b"MIME-Version: 1.0\r\n"
                 b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n']
        for i in range(1, n):
            parts.append(b'--b%d\r\nContent-Type: multipart/mixed; '
                         b'boundary="b%d"\r\n\r\n' % (i - 1, i))
        parts.append(b"--b%d\r\nContent-Type: text/plain\r\n\r\n"
                     b"innermost\r\n" % (n - 1))
        for i in range(n - 1, -1, -1):
            parts.append(b"--b%d--\r\n" % i)
        msg = b"".join(parts)
        seq = self.deliver_mime(U("mime"), msg)
        resp, secs = self.fetch_one(U("mime"), "BODYSTRUCTURE", seq)
        self.assertLess(secs, 30)
        bs, raw = fetch_item(resp, b"BODYSTRUCTURE")
        mx, final, neg = paren_depths(raw)
        self.assertEqual((final, neg), (0, False))
        levels = 0
        node = bs
        while isinstance(node[0], list):
            # A multipart: its children, then "mixed" and the parameters.
            nkids = next(i for i, x in enumerate(node)
                         if not isinstance(x, list))
            self.assertEqual(nkids, 1, f"level {levels}")
            self.assertEqual(node[1].lower(), b"mixed")
            self.assertEqual([p.lower() if i % 2 == 0 else p
                              for i, p in enumerate(node[2])],
                             [b"boundary", b"b%d" % levels])
            node = node[0]
            levels += 1
        self.assertGreaterEqual(levels, 1)
        self.assertLessEqual(levels, 1024)
        # The part where the nesting was cut is a leaf.
        self.assertEqual(node[0].lower(), b"text")
        self.assertLessEqual(mx, levels + 3)
        self.check_body(U("mime"), seq, msg)

    def test_hundred_thousand_parts(self):
        """One multipart with 100,000 parts: delivered; BODYSTRUCTURE is
        well-formed; the parts it shows are exact (text/plain, 7bit, size
        of "<i>", 0 lines) and, when the server stops splitting at its part
        limit, the last one shown holds the rest of the message (size and
        line count computed from the bytes sent); BODY[] is exact."""
        n = 100000
        head = (b"From: a@example.org\r\nTo: mime@example.test\r\n"
                b"Subject: many\r\nMessage-ID: <many@example.org>\r\n"
                b"MIME-Version: 1.0\r\n"
                b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n')
        msg = head + b"".join(b"--b\r\n\r\n%d\r\n" % i
                              for i in range(n)) + b"--b--\r\n"
        seq = self.deliver_mime(U("mime"), msg)
        resp, secs = self.fetch_one(U("mime"), "BODYSTRUCTURE", seq)
        self.assertLess(secs, 30)
        bs, raw = fetch_item(resp, b"BODYSTRUCTURE")
        mx, final, neg = paren_depths(raw)
        self.assertEqual((final, neg), (0, False))
        self.assertLessEqual(mx, 4)
        kids = []
        for x in bs:
            if not isinstance(x, list):
                break
            kids.append(x)
        k = len(kids)
        self.assertGreaterEqual(k, 1)
        self.assertLessEqual(k, n)
        self.assertEqual(bs[k].lower(), b"mixed")
        for i, part in enumerate(kids):
            self.assertEqual([part[0].lower(), part[1].lower()],
                             [b"text", b"plain"], i)
            if i < k - 1 or k == n:
                self.assertEqual(part[6:8], [len(b"%d" % i), 0], i)
            else:
                start = msg.index(b"--b\r\n\r\n%d\r\n" % i) + 7
                rest = msg[start:]
                self.assertEqual(part[6:8],
                                 [len(rest), rest.count(b"\r\n")], i)
        self.check_body(U("mime"), seq, msg)

    def test_ten_megabyte_header_line(self):
        """A 10 MB header line (message_size = 40m): 250; BODY[] exact;
        HEADER.FIELDS returns that whole line; the body part is seen."""
        big = b"a" * (10 * 1024 * 1024)
        msg = (b"From: a@example.org\r\nTo: mime@example.test\r\n"
               b"Subject: long\r\nX-Long: " + big + b"\r\n"
               b"Message-ID: <long@example.org>\r\n\r\nbody\r\n")
        seq = self.deliver_mime(U("mime"), msg)
        self.check_body(U("mime"), seq, msg)
        resp, _ = self.fetch_one(U("mime"),
                                 "BODY.PEEK[HEADER.FIELDS (X-LONG)]", seq)
        val, _ = fetch_item(resp, b"BODY[HEADER.FIELDS (X-LONG)]")
        self.assertEqual(len(val), len(b"X-Long: " + big + b"\r\n\r\n"))
        self.assertTrue(val == b"X-Long: " + big + b"\r\n\r\n")
        resp, _ = self.fetch_one(U("mime"), "BODYSTRUCTURE", seq)
        bs, _ = fetch_item(resp, b"BODYSTRUCTURE")
        self.assertEqual([x.lower() if isinstance(x, bytes) else x
                          for x in bs[:8]],
                         [b"text", b"plain", [b"charset", b"us-ascii"],
                          None, None, b"7bit", 6, 1])

    # -- mailbox names -----------------------------------------------------

    HOSTILE_NAMES = [
        b'".."', b'"../2/INBOX"', b'"../3/INBOX"', b'"../../posthorn.db"',
        b'"../accounts/2/mail.db"', b'"/etc/passwd"', b'"/INBOX"',
        b'"./INBOX"', b'"INBOX/."', b'"INBOX/.."', b'"INBOX/../../2"',
        b'"INBOX//x"', b'"~other"', b'"~owner@example.test/INBOX"',
        b'"~owner"', b'"#shared/x"', b'"#shared"', b'"#public/INBOX"',
        b'"#user/owner/INBOX"', b'"Other Users/owner"',
        b'"owner@example.test/INBOX"', b'"owner@example.test"',
        b'"%"', b'"*"', b'"a%b"', b'"a*b"', b'"INBOX/%"', b'"..\\\\2"',
        b"{3}\r\na\x01b", b"{3}\r\na\x7fb", b"{3}\r\na\tb", b"{4}\r\nIN\rB",
        b'"&AGE-"', b'"&Jjo"', b'"&-x&"', b'"&AGEAYQ-"', b'"&2D3-"',
        b'"&ZeVnLIqe-&ZeVnLIqe-"', b'"&"', b'"INBOX&"',
        b'"' + b"x" * 300 + b'"', b'"' + b"/".join([b"d"] * 200) + b'"',
    ]
    # Names that must be refused outright: "." or ".." levels, empty
    # levels (a leading "/" too), control characters, invalid modified
    # UTF-7 (RFC 3501 5.1.3: "&" starts a base64 run that must end
    # with "-", printable ASCII is never encoded, UTF-16 must be valid).
    MUST_REFUSE = {
        b'".."', b'"../2/INBOX"', b'"../3/INBOX"', b'"../../posthorn.db"',
        b'"../accounts/2/mail.db"', b'"/etc/passwd"', b'"/INBOX"',
        b'"./INBOX"', b'"INBOX/."', b'"INBOX/.."', b'"INBOX/../../2"',
        b'"INBOX//x"', b"{3}\r\na\x01b", b"{3}\r\na\x7fb", b"{3}\r\na\tb",
        b"{4}\r\nIN\rB", b'"&AGE-"', b'"&Jjo"', b'"&-x&"', b'"&AGEAYQ-"',
        b'"&2D3-"', b'"&"', b'"INBOX&"',
    }

    def imap_send_cmd(self, rc, tag, head, name, tail=b""):
        """tag head NAME tail, where NAME may be a synchronizing literal."""
        lit, sep, rest = name.partition(b"}\r\n")
        if sep:
            rc.send(tag.encode() + b" " + head + lit + b"}\r\n")
            cont = rc.readline()
            if not cont.startswith(b"+"):
                return [], cont
            rc.send(rest + tail + b"\r\n")
        else:
            rc.send(tag.encode() + b" " + head + name + tail + b"\r\n")
        return imap_read_tagged(rc, tag)

    def list_names(self, rc, ref=b'""', pattern=b'"*"'):
        u, t = imap_cmd(rc, "l", b"LIST " + ref + b" " + pattern)
        self.assertEqual(imap_status(t), "OK", t)
        out = set()
        for x in u:
            m = re.match(rb'^\* LIST \([^)]*\) (?:"/"|NIL) (.*)\r\n$', x,
                         re.S)
            self.assertIsNotNone(m, x)
            out.add(parse_imap(m.group(1))[0])
        return out

    def tree(self, exclude):
        out = set()
        for d, dirs, files in os.walk(self.srv.data_dir):
            if os.path.abspath(d).startswith(exclude):
                continue
            for f in files:
                p = os.path.relpath(os.path.join(d, f), self.srv.data_dir)
                if p.startswith("tmp" + os.sep) or \
                        p.endswith(("-wal", "-shm", "-journal")):
                    continue
                out.add(p)
        return out

    def test_mailbox_names_confined(self):
        """Names with "..", "/", "%", "*", control characters, invalid
        modified UTF-7, and names that look like other users' storage,
        used by a second user (the intruder) with CREATE, SELECT, EXAMINE,
        STATUS, LIST (as pattern and as reference), COPY, RENAME and DELETE:
        the invalid ones are refused, the others act on the intruder's own
        mailboxes only (SELECT/STATUS/COPY succeed exactly for the names
        its LIST shows, and see only what it copied there).  The owner's
        marker message is never seen, copied or deleted, the owner's
        mailbox list is unchanged, and no file appears or disappears
        outside the intruder's account directory."""
        srv = self.srv
        marker = (b"From: a@example.org\r\nSubject: MARKER-owner-secret\r\n"
                  b"\r\nonly the owner may read this\r\n")
        c, _ = smtp_deliver(srv, U("owner"), marker)
        self.assertEqual(c, 250)
        own = connect(srv, "imap")
        imap_login(own, U("owner"))
        owner_before = self.list_names(own)
        own.close()
        acc_dirs = set(os.listdir(os.path.join(srv.data_dir, "accounts")))
        intr = connect(srv, "imap")
        imap_login(intr, U("intruder"))
        mine = (b"From: b@example.org\r\nSubject: intruder's own\r\n\r\n"
                b"mine\r\n")
        intr.send(b"a APPEND INBOX {%d+}\r\n" % len(mine) + mine + b"\r\n")
        u, t = imap_read_tagged(intr, "a")
        self.assertEqual(imap_status(t), "OK", t)
        u, t = imap_cmd(intr, "a", "CREATE Scratch")
        self.assertEqual(imap_status(t), "OK", t)
        new = set(os.listdir(os.path.join(srv.data_dir, "accounts"))) - \
            acc_dirs
        self.assertEqual(len(new), 1, new)
        intruder_dir = os.path.join(srv.data_dir, "accounts", new.pop())
        files_before = self.tree(intruder_dir)
        copies = {}

        def exists_count(untagged):
            return [int(x.split()[1]) for x in untagged
                    if x.endswith(b" EXISTS\r\n")]

        try:
            for name in self.HOSTILE_NAMES:
                with self.subTest(name=name):
                    lit, sep, rest = name.partition(b"}\r\n")
                    parsed = rest if sep else parse_imap(name)[0]
                    refuse = name in self.MUST_REFUSE
                    u, t = self.imap_send_cmd(intr, "c", b"CREATE ", name)
                    st = imap_status(t)
                    self.assertIn(st, ("NO", "BAD") if refuse else
                                  ("OK", "NO"), t)
                    exists = parsed in self.list_names(intr)
                    if st == "OK":
                        self.assertTrue(exists, parsed)
                    if refuse:
                        self.assertFalse(exists, parsed)
                    for verb in (b"SELECT ", b"EXAMINE "):
                        u, t = self.imap_send_cmd(intr, "s", verb, name)
                        self.assertEqual(imap_status(t) == "OK", exists, t)
                        if refuse:
                            self.assertIn(imap_status(t), ("NO", "BAD"), t)
                        if exists:
                            self.assertEqual(exists_count(u),
                                             [copies.get(parsed, 0)], u)
                            imap_cmd(intr, "x", "UNSELECT")
                    u, t = self.imap_send_cmd(intr, "t", b"STATUS ", name,
                                              b" (MESSAGES)")
                    self.assertEqual(imap_status(t) == "OK", exists, t)
                    if exists:
                        self.assertEqual(len(u), 1, u)
                        self.assertTrue(u[0].endswith(
                            b"(MESSAGES %d)\r\n" % copies.get(parsed, 0)),
                            u)
                    if name.startswith(b'"'):
                        mine_all = self.list_names(intr)
                        self.assertLessEqual(
                            self.list_names(intr, b'""', name), mine_all)
                        self.assertLessEqual(
                            self.list_names(intr, name, b'"*"'), mine_all)
                        self.assertLessEqual(
                            self.list_names(intr, name, b'"%"'), mine_all)
                    u, t = imap_cmd(intr, "s", "SELECT INBOX")
                    self.assertEqual(imap_status(t), "OK")
                    u, t = self.imap_send_cmd(intr, "p", b"COPY 1 ", name)
                    self.assertEqual(imap_status(t) == "OK", exists, t)
                    if exists:
                        copies[parsed] = copies.get(parsed, 0) + 1
                    imap_cmd(intr, "x", "UNSELECT")
                    u, t = self.imap_send_cmd(intr, "r", b"RENAME Scratch ",
                                              name)
                    if imap_status(t) == "OK":
                        self.assertFalse(refuse or exists, t)
                        u, t = self.imap_send_cmd(intr, "r", b"RENAME ",
                                                  name, b" Scratch")
                        self.assertEqual(imap_status(t), "OK", t)
            # Every mailbox the intruder has holds only its own message.
            for name in self.list_names(intr):
                q = b'"' + name.replace(b"\\", b"\\\\").replace(
                    b'"', b'\\"') + b'"'
                u, t = imap_cmd(intr, "e", b"EXAMINE " + q)
                self.assertEqual(imap_status(t), "OK", t)
                n = exists_count(u)[0]
                if n:
                    u, t = imap_cmd(intr, "f", f"FETCH 1:{n} BODY.PEEK[]")
                    self.assertEqual(imap_status(t), "OK")
                    for x in u:
                        self.assertNotIn(b"MARKER-owner", x)
                        self.assertIn(b"intruder's own", x)
            imap_cmd(intr, "x", "UNSELECT")
            for name in self.HOSTILE_NAMES:
                self.imap_send_cmd(intr, "d", b"DELETE ", name)
        finally:
            intr.close()
        own = connect(srv, "imap")
        try:
            imap_login(own, U("owner"))
            self.assertEqual(self.list_names(own), owner_before)
            u, t = imap_cmd(own, "s", "EXAMINE INBOX")
            self.assertIn(b"* 1 EXISTS\r\n", u)
            u, t = imap_cmd(own, "f", "FETCH 1 BODY.PEEK[]")
            val, _ = fetch_item(u[0], b"BODY[]")
            self.assertEqual(strip_received(val), marker)
        finally:
            own.close()
        self.assertEqual(self.tree(intruder_dir), files_before)

    # -- open relay ----------------------------------------------------------

    RELAY_TRICKS = [
        # (recipient, expected reply code and enhanced code)
        ("victim%remote.example@example.test", 554, "5.7.1"),
        ("owner%remote.example@example.test", 554, "5.7.1"),
        ("remote.example!victim@example.test", 554, "5.7.1"),
        ("@a.example,@b.example:victim@remote.example", 554, "5.7.1"),
        ("@example.test:victim@remote.example", 554, "5.7.1"),
        ('"victim@remote.example"@example.test', 554, "5.7.1"),
        ('"owner@remote.example"@example.test', 554, "5.7.1"),
        ("victim@remote.example.", 501, "5.1.3"),
        ("VICTIM@REMOTE.EXAMPLE", 554, "5.7.1"),
        ("victim@Remote.Example", 554, "5.7.1"),
        ("victim@example.test.remote.example", 554, "5.7.1"),
        ("victim@[127.0.0.1]", 554, "5.7.1"),
        ("victim@[192.0.2.1]", 554, "5.7.1"),
        ("victim@[IPv6:::1]", 554, "5.7.1"),
        ("victim@remote.example@example.test", 501, "5.1.3"),
        ("victim@remote.example%example.test", 501, "5.1.3"),
        ("victim%remote.example", 501, "5.1.3"),
        ("victim@remote.example\\@example.test", 501, "5.1.3"),
        ("victim@127.0.0.1", 554, "5.7.1"),
        ("postmaster@remote.example", 554, "5.7.1"),
    ]

    def test_open_relay_tricks_refused(self):
        """Relay tricks on port 25 (percent hack, bang paths, source routes,
        quoted local parts, trailing dots, case variants, IP literals), with
        a foreign and with a spoofed local sender: each RCPT is refused with
        a 5xx (554 5.7.1 relay denied, or 501 5.1.3 for what is not an
        address), DATA finds no recipient, nothing is queued and nothing is
        delivered."""
        srv = self.srv
        for sender in ("a@example.org", U("relay"), ""):
            rc = connect(srv, "smtp")
            try:
                smtp_hello(rc)
                rc.send(f"MAIL FROM:<{sender}>\r\n".encode())
                self.assertEqual(smtp_code(rc), 250)
                for rcpt, code, enh in self.RELAY_TRICKS:
                    with self.subTest(sender=sender, rcpt=rcpt):
                        rc.send(f"RCPT TO:<{rcpt}>\r\n".encode())
                        r = smtp_reply(rc)
                        self.assertEqual(len(r), 1)
                        self.assertRegex(r[0], SMTP_LINE)
                        self.assertEqual(r[0][:10].decode(),
                                         f"{code} {enh} ", r)
                rc.send(b"DATA\r\n")
                self.assertEqual(smtp_code(rc), 554)
                rc.send(b"RSET\r\n")
                self.assertEqual(smtp_code(rc), 250)
            finally:
                rc.close()
        self.assertEqual(queue_count(srv), 0)
        m = srv.imap()
        m.login(U("relay"), PW)
        self.assertEqual(m.select("INBOX", readonly=True)[1], [b"0"])
        m.logout()


# ==========================================================================
# TLS versions and cipher suites
# ==========================================================================

def openssl(args, input=b"", timeout=20):
    r = subprocess.run(["openssl"] + args, input=input, capture_output=True,
                       timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def client_supports(proto_flag, cipher):
    """True when this openssl client can offer cipher with proto_flag."""
    rc, out = openssl(["ciphers", "-s", proto_flag, cipher +
                       ":@SECLEVEL=0"])
    names = out.strip().split(":")
    if rc != 0 or names == [""]:
        return False
    return cipher == "ALL" or cipher in names


# Every way to reach TLS: (name, listener, s_client -starttls protocol).
TLS_ENTRIES = [
    ("465", "submissions", None), ("993", "imaps", None),
    ("995", "pop3s", None), ("25+STARTTLS", "smtp", "smtp"),
    ("587+STARTTLS", "submission", "smtp"),
    ("2525+STARTTLS", "submission2", "smtp"),
    ("143+STARTTLS", "imap", "imap"), ("110+STLS", "pop3", "pop3"),
]


class TLSTest(unittest.TestCase):
    """The server is given an RSA certificate (so RSA-authenticated suites
    could be chosen at all) and, for the name ecdsa.example.test (SNI), an
    ECDSA one."""

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="posthorn-it-certs-")
        os.chmod(cls.certdir, 0o755)
        d = cls.certdir
        for args in (["req", "-x509", "-newkey", "rsa:2048", "-nodes",
                      "-keyout", f"{d}/rsa.key", "-out", f"{d}/rsa.pem",
                      "-subj", f"/CN={HOST}", "-days", "2"],
                     ["req", "-x509", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", f"{d}/ec.key", "-out", f"{d}/ec.pem",
                      "-subj", "/CN=ecdsa.example.test", "-days", "2"]):
            rc, out = openssl(args, timeout=60)
            assert rc == 0, out
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)
        cls.srv = Server(extra_config=f"""[tls]
cert = {d}/rsa.pem
key = {d}/rsa.key
ecdsa.example.test = {d}/ec.pem, {d}/ec.key
""")
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        subprocess.run(["rm", "-rf", cls.certdir], timeout=30)

    def s_client(self, listener, starttls, *args):
        cmd = ["s_client", "-connect",
               f"127.0.0.1:{self.srv.port[listener]}"]
        if starttls:
            cmd += ["-starttls", starttls]
        return openssl(cmd + list(args))

    @staticmethod
    def negotiated(out):
        m = re.search(r"^New, (\S+), Cipher is (\S+)$", out, re.M)
        return (m.group(1), m.group(2)) if m else None

    def test_tls10_and_tls11_refused(self):
        """TLS 1.0 and 1.1 (offered with every cipher the client has) get a
        protocol_version alert on every TLS entry point; TLS 1.2 and 1.3
        work there, with an AEAD suite."""
        for flag in ("-tls1", "-tls1_1"):
            if not client_supports(flag, "ALL"):
                self.skipTest(f"this openssl cannot offer {flag}")
        for name, listener, starttls in TLS_ENTRIES:
            for flag in ("-tls1", "-tls1_1"):
                with self.subTest(entry=name, version=flag):
                    rc, out = self.s_client(listener, starttls, flag,
                                            "-cipher", "ALL:@SECLEVEL=0")
                    self.assertNotEqual(rc, 0, out)
                    self.assertIn("New, (NONE), Cipher is (NONE)", out)
                    self.assertIn("alert protocol version", out)
            with self.subTest(entry=name, version="-tls1_2"):
                rc, out = self.s_client(listener, starttls, "-tls1_2")
                self.assertEqual(rc, 0, out)
                v, c = self.negotiated(out)
                self.assertEqual(v, "TLSv1.2")
                self.assertRegex(c, r"^ECDHE-RSA-(AES\d+-GCM-SHA\d+|"
                                    r"CHACHA20-POLY1305)$")
            with self.subTest(entry=name, version="-tls1_3"):
                rc, out = self.s_client(listener, starttls, "-tls1_3")
                self.assertEqual(rc, 0, out)
                self.assertEqual(self.negotiated(out)[0], "TLSv1.3")

    WEAK_RSA = ["AES128-SHA", "AES256-SHA", "AES128-SHA256", "DES-CBC3-SHA",
                "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA",
                "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384",
                "RC4-SHA"]
    WEAK_ECDSA = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384"]

    def test_weak_tls12_ciphers_refused(self):
        """Offering only a CBC/3DES/RC4 suite with TLS 1.2 (one at a time,
        each one the client can really offer) fails with a handshake
        failure alert on every entry point, for the RSA and the ECDSA
        certificate; the AEAD suites ECDHE-RSA-AES128-GCM-SHA256,
        ECDHE-RSA-CHACHA20-POLY1305 and ECDHE-ECDSA-AES128-GCM-SHA256 work."""
        tried = 0
        for name, listener, starttls in TLS_ENTRIES:
            for cipher, sni in [(c, None) for c in self.WEAK_RSA] + \
                    [(c, "ecdsa.example.test") for c in self.WEAK_ECDSA]:
                if not client_supports("-tls1_2", cipher):
                    continue
                tried += 1
                with self.subTest(entry=name, cipher=cipher):
                    extra = ["-servername", sni] if sni else []
                    rc, out = self.s_client(listener, starttls, "-tls1_2",
                                            "-cipher",
                                            cipher + ":@SECLEVEL=0", *extra)
                    self.assertNotEqual(rc, 0, out)
                    self.assertIn("New, (NONE), Cipher is (NONE)", out)
                    self.assertIn("alert handshake failure", out)
            for cipher, sni in [("ECDHE-RSA-AES128-GCM-SHA256", None),
                                ("ECDHE-RSA-CHACHA20-POLY1305", None),
                                ("ECDHE-ECDSA-AES128-GCM-SHA256",
                                 "ecdsa.example.test")]:
                with self.subTest(entry=name, cipher=cipher):
                    extra = ["-servername", sni] if sni else []
                    rc, out = self.s_client(listener, starttls, "-tls1_2",
                                            "-cipher", cipher, *extra)
                    self.assertEqual(rc, 0, out)
                    self.assertEqual(self.negotiated(out),
                                     ("TLSv1.2", cipher))
        self.assertGreaterEqual(tried, 6 * len(TLS_ENTRIES))


if __name__ == "__main__":
    unittest.main()

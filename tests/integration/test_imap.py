"""
test_imap - IMAP4rev1 (RFC 3501) and its extensions (LITERAL+, SASL-IR,
UIDPLUS, MOVE, UNSELECT, NAMESPACE, CHILDREN, SPECIAL-USE, ID) against the
real server, with imaplib and with a raw socket where exact bytes matter.

Every expected value below is derived by hand from the messages defined in
this file and the RFC grammar (RFC 3501 section 7.4.2 for ENVELOPE and
BODYSTRUCTURE; the server prints type/subtype lowercase and defaults the
charset to us-ascii and the encoding to 7bit, as Dovecot does).  Where the
RFC allows several correct answers (quoted string vs literal, order of
flags, order of EXPUNGE responses), the test compares meaning, not form.
"""
import base64
import datetime
import imaplib
import os
import random
import re
import socket
import ssl
import tempfile
import time
import unittest

import harness
from harness import Server, tls_context


# ----------------------------------------------------------------------
# Helpers shared with test_imap_sync (imported from there).

def make_server(**kw):
    """
    Server(**kw), but with its temporary directory readable by the
    unprivileged user the server drops to when the tests run as root
    (tempfile.mkdtemp makes it 0700, and the server refuses a data_dir
    it cannot reach).  Harmless when the harness already takes care.
    """
    real = tempfile.mkdtemp

    def mkdtemp(*a, **k):
        d = real(*a, **k)
        os.chmod(d, 0o755)
        return d

    tempfile.mkdtemp = mkdtemp
    try:
        return Server(**kw)
    finally:
        tempfile.mkdtemp = real


def q(s):
    """An IMAP quoted string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LIT_EOL = re.compile(rb"\{(\d+)\}\r\n$")
_LIT = re.compile(rb"\{(\d+)\}\r\n")


def parse_values(data, pos=0, nested=False):
    """
    Parses IMAP response data into Python values: lists for
    parenthesized lists, bytes for strings (quoted or literal), str for
    atoms (a "[...]" section inside an atom is kept whole, spaces
    included), None for NIL.  Returns (values, position after).
    """
    out = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
            continue
        if c == b")":
            if not nested:
                raise ValueError(f"unbalanced ')' at {pos}: {data!r}")
            return out, pos + 1
        if c == b"(":
            lst, pos = parse_values(data, pos + 1, True)
            out.append(lst)
            continue
        if c == b'"':
            pos += 1
            s = bytearray()
            while True:
                if pos >= n:
                    raise ValueError(f"unterminated string: {data!r}")
                ch = data[pos:pos + 1]
                if ch == b'"':
                    pos += 1
                    break
                if ch == b"\\":
                    pos += 1
                    ch = data[pos:pos + 1]
                s += ch
                pos += 1
            out.append(bytes(s))
            continue
        if c == b"{":
            m = _LIT.match(data, pos)
            if m is None:
                raise ValueError(f"bad literal at {pos}: {data!r}")
            k = int(m.group(1))
            pos = m.end()
            out.append(data[pos:pos + k])
            pos += k
            continue
        start, depth = pos, 0
        while pos < n:
            ch = data[pos:pos + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in (b" ", b"(", b")"):
                break
            pos += 1
        atom = data[start:pos].decode("latin-1")
        out.append(None if atom.upper() == "NIL" else atom)
    if nested:
        raise ValueError(f"unbalanced '(': {data!r}")
    return out, pos


def parse(data):
    if isinstance(data, str):
        data = data.encode()
    return parse_values(data)[0]


def fetch_items(resp):
    """'* n FETCH (...)' -> (n, {ITEM-NAME-UPPERCASED: value})."""
    m = re.match(rb"\* (\d+) FETCH ", resp)
    if m is None:
        raise ValueError(f"not a FETCH response: {resp!r}")
    vals = parse(resp[m.end():])
    if len(vals) != 1 or not isinstance(vals[0], list):
        raise ValueError(f"bad FETCH response: {resp!r}")
    lst = vals[0]
    if len(lst) % 2:
        raise ValueError(f"odd FETCH item list: {resp!r}")
    d = {}
    for i in range(0, len(lst), 2):
        d[lst[i].upper()] = lst[i + 1]
    return int(m.group(1)), d


def fetches(untagged):
    """All FETCH responses: list of (seq, items)."""
    return [fetch_items(r) for r in untagged if re.match(rb"\* \d+ FETCH ", r)]


def fetch_map(untagged):
    """{seq: merged items} over all FETCH responses."""
    out = {}
    for seq, d in fetches(untagged):
        out.setdefault(seq, {}).update(d)
    return out


def flagset(v):
    return set(v)


def search_hits(untagged):
    res = [r for r in untagged if r.startswith(b"* SEARCH")]
    if len(res) != 1:
        raise AssertionError(f"expected one SEARCH response: {untagged!r}")
    return [int(x) for x in res[0].split()[2:]]


def expand_set(s):
    """'1:3,7' -> [1, 2, 3, 7] (ranges in either order)."""
    out = []
    for part in s.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            lo, hi = min(a, b), max(a, b)
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part))
    return out


def status_of(tagged):
    """b't1 OK ...' -> 'OK'."""
    parts = tagged.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 else ""


class ImapConn:
    """A raw IMAP connection: exact bytes in and out."""

    def __init__(self, srv, listener="imap", timeout=10):
        self.srv = srv
        self.raw = srv.raw(listener, timeout=timeout)
        if listener == "imaps":
            self.starttls()
        self.n = 0
        self.greeting = self.read_response()

    # -- wire -------------------------------------------------------------
    def starttls(self):
        self.raw.sock = tls_context().wrap_socket(self.raw.sock)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.raw.send(data)

    def _read_exact(self, k):
        while len(self.raw.buf) < k:
            chunk = self.raw.sock.recv(1 << 20)
            if not chunk:
                raise EOFError("connection closed inside a literal")
            self.raw.buf += chunk
        out, self.raw.buf = self.raw.buf[:k], self.raw.buf[k:]
        return out

    def read_response(self):
        """One response, literals included, without the final CRLF."""
        out = b""
        line = self.raw.readline()
        while True:
            if not line:
                raise EOFError(f"connection closed (read so far: {out!r})")
            out += line
            m = _LIT_EOL.search(line)
            if m is None:
                break
            out += self._read_exact(int(m.group(1)))
            line = self.raw.readline()
        return out[:-2] if out.endswith(b"\r\n") else out

    def next_tag(self):
        self.n += 1
        return f"t{self.n}"

    def read_tagged(self, tag):
        untagged = []
        t = tag.encode() + b" "
        while True:
            r = self.read_response()
            if r.startswith(t):
                return untagged, r
            untagged.append(r)

    def command(self, text, tag=None):
        """Sends 'tag text'; returns (untagged responses, tagged line)."""
        tag = tag or self.next_tag()
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.read_tagged(tag)

    def ok(self, text):
        u, t = self.command(text)
        if status_of(t) != "OK":
            raise AssertionError(f"{text!r} -> {t!r}")
        return u, t

    # -- conveniences --------------------------------------------------
    def login(self, user=None, password=None):
        return self.ok(f"LOGIN {q(user or self.srv.USER)} "
                       f"{q(password or self.srv.PASSWORD)}")

    def append(self, mailbox, msg, flags=None, date=None, plus=True):
        """APPEND with a LITERAL+ (or synchronizing) literal; (untagged,
        tagged)."""
        tag = self.next_tag()
        head = f"{tag} APPEND {q(mailbox)}"
        if flags is not None:
            head += f" ({flags})"
        if date is not None:
            head += f" {q(date)}"
        if plus:
            self.send(head.encode() + b" {%d+}\r\n" % len(msg) + msg +
                      b"\r\n")
        else:
            self.send(head.encode() + b" {%d}\r\n" % len(msg))
            cont = self.read_response()
            if not cont.startswith(b"+"):
                return [], cont
            self.send(msg + b"\r\n")
        return self.read_tagged(tag)

    def append_ok(self, mailbox, msg, flags=None, date=None, plus=True):
        """APPEND that must succeed; returns (uidvalidity, uid)."""
        u, t = self.append(mailbox, msg, flags, date, plus)
        m = re.search(rb"^t\d+ OK \[APPENDUID (\d+) (\d+)\]", t)
        if m is None:
            raise AssertionError(f"APPEND {mailbox}: {t!r}")
        return int(m.group(1)), int(m.group(2))

    def logout(self):
        try:
            self.command("LOGOUT")
        except (EOFError, OSError):
            pass
        self.close()

    def close(self):
        try:
            self.raw.close()
        except OSError:
            pass


def wait_untagged(conn, pred, timeout=5.0):
    """Polls with NOOP until an untagged response satisfies pred; returns
    all untagged responses seen meanwhile."""
    seen = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        u, t = conn.command("NOOP")
        assert status_of(t) == "OK", t
        seen.extend(u)
        if any(pred(r) for r in u):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"timed out; untagged responses seen: {seen!r}")


def list_entries(untagged, kind=b"LIST"):
    """LIST/LSUB responses -> {name: set of lowercased attributes}."""
    out = {}
    prefix = b"* " + kind + b" "
    for r in untagged:
        if not r.startswith(prefix):
            continue
        attrs, delim, name = parse(r[len(prefix):])
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        out[name] = {a.lower() for a in attrs}
    return out


def make_msg(subject, body=b"Hello.\r\n", frm="sender@example.org",
             to="demo@example.test", extra=b""):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@example.org>\r\n"
            .encode() + extra + b"\r\n" + body)


def parse_internaldate(s):
    if isinstance(s, bytes):
        s = s.decode()
    return datetime.datetime.strptime(s.strip(), "%d-%b-%Y %H:%M:%S %z")


# ----------------------------------------------------------------------
# The messages whose structure is checked.  Sizes and line counts in the
# expected strings were counted by hand (and are re-checked in
# test_fixture_sizes so a typo here shows as such).

MSG_PLAIN = (b"From: a@example.org\r\n"
             b"To: b@example.test\r\n"
             b"Subject: plain\r\n"
             b"Date: Wed, 2 Jun 2021 08:00:00 +0000\r\n"
             b"Message-ID: <plain-1@example.org>\r\n"
             b"\r\n"
             b"line one\r\n"
             b"line two\r\n")
BS_PLAIN = ('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2 '
            'NIL NIL NIL NIL)')
BODY_PLAIN = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 20 2)'

MSG_ALT = (b"From: a@example.org\r\n"
           b"To: b@example.test\r\n"
           b"Subject: alt\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n"
           b"\r\n"
           b"This is a multi-part message in MIME format.\r\n"
           b"\r\n"
           b"--alt-b\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n"
           b"\r\n"
           b"Plain body\r\n"
           b"\r\n"
           b"--alt-b\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n"
           b"\r\n"
           b"<p>HTML body</p>\r\n"
           b"\r\n"
           b"--alt-b--\r\n")
BS_ALT = ('(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 1 '
          'NIL NIL NIL NIL)'
          '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 18 1 '
          'NIL NIL NIL NIL) '
          '"alternative" ("boundary" "alt-b") NIL NIL NIL)')
BODY_ALT = ('(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 12 1)'
            '("text" "html" ("charset" "utf-8") NIL NIL "7bit" 18 1) '
            '"alternative")')

# base64 of bytes 0..99: 136 characters, as a 76 and a 60 character line.
ATT_B64 = b"".join(
    line + b"\r\n" for line in
    base64.encodebytes(bytes(range(100))).splitlines())
MSG_MIXED = (b"From: a@example.org\r\n"
             b"To: b@example.test\r\n"
             b"Subject: mixed\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: Multipart/Mixed; boundary=\"mix-b\"\r\n"
             b"\r\n"
             b"--mix-b\r\n"
             b"Content-Type: text/plain; charset=us-ascii\r\n"
             b"\r\n"
             b"See attachment.\r\n"
             b"\r\n"
             b"--mix-b\r\n"
             b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
             b"\r\n" +
             ATT_B64 +
             b"\r\n"
             b"--mix-b--\r\n")
BS_MIXED = ('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 17 1 '
            'NIL NIL NIL NIL)'
            '("application" "octet-stream" ("name" "data.bin") NIL NIL '
            '"base64" 140 NIL ("attachment" ("filename" "data.bin")) '
            'NIL NIL) '
            '"mixed" ("boundary" "mix-b") NIL NIL NIL)')

PNG_B64 = base64.b64encode(bytes(range(48))) + b"\r\n"     # 64 + 2
NESTED_P2_MIME = (b"Content-Type: image/png\r\n"
                  b"Content-Transfer-Encoding: base64\r\n"
                  b"Content-ID: <img1@example.org>\r\n"
                  b"Content-Disposition: inline\r\n"
                  b"\r\n")
INNER_HDR = (b"From: Eve <eve@example.org>\r\n"
             b"To: bob@example.test\r\n"
             b"Subject: inner\r\n"
             b"Date: Tue, 1 Jun 2021 12:00:00 +0000\r\n"
             b"Message-ID: <inner-1@example.org>\r\n"
             b"\r\n")
INNER_TEXT = b"Inner body\r\n"
INNER = INNER_HDR + INNER_TEXT                      # 29+22+16+38+35+2+12
NESTED_HDR = (b"From: Frank <frank@example.org>\r\n"
              b"To: b@example.test\r\n"
              b"Subject: fwd\r\n"
              b"Date: Wed, 2 Jun 2021 09:00:00 +0000\r\n"
              b"Message-ID: <nested-1@example.org>\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=\"nest-b\"\r\n"
              b"\r\n")
NESTED_TEXT = (b"--nest-b\r\n"
               b"Content-Type: text/plain\r\n"
               b"\r\n"
               b"Forwarded message below.\r\n"
               b"\r\n"
               b"--nest-b\r\n" +
               NESTED_P2_MIME +
               PNG_B64 +
               b"\r\n"
               b"--nest-b\r\n"
               b"Content-Type: message/rfc822\r\n"
               b"Content-Description: forwarded\r\n"
               b"\r\n" +
               INNER +
               b"\r\n"
               b"--nest-b--\r\n")
MSG_NESTED = NESTED_HDR + NESTED_TEXT
ENV_INNER = ('("Tue, 1 Jun 2021 12:00:00 +0000" "inner" '
             '(("Eve" NIL "eve" "example.org")) '
             '(("Eve" NIL "eve" "example.org")) '
             '(("Eve" NIL "eve" "example.org")) '
             '((NIL NIL "bob" "example.test")) NIL NIL NIL '
             '"<inner-1@example.org>")')
BS_NESTED = ('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 26 1 '
             'NIL NIL NIL NIL)'
             '("image" "png" NIL "<img1@example.org>" NIL "base64" 66 '
             'NIL ("inline" NIL) NIL NIL)'
             '("message" "rfc822" NIL NIL "forwarded" "7bit" 154 ' +
             ENV_INNER + ' '
             '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 '
             'NIL NIL NIL NIL) 7 NIL NIL NIL NIL) '
             '"mixed" ("boundary" "nest-b") NIL NIL NIL)')
ENV_NESTED = ('("Wed, 2 Jun 2021 09:00:00 +0000" "fwd" '
              '(("Frank" NIL "frank" "example.org")) '
              '(("Frank" NIL "frank" "example.org")) '
              '(("Frank" NIL "frank" "example.org")) '
              '((NIL NIL "b" "example.test")) NIL NIL NIL '
              '"<nested-1@example.org>")')

MSG_ENV = (b"From: \"Alice Example\" <alice@example.org>\r\n"
           b"To: Bob <bob@example.test>, carol@example.test\r\n"
           b"Cc: Dave <dave@example.net>\r\n"
           b"Subject: Envelope test\r\n"
           b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
           b"Message-ID: <env-1@example.org>\r\n"
           b"In-Reply-To: <parent-1@example.org>\r\n"
           b"\r\n"
           b"Hello Bob.\r\n")
ENV_ENV = ('("Mon, 7 Feb 1994 21:52:25 -0800" "Envelope test" '
           '(("Alice Example" NIL "alice" "example.org")) '
           '(("Alice Example" NIL "alice" "example.org")) '
           '(("Alice Example" NIL "alice" "example.org")) '
           '(("Bob" NIL "bob" "example.test")(NIL NIL "carol" "example.test")) '
           '(("Dave" NIL "dave" "example.net")) '
           'NIL "<parent-1@example.org>" "<env-1@example.org>")')

# No Date, Subject, To: NIL; Sender and Reply-To given explicitly.
MSG_ENV2 = (b"From: x@example.org\r\n"
            b"Sender: owner@example.net\r\n"
            b"Reply-To: list@example.net\r\n"
            b"\r\n"
            b"body\r\n")
ENV_ENV2 = ('(NIL NIL ((NIL NIL "x" "example.org")) '
            '((NIL NIL "owner" "example.net")) '
            '((NIL NIL "list" "example.net")) NIL NIL NIL NIL NIL)')

FIXTURE_DATE = "01-Feb-2022 09:00:00 +0000"
FETCH_MSGS = [MSG_PLAIN, MSG_ALT, MSG_MIXED, MSG_NESTED, MSG_ENV, MSG_ENV2]

# SEARCH fixture: (message, flags, internal date)
SEARCH_MSGS = [
    (b"From: Alice <alice@example.org>\r\n"
     b"To: bob@example.test\r\n"
     b"Subject: Quarterly report\r\n"
     b"Date: Mon, 01 Mar 2021 10:00:00 +0000\r\n"
     b"X-Priority: 1\r\n"
     b"\r\n"
     b"numbers go up\r\n",
     "\\Seen", "02-Mar-2021 12:00:00 +0000"),
    (b"From: carol@example.net\r\n"
     b"To: dave@example.test\r\n"
     b"Subject: Lunch?\r\n"
     b"Date: Tue, 15 Jun 2021 10:00:00 +0000\r\n"
     b"\r\n"
     b"pizza or sushi\r\n" + b"filler line of text, nothing else\r\n" * 80,
     "\\Flagged $Important", "16-Jun-2021 12:00:00 +0000"),
    (b"From: Alice <alice@example.org>\r\n"
     b"To: eve@example.test\r\n"
     b"Subject: Re: Quarterly report\r\n"
     b"Date: Mon, 20 Dec 2021 10:00:00 +0000\r\n"
     b"\r\n"
     b"numbers go down\r\n",
     "", "21-Dec-2021 12:00:00 +0000"),
    (b"From: bob@example.test\r\n"
     b"To: team@example.test\r\n"
     b"Subject: misc\r\n"
     b"Date: Mon, 10 Jan 2022 10:00:00 +0000\r\n"
     b"\r\n"
     b"sushi tonight?\r\n",
     "\\Seen \\Answered", "11-Jan-2022 12:00:00 +0000"),
    (b"From: zed@example.com\r\n"
     b"To: yan@example.test\r\n"
     b"Subject: late\r\n"
     b"Date: Tue, 21 Dec 2021 23:30:00 -0800\r\n"
     b"\r\n"
     b"ok\r\n",
     "", "22-Dec-2021 07:30:00 +0000"),
]

FRESH_USER = "fresh@example.test"
RENAME_USER = "inboxren@example.test"
FTS_USER = "fts@example.test"
FTS_BATCH_USER = "ftsbatch@example.test"
OTHER_PASSWORD = "other-password-2"


SRV = None


def setUpModule():
    # One server for the module; tests use their own mailboxes (or their
    # own account) so they don't interfere.
    global SRV
    SRV = make_server(users={FRESH_USER: OTHER_PASSWORD,
                             RENAME_USER: OTHER_PASSWORD,
                             FTS_USER: OTHER_PASSWORD,
                             FTS_BATCH_USER: OTHER_PASSWORD})
    try:
        SRV.start()
    except Exception:
        SRV.cleanup()
        raise


def tearDownModule():
    if SRV is not None:
        SRV.cleanup()


def show_log_on_failure(test, result, srv, run):
    n = len(result.failures) + len(result.errors) if result else 0
    r = run(result)
    if result is not None and srv is not None and \
            len(result.failures) + len(result.errors) > n:
        print(f"\n--- server log (tail) for {test.id()} ---\n" +
              srv.read_log()[-4000:])
    return r


class ImapBase(unittest.TestCase):

    @property
    def srv(self):
        return SRV

    def run(self, result=None):
        return show_log_on_failure(self, result, SRV, super().run)

    def conn(self, login=True, listener="imap"):
        c = ImapConn(self.srv, listener)
        self.addCleanup(c.close)
        if login:
            c.login()
        return c

    def mailbox(self, name, msgs=(), claim=True):
        """Creates a mailbox with messages (msg or (msg, flags, date));
        returns their uids.  With claim, a session has selected the
        mailbox afterwards, so no later session sees \\Recent."""
        c = self.conn()
        c.ok(f"CREATE {q(name)}")
        uids = []
        for m in msgs:
            if isinstance(m, tuple):
                msg, flags, date = m
            else:
                msg, flags, date = m, None, None
            uids.append(c.append_ok(name, msg, flags or None, date)[1])
        if claim:
            c.ok(f"SELECT {q(name)}")
        c.logout()
        return uids


# ----------------------------------------------------------------------

class TestGreetingAndLogin(ImapBase):

    def caps(self, line):
        m = re.search(rb"\[CAPABILITY ([^\]]*)\]", line)
        self.assertIsNotNone(m, line)
        return set(m.group(1).decode().upper().split())

    def test_greeting_capabilities(self):
        c = self.conn(login=False)
        self.assertTrue(c.greeting.startswith(b"* OK [CAPABILITY "),
                        c.greeting)
        caps = self.caps(c.greeting)
        for cap in ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "IDLE",
                    "LITERAL+", "SASL-IR", "ID"):
            self.assertIn(cap, caps)
        # Plaintext is allowed on loopback here.
        self.assertNotIn("LOGINDISABLED", caps)

    def test_capability_command_before_login(self):
        c = self.conn(login=False)
        u, t = c.command("CAPABILITY")
        self.assertEqual(status_of(t), "OK")
        caps = [r for r in u if r.startswith(b"* CAPABILITY ")]
        self.assertEqual(len(caps), 1, u)
        names = set(caps[0].decode().upper().split()[2:])
        for cap in ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "IDLE",
                    "LITERAL+", "SASL-IR", "ID"):
            self.assertIn(cap, names)

    def test_login_ok_and_wrong_password(self):
        c = self.conn(login=False)
        u, t = c.command(f"LOGIN {q(self.srv.USER)} {q('wrong-password')}")
        self.assertTrue(re.match(rb"t\d+ NO \[AUTHENTICATIONFAILED\]", t), t)
        u, t = c.command(f"LOGIN {q(self.srv.USER)} "
                         f"{q(self.srv.PASSWORD)}")
        self.assertEqual(status_of(t), "OK", t)
        # Authenticated state now: SELECT works.
        c.ok("SELECT INBOX")

    def test_login_unknown_user(self):
        c = self.conn(login=False)
        u, t = c.command(f"LOGIN nobody@example.test {q('x')}")
        self.assertTrue(re.match(rb"t\d+ NO \[AUTHENTICATIONFAILED\]", t), t)

    def plain(self, user, pw):
        return base64.b64encode(b"\0" + user.encode() + b"\0" +
                                pw.encode()).decode()

    def test_authenticate_plain_sasl_ir(self):
        c = self.conn(login=False)
        u, t = c.command("AUTHENTICATE PLAIN " +
                         self.plain(self.srv.USER, self.srv.PASSWORD))
        self.assertEqual(status_of(t), "OK", t)
        c.ok("SELECT INBOX")

    def test_authenticate_plain_sasl_ir_wrong_password(self):
        c = self.conn(login=False)
        u, t = c.command("AUTHENTICATE PLAIN " +
                         self.plain(self.srv.USER, "nope"))
        self.assertTrue(re.match(rb"t\d+ NO \[AUTHENTICATIONFAILED\]", t), t)

    def test_authenticate_plain_continuation(self):
        c = self.conn(login=False)
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        cont = c.read_response()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send(self.plain(self.srv.USER, self.srv.PASSWORD) + "\r\n")
        u, t = c.read_tagged("a1")
        self.assertEqual(status_of(t), "OK", t)
        c.ok("SELECT INBOX")

    def test_authenticate_cancel(self):
        c = self.conn(login=False)
        c.send("a1 AUTHENTICATE PLAIN\r\n")
        cont = c.read_response()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send("*\r\n")
        u, t = c.read_tagged("a1")
        self.assertEqual(status_of(t), "BAD", t)
        # Still not authenticated, and the session goes on.
        u, t = c.command("SELECT INBOX")
        self.assertEqual(status_of(t), "BAD", t)
        c.login()
        c.ok("SELECT INBOX")

    def test_imaps(self):
        c = self.conn(login=False, listener="imaps")
        self.assertTrue(c.greeting.startswith(b"* OK"), c.greeting)
        u, t = c.command("CAPABILITY")
        names = set(u[0].decode().upper().split()[2:])
        self.assertIn("AUTH=PLAIN", names)
        self.assertNotIn("STARTTLS", names)
        self.assertNotIn("LOGINDISABLED", names)
        c.login()
        c.ok("SELECT INBOX")

    def test_imaps_with_imaplib(self):
        m = self.srv.imaps()
        try:
            typ, _ = m.login(self.srv.USER, self.srv.PASSWORD)
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
        finally:
            m.logout()

    def test_logout(self):
        c = self.conn()
        c.send("z9 LOGOUT\r\n")
        bye = c.read_response()
        self.assertTrue(bye.startswith(b"* BYE"), bye)
        t = c.read_response()
        self.assertTrue(t.startswith(b"z9 OK"), t)
        self.assertTrue(c.raw.closed(timeout=5))

    def test_login_with_literals(self):
        c = self.conn(login=False)
        user, pw = self.srv.USER.encode(), self.srv.PASSWORD.encode()
        c.send(b"l1 LOGIN {%d}\r\n" % len(user))
        cont = c.read_response()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send(user + b" {%d}\r\n" % len(pw))
        cont = c.read_response()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send(pw + b"\r\n")
        u, t = c.read_tagged("l1")
        self.assertEqual(status_of(t), "OK", t)
        c.ok("SELECT INBOX")

    def test_passwords_not_logged(self):
        before = self.srv.read_log().count(" auth failed ")
        c = self.conn(login=False)
        secret = "wrong-Secret-4711"
        u, t = c.command(f"LOGIN {q(self.srv.USER)} {q(secret)}")
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command("AUTHENTICATE PLAIN " + base64.b64encode(
            b"\0" + self.srv.USER.encode() + b"\0" +
            secret.encode()).decode())
        self.assertEqual(status_of(t), "NO", t)
        c.login()
        c.logout()
        # Both failures are logged (with the user), the secret is not.
        log = self.srv.wait_for(
            lambda: (lambda l: l if l.count(" auth failed ") >= before + 2
                     else None)(self.srv.read_log()),
            what="two 'auth failed' log lines")
        self.assertIn(f"auth failed user={self.srv.USER}", log)
        self.assertNotIn(secret, log)
        self.assertNotIn(self.srv.PASSWORD, log)

    def test_pipelined_commands(self):
        c = self.conn()
        c.send(b"p1 NOOP\r\np2 CAPABILITY\r\np3 SELECT INBOX\r\n"
               b"p4 LOGOUT\r\n")
        tagged = []
        while True:
            try:
                r = c.read_response()
            except EOFError:
                break
            if re.match(rb"p\d ", r):
                tagged.append(r[:5])
        self.assertEqual(tagged, [b"p1 OK", b"p2 OK", b"p3 OK", b"p4 OK"])

    def test_id_and_namespace(self):
        c = self.conn(login=False)
        # ID is allowed before login (RFC 2971).
        u, t = c.command('ID ("name" "test-suite" "version" "1")')
        self.assertEqual(status_of(t), "OK", t)
        ids = [r for r in u if r.startswith(b"* ID ")]
        self.assertEqual(len(ids), 1, u)
        val = parse(ids[0][5:])
        self.assertEqual(len(val), 1)
        if val[0] is not None:
            self.assertIsInstance(val[0], list)
            self.assertEqual(len(val[0]) % 2, 0)
        u, t = c.command("ID NIL")
        self.assertEqual(status_of(t), "OK", t)
        c.login()
        u, t = c.command("NAMESPACE")
        self.assertEqual(status_of(t), "OK", t)
        self.assertEqual(u, [b'* NAMESPACE (("" "/")) NIL NIL'])


class TestPreauthLimit(ImapBase):
    """Before login a command may be 64 KiB (Dovecot's
    imap_max_line_length): imaptest's id sends a 31.8 KB ID."""

    def test_big_id_before_login(self):
        c = self.conn(login=False)
        val = "1234567890" * 3170
        u, t = c.command(f'ID ("name" "{val}")')
        self.assertEqual(status_of(t), "OK", t[:200])
        self.assertEqual(len([r for r in u if r.startswith(b"* ID ")]), 1)
        # Just under the limit (with the tag and CRLF) is still read.
        line = b"t9 NOOP " + b"a" * (64 * 1024 - 10) + b"\r\n"
        self.assertEqual(len(line), 64 * 1024)
        c.send(line)
        r = c.read_response()
        self.assertTrue(r.startswith(b"t9 BAD"), r[:100])
        self.assertNotIn(b"TOOBIG", r)
        # Past it: TOOBIG, and the session goes on.
        c.send(b"x2 NOOP " + b"a" * (64 * 1024) + b"\r\n")
        r = c.read_response()
        self.assertTrue(re.match(rb"(x2|\*) BAD \[TOOBIG\]", r), r[:200])
        u, t = c.command("NOOP")
        self.assertEqual(status_of(t), "OK", t)
        c.login()


class TestStartTLSInjection(ImapBase):

    def test_starttls_drops_pipelined_command(self):
        c = self.conn(login=False)
        c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
        r = c.read_response()
        self.assertTrue(r.startswith(b"a OK"), r)
        # Nothing may follow in plaintext.
        self.assertEqual(c.raw.buf, b"")
        c.starttls()
        u, t = c.command("CAPABILITY", tag="c")
        self.assertEqual(status_of(t), "OK", t)
        self.assertFalse([x for x in u if x.startswith(b"b ")], u)
        caps = [x for x in u if x.startswith(b"* CAPABILITY")]
        self.assertEqual(len(caps), 1, u)
        self.assertNotIn("STARTTLS", caps[0].decode().upper().split())
        c.login()
        c.ok("SELECT INBOX")


class TestPrivacyRequired(unittest.TestCase):
    """plaintext_on_loopback = no: LOGINDISABLED until STARTTLS."""

    @classmethod
    def setUpClass(cls):
        cls.srv = make_server(plaintext_on_loopback=False)
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_logindisabled_then_starttls(self):
        c = ImapConn(self.srv)
        self.addCleanup(c.close)
        u, t = c.command("CAPABILITY")
        names = set(u[0].decode().upper().split()[2:])
        self.assertIn("LOGINDISABLED", names)
        self.assertIn("STARTTLS", names)
        u, t = c.command(f"LOGIN {q(self.srv.USER)} {q(self.srv.PASSWORD)}")
        self.assertTrue(re.match(rb"t\d+ NO \[PRIVACYREQUIRED\]", t), t)
        u, t = c.command("AUTHENTICATE PLAIN " + base64.b64encode(
            b"\0" + self.srv.USER.encode() + b"\0" +
            self.srv.PASSWORD.encode()).decode())
        self.assertNotEqual(status_of(t), "OK", t)
        # Still not logged in.
        u, t = c.command("SELECT INBOX")
        self.assertEqual(status_of(t), "BAD", t)

    def test_imaplib_starttls_then_login(self):
        m = self.srv.imap()
        try:
            self.assertIn("LOGINDISABLED", m.capabilities)
            self.assertIn("STARTTLS", m.capabilities)
            typ, _ = m.starttls(ssl_context=tls_context())
            self.assertEqual(typ, "OK")
            self.assertNotIn("STARTTLS", m.capabilities)
            self.assertNotIn("LOGINDISABLED", m.capabilities)
            self.assertIn("AUTH=PLAIN", m.capabilities)
            typ, _ = m.login(self.srv.USER, self.srv.PASSWORD)
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
        finally:
            m.logout()


# ----------------------------------------------------------------------

class TestMailboxes(ImapBase):

    DEFAULTS = {
        "INBOX": {"\\hasnochildren"},
        "Drafts": {"\\hasnochildren", "\\drafts"},
        "Sent": {"\\hasnochildren", "\\sent"},
        "Trash": {"\\hasnochildren", "\\trash"},
        "Junk": {"\\hasnochildren", "\\junk"},
        "Archive": {"\\hasnochildren", "\\archive"},
    }

    def test_list_new_account(self):
        c = self.conn(login=False)
        c.login(FRESH_USER, OTHER_PASSWORD)
        u, t = c.ok('LIST "" "*"')
        self.assertEqual(list_entries(u), self.DEFAULTS)
        # Every LIST line uses "/" as the delimiter.
        for r in u:
            self.assertEqual(parse(r[7:])[1], b"/", r)
        u, t = c.ok('LIST "" "%"')
        self.assertEqual(list_entries(u), self.DEFAULTS)
        # INBOX matches case-insensitively.
        u, t = c.ok('LIST "" "inbox"')
        self.assertEqual(list_entries(u), {"INBOX": {"\\hasnochildren"}})

    def test_list_delimiter(self):
        c = self.conn()
        u, t = c.ok('LIST "" ""')
        self.assertEqual(u, [b'* LIST (\\Noselect) "/" ""'])

    def test_list_hierarchy_and_percent(self):
        c = self.conn()
        c.ok('CREATE "h1/h2/h3"')
        u, _ = c.ok('LIST "" "h1/%"')
        self.assertEqual(list_entries(u), {"h1/h2": {"\\haschildren"}})
        u, _ = c.ok('LIST "" "h1/*"')
        self.assertEqual(list_entries(u), {"h1/h2": {"\\haschildren"},
                                           "h1/h2/h3": {"\\hasnochildren"}})
        u, _ = c.ok('LIST "" "h1*"')
        self.assertEqual(set(list_entries(u)), {"h1", "h1/h2", "h1/h2/h3"})
        u, _ = c.ok('LIST "" "%"')
        top = list_entries(u)
        self.assertEqual(top.get("h1"), {"\\haschildren"})
        self.assertNotIn("h1/h2", top)
        # The reference is a prefix of the pattern.
        u, _ = c.ok('LIST "h1/" "%"')
        self.assertEqual(list_entries(u), {"h1/h2": {"\\haschildren"}})
        u, _ = c.ok('LIST "" "h1/%/h3"')
        self.assertEqual(list_entries(u), {"h1/h2/h3": {"\\hasnochildren"}})
        # Names other than INBOX are case-sensitive.
        u, _ = c.ok('LIST "" "H1/*"')
        self.assertEqual(list_entries(u), {})

    def test_create_makes_parents(self):
        c = self.conn()
        c.ok('CREATE "cr1/b/c"')
        u, _ = c.ok('LIST "" "cr1*"')
        self.assertEqual(list_entries(u), {
            "cr1": {"\\haschildren"}, "cr1/b": {"\\haschildren"},
            "cr1/b/c": {"\\hasnochildren"}})
        # A trailing delimiter only declares the intent to have children.
        c.ok('CREATE "cr2/"')
        u, _ = c.ok('LIST "" "cr2*"')
        self.assertEqual(set(list_entries(u)), {"cr2"})

    def test_create_existing(self):
        c = self.conn()
        c.ok('CREATE "dup1"')
        u, t = c.command('CREATE "dup1"')
        self.assertTrue(re.match(rb"t\d+ NO \[ALREADYEXISTS\]", t), t)
        u, t = c.command('CREATE "INBOX"')
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command('CREATE "inbox"')
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command('CREATE "Drafts"')
        self.assertTrue(re.match(rb"t\d+ NO \[ALREADYEXISTS\]", t), t)

    def test_delete(self):
        c = self.conn()
        c.ok('CREATE "dl1/c"')
        u, t = c.command('DELETE "dl1"')
        self.assertEqual(status_of(t), "NO", t)
        u, _ = c.ok('LIST "" "dl1*"')
        self.assertEqual(set(list_entries(u)), {"dl1", "dl1/c"})
        c.ok('DELETE "dl1/c"')
        c.ok('DELETE "dl1"')
        u, _ = c.ok('LIST "" "dl1*"')
        self.assertEqual(list_entries(u), {})
        u, t = c.command('DELETE "dl1"')
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command('DELETE "INBOX"')
        self.assertEqual(status_of(t), "NO", t)

    def test_rename_moves_children(self):
        self.mailbox("rn1/c1", [make_msg("renamed child")])
        c = self.conn()
        c.ok('RENAME "rn1" "rn2"')
        u, _ = c.ok('LIST "" "rn*"')
        self.assertEqual(list_entries(u), {"rn2": {"\\haschildren"},
                                           "rn2/c1": {"\\hasnochildren"}})
        u, _ = c.ok('STATUS "rn2/c1" (MESSAGES)')
        self.assertEqual(u, [b'* STATUS "rn2/c1" (MESSAGES 1)'])
        u, t = c.command('STATUS "rn1/c1" (MESSAGES)')
        self.assertEqual(status_of(t), "NO", t)
        # Onto an existing name, or from a missing one: NO.
        u, t = c.command('RENAME "rn2" "Drafts"')
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command('RENAME "rn-missing" "rn3"')
        self.assertEqual(status_of(t), "NO", t)

    def test_rename_inbox(self):
        c = self.conn(login=False)
        c.login(RENAME_USER, OTHER_PASSWORD)
        m1, m2 = make_msg("inbox one"), make_msg("inbox two")
        c.append_ok("INBOX", m1)
        c.append_ok("INBOX", m2)
        c.ok('RENAME "INBOX" "Old-Inbox"')
        u, _ = c.ok('STATUS "INBOX" (MESSAGES)')
        self.assertEqual(parse(u[0][9:])[1], ["MESSAGES", "0"])
        u, _ = c.ok('STATUS "Old-Inbox" (MESSAGES)')
        self.assertEqual(u, [b'* STATUS "Old-Inbox" (MESSAGES 2)'])
        u, _ = c.ok('LIST "" "*"')
        names = set(list_entries(u))
        self.assertIn("INBOX", names)
        self.assertIn("Old-Inbox", names)
        c.ok('EXAMINE "Old-Inbox"')
        u, _ = c.ok("FETCH 1:2 (BODY.PEEK[])")
        got = {s: d["BODY[]"] for s, d in fetches(u)}
        self.assertEqual(got, {1: m1, 2: m2})
        u, _ = c.ok("SELECT INBOX")
        self.assertIn(b"* 0 EXISTS", u)

    def test_subscribe(self):
        c = self.conn()
        c.ok('CREATE "subtest"')
        u, _ = c.ok('LSUB "" "*"')
        before = list_entries(u, b"LSUB")
        self.assertNotIn("subtest", before)
        c.ok('SUBSCRIBE "subtest"')
        u, _ = c.ok('LSUB "" "*"')
        after = list_entries(u, b"LSUB")
        self.assertEqual(set(after), set(before) | {"subtest"})
        u, _ = c.ok('LSUB "" "subt%"')
        self.assertEqual(set(list_entries(u, b"LSUB")), {"subtest"})
        c.ok('UNSUBSCRIBE "subtest"')
        u, _ = c.ok('LSUB "" "*"')
        self.assertEqual(set(list_entries(u, b"LSUB")), set(before))

    def test_status_exact(self):
        c = self.conn()
        c.ok('CREATE "stat1"')
        uv, u1 = c.append_ok("stat1", make_msg("s1"), "\\Seen")
        _, u2 = c.append_ok("stat1", make_msg("s2"))
        _, u3 = c.append_ok("stat1", make_msg("s3"))
        self.assertTrue(u1 < u2 < u3)
        u, _ = c.ok('STATUS "stat1" (MESSAGES RECENT UIDNEXT UIDVALIDITY '
                    'UNSEEN)')
        self.assertEqual(len(u), 1, u)
        name, items = parse(u[0][9:])
        self.assertEqual(name, b"stat1")
        self.assertEqual(items, ["MESSAGES", "3", "RECENT", "3", "UIDNEXT",
                                 str(u3 + 1), "UIDVALIDITY", str(uv),
                                 "UNSEEN", "2"])
        # Once a session has selected it, the messages are no longer recent
        # for anyone else (RFC 3501 2.3.2).
        d = self.conn()
        d.ok('SELECT "stat1"')
        u, _ = c.ok('STATUS "stat1" (RECENT MESSAGES)')
        self.assertEqual(parse(u[0][9:])[1], ["RECENT", "0", "MESSAGES", "3"])
        u, t = c.command('STATUS "nosuch-mbox" (MESSAGES)')
        self.assertEqual(status_of(t), "NO", t)

    def test_mutf7_names(self):
        c = self.conn()
        names = ["R&AOQ-ksm&APY-rg&AOU-s",       # Räksmörgås
                 "&ZeVnLIqe-",                   # 日本語
                 "Tom &- Jerry",                 # a literal "&"
                 "Caf&AOk-/Men&APw-"]            # Café/Menü
        for n in names:
            c.ok(f"CREATE {q(n)}")
        u, _ = c.ok('LIST "" "*"')
        listed = set(list_entries(u))
        for n in names:
            self.assertIn(n, listed)
        self.assertIn("Caf&AOk-", listed)
        uv, uid = c.append_ok(names[0], make_msg("utf7"))
        u, _ = c.ok(f"STATUS {q(names[0])} (MESSAGES)")
        self.assertEqual(parse(u[0][9:]), [names[0].encode(),
                                           ["MESSAGES", "1"]])
        c.ok(f"SELECT {q(names[1])}")
        u, _ = c.ok(f'LIST "" {q("R&AOQ-*")}')
        self.assertEqual(set(list_entries(u)), {names[0]})

    def test_quoted_names(self):
        c = self.conn()
        names = ['say "hi"', "back\\slash", "with space"]
        for n in names:
            c.ok(f"CREATE {q(n)}")
        u, _ = c.ok('LIST "" "*"')
        listed = set(list_entries(u))
        for n in names:
            self.assertIn(n, listed)
            c.ok(f"SELECT {q(n)}")

    def test_bad_names_refused(self):
        c = self.conn()
        u, _ = c.ok('LIST "" "*"')
        before = list_entries(u)
        for name in ("..", "bn1/../x", "bn1/./x", "bn2//b", "/bn3"):
            u, t = c.command(f"CREATE {q(name)}")
            self.assertEqual(status_of(t), "NO", (name, t))
        # Control characters: a quoted string may carry them (TEXT-CHAR),
        # a literal certainly can.
        for raw in (b'"bn4\x01x"', b'"bn5\x7fx"', b"{5+}\r\nbn6\tx"):
            u, t = c.command(b"CREATE " + raw)
            self.assertIn(status_of(t), ("NO", "BAD"), (raw, t))
        u, _ = c.ok('LIST "" "*"')
        self.assertEqual(list_entries(u), before)
        u, t = c.command('SELECT "a/../INBOX"')
        self.assertEqual(status_of(t), "NO", t)


class TestSelect(ImapBase):

    def test_select_responses(self):
        c = self.conn()
        c.ok('CREATE "sel1"')
        uv, u1 = c.append_ok("sel1", make_msg("sel a"), "\\Seen")
        _, u2 = c.append_ok("sel1", make_msg("sel b"))
        d = self.conn()
        u, t = d.ok('SELECT "sel1"')
        self.assertTrue(re.match(rb"t\d+ OK \[READ-WRITE\]", t), t)
        flags = [r for r in u if r.startswith(b"* FLAGS ")]
        self.assertEqual(len(flags), 1, u)
        self.assertEqual(set(parse(flags[0][8:])[0]),
                         {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                          "\\Draft"})
        perm = [r for r in u if r.startswith(b"* OK [PERMANENTFLAGS ")]
        self.assertEqual(len(perm), 1, u)
        pf = parse(perm[0][len(b"* OK [PERMANENTFLAGS "):].split(b"]")[0])
        self.assertEqual(set(pf[0]), {"\\Answered", "\\Flagged", "\\Deleted",
                                      "\\Seen", "\\Draft", "\\*"})
        self.assertIn(b"* 2 EXISTS", u)
        self.assertIn(b"* 2 RECENT", u)
        unseen = [r for r in u if r.startswith(b"* OK [UNSEEN ")]
        self.assertEqual([r.split(b"]")[0] for r in unseen],
                         [b"* OK [UNSEEN 2"])
        self.assertIn(f"* OK [UIDVALIDITY {uv}]".encode(),
                      [r[:len(f"* OK [UIDVALIDITY {uv}]")] for r in u])
        self.assertIn(f"* OK [UIDNEXT {u2 + 1}]".encode(),
                      [r[:len(f"* OK [UIDNEXT {u2 + 1}]")] for r in u])
        # A later session: the messages are not recent any more.
        e = self.conn()
        u, t = e.ok('SELECT "sel1"')
        self.assertIn(b"* 2 EXISTS", u)
        self.assertIn(b"* 0 RECENT", u)

    def test_examine_is_read_only(self):
        self.mailbox("ex1", [make_msg("ex a")])
        c = self.conn()
        u, t = c.ok('EXAMINE "ex1"')
        self.assertTrue(re.match(rb"t\d+ OK \[READ-ONLY\]", t), t)
        self.assertIn(b"* 1 EXISTS", u)
        u, t = c.command("STORE 1 +FLAGS (\\Flagged)")
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command("EXPUNGE")
        self.assertEqual(status_of(t), "NO", t)
        # BODY[] without PEEK does not set \Seen in a read-only mailbox.
        u, _ = c.ok("FETCH 1 (BODY[])")
        u, _ = c.ok("FETCH 1 (FLAGS)")
        self.assertEqual(fetch_map(u)[1]["FLAGS"], [])
        d = self.conn()
        d.ok('SELECT "ex1"')
        u, _ = d.ok("FETCH 1 (FLAGS)")
        self.assertEqual(fetch_map(u)[1]["FLAGS"], [])

    def test_select_nonexistent_deselects(self):
        self.mailbox("sel2", [make_msg("sel2 a")])
        c = self.conn()
        c.ok('SELECT "sel2"')
        c.ok("FETCH 1 (FLAGS)")
        u, t = c.command('SELECT "no-such-mailbox"')
        self.assertEqual(status_of(t), "NO", t)
        u, t = c.command("FETCH 1 (FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)


class TestAppend(ImapBase):

    def test_append_flags_date_appenduid(self):
        c = self.conn()
        c.ok('CREATE "app1"')
        u, t = c.ok('STATUS "app1" (UIDVALIDITY UIDNEXT)')
        st = parse(u[0][9:])[1]
        uv0, next0 = int(st[1]), int(st[3])
        msg = make_msg("appended")
        uv, uid = c.append_ok("app1", msg, "\\Flagged kw1",
                              "14-Jul-2021 10:20:30 +0000", plus=False)
        self.assertEqual((uv, uid), (uv0, next0))
        msg2 = make_msg("appended in +0200")
        _, uid2 = c.append_ok("app1", msg2, None,
                              "05-Mar-2020 01:30:00 +0200", plus=False)
        self.assertGreater(uid2, uid)
        c.ok('SELECT "app1"')
        u, _ = c.ok("FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE)")
        f = fetch_map(u)
        self.assertEqual(f[1]["UID"], str(uid))
        # This session is the first to see the messages: \Recent too.
        self.assertEqual(flagset(f[1]["FLAGS"]),
                         {"\\Flagged", "kw1", "\\Recent"})
        self.assertEqual(f[1]["INTERNALDATE"], b"14-Jul-2021 10:20:30 +0000")
        self.assertEqual(f[1]["RFC822.SIZE"], str(len(msg)))
        self.assertEqual(flagset(f[2]["FLAGS"]), {"\\Recent"})
        self.assertEqual(parse_internaldate(f[2]["INTERNALDATE"]),
                         datetime.datetime(2020, 3, 4, 23, 30, 0,
                                           tzinfo=datetime.timezone.utc))
        u, _ = c.ok(f"UID FETCH {uid} (BODY.PEEK[])")
        self.assertEqual(fetch_map(u)[1]["BODY[]"], msg)

    def test_append_to_selected_mailbox(self):
        self.mailbox("appsel", [make_msg("appsel 1")])
        c = self.conn()
        u, _ = c.ok('SELECT "appsel"')
        self.assertIn(b"* 1 EXISTS", u)
        u, t = c.append("appsel", make_msg("appsel 2"))
        self.assertEqual(status_of(t), "OK", t)
        if b"* 2 EXISTS" not in u:
            u += wait_untagged(c, lambda r: r == b"* 2 EXISTS")
        self.assertIn(b"* 2 EXISTS", u)
        self.assertFalse([r for r in u if r.endswith(b"EXPUNGE")], u)
        u, _ = c.ok("FETCH 2 (BODY.PEEK[HEADER.FIELDS (Subject)])")
        (key, val), = fetch_map(u)[2].items()
        self.assertEqual(val, b"Subject: appsel 2\r\n\r\n")
        # COPY into the selected mailbox itself: a third message.
        u, t = c.ok('COPY 1 "appsel"')
        if b"* 3 EXISTS" not in u:
            u += wait_untagged(c, lambda r: r == b"* 3 EXISTS")
        u, _ = c.ok("FETCH 3 (BODY.PEEK[])")
        self.assertEqual(fetch_map(u)[3]["BODY[]"], make_msg("appsel 1"))

    def test_append_trycreate(self):
        c = self.conn()
        u, t = c.append("no-such-box", make_msg("x"), plus=False)
        # A synchronizing literal may be refused before the data is sent.
        self.assertTrue(re.match(rb"t\d+ NO \[TRYCREATE\]", t), t)
        u, t = c.append("no-such-box", make_msg("x"), plus=True)
        self.assertTrue(re.match(rb"t\d+ NO \[TRYCREATE\]", t), t)
        c.ok("NOOP")

    def test_append_literal_plus(self):
        self.mailbox("app2")
        c = self.conn()
        msg = make_msg("literal plus", b"non-synchronizing\r\n")
        tag = c.next_tag()
        c.send(f'{tag} APPEND "app2" (\\Seen) {{{len(msg)}+}}\r\n'.encode() +
               msg + b"\r\n")
        u, t = c.read_tagged(tag)
        self.assertFalse([r for r in u if r.startswith(b"+")], u)
        m = re.match(rb"t\d+ OK \[APPENDUID (\d+) (\d+)\]", t)
        self.assertIsNotNone(m, t)
        c.ok('EXAMINE "app2"')
        u, _ = c.ok(f"UID FETCH {int(m.group(2))} (FLAGS BODY.PEEK[])")
        f = fetch_map(u)[1]
        self.assertEqual(f["BODY[]"], msg)
        # No session has selected it: still \Recent, and EXAMINE shows
        # that without taking it (RFC 3501 6.3.2).
        self.assertEqual(flagset(f["FLAGS"]), {"\\Seen", "\\Recent"})

    def test_append_5mb(self):
        self.mailbox("big1")
        rnd = random.Random(7)
        alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01234"
        lines = [bytes(rnd.choice(alphabet) for _ in range(76)) + b"\r\n"
                 for _ in range(64)]
        body = bytearray()
        i = 0
        while len(body) < 5 * 1024 * 1024:
            body += lines[i % 64]
            i += 1
        msg = make_msg("big", bytes(body))
        m = self.srv.imap_login()
        try:
            typ, data = m.append("big1", None, None, msg)
            self.assertEqual(typ, "OK", data)
            mm = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
            self.assertIsNotNone(mm, data)
        finally:
            m.logout()
        c = self.conn()
        c.ok('EXAMINE "big1"')
        u, _ = c.ok(f"UID FETCH {int(mm.group(2))} (RFC822.SIZE BODY.PEEK[])")
        f = fetch_map(u)[1]
        self.assertEqual(f["RFC822.SIZE"], str(len(msg)))
        self.assertEqual(len(f["BODY[]"]), len(msg))
        self.assertTrue(f["BODY[]"] == msg, "5 MB message differs")


class TestFetch(ImapBase):

    @classmethod
    def setUpClass(cls):
        c = ImapConn(SRV)
        try:
            c.login()
            c.ok('CREATE "fetch"')
            cls.uids = [c.append_ok("fetch", m, None, FIXTURE_DATE)[1]
                        for m in FETCH_MSGS]
            c.ok('SELECT "fetch"')         # claims \Recent
            c.logout()
        finally:
            c.close()

    def examine(self):
        c = self.conn()
        c.ok('EXAMINE "fetch"')
        return c

    def one(self, c, cmd, seq):
        u, _ = c.ok(cmd)
        return fetch_map(u)[seq]

    def test_fixture_sizes(self):
        # The hand-counted numbers in the expected strings.
        self.assertEqual(len(b"line one\r\nline two\r\n"), 20)
        self.assertEqual(len(ATT_B64), 140)
        self.assertEqual(len(PNG_B64), 66)
        self.assertEqual(len(INNER), 154)
        self.assertEqual(INNER.count(b"\n"), 7)

    def test_size_and_body(self):
        c = self.examine()
        u, _ = c.ok("FETCH 1:6 (RFC822.SIZE BODY.PEEK[])")
        f = fetch_map(u)
        self.assertEqual(sorted(f), [1, 2, 3, 4, 5, 6])
        for i, msg in enumerate(FETCH_MSGS, 1):
            self.assertEqual(f[i]["RFC822.SIZE"], str(len(msg)))
            self.assertEqual(f[i]["BODY[]"], msg)

    def test_flags_internaldate(self):
        c = self.examine()
        f = self.one(c, "FETCH 1 (FLAGS INTERNALDATE)", 1)
        self.assertEqual(f["FLAGS"], [])
        # date-day-fixed is (SP DIGIT) / 2DIGIT: " 1-Feb-2022" or "01-...".
        self.assertRegex(f["INTERNALDATE"],
                         rb"^( \d|\d\d)-[A-Z][a-z]{2}-\d{4} "
                         rb"\d\d:\d\d:\d\d [+-]\d{4}$")
        self.assertEqual(parse_internaldate(f["INTERNALDATE"]),
                         parse_internaldate(FIXTURE_DATE))

    def test_envelope(self):
        c = self.examine()
        f = self.one(c, "FETCH 5 (ENVELOPE)", 5)
        self.assertEqual(f["ENVELOPE"], parse(ENV_ENV)[0])
        f = self.one(c, "FETCH 6 (ENVELOPE)", 6)
        self.assertEqual(f["ENVELOPE"], parse(ENV_ENV2)[0])
        f = self.one(c, "FETCH 4 (ENVELOPE)", 4)
        self.assertEqual(f["ENVELOPE"], parse(ENV_NESTED)[0])

    def test_bodystructure_plain(self):
        c = self.examine()
        f = self.one(c, "FETCH 1 (BODYSTRUCTURE BODY)", 1)
        self.assertEqual(f["BODYSTRUCTURE"], parse(BS_PLAIN)[0])
        self.assertEqual(f["BODY"], parse(BODY_PLAIN)[0])

    def test_bodystructure_alternative(self):
        c = self.examine()
        f = self.one(c, "FETCH 2 (BODYSTRUCTURE BODY)", 2)
        self.assertEqual(f["BODYSTRUCTURE"], parse(BS_ALT)[0])
        self.assertEqual(f["BODY"], parse(BODY_ALT)[0])

    def test_bodystructure_mixed_attachment(self):
        c = self.examine()
        f = self.one(c, "FETCH 3 (BODYSTRUCTURE)", 3)
        self.assertEqual(f["BODYSTRUCTURE"], parse(BS_MIXED)[0])

    def test_bodystructure_nested_message(self):
        c = self.examine()
        f = self.one(c, "FETCH 4 (BODYSTRUCTURE)", 4)
        self.assertEqual(f["BODYSTRUCTURE"], parse(BS_NESTED)[0])

    def test_header_sections(self):
        c = self.examine()
        hdr = MSG_ENV.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        f = self.one(c, "FETCH 5 (BODY.PEEK[HEADER])", 5)
        self.assertEqual(f["BODY[HEADER]"], hdr)
        f = self.one(c, "FETCH 5 (BODY.PEEK[HEADER.FIELDS (From Subject)])",
                     5)
        (key, val), = f.items()
        self.assertTrue(key.startswith("BODY[HEADER.FIELDS ("), key)
        self.assertEqual(val, b'From: "Alice Example" <alice@example.org>\r\n'
                              b"Subject: Envelope test\r\n\r\n")
        f = self.one(c, "FETCH 5 (BODY.PEEK[HEADER.FIELDS.NOT "
                        "(From Subject)])", 5)
        (key, val), = f.items()
        self.assertTrue(key.startswith("BODY[HEADER.FIELDS.NOT ("), key)
        self.assertEqual(val, b"To: Bob <bob@example.test>, "
                              b"carol@example.test\r\n"
                              b"Cc: Dave <dave@example.net>\r\n"
                              b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
                              b"Message-ID: <env-1@example.org>\r\n"
                              b"In-Reply-To: <parent-1@example.org>\r\n"
                              b"\r\n")
        f = self.one(c, "FETCH 5 (BODY.PEEK[TEXT])", 5)
        self.assertEqual(f["BODY[TEXT]"], b"Hello Bob.\r\n")

    def test_part_sections(self):
        c = self.examine()
        u, _ = c.ok("FETCH 4 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] "
                    "BODY.PEEK[2.MIME] BODY.PEEK[3] BODY.PEEK[3.HEADER] "
                    "BODY.PEEK[3.TEXT] BODY.PEEK[3.1] BODY.PEEK[HEADER] "
                    "BODY.PEEK[TEXT])")
        f = fetch_map(u)[4]
        self.assertEqual(f["BODY[1]"], b"Forwarded message below.\r\n")
        self.assertEqual(f["BODY[1.MIME]"], b"Content-Type: text/plain\r\n\r\n")
        self.assertEqual(f["BODY[2]"], PNG_B64)
        self.assertEqual(f["BODY[2.MIME]"], NESTED_P2_MIME)
        self.assertEqual(f["BODY[3]"], INNER)
        self.assertEqual(f["BODY[3.HEADER]"], INNER_HDR)
        self.assertEqual(f["BODY[3.TEXT]"], INNER_TEXT)
        self.assertEqual(f["BODY[3.1]"], INNER_TEXT)
        self.assertEqual(f["BODY[HEADER]"], NESTED_HDR)
        self.assertEqual(f["BODY[TEXT]"], NESTED_TEXT)
        # A non-multipart message has exactly one part: its body.
        f = self.one(c, "FETCH 1 (BODY.PEEK[1])", 1)
        self.assertEqual(f["BODY[1]"], b"line one\r\nline two\r\n")

    def test_partial(self):
        c = self.examine()
        f = self.one(c, "FETCH 1 (BODY.PEEK[]<0.10>)", 1)
        self.assertEqual(f, {"BODY[]<0>": MSG_PLAIN[:10]})
        f = self.one(c, "FETCH 1 (BODY.PEEK[]<5.7>)", 1)
        self.assertEqual(f, {"BODY[]<5>": MSG_PLAIN[5:12]})
        f = self.one(c, "FETCH 1 (BODY.PEEK[TEXT]<5.8>)", 1)
        self.assertEqual(f, {"BODY[TEXT]<5>": b"one\r\nlin"})
        # Past the end: an empty string.
        f = self.one(c, "FETCH 1 (BODY.PEEK[]<100000.10>)", 1)
        self.assertEqual(f, {"BODY[]<100000>": b""})
        # Count larger than what is left: the rest.
        f = self.one(c, f"FETCH 1 (BODY.PEEK[]<{len(MSG_PLAIN) - 4}.100>)", 1)
        self.assertEqual(f, {f"BODY[]<{len(MSG_PLAIN) - 4}>":
                             b"wo\r\n"})

    def test_macros_and_rfc822_items(self):
        c = self.examine()
        f = self.one(c, "FETCH 5 FAST", 5)
        self.assertEqual(set(f), {"FLAGS", "INTERNALDATE", "RFC822.SIZE"})
        f = self.one(c, "FETCH 5 ALL", 5)
        self.assertEqual(set(f), {"FLAGS", "INTERNALDATE", "RFC822.SIZE",
                                  "ENVELOPE"})
        self.assertEqual(f["ENVELOPE"], parse(ENV_ENV)[0])
        f = self.one(c, "FETCH 5 FULL", 5)
        self.assertEqual(set(f), {"FLAGS", "INTERNALDATE", "RFC822.SIZE",
                                  "ENVELOPE", "BODY"})
        self.assertEqual(f["BODY"], parse(
            '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1)')[0])
        hdr, text = MSG_ENV.split(b"\r\n\r\n", 1)
        f = self.one(c, "FETCH 5 (RFC822.HEADER RFC822.TEXT RFC822)", 5)
        self.assertEqual(f, {"RFC822.HEADER": hdr + b"\r\n\r\n",
                             "RFC822.TEXT": text, "RFC822": MSG_ENV})
        u, _ = c.ok("FETCH 2:3,5 (UID)")
        self.assertEqual(sorted(fetch_map(u)), [2, 3, 5])
        u, _ = c.ok("FETCH *:5 (UID)")
        self.assertEqual(sorted(fetch_map(u)), [5, 6])

    def test_uid_fetch_includes_uid(self):
        c = self.examine()
        u, _ = c.ok(f"UID FETCH {self.uids[2]} (FLAGS)")
        self.assertEqual(fetch_map(u), {3: {"UID": str(self.uids[2]),
                                            "FLAGS": []}})
        u, _ = c.ok("UID FETCH 1:* (RFC822.SIZE)")
        f = fetch_map(u)
        self.assertEqual(sorted(f), [1, 2, 3, 4, 5, 6])
        for i in range(6):
            self.assertEqual(f[i + 1]["UID"], str(self.uids[i]))
        # Nonexistent UIDs are not an error.
        u, t = c.ok(f"UID FETCH {self.uids[-1] + 100} (FLAGS)")
        self.assertEqual(fetches(u), [])

    def test_body_sets_seen_peek_does_not(self):
        self.mailbox("seen1", [make_msg("seen a"), make_msg("seen b")])
        c = self.conn()
        c.ok('SELECT "seen1"')
        u, _ = c.ok("FETCH 2 (BODY.PEEK[])")
        f = fetch_map(u)
        self.assertNotIn("FLAGS", f[2])
        u, _ = c.ok("FETCH 2 (FLAGS)")
        self.assertEqual(fetch_map(u)[2]["FLAGS"], [])
        u, _ = c.ok("FETCH 1 (BODY[])")
        f = fetch_map(u)
        self.assertEqual(f[1]["BODY[]"], make_msg("seen a"))
        self.assertEqual(flagset(f[1]["FLAGS"]), {"\\Seen"})
        d = self.conn()
        u, _ = d.ok('STATUS "seen1" (UNSEEN)')
        self.assertEqual(parse(u[0][9:])[1], ["UNSEEN", "1"])
        # RFC822.TEXT and BODY[TEXT] set \Seen too; RFC822.HEADER doesn't.
        u, _ = c.ok("FETCH 2 (RFC822.HEADER)")
        self.assertNotIn("FLAGS", fetch_map(u)[2])
        u, _ = c.ok("FETCH 2 (BODY[TEXT])")
        self.assertEqual(flagset(fetch_map(u)[2]["FLAGS"]), {"\\Seen"})


RFC822_OUTER = (b"From: user@domain.org\r\n"
                b"Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
                b"Mime-Version: 1.0\r\n"
                b"Content-Type: message/rfc822\r\n\r\n")
RFC822_SUB_HDR = (b"From: sub@domain.org\r\n"
                  b"Date: Sun, 12 Aug 2012 12:34:56 +0300\r\n"
                  b"Subject: submsg\r\n\r\n")
RFC822_SUB = RFC822_SUB_HDR + b"Hello world\r\n"
RFC822_MID_HDR = (b"From: user2@domain.org\r\n"
                  b"Date: Fri, 23 Mar 2007 11:22:33 +0200\r\n"
                  b"Mime-Version: 1.0\r\n"
                  b"Content-Type: message/rfc822\r\n\r\n")
RFC822_DIGEST_HDR = (b"From: sub@domain.org\r\n"
                     b"Date: Sun, 12 Aug 2012 12:34:56 +0300\r\n"
                     b"Subject: submsg\r\n"
                     b'Content-Type: multipart/digest; boundary="foo"\r\n'
                     b"\r\n")
RFC822_DIGEST_TEXT = (b"prologue\r\n\r\n--foo \r\n\r\n"
                      b"From: m1@example.com\r\nSubject: m1\r\n\r\n"
                      b"m1 body\r\n\r\n--foo \r\nX-Mime: m2 header\r\n\r\n"
                      b"From: m2@example.com\r\nSubject: m2\r\n\r\n"
                      b"m2 body\r\n\r\n--foo--\r\n\r\nepilogue\r\n")


class TestFetchMessageRfc822(ImapBase):
    """Section numbers of a message that is itself message/rfc822 (RFC
    3501 6.4.5; imaptest fetch-body-message-rfc822*, where Dovecot
    passes): part 1 is the message's body, the whole encapsulated
    message, and 1.HEADER, 1.TEXT, 1.N address inside it."""

    @classmethod
    def setUpClass(cls):
        c = ImapConn(SRV)
        try:
            c.login()
            c.ok('CREATE "rfc822top"')
            for m in (RFC822_OUTER + RFC822_SUB,
                      RFC822_OUTER + RFC822_DIGEST_HDR + RFC822_DIGEST_TEXT,
                      RFC822_OUTER + RFC822_MID_HDR + RFC822_SUB):
                c.append_ok("rfc822top", m)
            c.logout()
        finally:
            c.close()

    def fetch(self, seq, sections):
        c = self.conn()
        c.ok('EXAMINE "rfc822top"')
        u, _ = c.ok(f"FETCH {seq} (" + " ".join(
            f"BODY.PEEK[{s}]" for s in sections) + ")")
        f = fetch_map(u)[seq]
        return {k[5:-1]: v for k, v in f.items()}

    def test_one_level(self):
        f = self.fetch(1, ["TEXT", "1", "1.1", "1.HEADER", "1.TEXT",
                           "1.HEADER.FIELDS (from subject X-foo)",
                           "1.HEADER.FIELDS.NOT (from subject X-foo)"])
        self.assertEqual(f, {
            "TEXT": RFC822_SUB,
            "1": RFC822_SUB,
            "1.1": b"Hello world\r\n",
            "1.HEADER": RFC822_SUB_HDR,
            "1.TEXT": b"Hello world\r\n",
            "1.HEADER.FIELDS (FROM SUBJECT X-FOO)":
                b"From: sub@domain.org\r\nSubject: submsg\r\n\r\n",
            "1.HEADER.FIELDS.NOT (FROM SUBJECT X-FOO)":
                b"Date: Sun, 12 Aug 2012 12:34:56 +0300\r\n\r\n",
        })

    def test_encapsulated_digest(self):
        f = self.fetch(2, ["1", "1.HEADER", "1.TEXT", "1.1", "1.1.MIME",
                           "1.1.HEADER", "1.1.TEXT", "1.2", "1.2.MIME",
                           "1.2.HEADER", "1.2.TEXT"])
        m1 = b"From: m1@example.com\r\nSubject: m1\r\n\r\n"
        m2 = b"From: m2@example.com\r\nSubject: m2\r\n\r\n"
        self.assertEqual(f, {
            "1": RFC822_DIGEST_HDR + RFC822_DIGEST_TEXT,
            "1.HEADER": RFC822_DIGEST_HDR,
            "1.TEXT": RFC822_DIGEST_TEXT,
            "1.1": m1 + b"m1 body\r\n",
            "1.1.MIME": b"\r\n",
            "1.1.HEADER": m1,
            "1.1.TEXT": b"m1 body\r\n",
            "1.2": m2 + b"m2 body\r\n",
            "1.2.MIME": b"X-Mime: m2 header\r\n\r\n",
            "1.2.HEADER": m2,
            "1.2.TEXT": b"m2 body\r\n",
        })

    def test_two_levels(self):
        f = self.fetch(3, ["TEXT", "1", "1.1", "1.HEADER", "1.TEXT",
                           "1.1.1", "1.1.HEADER", "1.1.TEXT"])
        self.assertEqual(f, {
            "TEXT": RFC822_MID_HDR + RFC822_SUB,
            "1": RFC822_MID_HDR + RFC822_SUB,
            "1.1": RFC822_SUB,
            "1.HEADER": RFC822_MID_HDR,
            "1.TEXT": RFC822_SUB,
            "1.1.1": b"Hello world\r\n",
            "1.1.HEADER": RFC822_SUB_HDR,
            "1.1.TEXT": b"Hello world\r\n",
        })


class TestStoreCopyExpunge(ImapBase):

    def test_store(self):
        self.mailbox("st1", [make_msg(f"st {i}") for i in range(3)])
        c = self.conn()
        c.ok('SELECT "st1"')
        u, _ = c.ok("STORE 1 +FLAGS (\\Flagged kwA)")
        self.assertEqual([(s, flagset(d["FLAGS"])) for s, d in fetches(u)],
                         [(1, {"\\Flagged", "kwA"})])
        u, _ = c.ok("STORE 1 -FLAGS (\\Flagged)")
        self.assertEqual([(s, flagset(d["FLAGS"])) for s, d in fetches(u)],
                         [(1, {"kwA"})])
        u, _ = c.ok("STORE 1 FLAGS (\\Seen \\Answered)")
        self.assertEqual([(s, flagset(d["FLAGS"])) for s, d in fetches(u)],
                         [(1, {"\\Seen", "\\Answered"})])
        u, _ = c.ok("STORE 1 +FLAGS.SILENT (\\Draft)")
        self.assertEqual(fetches(u), [])
        u, _ = c.ok("FETCH 1 (FLAGS)")
        self.assertEqual(flagset(fetch_map(u)[1]["FLAGS"]),
                         {"\\Seen", "\\Answered", "\\Draft"})
        u, _ = c.ok("STORE 2:3 +FLAGS ($Label1 \\Deleted)")
        self.assertEqual(sorted((s, frozenset(d["FLAGS"]))
                                for s, d in fetches(u)),
                         [(2, frozenset({"$Label1", "\\Deleted"})),
                          (3, frozenset({"$Label1", "\\Deleted"}))])
        # \Recent can't be stored; unknown system flags are an error.
        for bad in ("\\Recent", "\\Bogus"):
            u, t = c.command(f"STORE 1 +FLAGS ({bad})")
            self.assertIn(status_of(t), ("NO", "BAD"), t)
        u, t = c.command("STORE 1 FLAGS (\\Recent)")
        self.assertIn(status_of(t), ("NO", "BAD"), t)
        u, _ = c.ok("FETCH 1 (FLAGS)")
        self.assertEqual(flagset(fetch_map(u)[1]["FLAGS"]),
                         {"\\Seen", "\\Answered", "\\Draft"})
        u, _ = c.ok("STORE 1 FLAGS ()")
        self.assertEqual([(s, flagset(d["FLAGS"])) for s, d in fetches(u)],
                         [(1, set())])
        u, _ = c.ok("FETCH 2 (UID)")
        uid2 = fetch_map(u)[2]["UID"]
        u, _ = c.ok(f"UID STORE {uid2} -FLAGS (\\Deleted)")
        self.assertEqual(fetch_map(u), {2: {"UID": uid2,
                                            "FLAGS": ["$Label1"]}})
        # Persisted for another session.
        d = self.conn()
        u, _ = d.ok('SELECT "st1"')
        flags = [r for r in u if r.startswith(b"* FLAGS ")]
        self.assertIn("$Label1", parse(flags[0][8:])[0])
        u, _ = d.ok("FETCH 1:3 (FLAGS)")
        f = fetch_map(u)
        self.assertEqual({s: flagset(v["FLAGS"]) for s, v in f.items()},
                         {1: set(), 2: {"$Label1"},
                          3: {"$Label1", "\\Deleted"}})

    def test_copy_copyuid(self):
        uids = self.mailbox("cp_src", [make_msg(f"cp {i}") for i in range(3)])
        self.mailbox("cp_dst")
        c = self.conn()
        u, _ = c.ok('STATUS "cp_dst" (UIDVALIDITY UIDNEXT)')
        st = parse(u[0][9:])[1]
        dv, dnext = int(st[1]), int(st[3])
        c.ok('SELECT "cp_src"')
        u, t = c.ok('COPY 1:2 "cp_dst"')
        m = re.match(rb"t\d+ OK \[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", t)
        self.assertIsNotNone(m, t)
        self.assertEqual(int(m.group(1)), dv)
        self.assertEqual(expand_set(m.group(2).decode()), uids[:2])
        self.assertEqual(expand_set(m.group(3).decode()), [dnext, dnext + 1])
        self.assertFalse([r for r in u if b"EXPUNGE" in r], u)
        u, _ = c.ok('STATUS "cp_dst" (MESSAGES)')
        self.assertEqual(parse(u[0][9:])[1], ["MESSAGES", "2"])
        u, _ = c.ok("NOOP")
        self.assertFalse([r for r in u if b"EXPUNGE" in r], u)
        u, t = c.command('COPY 1 "cp-no-such"')
        self.assertTrue(re.match(rb"t\d+ NO \[TRYCREATE\]", t), t)
        d = self.conn()
        d.ok('EXAMINE "cp_dst"')
        u, _ = d.ok(f"UID FETCH {dnext}:{dnext + 1} (BODY.PEEK[])")
        self.assertEqual({s: v["BODY[]"] for s, v in fetch_map(u).items()},
                         {1: make_msg("cp 0"), 2: make_msg("cp 1")})

    def test_move(self):
        uids = self.mailbox("mv_src", [make_msg(f"mv {i}") for i in range(3)])
        self.mailbox("mv_dst")
        c = self.conn()
        u, _ = c.ok('STATUS "mv_dst" (UIDVALIDITY UIDNEXT)')
        st = parse(u[0][9:])[1]
        dv, dnext = int(st[1]), int(st[3])
        c.ok('SELECT "mv_src"')
        u, t = c.ok('MOVE 2 "mv_dst"')
        cu = [re.match(rb"\* OK \[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", r)
              for r in u]
        cu = [m for m in cu if m]
        if not cu:      # the tagged OK may carry it as well
            m = re.match(rb"t\d+ OK \[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]",
                         t)
            cu = [m] if m else []
        self.assertEqual(len(cu), 1, (u, t))
        self.assertEqual((int(cu[0].group(1)), cu[0].group(2).decode(),
                          cu[0].group(3).decode()),
                         (dv, str(uids[1]), str(dnext)))
        self.assertEqual([r for r in u if r.endswith(b" EXPUNGE")],
                         [b"* 2 EXPUNGE"])
        u, _ = c.ok("FETCH 1:* (UID)")
        self.assertEqual([d["UID"] for s, d in fetches(u)],
                         [str(uids[0]), str(uids[2])])
        d = self.conn()
        d.ok('EXAMINE "mv_dst"')
        u, _ = d.ok("FETCH 1:* (UID BODY.PEEK[])")
        self.assertEqual(fetch_map(u), {1: {"UID": str(dnext),
                                            "BODY[]": make_msg("mv 1")}})

    def test_expunge_numbering(self):
        uids = self.mailbox("exp1", [make_msg(f"exp {i}") for i in range(5)])
        c = self.conn()
        c.ok('SELECT "exp1"')
        c.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        u, t = c.ok("EXPUNGE")
        exps = [r for r in u if r.endswith(b" EXPUNGE")]
        self.assertEqual(len(exps), 2, u)
        # Apply the responses in order, as a client must: each number
        # refers to the mailbox as left by the previous EXPUNGE.
        view = list(uids)
        for r in exps:
            del view[int(r.split()[1]) - 1]
        self.assertEqual(view, [uids[0], uids[2], uids[4]])
        # The RFC 3501 example numbering for this case.
        self.assertIn(exps, ([b"* 2 EXPUNGE", b"* 3 EXPUNGE"],
                             [b"* 4 EXPUNGE", b"* 2 EXPUNGE"]))
        u, _ = c.ok("FETCH 1:* (UID)")
        self.assertEqual([d["UID"] for s, d in fetches(u)],
                         [str(x) for x in view])

    def test_uid_expunge(self):
        uids = self.mailbox("uexp1", [(make_msg(f"uexp {i}"), "\\Deleted",
                                       None) for i in range(4)])
        c = self.conn()
        c.ok('SELECT "uexp1"')
        u, _ = c.ok(f"UID EXPUNGE {uids[1]}")
        self.assertEqual([r for r in u if r.endswith(b" EXPUNGE")],
                         [b"* 2 EXPUNGE"])
        u, _ = c.ok("FETCH 1:* (UID FLAGS)")
        self.assertEqual([(d["UID"], flagset(d["FLAGS"]))
                          for s, d in fetches(u)],
                         [(str(x), {"\\Deleted"})
                          for x in (uids[0], uids[2], uids[3])])

    def test_close_expunges_silently(self):
        self.mailbox("close1", [make_msg(f"close {i}") for i in range(3)])
        c = self.conn()
        c.ok('SELECT "close1"')
        c.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        u, t = c.ok("CLOSE")
        self.assertEqual(u, [])
        u, t = c.command("FETCH 1 (FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)
        u, _ = c.ok('STATUS "close1" (MESSAGES)')
        self.assertEqual(parse(u[0][9:])[1], ["MESSAGES", "1"])

    def test_unselect_keeps_deleted(self):
        self.mailbox("unsel1", [make_msg(f"unsel {i}") for i in range(3)])
        c = self.conn()
        c.ok('SELECT "unsel1"')
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        u, t = c.ok("UNSELECT")
        self.assertEqual(u, [])
        u, t = c.command("FETCH 1 (FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)
        u, _ = c.ok('STATUS "unsel1" (MESSAGES)')
        self.assertEqual(parse(u[0][9:])[1], ["MESSAGES", "3"])


class TestMoveIntoSelected(ImapBase):
    """MOVE into the selected mailbox itself (imaptest move; Dovecot):
    the message gets a new uid, COPYUID comes first, then EXPUNGE,
    EXISTS and RECENT."""

    def test_move_same_mailbox(self):
        uids = self.mailbox("mvself", [(make_msg(f"self {i}"),
                                        "\\Seen kw1", None)
                                       for i in range(3)])
        self.assertEqual(uids, [1, 2, 3])
        c = self.conn()
        u, _ = c.ok('STATUS "mvself" (UIDVALIDITY)')
        uv = int(parse(u[0][9:])[1][1])
        c.ok('SELECT "mvself"')
        u, t = c.ok('MOVE 1 "mvself"')
        # The new uid is \Recent for this session.
        self.assertEqual(u, [f"* OK [COPYUID {uv} 1 4] Moved UIDs."
                             .encode(), b"* 1 EXPUNGE", b"* 3 EXISTS",
                             b"* 1 RECENT"])
        self.assertTrue(re.match(rb"t\d+ OK Move completed\.$", t), t)
        u, t = c.ok('UID MOVE 2:3 "mvself"')
        self.assertEqual(u[0], f"* OK [COPYUID {uv} 2:3 5:6] Moved UIDs."
                         .encode())
        self.assertEqual(sorted(u[1:3]), [b"* 1 EXPUNGE", b"* 2 EXPUNGE"])
        self.assertEqual(u[3:], [b"* 3 EXISTS", b"* 3 RECENT"])
        u, _ = c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[])")
        self.assertEqual(
            {s: (d["UID"], flagset(d["FLAGS"]) - {"\\Recent"}, d["BODY[]"])
             for s, d in fetch_map(u).items()},
            {1: ("4", {"\\Seen", "kw1"}, make_msg("self 0")),
             2: ("5", {"\\Seen", "kw1"}, make_msg("self 1")),
             3: ("6", {"\\Seen", "kw1"}, make_msg("self 2"))})
        c.ok("CLOSE")
        u, _ = c.ok('STATUS "mvself" (MESSAGES UNSEEN UIDNEXT)')
        self.assertEqual(u, [b'* STATUS "mvself" (MESSAGES 3 UNSEEN 0 '
                             b'UIDNEXT 7)'])


class TestNilKeyword(ImapBase):
    """NIL is an atom, so a valid keyword (flag-keyword = atom; imaptest
    nil, as in Dovecot)."""

    def test_store_and_append_nil(self):
        self.mailbox("nilkw", [make_msg("nil 1")])
        c = self.conn()
        c.ok('SELECT "nilkw"')
        u, _ = c.ok("STORE 1 +FLAGS NIL")
        self.assertIn(b"* 1 FETCH (FLAGS (NIL))", u)
        u, _ = c.ok("FETCH 1 FLAGS")
        self.assertEqual(u, [b"* 1 FETCH (FLAGS (NIL))"])
        u, _ = c.ok("STORE 1 FLAGS (\\Seen NIL $x)")
        self.assertIn(b"* 1 FETCH (FLAGS (\\Seen NIL $x))", u)
        u, _ = c.ok("STORE 1 -FLAGS (NIL)")
        self.assertIn(b"* 1 FETCH (FLAGS (\\Seen $x))", u)
        msg = make_msg("nil 2")
        tag = c.next_tag()
        c.send(f'{tag} APPEND "nilkw" (NIL) {{{len(msg)}+}}\r\n'.encode() +
               msg + b"\r\n")
        u, t = c.read_tagged(tag)
        self.assertEqual(status_of(t), "OK", t)
        u, _ = c.ok("FETCH 2 FLAGS")
        self.assertIn(b"* 2 FETCH (FLAGS (\\Recent NIL))", u)
        # Still not a string or a list inside the list.
        for bad in ('STORE 1 +FLAGS ("NIL")', "STORE 1 +FLAGS ((NIL))"):
            u, t = c.command(bad)
            self.assertEqual(status_of(t), "BAD", (bad, t))


class TestSearch(ImapBase):

    @classmethod
    def setUpClass(cls):
        c = ImapConn(SRV)
        try:
            c.login()
            c.ok('CREATE "search1"')
            cls.uids = [c.append_ok("search1", m, f, d)[1]
                        for m, f, d in SEARCH_MSGS]
            c.ok('SELECT "search1"')
            c.logout()
        finally:
            c.close()

    def setUp(self):
        self.c = self.conn()
        self.c.ok('EXAMINE "search1"')

    def search(self, criteria, uid=False):
        u, t = self.c.ok(("UID SEARCH " if uid else "SEARCH ") + criteria)
        self.assertFalse([r for r in u if b"EXPUNGE" in r], u)
        return search_hits(u)

    def check(self, criteria, expected):
        self.assertEqual(self.search(criteria), expected, criteria)

    def test_flags(self):
        self.check("ALL", [1, 2, 3, 4, 5])
        self.check("SEEN", [1, 4])
        self.check("UNSEEN", [2, 3, 5])
        self.check("FLAGGED", [2])
        self.check("UNFLAGGED", [1, 3, 4, 5])
        self.check("ANSWERED", [4])
        self.check("DELETED", [])
        self.check("KEYWORD $Important", [2])
        self.check("UNKEYWORD $Important", [1, 3, 4, 5])
        self.check("KEYWORD nothere", [])

    def test_headers(self):
        self.check("FROM alice", [1, 3])
        self.check("FROM ALICE@EXAMPLE.ORG", [1, 3])
        self.check("TO dave", [2])
        self.check("SUBJECT quarterly", [1, 3])
        self.check('SUBJECT "Re:"', [3])
        self.check("HEADER X-Priority 1", [1])
        self.check('HEADER X-Priority ""', [1])
        self.check("HEADER Subject lunch", [2])

    def test_body_text(self):
        self.check("BODY sushi", [2, 4])
        self.check("BODY alice", [])
        self.check("TEXT alice", [1, 3])
        self.check("TEXT pizza", [2])
        self.check('BODY "numbers go"', [1, 3])

    def test_size(self):
        self.check("LARGER 2000", [2])
        self.check("SMALLER 2000", [1, 3, 4, 5])
        n = len(SEARCH_MSGS[0][0])
        self.check(f"LARGER {n - 1} SMALLER {n + 1}", [1])
        self.check(f"LARGER {n}", [2])

    def test_internal_dates(self):
        self.check("BEFORE 16-Jun-2021", [1])
        self.check("ON 16-Jun-2021", [2])
        self.check("SINCE 16-Jun-2021", [2, 3, 4, 5])
        self.check("ON 22-Dec-2021", [5])
        self.check("SINCE 1-Jan-2030", [])
        self.check("BEFORE 2-Mar-2021", [])

    def test_sent_dates(self):
        self.check("SENTBEFORE 15-Jun-2021", [1])
        self.check("SENTON 15-Jun-2021", [2])
        self.check("SENTSINCE 15-Jun-2021", [2, 3, 4, 5])
        # The date as written in the Date: header, whatever its zone.
        self.check("SENTON 21-Dec-2021", [5])
        self.check("SENTON 22-Dec-2021", [])

    def test_sets(self):
        u = self.uids
        self.check("2,4", [2, 4])
        self.check("2:*", [2, 3, 4, 5])
        self.check("4:2", [2, 3, 4])
        self.check("*", [5])
        self.check(f"UID {u[1]}:{u[2]}", [2, 3])
        self.check("UID *", [5])
        self.check(f"UID {u[0]},{u[4]}", [1, 5])

    def test_logic(self):
        self.check("NOT SEEN", [2, 3, 5])
        self.check("OR FLAGGED ANSWERED", [2, 4])
        self.check("(OR FROM carol FROM bob) UNSEEN", [2])
        self.check("OR (FROM alice SEEN) (SUBJECT misc)", [1, 4])
        self.check("NOT (OR SEEN FLAGGED)", [3, 5])
        self.check("((FROM alice) (NOT SEEN))", [3])
        self.check("OR OR 1 2 3", [1, 2, 3])

    def test_uid_search(self):
        u = self.uids
        self.assertEqual(self.search("FROM alice", uid=True), [u[0], u[2]])
        self.assertEqual(self.search("2:3", uid=True), [u[1], u[2]])
        self.assertEqual(self.search(f"UID {u[3]}:*", uid=True), [u[3], u[4]])

    def test_charset(self):
        self.check("CHARSET UTF-8 SUBJECT lunch", [2])
        self.check("CHARSET US-ASCII FROM zed", [5])
        u, t = self.c.command("SEARCH CHARSET X-NO-SUCH-CHARSET ALL")
        self.assertTrue(re.match(rb"t\d+ NO \[BADCHARSET", t), t)

    def test_bad_search(self):
        u, t = self.c.command("SEARCH NOSUCHKEY")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = self.c.command("SEARCH (FROM alice")
        self.assertEqual(status_of(t), "BAD", t)
        self.check("ALL", [1, 2, 3, 4, 5])


# Decoded SEARCH fixture (RFC 9051 6.4.4: strings match after decoding).
DECODED_MSGS = [
    # 1: RFC 2047 Q subject in latin1, base64 UTF-8 body.
    b"From: a@example.org\r\n"
    b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(
        "Die Straße ist nass. ÄRGER im Büro.\r\n".encode()) ,
    # 2: encoded display name; quoted-printable latin1 body with a soft
    #    line break in the middle of a word.
    b"From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@example.org>\r\n"
    b"Subject: dessert\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=E9 cr=E8me br=FBl=E9e, extra=\r\nordinary\r\n",
    # 3: alternative with HTML: markup and entities are not text.
    b"From: b@example.org\r\n"
    b"Subject: html\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=XX\r\n"
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"plain part\r\n"
    b"--XX\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p class=\"zebra\">Hello <b>World</b> &amp; friends</p>\r\n"
    b"--XX--\r\n",
    # 4: a text attachment is searched, a binary one is not.
    b"From: c@example.org\r\n"
    b"Subject: files\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=YY\r\n"
    b"\r\n"
    b"--YY\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"see attached\r\n"
    b"--YY\r\n"
    b"Content-Type: text/plain; name=notes.txt\r\n"
    b"Content-Disposition: attachment; filename=notes.txt\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(b"the attachedtext inside\r\n") +
    b"--YY\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(b"\x00\x01secretword\x02") +
    b"--YY--\r\n",
    # 5: raw UTF-8 header (RFC 6532), Greek.
    "From: d@example.org\r\n"
    "Subject: Καλημέρα κόσμε\r\n"
    "\r\n"
    "ΣΟΦΊΑ\r\n".encode(),
]


class TestDecodedSearch(ImapBase):

    @classmethod
    def setUpClass(cls):
        c = ImapConn(SRV)
        try:
            c.login()
            c.ok('CREATE "search2"')
            for m in DECODED_MSGS:
                c.append_ok("search2", m)
            c.logout()
        finally:
            c.close()

    def setUp(self):
        self.c = self.conn()
        self.c.ok('EXAMINE "search2"')

    def check(self, criteria, expected, charset="UTF-8"):
        """criteria: (key, str) pairs; strings go as literals."""
        cmd = b"SEARCH CHARSET " + charset.encode()
        for key, val in criteria:
            if isinstance(val, str):
                val = val.encode("utf-8" if charset == "UTF-8" else charset)
            cmd += b" " + key.encode() + b" {%d+}\r\n" % len(val) + val
        u, t = self.c.ok(cmd)
        self.assertEqual(search_hits(u), expected, criteria)

    def test_encoded_words_in_headers(self):
        self.check([("SUBJECT", "grüße")], [1])
        self.check([("SUBJECT", "aus köln")], [1])
        self.check([("FROM", "jürgen MÜLLER")], [2])
        self.check([("FROM", "jm@example.org")], [2])
        # The raw encoded form is not what the user sees.
        self.check([("SUBJECT", "ISO-8859-1")], [])
        u, t = self.c.ok(b"SEARCH HEADER Subject {5+}\r\nK\xc3\xb6ln")
        self.assertEqual(search_hits(u), [1])

    def test_decoded_bodies(self):
        self.check([("BODY", "straße")], [1])
        self.check([("BODY", "ärger im büro")], [1])
        self.check([("BODY", "crème brûlée")], [2])
        self.check([("BODY", "extraordinary")], [2])    # soft line break
        self.check([("BODY", "world & friends")], [3])   # HTML made text
        self.check([("BODY", "zebra")], [])               # markup is not
        self.check([("BODY", "&amp;")], [])
        self.check([("BODY", "attachedtext")], [4])
        self.check([("BODY", "secretword")], [])          # not text
        # Base64 text is not searched in its encoded form.
        self.check([("BODY", "RGllIFN0cmHDn2U")], [])

    def test_unicode_case_folding(self):
        self.check([("SUBJECT", "ΚΑΛΗΜΈΡΑ")], [5])
        self.check([("BODY", "σοφία")], [5])
        self.check([("TEXT", "κόσμε")], [5])
        self.check([("TEXT", "grüße")], [1])     # header part of TEXT
        self.check([("TEXT", "extraordinary")], [2])

    def test_other_charsets(self):
        # The search string in latin1 and in ISO-8859-7, converted by us.
        self.check([("BODY", "crème")], [2], charset="ISO-8859-1")
        self.check([("SUBJECT", "köln")], [1], charset="ISO-8859-1")
        u, t = self.c.ok(b"SEARCH CHARSET ISO-8859-7 BODY {3+}\r\n"
                         b"\xf3\xef\xf6")
        self.assertEqual(search_hits(u), [5])           # "σοφ"
        u, t = self.c.command("SEARCH CHARSET X-UNKNOWN-8BIT BODY x")
        self.assertTrue(re.match(rb"t\d+ NO \[BADCHARSET", t), t)


# imaptest search-addresses' messages (CRLF instead of LF).
ADDR_MSGS = [
    b"From: user-from@domain.org\r\nTo: user-to@domain.org\r\n"
    b"Cc: user-cc@domain.org\r\nBcc: user-bcc@domain.org\r\n\r\nbody\r\n",
    b"From: RealFrom <user-from@domain.org>\r\n"
    b"To: RealTo <user-to@domain.org>\r\nCc: RealCc <user-cc@domain.org>"
    b"\r\nBcc: RealBcc <user-bcc@domain.org>\r\n\r\nbody2\r\n",
    b"From: <user-from (comment)@ (comment) domain.org>\r\n"
    b"To: <user-to@domain.org>\r\nCc: <user-cc@domain.org>\r\n"
    b"Bcc: <user-bcc@domain.org>\r\n\r\nbody3\r\n",
    b"From: user-from@domain.org (RealFrom)\r\n"
    b"To: user-to@domain.org (RealTo)\r\nCc: user-cc@domain.org (RealCc)"
    b"\r\nBcc: user-bcc@domain.org (RealBcc)\r\n\r\nbody4\r\n",
    b"From: user-from1@domain.org, user-from2@domain.org\r\n"
    b"Cc: user-cc@domain.org\r\n\r\nbody5\r\n",
    b"From: RealFrom <user-from@domain.org>\r\n"
    b"To: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n"
    b"  groupname2: groupuser3@domain.org;\r\n\r\nbody6\r\n",
    b"From: RealFrom <user-from@domain.org>\r\nTo: groupname:;\r\n"
    b"\r\nbody7\r\n",
    b"From: =?UTF-8?Q?J=C3=BCrgen?= (old) <j (x) @ (y) example.org>\r\n"
    b"To: \"Doe, Jane\" <jane@example.org>\r\n\r\nbody8\r\n",
]


class TestSearchAddresses(ImapBase):
    """FROM, TO, CC and BCC match the address list written back without
    comments and folding, "name <local@domain>" (Dovecot; imaptest
    search-addresses).  HEADER and TEXT still see the raw field."""

    @classmethod
    def setUpClass(cls):
        c = ImapConn(SRV)
        try:
            c.login()
            c.ok('CREATE "searchaddr"')
            for m in ADDR_MSGS:
                c.append_ok("searchaddr", m)
            c.logout()
        finally:
            c.close()

    def test_imaptest_expectations(self):
        c = self.conn()
        c.ok('EXAMINE "searchaddr"')
        want = [
            ("FROM user-from@domain.org", [1, 2, 3, 4, 6, 7]),
            ("TO user-to@domain.org", [1, 2, 3, 4]),
            ("CC user-cc@domain.org", [1, 2, 3, 4, 5]),
            ("BCC user-bcc@domain.org", [1, 2, 3, 4]),
            ("FROM realfrom", [2, 4, 6, 7]),
            ("TO realto", [2, 4]),
            ("CC realcc", [2, 4]),
            ("BCC realbcc", [2, 4]),
            ('HEADER FROM ""', [1, 2, 3, 4, 5, 6, 7, 8]),
            ('HEADER TO ""', [1, 2, 3, 4, 6, 7, 8]),
            ('HEADER CC ""', [1, 2, 3, 4, 5]),
            ('HEADER BCC ""', [1, 2, 3, 4]),
            ("FROM ser-fro", [1, 2, 3, 4, 5, 6, 7]),
            ("TO ser-t", [1, 2, 3, 4]),
            ("CC ser-c", [1, 2, 3, 4, 5]),
            ("BCC ser-bc", [1, 2, 3, 4]),
            ("FROM ealfro", [2, 4, 6, 7]),
            ("TO ealt", [2, 4]),
            ("CC ealc", [2, 4]),
            ("BCC ealbc", [2, 4]),
            ("FROM user-from1", [5]),
            ("FROM user-from2", [5]),
            ("TO groupname", [6, 7]),
            ("TO groupname2", [6]),
            ("TO groupuser1", [6]),
            ("TO groupuser2", [6]),
            ("TO groupuser3", [6]),
            ("TO groupuser4", []),
        ]
        for crit, hits in want:
            u, _ = c.ok("SEARCH " + crit)
            self.assertEqual(search_hits(u), hits, crit)

    def test_normalized_forms(self):
        c = self.conn()
        c.ok('EXAMINE "searchaddr"')
        want = [
            # Comments and blanks inside the address are gone ...
            ("FROM j@example.org", [8]),
            ('FROM "rgen <j@"', [8]),            # name decoded, then <>
            ("FROM old", []),                    # a comment, not a name
            ('TO "Doe, Jane <jane@"', [8]),      # quotes removed
            ('FROM "user-from@domain.org (RealFrom)"', []),
            ('FROM "RealFrom <user-from@domain.org>"', [2, 4, 6, 7]),
            ('TO "groupname: groupuser1@domain.org, groupuser2"', [6]),
            # ... while HEADER and TEXT see the field as it is.
            ('HEADER FROM "(comment)@"', [3]),
            ("HEADER FROM user-from@domain.org", [1, 2, 4, 6, 7]),
            ('TEXT "user-from (comment)@"', [3]),
        ]
        for crit, hits in want:
            u, _ = c.ok("SEARCH " + crit)
            self.assertEqual(search_hits(u), hits, crit)
        key = "Jürgen <j@ex".encode()
        u, _ = c.ok(b"SEARCH CHARSET UTF-8 FROM {%d+}\r\n" % len(key) + key)
        self.assertEqual(search_hits(u), [8])


class TestFullTextIndex(ImapBase):
    """SEARCH BODY/TEXT decode what the account's full-text index lacks
    and then have it indexed in the background (store/fts_index.h: FTS5
    trigrams of the folded text); later searches answer from it.  The
    index is looked at and, once, tampered with directly in the
    account's mail.db, to show which answers come from it."""

    def wait_indexed(self, con, n):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = con.execute("SELECT count(*) FROM fts_docs").fetchone()[0]
            if got == n:
                return
            time.sleep(0.05)
        self.fail(f"fts_docs has {got} entries, want {n}")

    def fts_conn(self, user=FTS_USER):
        c = ImapConn(self.srv)
        self.addCleanup(c.close)
        c.login(user, OTHER_PASSWORD)
        return c

    def db(self, box="ftsbox"):
        import sqlite3
        base = os.path.join(self.srv.data_dir, "accounts")
        for d in os.listdir(base):
            path = os.path.join(base, d, "mail.db")
            con = sqlite3.connect(path, timeout=10)
            if con.execute("SELECT 1 FROM mailboxes WHERE name = ?",
                           (box,)).fetchone():
                self.addCleanup(con.close)
                return con
            con.close()
        raise AssertionError(f"no account with mailbox {box}")

    def search(self, c, crit):
        u, t = c.ok(b"SEARCH CHARSET UTF-8 " + crit.encode())
        return search_hits(u)

    def test_index_filled_used_and_emptied(self):
        c = self.fts_conn()
        c.ok('CREATE "ftsbox"')
        msgs = [
            b"Subject: one\r\n\r\nalpha bravo charlie\r\n",
            b"Subject: two\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" +
            base64.encodebytes("Grüße delta echo\r\n".encode()),
            b"Subject: three\r\nContent-Type: text/html\r\n\r\n"
            b"<p>foxtrot <i>golf</i></p>\r\n",
        ]
        uids = [c.append_ok("ftsbox", m)[1] for m in msgs]
        c.ok('SELECT "ftsbox"')
        con = self.db()
        self.assertEqual(con.execute("SELECT count(*) FROM fts_docs")
                         .fetchone()[0], 0)
        # The first BODY search decodes every message; they are indexed
        # after it, in the background.
        self.assertEqual(self.search(c, "BODY bravo"), [1])
        self.wait_indexed(con, 3)
        rows = con.execute("SELECT complete FROM fts_docs").fetchall()
        self.assertEqual(rows, [(1,), (1,), (1,)])
        texts = [r[0] for r in con.execute("SELECT text FROM fts ORDER "
                                           "BY rowid")]
        self.assertEqual(len(texts), 3)
        self.assertIn("grüße delta echo", texts[1])    # folded, decoded
        self.assertIn("foxtrot golf", texts[2])    # HTML made text
        # Later searches answer from the index.
        self.assertEqual(self.search(c, "BODY \"OT GOL\""), [3])
        self.assertEqual(self.search(c, "TEXT DELTA"), [2])
        self.assertEqual(self.search(c, "BODY zulu"), [])
        # Proof: with message 1's indexed text changed behind the
        # server's back, a 3+ character key follows the index ...
        con.execute("UPDATE fts SET text = 'zulu' WHERE rowid = "
                    "(SELECT min(rowid) FROM fts)")
        con.commit()
        self.assertEqual(self.search(c, "BODY bravo"), [])
        self.assertEqual(self.search(c, "BODY zulu"), [1])
        # ... while a shorter one cannot use it and decodes the message.
        self.assertEqual(self.search(c, "BODY br"), [1])
        # A message delivered later is found by decoding it, and indexed
        # after that search.
        c.append_ok("ftsbox", b"Subject: four\r\n\r\nhotel india\r\n")
        c.ok("NOOP")
        self.assertEqual(self.search(c, "BODY \"hotel ind\""), [4])
        self.wait_indexed(con, 4)
        # Expunged messages leave the index with the message.
        c.ok(f"UID STORE {uids[0]}:{uids[1]} +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
        self.assertEqual(con.execute("SELECT count(*) FROM fts_docs")
                         .fetchone()[0], 2)
        self.assertEqual(con.execute("SELECT count(*) FROM fts")
                         .fetchone()[0], 2)
        self.assertEqual(self.search(c, "BODY golf"), [1])
        self.assertEqual(self.search(c, "BODY india"), [2])

    def test_index_filled_in_batches(self):
        """More messages than one indexing job takes (fts_index.h:
        FTS_INDEX_BATCH, 200): the jobs go on until all are indexed, and
        searches before, during and after give the same answers."""
        c = self.fts_conn(FTS_BATCH_USER)
        c.ok('CREATE "ftsbatch"')
        n = 450
        parts = []
        for i in range(n):
            m = (b"Subject: m%d\r\n\r\nword%d needle%d\r\n" %
                 (i, i, i % 7))
            parts.append(b" {%d+}\r\n" % len(m) + m)
        c.ok(b'APPEND "ftsbatch"' + b"".join(parts))
        c.ok('SELECT "ftsbatch"')
        con = self.db("ftsbatch")
        want = [i + 1 for i in range(n) if i % 7 == 3]
        self.assertEqual(self.search(c, "BODY needle3"), want)
        self.assertEqual(self.search(c, "BODY needle3"), want)
        self.wait_indexed(con, n)
        self.assertEqual(con.execute("SELECT count(*) FROM fts WHERE "
                                     "text LIKE '%needle3%'").fetchone()[0],
                         len(want))
        self.assertEqual(self.search(c, "BODY needle3"), want)
        self.assertEqual(self.search(c, "BODY word449"), [450])


class TestBadInput(ImapBase):

    def test_unknown_command(self):
        c = self.conn()
        u, t = c.command("XYZZY foo")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("NOOP")
        self.assertEqual(status_of(t), "OK", t)

    def test_literal_pipelined_behind_async_command(self):
        # imaptest's stress mode found it: an APPEND literal that piles up
        # in many input chunks while EXPUNGE runs on a worker was spooled
        # past the end of a 4-entry iovec array (the server crashed).
        self.mailbox("pipe1", [make_msg("pipe")])
        c = self.conn()
        c.ok('SELECT "pipe1"')
        msg = (b"From: x@example.org\r\nSubject: big\r\n\r\n" +
               (b"y" * 76 + b"\r\n") * 1000)
        for _ in range(3):
            c.send(b"p1 EXPUNGE\r\np2 APPEND pipe1 {%d+}\r\n" % len(msg) +
                   msg + b"\r\np3 NOOP\r\n")
            for tag in ("p1", "p2", "p3"):
                u, t = c.read_tagged(tag)
                self.assertEqual(status_of(t), "OK", t)
        u, _ = c.ok("FETCH 2:4 (RFC822.SIZE)")
        self.assertEqual([f["RFC822.SIZE"] for f in fetch_map(u).values()],
                         [str(len(msg))] * 3)
        u, _ = c.ok("FETCH 4 (BODY.PEEK[])")
        self.assertIn(msg, b"\n".join(u))

    def test_missing_tag(self):
        c = self.conn()
        c.send(b" NOOP\r\n")
        r = c.read_response()
        self.assertTrue(r.startswith(b"* BAD"), r)
        c.ok("NOOP")

    def test_unbalanced_parentheses(self):
        self.mailbox("bad1", [make_msg("bad")])
        c = self.conn()
        c.ok('SELECT "bad1"')
        u, t = c.command("FETCH 1 (FLAGS")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("FETCH 1 FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("STORE 1 +FLAGS ((\\Seen)")
        self.assertEqual(status_of(t), "BAD", t)
        u, _ = c.ok("FETCH 1 (FLAGS)")
        self.assertEqual(fetch_map(u)[1]["FLAGS"], [])

    def test_huge_literal_size(self):
        # A synchronizing literal waits for "+": BAD, and the session goes
        # on.  After a non-synchronizing one the data cannot be framed, so
        # the server closes.
        for login in (False, True):
            c = self.conn(login=login)
            c.send(b"x1 LOGIN {99999999999999999999}\r\n" if not login else
                   b'x1 APPEND "INBOX" {99999999999999999999}\r\n')
            r = c.read_response()
            self.assertTrue(r.startswith(b"x1 BAD"), r)
            c.send(b"x2 NOOP\r\n")
            self.assertTrue(c.read_response().startswith(b"x2 OK"))
            c.send(b"x3 LOGIN {99999999999999999999+}\r\n" if not login
                   else b'x3 APPEND "INBOX" {99999999999999999999+}\r\n')
            lines = []
            while True:
                try:
                    lines.append(c.read_response())
                except (EOFError, OSError):
                    break
            self.assertTrue([l for l in lines if l.startswith(b"x3 BAD")],
                            lines)
            self.assertFalse([l for l in lines if l.startswith(b"+")], lines)
            self.assertTrue(c.raw.closed(timeout=5))

    def test_line_too_long(self):
        c = self.conn()
        c.send(b"x2 NOOP " + b"a" * (70 * 1024) + b"\r\n")
        r = c.read_response()
        self.assertTrue(re.match(rb"(x2|\*) BAD \[TOOBIG\]", r), r[:200])
        u, t = c.command("NOOP")
        self.assertEqual(status_of(t), "OK", t)
        c.ok("SELECT INBOX")

    def test_sequence_out_of_range(self):
        self.mailbox("bad2", [make_msg("r1"), make_msg("r2")])
        c = self.conn()
        c.ok('SELECT "bad2"')
        u, t = c.command("FETCH 5 (FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("FETCH 1:5 (FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("STORE 3 +FLAGS (\\Seen)")
        self.assertEqual(status_of(t), "BAD", t)
        u, t = c.command("FETCH 0 (FLAGS)")
        self.assertEqual(status_of(t), "BAD", t)
        u, _ = c.ok("FETCH 1:2 (FLAGS)")
        self.assertEqual(sorted(fetch_map(u)), [1, 2])

    def test_wrong_state(self):
        c = self.conn(login=False)
        for cmd in ("SELECT INBOX", "LIST \"\" \"*\"", "FETCH 1 (FLAGS)",
                    "CREATE foo"):
            u, t = c.command(cmd)
            self.assertEqual(status_of(t), "BAD", (cmd, t))
        c.login()
        for cmd in ("FETCH 1 (FLAGS)", "STORE 1 +FLAGS (\\Seen)", "EXPUNGE",
                    "SEARCH ALL", "CLOSE"):
            u, t = c.command(cmd)
            self.assertEqual(status_of(t), "BAD", (cmd, t))
        u, t = c.command(f"LOGIN {q(self.srv.USER)} {q(self.srv.PASSWORD)}")
        self.assertEqual(status_of(t), "BAD", t)
        c.ok("SELECT INBOX")


if __name__ == "__main__":
    unittest.main()

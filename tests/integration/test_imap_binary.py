"""
test_imap_binary - FETCH BINARY / BINARY.PEEK / BINARY.SIZE (RFC 3516,
RFC 9051 6.4.5), APPEND with literal8, and FETCH PREVIEW (RFC 8970)
against the real server over a raw socket (imaplib knows no literal8).

Expected bytes are built here from the same pieces as the messages:
every part is made from its raw header lines, its encoded body and the
bytes that encoding stands for (Python's base64 / hand-written
quoted-printable), so what BINARY must return is known without asking
the server.  What the server does where the RFC leaves room, as Dovecot
does it:
  - a leaf part gives its decoded body, no CRLF conversion;
  - BINARY[] and a part with children give their bytes with every base64
    or quoted-printable leaf below decoded and its header's
    Content-Transfer-Encoding fields replaced by
    "Content-Transfer-Encoding: binary" (put before the empty line);
  - "~{n}" (literal8) only when the decoded section holds a NUL byte
    (RFC 3516 4.3: 8bit data without NUL SHOULD be a normal string), the
    same for every partial fetch of the section;
  - an unknown encoding in the section: NO [UNKNOWN-CTE], after the
    responses of the other messages;
  - a part that does not exist: BINARY NIL, BINARY.SIZE 0 (as BODY[]).
PREVIEW strings follow mime_preview() (Dovecot's snippet rules: blanks
collapsed, quoted lines only when nothing else, HTML made text,
attachments skipped, at most 256 characters).
"""
import base64
import random
import re
import time
import unittest

from test_imap import (ImapConn, make_server, q, status_of,
                       show_log_on_failure)

SRV = None


def setUpModule():
    global SRV
    SRV = make_server()
    try:
        SRV.start()
    except Exception:
        SRV.cleanup()
        raise


def tearDownModule():
    if SRV is not None:
        SRV.cleanup()


# ----------------------------------------------------------------------
# Building messages together with their expected BINARY form.

def b64_body(data, width=76):
    """base64 in CRLF lines, without a line break after the last one."""
    enc = base64.b64encode(data)
    return b"\r\n".join(enc[i:i + width]
                        for i in range(0, len(enc), width))


class Part:
    """A leaf: header lines (without CRLF), encoded body, decoded body.
    converted: whether BINARY rewrites its header (base64/QP)."""

    def __init__(self, headers, body, decoded=None, converted=False):
        self.headers = headers
        self.body = body
        self.decoded = body if decoded is None else decoded
        self.converted = converted

    def raw(self):
        return b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + \
            self.body

    def binary(self):
        if not self.converted:
            return self.raw()
        kept = []
        drop = False
        for h in self.headers:
            if h[:1] in (b" ", b"\t"):
                if not drop:
                    kept.append(h)
                continue
            drop = h.split(b":", 1)[0].strip().lower() == \
                b"content-transfer-encoding"
            if not drop:
                kept.append(h)
        kept.append(b"Content-Transfer-Encoding: binary")
        return b"".join(h + b"\r\n" for h in kept) + b"\r\n" + self.decoded


class Multi:
    """A multipart: header lines, boundary, children, preamble and
    epilogue; raw() / binary() give the whole part, body_*() its body."""

    def __init__(self, headers, boundary, children, preamble=b"",
                 epilogue=b""):
        self.headers = headers
        self.boundary = boundary
        self.children = children
        self.preamble = preamble
        self.epilogue = epilogue

    def _body(self, conv):
        out = self.preamble
        for c in self.children:
            out += b"--" + self.boundary + b"\r\n" + conv(c) + b"\r\n"
        out += b"--" + self.boundary + b"--\r\n" + self.epilogue
        return out

    def body_raw(self):
        return self._body(lambda c: c.raw())

    def body_binary(self):
        return self._body(lambda c: c.binary())

    def raw(self):
        return b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + \
            self.body_raw()

    def binary(self):
        return b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + \
            self.body_binary()


class Rfc822:
    """A message/rfc822 part holding msg (a Part or Multi)."""

    def __init__(self, headers, msg):
        self.headers = headers
        self.msg = msg

    def raw(self):
        return b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + \
            self.msg.raw()

    def binary(self):
        return b"".join(h + b"\r\n" for h in self.headers) + b"\r\n" + \
            self.msg.binary()


TOP = [b"From: sender@example.org", b"To: demo@example.test",
       b"Message-ID: <bin@example.org>", b"MIME-Version: 1.0"]

# Message 1: QP text, a base64 attachment with NUL bytes, base64 text.
QP_RAW = b"Caf=C3=A9 au lait=20\r\nsoft=\r\n break line"
QP_DEC = "Café au lait \r\nsoft break line".encode()
BLOB = bytes(range(256)) * 3 + b"\x00end"
TEXT64 = b"Hello, base64 world!\r\nSecond line.\r\n"
M1 = Multi(TOP + [b"Subject: binary one",
                  b'Content-Type: multipart/mixed; boundary="XX"'],
           b"XX", [
               Part([b"Content-Type: text/plain; charset=utf-8",
                     b"Content-Transfer-Encoding: quoted-printable"],
                    QP_RAW, QP_DEC, True),
               Part([b"Content-Type: application/octet-stream",
                     b"Content-Disposition: attachment; filename=b.bin",
                     b"Content-Transfer-Encoding: base64"],
                    b64_body(BLOB), BLOB, True),
               Part([b"Content-Type: text/plain",
                     b"Content-Transfer-Encoding: base64"],
                    b64_body(TEXT64), TEXT64, True),
           ], preamble=b"This is a MIME message.\r\n",
           epilogue=b"epilogue\r\n")

# Message 2: nested multiparts, a message/rfc822, an unknown encoding.
GRUSS_QP = b"Gr=C3=BC=C3=9Fe aus Z=C3=BCrich"
GRUSS = "Grüße aus Zürich".encode()
HTML = "<p>Grüße</p>\r\n".encode()
INNER = b"Inner message text.\r\n"
UUE = b"begin 644 x\r\n#86)C\r\n`\r\nend"
ALT = Multi([b'Content-Type: multipart/alternative; boundary="inner"'],
            b"inner", [
                Part([b"Content-Type: text/plain; charset=utf-8",
                      b"Content-Transfer-Encoding: quoted-printable"],
                     GRUSS_QP, GRUSS, True),
                Part([b"Content-Type: text/html; charset=utf-8",
                      b"Content-Transfer-Encoding: base64"],
                     b64_body(HTML), HTML, True),
            ])
INNER_MSG = Part([b"From: inner@example.org", b"Subject: inner",
                  b"Content-Type: text/plain",
                  b"Content-Transfer-Encoding: base64"],
                 b64_body(INNER), INNER, True)
M2 = Multi(TOP + [b"Subject: binary nested",
                  b'Content-Type: multipart/mixed; boundary="outer"'],
           b"outer", [
               ALT,
               Rfc822([b"Content-Type: message/rfc822"], INNER_MSG),
               Part([b"Content-Type: application/x-thing",
                     b"Content-Transfer-Encoding: x-uuencode"], UUE),
           ])

# Message 3: one part, base64, a folded C-T-E field in the middle.
SINGLE = b"Single part body.\r\n"
M3 = Part(TOP + [b"Subject: binary single",
                 b"Content-Type: text/plain; charset=us-ascii",
                 b"Content-Transfer-Encoding:", b"\tBASE64",
                 b"X-After: yes"],
          b64_body(SINGLE), SINGLE, True)


# ----------------------------------------------------------------------
# Reading FETCH responses with literal8.

def item(resp, name):
    """The value of FETCH item name in a response: (kind, bytes) with
    kind 'literal8', 'literal', 'quoted', 'nil' or 'atom'."""
    key = name.encode() + b" "
    i = resp.find(key)
    if i < 0:
        raise AssertionError(f"{name} not in {resp[:300]!r}")
    i += len(key)
    m = re.compile(rb"(~?)\{(\d+)\}\r\n").match(resp, i)
    if m:
        n = int(m.group(2))
        data = resp[m.end():m.end() + n]
        assert len(data) == n, resp
        return ("literal8" if m.group(1) else "literal"), data
    if resp[i:i + 1] == b'"':
        out = bytearray()
        i += 1
        while resp[i:i + 1] != b'"':
            if resp[i:i + 1] == b"\\":
                i += 1
            out += resp[i:i + 1]
            i += 1
        return "quoted", bytes(out)
    m = re.compile(rb"[^ )]+").match(resp, i)
    if m.group(0).upper() == b"NIL":
        return "nil", None
    return "atom", m.group(0)


def fetch_resps(untagged):
    return [r for r in untagged if re.match(rb"\* \d+ FETCH ", r)]


class Base(unittest.TestCase):
    counter = 0

    def run(self, result=None):
        return show_log_on_failure(self, result, SRV, super().run)

    def conn(self, login=True):
        c = ImapConn(SRV)
        self.addCleanup(c.close)
        if login:
            c.login()
        return c

    def box(self, *msgs):
        """A new mailbox holding msgs (bytes), selected on a new
        connection, which is returned with the mailbox name."""
        Base.counter += 1
        name = f"bin{Base.counter}-{int(time.time() * 1000) % 100000}"
        c = self.conn()
        c.ok(f"CREATE {q(name)}")
        for m in msgs:
            c.append_ok(name, m)
        c.ok(f"SELECT {q(name)}")
        return c, name

    def one(self, c, cmd):
        """Runs a FETCH that must succeed for one message; its response."""
        u, t = c.command(cmd)
        self.assertEqual(status_of(t), "OK", t)
        r = fetch_resps(u)
        self.assertEqual(len(r), 1, u)
        return r[0]

    def flags(self, c, seq=1):
        r = self.one(c, f"FETCH {seq} FLAGS")
        return re.search(rb"FLAGS \(([^)]*)\)", r).group(1).split()


class TestBinaryFetch(Base):

    def test_leaf_parts_decoded(self):
        c, _ = self.box(M1.raw())
        r = self.one(c, "FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] "
                        "BINARY.PEEK[3])")
        self.assertEqual(item(r, "BINARY[1]"), ("literal", QP_DEC))
        self.assertEqual(item(r, "BINARY[2]"), ("literal8", BLOB))
        self.assertEqual(item(r, "BINARY[3]"), ("literal", TEXT64))

    def test_partial_and_size(self):
        c, _ = self.box(M1.raw())
        r = self.one(c, "FETCH 1 (BINARY.PEEK[2]<0.10> BINARY.SIZE[2] "
                        "BINARY.PEEK[2]<700.1000> BINARY.SIZE[1])")
        # The literal form says whether the section has NUL, whatever
        # window of it is sent.
        self.assertEqual(item(r, "BINARY[2]<0>"), ("literal8", BLOB[:10]))
        self.assertEqual(item(r, "BINARY[2]<700>"),
                         ("literal8", BLOB[700:]))
        self.assertEqual(item(r, "BINARY.SIZE[2]"),
                         ("atom", str(len(BLOB)).encode()))
        self.assertEqual(item(r, "BINARY.SIZE[1]"),
                         ("atom", str(len(QP_DEC)).encode()))
        r = self.one(c, "FETCH 1 (BINARY.PEEK[1]<3.4> "
                        "BINARY.PEEK[3]<9999.5>)")
        self.assertEqual(item(r, "BINARY[1]<3>"), ("literal", QP_DEC[3:7]))
        self.assertEqual(item(r, "BINARY[3]<9999>"), ("literal", b""))

    def test_whole_message_and_multipart_part(self):
        c, _ = self.box(M1.raw(), M2.raw(), M3.raw())
        r = self.one(c, "FETCH 1 (BINARY.PEEK[] BINARY.SIZE[])")
        self.assertEqual(item(r, "BINARY[]"), ("literal8", M1.binary()))
        self.assertEqual(item(r, "BINARY.SIZE[]"),
                         ("atom", str(len(M1.binary())).encode()))
        # The multipart/alternative: its body with both leaves decoded.
        r = self.one(c, "FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1])")
        self.assertEqual(item(r, "BINARY[1]"),
                         ("literal", ALT.body_binary()))
        self.assertEqual(item(r, "BINARY.SIZE[1]"),
                         ("atom", str(len(ALT.body_binary())).encode()))
        # A single-part message: BINARY[1] is its body, BINARY[] the
        # message with the folded C-T-E field replaced.
        r = self.one(c, "FETCH 3 (BINARY.PEEK[1] BINARY.PEEK[] "
                        "BINARY.SIZE[])")
        self.assertEqual(item(r, "BINARY[1]"), ("literal", SINGLE))
        self.assertEqual(item(r, "BINARY[]"), ("literal", M3.binary()))
        self.assertEqual(M3.binary(), b"".join(h + b"\r\n" for h in TOP) +
                         b"Subject: binary single\r\n"
                         b"Content-Type: text/plain; charset=us-ascii\r\n"
                         b"X-After: yes\r\n"
                         b"Content-Transfer-Encoding: binary\r\n\r\n"
                         b"Single part body.\r\n")
        self.assertEqual(item(r, "BINARY.SIZE[]"),
                         ("atom", str(len(M3.binary())).encode()))

    def test_nested_parts(self):
        c, _ = self.box(M2.raw())
        r = self.one(c, "FETCH 1 (BINARY.PEEK[1.1] BINARY.PEEK[1.2] "
                        "BINARY.PEEK[2.1] BINARY.PEEK[2] BINARY.SIZE[2])")
        self.assertEqual(item(r, "BINARY[1.1]"), ("literal", GRUSS))
        self.assertEqual(item(r, "BINARY[1.2]"), ("literal", HTML))
        self.assertEqual(item(r, "BINARY[2.1]"), ("literal", INNER))
        # message/rfc822: the encapsulated message, converted.
        self.assertEqual(item(r, "BINARY[2]"),
                         ("literal", INNER_MSG.binary()))
        self.assertEqual(item(r, "BINARY.SIZE[2]"),
                         ("atom", str(len(INNER_MSG.binary())).encode()))
        # BODY[] of the same parts is untouched.
        r = self.one(c, "FETCH 1 (BODY.PEEK[1.2] BODY.PEEK[3])")
        self.assertEqual(item(r, "BODY[1.2]"),
                         ("literal", b64_body(HTML)))
        self.assertEqual(item(r, "BODY[3]"), ("literal", UUE))

    def test_missing_part(self):
        c, _ = self.box(M3.raw())
        r = self.one(c, "FETCH 1 (BINARY.PEEK[4] BINARY.SIZE[4] "
                        "BINARY.PEEK[1.2])")
        self.assertEqual(item(r, "BINARY[4]"), ("nil", None))
        self.assertEqual(item(r, "BINARY.SIZE[4]"), ("atom", b"0"))
        self.assertEqual(item(r, "BINARY[1.2]"), ("nil", None))

    def test_unknown_cte(self):
        c, _ = self.box(M1.raw(), M2.raw(), M3.raw())
        for cmd in ("FETCH 2 BINARY.PEEK[3]", "FETCH 2 BINARY.SIZE[3]",
                    "FETCH 2 BINARY.PEEK[]", "FETCH 2 (UID BINARY[3])"):
            u, t = c.command(cmd)
            self.assertEqual(status_of(t), "NO", (cmd, t))
            self.assertIn(b"[UNKNOWN-CTE]", t)
            self.assertEqual(fetch_resps(u), [], cmd)
        # BINARY did not set \Seen: the message was not sent.
        self.assertNotIn(b"\\Seen", self.flags(c, 2))
        # Not even with another item that sets it.
        u, t = c.command("FETCH 2 (BODY[1.1] BINARY[3])")
        self.assertEqual(status_of(t), "NO", t)
        self.assertEqual(fetch_resps(u), [])
        self.assertNotIn(b"\\Seen", self.flags(c, 2))
        # The other messages are answered, then the NO.
        u, t = c.command("FETCH 1:3 (UID BINARY.PEEK[3])")
        self.assertEqual(status_of(t), "NO", t)
        self.assertIn(b"[UNKNOWN-CTE]", t)
        got = {int(r.split()[1]): r for r in fetch_resps(u)}
        self.assertEqual(sorted(got), [1, 3])
        self.assertEqual(item(got[1], "BINARY[3]"), ("literal", TEXT64))
        self.assertEqual(item(got[3], "BINARY[3]"), ("nil", None))
        # Parts beside the unknown one still decode.
        r = self.one(c, "FETCH 2 BINARY.PEEK[1.1]")
        self.assertEqual(item(r, "BINARY[1.1]"), ("literal", GRUSS))

    def test_binary_sets_seen_peek_does_not(self):
        c, _ = self.box(M1.raw(), M1.raw())
        r = self.one(c, "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2])")
        self.assertNotIn(b"FLAGS", r)
        self.assertNotIn(b"\\Seen", self.flags(c))
        r = self.one(c, "FETCH 1 BINARY[1]")
        self.assertEqual(item(r, "BINARY[1]"), ("literal", QP_DEC))
        self.assertRegex(r, rb"FLAGS \([^)]*\\Seen")
        self.assertIn(b"\\Seen", self.flags(c))
        # EXAMINE: read-only, BINARY sets nothing.
        c2 = self.conn()
        c2.ok(f"EXAMINE {q(_)}")
        r = self.one(c2, "FETCH 2 BINARY[2]")
        self.assertEqual(item(r, "BINARY[2]"), ("literal8", BLOB))
        self.assertNotIn(b"\\Seen", self.flags(c2, 2))

    def test_big_attachment_streamed(self):
        # Over the size prepared inline: measured on a worker.
        rnd = random.Random(3516)
        big = bytes(rnd.getrandbits(8) for _ in range(700 * 1024))
        msg = Multi(TOP + [b"Subject: big",
                           b'Content-Type: multipart/mixed; boundary="b"'],
                    b"b", [
                        Part([b"Content-Type: text/plain"], b"See att."),
                        Part([b"Content-Type: application/octet-stream",
                              b"Content-Transfer-Encoding: base64"],
                             b64_body(big), big, True),
                    ])
        c, _ = self.box(msg.raw())
        r = self.one(c, "FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2] "
                        "BINARY.PEEK[2]<300000.1000> BINARY.PEEK[1])")
        self.assertEqual(item(r, "BINARY.SIZE[2]"),
                         ("atom", str(len(big)).encode()))
        kind, data = item(r, "BINARY[2]")
        self.assertEqual(kind, "literal8" if b"\0" in big else "literal")
        self.assertTrue(data == big, "big attachment differs")
        self.assertEqual(item(r, "BINARY[2]<300000>")[1],
                         big[300000:301000])
        self.assertEqual(item(r, "BINARY[1]"), ("literal", b"See att."))
        r = self.one(c, "FETCH 1 (BINARY.PEEK[])")
        self.assertTrue(item(r, "BINARY[]")[1] == msg.binary())

    def test_delivered_over_smtp(self):
        # Delivery puts Return-Path (and more) first: offsets move.
        Base.counter += 1
        user = f"bindeliv{Base.counter}@example.test"
        SRV.add_user(user, "deliv-password-1")
        s = SRV.smtp()
        try:
            s.sendmail("sender@example.org", [user], M1.raw())
        finally:
            s.quit()
        c = ImapConn(SRV)
        self.addCleanup(c.close)
        c.ok(f"LOGIN {q(user)} {q('deliv-password-1')}")
        c.ok("SELECT INBOX")
        r = self.one(c, "FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2] "
                        "BINARY.SIZE[3])")
        self.assertEqual(item(r, "BINARY[1]"), ("literal", QP_DEC))
        self.assertEqual(item(r, "BINARY[2]"), ("literal8", BLOB))
        self.assertEqual(item(r, "BINARY.SIZE[3]"),
                         ("atom", str(len(TEXT64)).encode()))

    def test_bad_syntax(self):
        c, _ = self.box(M3.raw())
        for cmd in ("FETCH 1 BINARY[1.MIME]", "FETCH 1 BINARY[HEADER]",
                    "FETCH 1 BINARY.SIZE[1]<0.5>", "FETCH 1 BINARY[0]",
                    "FETCH 1 BINARY.PEEK[TEXT]"):
            u, t = c.command(cmd)
            self.assertEqual(status_of(t), "BAD", (cmd, t))


class TestAppendLiteral8(Base):

    MSG = (b"From: sender@example.org\r\nSubject: nul bytes\r\n"
           b"Content-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\n"
           b"\x00\x01\x02zero\x00\r\nmore\x00 and \xff\xfe bytes\r\n")

    def check_back(self, c, seq, msg):
        """msg (one part, C-T-E binary last) was sent as a literal8: it
        is stored with its body as base64 (as Dovecot does), BINARY gives
        the sent bytes back."""
        head, body = msg.split(b"\r\n\r\n", 1)
        stored = (head.replace(b"Content-Transfer-Encoding: binary",
                               b"Content-Transfer-Encoding: base64") +
                  b"\r\n\r\n" + b64_body(body))
        r = self.one(c, f"FETCH {seq} (BINARY.PEEK[] BODY.PEEK[] "
                        "BINARY.PEEK[1] BINARY.SIZE[1] RFC822.SIZE)")
        self.assertEqual(item(r, "BINARY[]"), ("literal8", msg))
        self.assertEqual(item(r, "BODY[]"), ("literal", stored))
        self.assertEqual(item(r, "BINARY[1]"), ("literal8", body))
        self.assertEqual(item(r, "BINARY.SIZE[1]"),
                         ("atom", str(len(body)).encode()))
        self.assertEqual(item(r, "RFC822.SIZE"),
                         ("atom", str(len(stored)).encode()))

    def test_synchronizing_literal8(self):
        c, name = self.box()
        tag = c.next_tag()
        c.send(f"{tag} APPEND {q(name)} (\\Flagged) ~{{{len(self.MSG)}}}"
               "\r\n")
        cont = c.read_response()
        self.assertTrue(cont.startswith(b"+"), cont)
        c.send(self.MSG + b"\r\n")
        u, t = c.read_tagged(tag)
        self.assertRegex(t, rb"OK \[APPENDUID \d+ 1\]")
        c.ok("NOOP")
        self.check_back(c, 1, self.MSG)

    def test_nonsync_literal8_and_multiappend(self):
        c, name = self.box()
        other = b"Subject: plain\r\n\r\nno nul here\r\n"
        tag = c.next_tag()
        c.send(f"{tag} APPEND {q(name)} ~{{{len(self.MSG)}+}}\r\n"
               .encode() + self.MSG +
               f" {{{len(other)}+}}\r\n".encode() + other + b"\r\n")
        u, t = c.read_tagged(tag)
        self.assertRegex(t, rb"OK \[APPENDUID \d+ 1:2\]")
        c.ok("NOOP")
        self.check_back(c, 1, self.MSG)
        r = self.one(c, "FETCH 2 (BINARY.PEEK[] BINARY.PEEK[1])")
        self.assertEqual(item(r, "BINARY[]"), ("literal", other))
        self.assertEqual(item(r, "BINARY[1]"), ("literal",
                                                b"no nul here\r\n"))

    def test_literal8_elsewhere_refused(self):
        c, name = self.box()
        # A mailbox name is an astring: literal8 is not one.
        tag = c.next_tag()
        c.send(f"{tag} CREATE ~{{3+}}\r\nabc\r\n")
        u, t = c.read_tagged(tag)
        self.assertEqual(status_of(t), "BAD", t)
        c.ok("NOOP")


class TestAppendBinaryConverted(Base):
    """APPEND with a literal8 stores every leaf part with
    "Content-Transfer-Encoding: binary" as base64, as Dovecot does
    (imaptest append-binary): BODY[] never holds NUL, BINARY[] gives the
    sent octets back.  The field is replaced where it is, the base64 is
    in 76-character CRLF lines with no break after the last one."""

    BIN = bytes(range(256)) + b"\x00tail"
    INNER = b"in\x00ner \xff\r\n"

    def parts(self, conv):
        cte = (b"Content-Transfer-Encoding: base64" if conv else
               b"Content-Transfer-Encoding: binary")

        def body(data):
            return b64_body(data) if conv else data
        return Multi(TOP + [b"Subject: binary parts",
                            b'Content-Type: multipart/mixed; boundary="bb"'],
                     b"bb", [
                         Part([b"Content-Type: text/plain"],
                              b"plain text\r\n"),
                         Part([cte, b"Content-Type: application/x-bin",
                               b"X-After: kept"], body(self.BIN)),
                         Rfc822([b"Content-Type: message/rfc822"],
                                Part([b"Subject: inner", cte],
                                     body(self.INNER))),
                     ], epilogue=b"end\r\n")

    def append8(self, c, name, msg):
        tag = c.next_tag()
        c.send(f"{tag} APPEND {q(name)} ~{{{len(msg)}+}}\r\n".encode() +
               msg + b"\r\n")
        u, t = c.read_tagged(tag)
        self.assertRegex(t, rb"OK \[APPENDUID \d+ \d+\]")

    def test_binary_parts_become_base64(self):
        c, name = self.box()
        sent, stored = self.parts(False).raw(), self.parts(True).raw()
        self.assertIn(b"\0", sent)
        self.append8(c, name, sent)
        c.ok("NOOP")
        r = self.one(c, "FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[1] "
                        "BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[3.1] "
                        "BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[3.1])")
        self.assertEqual(item(r, "BODY[]"), ("literal", stored))
        self.assertNotIn(b"\0", stored)
        self.assertEqual(item(r, "RFC822.SIZE"),
                         ("atom", str(len(stored)).encode()))
        self.assertEqual(item(r, "BODY[1]"), ("literal", b"plain text\r\n"))
        self.assertEqual(item(r, "BODY[2]"), ("literal", b64_body(self.BIN)))
        self.assertEqual(item(r, "BODY[2.MIME]"),
                         ("literal", b"Content-Transfer-Encoding: base64\r\n"
                                     b"Content-Type: application/x-bin\r\n"
                                     b"X-After: kept\r\n\r\n"))
        self.assertEqual(item(r, "BODY[3.1]"),
                         ("literal", b64_body(self.INNER)))
        self.assertEqual(item(r, "BINARY[2]"), ("literal8", self.BIN))
        self.assertEqual(item(r, "BINARY.SIZE[2]"),
                         ("atom", str(len(self.BIN)).encode()))
        self.assertEqual(item(r, "BINARY[3.1]"), ("literal8", self.INNER))

    def test_imaptest_append_binary(self):
        # The message of imaptest's append-binary, byte for byte.
        msg = (b"From: user@domain.org\r\n"
               b"Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n"
               b"Mime-Version: 1.0\r\n"
               b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: binary\r\n\r\n"
               b"\x00-\xe4\n\r\n\n")
        c, name = self.box()
        self.append8(c, name, msg)
        c.ok("NOOP")
        r = self.one(c, "FETCH 1 (BODY.PEEK[1] BINARY.SIZE[1] "
                        "BINARY.PEEK[1])")
        self.assertEqual(item(r, "BODY[1]"), ("literal", b"AC3kCg0KCg=="))
        self.assertEqual(item(r, "BINARY.SIZE[1]"), ("atom", b"7"))
        self.assertEqual(item(r, "BINARY[1]"),
                         ("literal8", b"\x00-\xe4\n\r\n\n"))

    def test_big_binary_part(self):
        # Past the in-memory spool size: both spools are files.
        rnd = random.Random(23)
        data = bytes(rnd.getrandbits(8) for _ in range(400 * 1024)) + b"\0"
        msg = (b"Subject: big binary\r\nContent-Type: application/x-big\r\n"
               b"Content-Transfer-Encoding: binary\r\n\r\n" + data)
        c, name = self.box()
        self.append8(c, name, msg)
        c.ok("NOOP")
        r = self.one(c, "FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] "
                        "BODY.PEEK[1] RFC822.SIZE)")
        self.assertEqual(item(r, "BINARY.SIZE[1]"),
                         ("atom", str(len(data)).encode()))
        self.assertEqual(item(r, "BINARY[1]"), ("literal8", data))
        self.assertEqual(item(r, "BODY[1]"), ("literal", b64_body(data)))
        self.assertEqual(item(r, "RFC822.SIZE"), ("atom", str(
            msg.index(b"\r\n\r\n") + 4 + len(b64_body(data))).encode()))

    def test_plain_literal_kept(self):
        # Without literal8 the message is stored as sent (no NUL can be
        # in it), even with C-T-E binary.
        c, name = self.box()
        msg = (b"Subject: eight bit\r\nContent-Transfer-Encoding: binary"
               b"\r\n\r\n\xc3\xa9t\xc3\xa9\r\n")
        c.append_ok(name, msg)
        c.ok("NOOP")
        r = self.one(c, "FETCH 1 (BODY.PEEK[] BINARY.PEEK[1])")
        self.assertEqual(item(r, "BODY[]"), ("literal", msg))
        self.assertEqual(item(r, "BINARY[1]"),
                         ("literal", b"\xc3\xa9t\xc3\xa9\r\n"))


class TestTopLevelMessageRfc822(Base):
    """A message whose own type is message/rfc822 (RFC 3501 6.4.5, as
    Dovecot and imaptest fetch-body-message-rfc822): part 1 is its body,
    the whole encapsulated message; 1.HEADER, 1.TEXT and 1.N look inside
    it, for BODY and BINARY alike."""

    FWD = Rfc822(TOP + [b"Subject: forwarded",
                        b"Content-Type: message/rfc822"], INNER_MSG)

    def test_sections(self):
        c, _ = self.box(self.FWD.raw())
        inner_hdr = INNER_MSG.raw().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        r = self.one(c, "FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.1] "
                        "BODY.PEEK[1.HEADER] BODY.PEEK[1.TEXT] "
                        "BODY.PEEK[TEXT] BINARY.PEEK[1] BINARY.SIZE[1] "
                        "BINARY.PEEK[1.1] BINARY.PEEK[1.2] BINARY.PEEK[])")
        self.assertEqual(item(r, "BODY[1]"), ("literal", INNER_MSG.raw()))
        self.assertEqual(item(r, "BODY[TEXT]"), ("literal", INNER_MSG.raw()))
        self.assertEqual(item(r, "BODY[1.1]"), ("literal", b64_body(INNER)))
        self.assertEqual(item(r, "BODY[1.HEADER]"), ("literal", inner_hdr))
        self.assertEqual(item(r, "BODY[1.TEXT]"),
                         ("literal", b64_body(INNER)))
        self.assertEqual(item(r, "BINARY[1]"),
                         ("literal", INNER_MSG.binary()))
        self.assertEqual(item(r, "BINARY.SIZE[1]"),
                         ("atom", str(len(INNER_MSG.binary())).encode()))
        self.assertEqual(item(r, "BINARY[1.1]"), ("literal", INNER))
        self.assertEqual(item(r, "BINARY[1.2]"), ("nil", None))
        self.assertEqual(item(r, "BINARY[]"), ("literal", self.FWD.binary()))


class TestPreview(Base):

    def preview(self, msg, cmd="FETCH 1 PREVIEW", name="PREVIEW"):
        c, _ = self.box(msg)
        r = self.one(c, cmd)
        kind, data = item(r, name)
        self.assertIn(kind, ("quoted", "literal"), r)
        self.assertNotIn(b"\\Seen", self.flags(c))
        return data.decode("utf-8")

    def msg(self, ctype, body, extra=b""):
        return (b"From: sender@example.org\r\nTo: demo@example.test\r\n"
                b"Subject: preview\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: " + ctype + b"\r\n" + extra + b"\r\n" +
                body)

    def test_plain(self):
        m = self.msg(b"text/plain; charset=utf-8",
                     "Hello Bob,\r\n\r\n  See you\tat   noon.\r\n"
                     "Grüße\r\n".encode())
        self.assertEqual(self.preview(m),
                         "Hello Bob, See you at noon. Grüße")

    def test_plain_qp_and_long(self):
        words = " ".join(f"w{i}" for i in range(200))
        m = self.msg(b"text/plain",
                     b"=E2=82=AC " + words.encode() + b"\r\n",
                     b"Content-Transfer-Encoding: quoted-printable\r\n")
        # 256 characters, then the space at the cut dropped.
        p = self.preview(m)
        self.assertEqual(p, ("€ " + words)[:256].rstrip())
        self.assertEqual(len(p), 255)

    def test_html(self):
        m = self.msg(b"text/html",
                     b"<html><head><title>Title</title><style>p {x: y}"
                     b"</style></head><body><p>Hi &amp; welcome,</p>"
                     b"<div>line&nbsp;two &lt;3</div><script>var a;"
                     b"</script></body></html>\r\n")
        self.assertEqual(self.preview(m), "Hi & welcome, line two <3")

    def test_alternative(self):
        m = self.msg(b'multipart/alternative; boundary="a"',
                     b"--a\r\nContent-Type: text/html\r\n\r\n"
                     b"<p>HTML version</p>\r\n"
                     b"--a\r\nContent-Type: text/plain\r\n\r\n"
                     b"Plain version\r\n--a--\r\n")
        self.assertEqual(self.preview(m), "Plain version")

    def test_quoted_only(self):
        m = self.msg(b"text/plain",
                     b"> quoted line one\r\n>quoted   two\r\n")
        p = self.preview(m)
        self.assertTrue(p.startswith(">"), p)
        self.assertEqual(p, ">quoted line one quoted two")

    def test_quoted_skipped(self):
        m = self.msg(b"text/plain",
                     b"On Monday Bob wrote:\r\n> old text\r\n\r\n"
                     b"My answer.\r\n")
        self.assertEqual(self.preview(m), "On Monday Bob wrote: My answer.")

    def test_attachment_only(self):
        m = self.msg(b'multipart/mixed; boundary="m"',
                     b"--m\r\nContent-Type: application/pdf\r\n"
                     b"Content-Disposition: attachment; filename=a.pdf\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\n"
                     b"JVBERi0xLjQK\r\n"
                     b"--m\r\nContent-Type: text/plain\r\n"
                     b"Content-Disposition: attachment; filename=a.txt\r\n"
                     b"\r\nattached text\r\n--m--\r\n")
        self.assertEqual(self.preview(m), "")

    def test_lazy_forms(self):
        m = self.msg(b"text/plain", b"Lazy text.\r\n")
        self.assertEqual(self.preview(m, "FETCH 1 PREVIEW (LAZY)"),
                         "Lazy text.")
        self.assertEqual(self.preview(m, "FETCH 1 (UID PREVIEW (LAZY) "
                                         "FLAGS)"), "Lazy text.")
        self.assertEqual(self.preview(m, "UID FETCH 1:* (PREVIEW)"),
                         "Lazy text.")

    def test_preview_with_other_items_and_modifiers(self):
        c, _ = self.box(self.msg(b"text/plain", b"Text one.\r\n"))
        u, t = c.ok("FETCH 1 PREVIEW (LAZY) (CHANGEDSINCE 0)")
        r = fetch_resps(u)
        self.assertEqual(len(r), 1, u)
        self.assertEqual(item(r[0], "PREVIEW"), ("quoted", b"Text one."))
        self.assertIn(b"MODSEQ (", r[0])
        for cmd in ("FETCH 1 (PREVIEW (FOO))", "FETCH 1 (PREVIEW ())",
                    "FETCH 1 PREVIEW (FOO)", "FETCH 1 (PREVIEW (LAZY) "
                    "(LAZY))", "FETCH 1 PREVIEW (LAZY) (LAZY) (LAZY)"):
            u, t = c.command(cmd)
            self.assertEqual(status_of(t), "BAD", (cmd, t))

    def test_big_message_preview(self):
        body = b"Start of a long text.\r\n" + b"x" * 400 * 1024 + b"\r\n"
        m = self.msg(b"text/plain", body)
        p = self.preview(m)
        self.assertEqual(p, ("Start of a long text. " + "x" * 256)[:256])


class TestCapabilities(Base):

    def caps(self, c):
        u, t = c.ok("CAPABILITY")
        line = [r for r in u if r.startswith(b"* CAPABILITY ")]
        self.assertEqual(len(line), 1, u)
        return set(line[0].decode().split()[2:])

    def test_capabilities(self):
        c = self.conn(login=False)
        pre = self.caps(c)
        self.assertNotIn("BINARY", pre)
        c.login()
        post = self.caps(c)
        self.assertIn("BINARY", post)
        self.assertIn("PREVIEW", post)


if __name__ == "__main__":
    unittest.main()

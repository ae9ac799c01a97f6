"""
test_imap_ext - IMAP extensions beyond the base protocol, each against the
real server over a raw socket: ENABLE (RFC 5161), CONDSTORE and QRESYNC
(RFC 7162), ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032),
MULTIAPPEND (RFC 3502), APPENDLIMIT (RFC 7889), STATUS=SIZE (RFC 8438),
CREATE-SPECIAL-USE (RFC 6154), LIST-EXTENDED (RFC 5258), LIST-STATUS
(RFC 5819) and OBJECTID (RFC 8474).

Expected values are derived from the RFC texts and the examples in them;
modseq values are compared relative to each other (they are only
promised to grow), uids and sequence numbers exactly.
"""
import re
import socket
import time
import unittest
import zlib

from test_imap import (ImapConn, make_server, q, parse, fetch_map,
                       search_hits, expand_set, status_of, make_msg,
                       show_log_on_failure, wait_untagged,
                       parse_internaldate)

SRV = None
LIMIT = 200 * 1024


def setUpModule():
    global SRV
    SRV = make_server(extra_config=f"[limits]\nmessage_size = {LIMIT}\n")
    try:
        SRV.start()
    except Exception:
        SRV.cleanup()
        raise


def tearDownModule():
    if SRV is not None:
        SRV.cleanup()


def code_of(line, name):
    """The value of response code [NAME value] in a line, or None."""
    m = re.search(rb"\[" + name.encode() + rb" ([^\]]*)\]", line)
    return m.group(1).decode() if m else None


def list_entries(untagged):
    """LIST responses -> {name: set of lowercased attributes}; extended
    data (RFC 5258 CHILDINFO) after the name is allowed."""
    out = {}
    for r in untagged:
        if not r.startswith(b"* LIST "):
            continue
        vals = parse(r[len(b"* LIST "):])
        attrs, name = vals[0], vals[2]
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        out[name] = {a.lower() for a in attrs}
    return out


def one(untagged, prefix):
    got = [r for r in untagged if r.startswith(prefix)]
    if len(got) != 1:
        raise AssertionError(f"want one {prefix!r}: {untagged!r}")
    return got[0]


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

    def box(self, n=0, prefix="box"):
        """A new mailbox with n messages; returns its name."""
        Base.counter += 1
        name = f"{prefix}{Base.counter}-{int(time.time() * 1000) % 100000}"
        c = self.conn()
        c.ok(f"CREATE {q(name)}")
        for i in range(n):
            c.append_ok(name, make_msg(f"{name} msg {i + 1}"))
        c.logout()
        return name


class TestEnableCondstore(Base):

    def test_capabilities(self):
        c = self.conn()
        u, t = c.ok("CAPABILITY")
        caps = set(one(u, b"* CAPABILITY ").decode().split()[2:])
        for cap in ("ENABLE", "CONDSTORE", "QRESYNC", "ESEARCH",
                    "SEARCHRES", "WITHIN", "MULTIAPPEND", "STATUS=SIZE",
                    "CREATE-SPECIAL-USE", "OBJECTID", "LIST-EXTENDED",
                    "LIST-STATUS", f"APPENDLIMIT={LIMIT}"):
            self.assertIn(cap, caps)
        # LITERAL+ includes LITERAL-; RFC 7888 section 5 forbids both.
        self.assertIn("LITERAL+", caps)
        self.assertNotIn("LITERAL-", caps)

    def test_enable(self):
        c = self.conn()
        u, t = c.ok("ENABLE CONDSTORE X-UNKNOWN")
        self.assertEqual(u, [b"* ENABLED CONDSTORE"])
        # Already enabled: nothing new to report.
        u, t = c.ok("ENABLE CONDSTORE")
        self.assertEqual(u, [b"* ENABLED"])
        u, t = c.ok("ENABLE QRESYNC")
        self.assertEqual(u, [b"* ENABLED QRESYNC"])
        u, t = c.command("ENABLE")
        self.assertEqual(status_of(t), "BAD")
        c2 = self.conn(login=False)
        u, t = c2.command("ENABLE CONDSTORE")
        self.assertEqual(status_of(t), "BAD")

    def test_select_highestmodseq_and_fetch_modseq(self):
        name = self.box(3)
        c = self.conn()
        u, t = c.ok(f"SELECT {q(name)} (CONDSTORE)")
        hms = int(code_of(one(u, b"* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ"))
        u, t = c.ok("FETCH 1:* (MODSEQ)")
        mods = {seq: int(d["MODSEQ"][0]) for seq, d in fetch_map(u).items()}
        self.assertEqual(sorted(mods), [1, 2, 3])
        self.assertEqual(max(mods.values()), hms)
        self.assertTrue(mods[1] < mods[2] < mods[3])
        # A flag change raises the message's modseq above HIGHESTMODSEQ.
        u, t = c.ok("STORE 2 +FLAGS (\\Flagged)")
        d = fetch_map(u)[2]
        self.assertEqual(d["UID"], "2")
        new = int(d["MODSEQ"][0])
        self.assertGreater(new, hms)
        u, t = c.ok(f"STATUS {q(name)} (HIGHESTMODSEQ)")
        self.assertEqual(one(u, b"* STATUS"),
                         f"* STATUS {q(name)} (HIGHESTMODSEQ {new})"
                         .encode())
        # CHANGEDSINCE: only what changed, with MODSEQ implied.
        u, t = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})")
        fm = fetch_map(u)
        self.assertEqual(list(fm), [2])
        self.assertEqual(set(fm[2]["FLAGS"]) - {"\\Recent"}, {"\\Flagged"})
        self.assertEqual(int(fm[2]["MODSEQ"][0]), new)
        u, t = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {new})")
        self.assertEqual(fetch_map(u), {})

    def test_store_unchangedsince(self):
        name = self.box(3)
        c = self.conn()
        u, t = c.ok(f"SELECT {q(name)}")
        u, t = c.ok("FETCH 1:3 (MODSEQ)")
        mods = {seq: int(d["MODSEQ"][0]) for seq, d in fetch_map(u).items()}
        # 1 changes after the client read it.
        c.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        u, t = c.ok(f"STORE 1:3 (UNCHANGEDSINCE {mods[3]}) "
                    "+FLAGS (\\Answered)")
        self.assertEqual(code_of(t, "MODIFIED"), "1")
        fm = fetch_map(u)
        self.assertEqual(sorted(fm), [2, 3])
        for seq in (2, 3):
            self.assertIn("\\Answered", fm[seq]["FLAGS"])
            self.assertGreater(int(fm[seq]["MODSEQ"][0]), mods[3])
        # UNCHANGEDSINCE 0 fails for every message (RFC 7162 3.1.3).
        u, t = c.ok("UID STORE 1:3 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)")
        self.assertEqual(expand_set(code_of(t, "MODIFIED")), [1, 2, 3])
        self.assertEqual(u, [])
        # .SILENT still reports the new MODSEQ, without FLAGS.
        u, t = c.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        seq, d = list(fetch_map(u).items())[0]
        self.assertEqual((seq, sorted(d)), (2, ["MODSEQ", "UID"]))
        u, t = c.command("STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)")
        self.assertEqual(status_of(t), "BAD")

    def test_other_sessions_changes_carry_modseq(self):
        name = self.box(2)
        a, b = self.conn(), self.conn()
        a.ok("ENABLE CONDSTORE")
        a.ok(f"SELECT {q(name)}")
        b.ok(f"SELECT {q(name)}")
        u, t = b.ok("STORE 2 +FLAGS (\\Flagged)")
        self.assertNotIn("MODSEQ", fetch_map(u)[2])   # b did not enable
        seen = wait_untagged(a, lambda r: r.startswith(b"* 2 FETCH"))
        fm = fetch_map(seen)
        self.assertEqual(fm[2]["UID"], "2")
        self.assertIn("\\Flagged", fm[2]["FLAGS"])
        self.assertIn("MODSEQ", fm[2])

    def test_search_modseq(self):
        name = self.box(4)
        c = self.conn()
        u, t = c.ok(f"SELECT {q(name)}")
        hms = int(code_of(one(u, b"* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ"))
        c.ok("STORE 2,4 +FLAGS.SILENT (\\Seen)")
        u, t = c.ok(f"SEARCH MODSEQ {hms + 1}")
        r = one(u, b"* SEARCH")
        m = re.match(rb"\* SEARCH 2 4 \(MODSEQ (\d+)\)$", r)
        self.assertTrue(m, r)
        u2, t = c.ok("FETCH 4 (MODSEQ)")
        self.assertEqual(int(m.group(1)),
                         int(fetch_map(u2)[4]["MODSEQ"][0]))
        u, t = c.ok(f"UID SEARCH RETURN (COUNT) MODSEQ {hms + 1}")
        self.assertRegex(one(u, b"* ESEARCH"),
                         rb'^\* ESEARCH \(TAG "t\d+"\) UID COUNT 2 '
                         rb'MODSEQ \d+$')
        u, t = c.ok("SEARCH MODSEQ 99999999")
        self.assertEqual(one(u, b"* SEARCH"), b"* SEARCH")


class TestQresync(Base):

    def test_select_qresync(self):
        name = self.box(5)
        c = self.conn()
        c.ok("ENABLE QRESYNC")
        u, t = c.ok(f"SELECT {q(name)}")
        uv = int(code_of(one(u, b"* OK [UIDVALIDITY"), "UIDVALIDITY"))
        hms = int(code_of(one(u, b"* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ"))
        # Another session changes 2, expunges 3 and 5.
        b = self.conn()
        b.ok(f"SELECT {q(name)}")
        b.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
        b.ok("STORE 3,5 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        b.logout()
        c.ok("UNSELECT")
        u, t = c.ok(f"SELECT {q(name)} (QRESYNC ({uv} {hms} 1:5))")
        self.assertIn(b"* VANISHED (EARLIER) 3,5", u)
        fm = fetch_map(u)
        self.assertEqual(list(fm), [2])
        self.assertEqual(fm[2]["UID"], "2")
        self.assertIn("\\Flagged", fm[2]["FLAGS"])
        self.assertGreater(int(fm[2]["MODSEQ"][0]), hms)
        self.assertIn(b"* 3 EXISTS", u)
        # Known uids limit what is reported.
        c.ok("UNSELECT")
        u, t = c.ok(f"SELECT {q(name)} (QRESYNC ({uv} {hms} 1:4))")
        self.assertIn(b"* VANISHED (EARLIER) 3", u)
        # Another uidvalidity: nothing to resynchronize.
        c.ok("UNSELECT")
        u, t = c.ok(f"SELECT {q(name)} (QRESYNC ({uv + 1} {hms}))")
        self.assertFalse([r for r in u if b"VANISHED" in r])
        self.assertEqual(fetch_map(u), {})

    def test_qresync_needs_enable(self):
        name = self.box(1)
        c = self.conn()
        u, t = c.command(f"SELECT {q(name)} (QRESYNC (1 1))")
        self.assertEqual(status_of(t), "BAD")

    def test_vanished_instead_of_expunge(self):
        name = self.box(4)
        a, b = self.conn(), self.conn()
        a.ok("ENABLE QRESYNC")
        a.ok(f"SELECT {q(name)}")
        b.ok(f"SELECT {q(name)}")
        b.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        u, t = b.ok("EXPUNGE")
        self.assertEqual([r for r in u if b"EXPUNGE" in r],
                         [b"* 3 EXPUNGE", b"* 1 EXPUNGE"])
        seen = wait_untagged(a, lambda r: r.startswith(b"* VANISHED"))
        self.assertIn(b"* VANISHED 1,3", seen)
        self.assertFalse([r for r in seen if r.endswith(b"EXPUNGE")])
        # Own EXPUNGE under QRESYNC: VANISHED too.
        a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        u, t = a.ok("EXPUNGE")
        self.assertIn(b"* VANISHED 2", u)
        u, t = a.ok("FETCH 1:* (UID)")
        self.assertEqual([d["UID"] for _, d in sorted(fetch_map(u).items())],
                         ["4"])

    def test_uid_fetch_vanished(self):
        name = self.box(4)
        c = self.conn()
        c.ok("ENABLE QRESYNC")
        u, t = c.ok(f"SELECT {q(name)}")
        hms = int(code_of(one(u, b"* OK [HIGHESTMODSEQ"), "HIGHESTMODSEQ"))
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok("UID STORE 3 +FLAGS.SILENT (\\Seen)")
        u, t = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
        self.assertEqual(u[0], b"* VANISHED (EARLIER) 2")
        fm = fetch_map(u[1:])
        self.assertEqual([d["UID"] for d in fm.values()], ["3"])
        u, t = c.command(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
        self.assertEqual(status_of(t), "BAD")


class TestSearchExtensions(Base):

    def test_esearch(self):
        name = self.box(5)
        c = self.conn()
        c.ok(f"SELECT {q(name)}")
        c.ok("STORE 2,4,5 +FLAGS.SILENT (\\Seen)")
        u, t = c.ok("SEARCH RETURN (MIN MAX COUNT ALL) SEEN")
        tag = t.split()[0].decode()
        self.assertEqual(one(u, b"* ESEARCH"),
                         f'* ESEARCH (TAG "{tag}") MIN 2 MAX 5 COUNT 3 '
                         'ALL 2,4:5'.encode())
        u, t = c.ok("UID SEARCH RETURN () UNSEEN")
        tag = t.split()[0].decode()
        self.assertEqual(one(u, b"* ESEARCH"),
                         f'* ESEARCH (TAG "{tag}") UID ALL 1,3'.encode())
        u, t = c.ok("SEARCH RETURN (COUNT) DELETED")
        self.assertRegex(one(u, b"* ESEARCH"),
                         rb'^\* ESEARCH \(TAG "t\d+"\) COUNT 0$')

    def test_esearch_modseq_of_min_max(self):
        """RFC 7162 3.1.5 / RFC 4731: with MIN and/or MAX alone, MODSEQ is
        the highest of the messages returned, else of all found."""
        name = self.box(3)
        c = self.conn()
        c.ok("ENABLE CONDSTORE")
        c.ok(f"SELECT {q(name)}")
        ms = {}
        for n in (1, 3, 2):        # modseqs: 1 < 3 < 2
            u, t = c.ok(f"STORE {n} +FLAGS (\\Seen)")
            ms[n] = int(fetch_map(u)[n]["MODSEQ"][0])
        self.assertLess(ms[1], ms[3])
        self.assertLess(ms[3], ms[2])
        cases = [("(MIN) 1:3", f"MIN 1 MODSEQ {ms[1]}"),
                 ("(MAX) 1:3", f"MAX 3 MODSEQ {ms[3]}"),
                 ("(MIN MAX) 1:3", f"MIN 1 MAX 3 MODSEQ {ms[3]}"),
                 ("(MIN MAX) 2:3", f"MIN 2 MAX 3 MODSEQ {ms[2]}"),
                 ("(MIN COUNT) 1,3", f"MIN 1 COUNT 2 MODSEQ {ms[3]}"),
                 ("() 1:3", f"ALL 1:3 MODSEQ {ms[2]}")]
        for ret, want in cases:
            u, t = c.ok(f"SEARCH RETURN {ret} MODSEQ 1")
            tag = t.split()[0].decode()
            self.assertEqual(one(u, b"* ESEARCH"),
                             f'* ESEARCH (TAG "{tag}") {want}'.encode(),
                             ret)
        u, t = c.ok(f"UID SEARCH RETURN (MAX) 1:2 MODSEQ {ms[1] + 1}")
        self.assertRegex(one(u, b"* ESEARCH"),
                         rb' UID MAX \d+ MODSEQ %d$' % ms[2])

    def test_searchres(self):
        name = self.box(6)
        c = self.conn()
        c.ok(f"SELECT {q(name)}")
        c.ok("STORE 2,3,5 +FLAGS.SILENT (\\Flagged)")
        u, t = c.ok("SEARCH RETURN (SAVE) FLAGGED")
        self.assertEqual([r for r in u if b"SEARCH" in r], [])
        u, t = c.ok("FETCH $ (UID)")
        self.assertEqual(sorted(fetch_map(u)), [2, 3, 5])
        u, t = c.ok("UID SEARCH UID $ SUBJECT msg")
        self.assertEqual(search_hits(u), [2, 3, 5])
        u, t = c.ok("SEARCH NOT $")
        self.assertEqual(search_hits(u), [1, 4, 6])
        c.ok("STORE $ +FLAGS.SILENT (\\Deleted)")
        u, t = c.ok("SEARCH DELETED")
        self.assertEqual(search_hits(u), [2, 3, 5])
        # SAVE with MIN and MAX saves just those two.
        u, t = c.ok("SEARCH RETURN (SAVE MIN MAX) DELETED")
        self.assertRegex(one(u, b"* ESEARCH"), rb"MIN 2 MAX 5$")
        u, t = c.ok("FETCH $ (UID)")
        self.assertEqual(sorted(fetch_map(u)), [2, 5])
        # After EXPUNGE "$" keeps what is left (by uid).
        c.ok("EXPUNGE")
        u, t = c.ok("UID FETCH $ (UID)")
        self.assertEqual(fetch_map(u), {})
        # A failed SEARCH with SAVE empties it (RFC 5182 2.1).
        c.ok("SEARCH RETURN (SAVE) ALL")
        u, t = c.command("SEARCH RETURN (SAVE) CHARSET X-NOPE TEXT a")
        self.assertEqual(status_of(t), "NO")
        u, t = c.ok("FETCH $ (UID)")
        self.assertEqual(fetch_map(u), {})

    def test_within(self):
        name = self.box()
        c = self.conn()
        old = "01-Jan-2020 10:00:00 +0000"
        c.append_ok(name, make_msg("old one"), date=old)
        c.append_ok(name, make_msg("new one"))
        c.ok(f"SELECT {q(name)}")
        u, t = c.ok("SEARCH YOUNGER 3600")
        self.assertEqual(search_hits(u), [2])
        u, t = c.ok("SEARCH OLDER 86400")
        self.assertEqual(search_hits(u), [1])
        u, t = c.command("SEARCH YOUNGER 0")
        self.assertEqual(status_of(t), "BAD")


class TestAppendExtensions(Base):

    def test_multiappend(self):
        name = self.box()
        c = self.conn()
        m1, m2, m3 = (make_msg(f"multi {i}") for i in (1, 2, 3))
        tag = c.next_tag()
        c.send(f"{tag} APPEND {q(name)} (\\Seen) {{{len(m1)}+}}\r\n".encode()
               + m1 + f' "01-Feb-2024 10:00:00 +0100" {{{len(m2)}+}}\r\n'
               .encode() + m2 + f" (\\Flagged $Work) {{{len(m3)}+}}\r\n"
               .encode() + m3 + b"\r\n")
        u, t = c.read_tagged(tag)
        m = re.match(rb"t\d+ OK \[APPENDUID (\d+) 1:3\]", t)
        self.assertTrue(m, t)
        c.ok(f"SELECT {q(name)}")
        u, t = c.ok("FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[])")
        fm = fetch_map(u)
        flags = {i: set(fm[i]["FLAGS"]) - {"\\Recent"} for i in fm}
        self.assertEqual(flags, {1: {"\\Seen"}, 2: set(),
                                 3: {"\\Flagged", "$Work"}})
        # The same instant (the server writes it in UTC).
        self.assertEqual(parse_internaldate(fm[2]["INTERNALDATE"].decode()),
                         parse_internaldate("01-Feb-2024 10:00:00 +0100"))
        self.assertEqual([fm[i]["BODY[]"] for i in (1, 2, 3)], [m1, m2, m3])

    def test_multiappend_is_atomic(self):
        name = self.box()
        c = self.conn()
        m1 = make_msg("atomic 1")
        big = b"X" * (LIMIT + 1)
        tag = c.next_tag()
        # The second message is over APPENDLIMIT: nothing is appended.
        c.send(f"{tag} APPEND {q(name)} {{{len(m1)}+}}\r\n".encode() + m1 +
               f" {{{len(big)}}}\r\n".encode())
        u, t = c.read_tagged(tag)
        self.assertEqual(status_of(t), "NO")
        self.assertIn(b"[TOOBIG]", t)
        u, t = c.ok(f"STATUS {q(name)} (MESSAGES)")
        self.assertEqual(one(u, b"* STATUS"),
                         f"* STATUS {q(name)} (MESSAGES 0)".encode())
        # An empty second message fails the whole command too.
        tag = c.next_tag()
        c.send(f"{tag} APPEND {q(name)} {{{len(m1)}+}}\r\n".encode() + m1 +
               b" {0+}\r\n\r\n")
        u, t = c.read_tagged(tag)
        self.assertEqual(status_of(t), "NO")
        u, t = c.ok(f"STATUS {q(name)} (MESSAGES)")
        self.assertIn(b"(MESSAGES 0)", one(u, b"* STATUS"))

    def test_status_size_appendlimit_mailboxid(self):
        name = self.box()
        c = self.conn()
        msgs = [make_msg("size a"), make_msg("size b", b"x" * 1000)]
        for m in msgs:
            c.append_ok(name, m)
        u, t = c.ok(f"STATUS {q(name)} (SIZE APPENDLIMIT MAILBOXID "
                    "MESSAGES)")
        m = re.match(rb"\* STATUS \S+ \(SIZE (\d+) APPENDLIMIT (\d+) "
                     rb"MAILBOXID \((\S+)\) MESSAGES 2\)$",
                     one(u, b"* STATUS"))
        self.assertTrue(m, u)
        self.assertEqual(int(m.group(1)), sum(len(x) for x in msgs))
        self.assertEqual(int(m.group(2)), LIMIT)
        mbid = m.group(3)
        self.assertRegex(mbid, rb"^[A-Za-z0-9_-]{1,255}$")
        # The id survives a rename (RFC 8474 4.1).
        c.ok(f"RENAME {q(name)} {q(name + '-renamed')}")
        u, t = c.ok(f"STATUS {q(name + '-renamed')} (MAILBOXID)")
        self.assertIn(b"(MAILBOXID (" + mbid + b"))", one(u, b"* STATUS"))
        u, t = c.ok(f"SELECT {q(name + '-renamed')}")
        self.assertEqual(code_of(one(u, b"* OK [MAILBOXID"), "MAILBOXID"),
                         "(" + mbid.decode() + ")")


class TestObjectId(Base):

    def test_emailid_threadid(self):
        a = self.box(2)
        b = self.box()
        c = self.conn()
        c.ok(f"SELECT {q(a)}")
        u, t = c.ok("FETCH 1:2 (EMAILID THREADID)")
        fm = fetch_map(u)
        e1, e2 = fm[1]["EMAILID"][0], fm[2]["EMAILID"][0]
        self.assertNotEqual(e1, e2)
        self.assertRegex(e1, r"^[A-Za-z0-9_-]{1,255}$")
        self.assertIsNone(fm[1]["THREADID"])
        # A copy is the same message: the same EMAILID.
        c.ok(f"COPY 1 {q(b)}")
        c.ok(f"SELECT {q(b)}")
        u, t = c.ok("UID FETCH 1 (EMAILID)")
        self.assertEqual(fetch_map(u)[1]["EMAILID"][0], e1)


class TestMailboxExtensions(Base):

    def test_create_special_use(self):
        c = self.conn()
        name = f"Archive{int(time.time() * 1000) % 100000}"
        c.ok(f"CREATE {q(name)} (USE (\\Archive))")
        u, t = c.ok(f"LIST \"\" {q(name)}")
        self.assertEqual(list_entries(u)[name],
                         {"\\hasnochildren", "\\archive"})
        u, t = c.command(f"CREATE {q(name + 'x')} (USE (\\Nonsense))")
        self.assertEqual(status_of(t), "NO")
        self.assertIn(b"[USEATTR]", t)
        u, t = c.ok(f"LIST \"\" {q(name + 'x')}")
        self.assertEqual(list_entries(u), {})

    def test_list_extended(self):
        c = self.conn()
        p = f"lx{int(time.time() * 1000) % 100000}"
        for n in ("a", "a/b", "a/b/c", "d"):
            c.ok(f"CREATE {q(p + '/' + n)}")
        c.ok(f"SUBSCRIBE {q(p + '/a/b/c')}")
        c.ok(f"SUBSCRIBE {q(p + '/d')}")
        c.ok(f"SUBSCRIBE {q(p + '/gone')}")
        # Selection SUBSCRIBED: subscribed names, existing or not.
        u, t = c.ok(f'LIST (SUBSCRIBED) "" {q(p + "/*")}')
        e = list_entries(u)
        self.assertEqual(set(e), {p + "/a/b/c", p + "/d", p + "/gone"})
        self.assertEqual(e[p + "/gone"], {"\\nonexistent", "\\subscribed"})
        self.assertIn("\\subscribed", e[p + "/d"])
        # RECURSIVEMATCH: a parent of a subscribed one, with CHILDINFO.
        u, t = c.ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" {q(p + "/%")}')
        lines = [r for r in u if r.startswith(b"* LIST")]
        self.assertIn(f'* LIST (\\HasChildren) "/" "{p}/a" ("CHILDINFO" '
                      '("SUBSCRIBED"))'.encode(), lines)
        e = list_entries(u)
        self.assertEqual(set(e), {p + "/a", p + "/d", p + "/gone"})
        u, t = c.command(f'LIST (RECURSIVEMATCH) "" {q(p + "/%")}')
        self.assertEqual(status_of(t), "BAD")
        # Several patterns; RETURN (SUBSCRIBED CHILDREN).
        u, t = c.ok(f'LIST "" ({q(p + "/a")} {q(p + "/d")}) RETURN '
                    '(SUBSCRIBED CHILDREN)')
        e = list_entries(u)
        self.assertEqual(e, {p + "/a": {"\\haschildren"},
                             p + "/d": {"\\hasnochildren", "\\subscribed"}})
        # Selection SPECIAL-USE.
        u, t = c.ok('LIST (SPECIAL-USE) "" "*"')
        e = list_entries(u)
        self.assertTrue(all(a & {"\\sent", "\\drafts", "\\trash", "\\junk",
                                 "\\archive", "\\all", "\\flagged"}
                            for a in e.values()), e)
        self.assertIn("Sent", e)
        self.assertNotIn(p + "/d", e)

    def test_lsub_parent_and_childinfo(self):
        c = self.conn()
        p = f"lp{int(time.time() * 1000) % 100000}"
        for n in ("t", "t2", "t2/x", "t3/y", "t7/t7", "t8/t8", "t8/t9"):
            c.ok(f"CREATE {q(p + '/' + n)}")
        for n in ("t", "t2/x", "t3/y", "t7/t7", "t8/t8", "t8/t9"):
            c.ok(f"SUBSCRIBE {q(p + '/' + n)}")
        # "%" stops above t2/x and t3/y: their parents, as \Noselect
        # (RFC 3501 6.3.9), even t2 that exists, each once.
        u, t = c.ok(f'LSUB "" {q(p + "/%")}')
        self.assertEqual(sorted(u), sorted([
            f'* LSUB () "/" "{p}/t"'.encode(),
            f'* LSUB (\\Noselect) "/" "{p}/t2"'.encode(),
            f'* LSUB (\\Noselect) "/" "{p}/t3"'.encode(),
            f'* LSUB (\\Noselect) "/" "{p}/t7"'.encode(),
            f'* LSUB (\\Noselect) "/" "{p}/t8"'.encode()]))
        # "*" reaches the subscribed names themselves: no parents.
        u, t = c.ok(f'LSUB "" {q(p + "/t8*")}')
        self.assertEqual(sorted(u), sorted([
            f'* LSUB () "/" "{p}/t8/t8"'.encode(),
            f'* LSUB () "/" "{p}/t8/t9"'.encode()]))
        c.ok(f"SUBSCRIBE {q(p + '/t2')}")
        u, t = c.ok(f'LSUB "" {q(p + "/t2")}')
        self.assertEqual(u, [f'* LSUB () "/" "{p}/t2"'.encode()])
        c.ok(f"UNSUBSCRIBE {q(p + '/t2')}")
        # RECURSIVEMATCH: CHILDINFO only for a subscribed child that the
        # patterns do not list themselves (RFC 5258 3.5).
        sub = '("CHILDINFO" ("SUBSCRIBED"))'
        u, t = c.ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" {q(p + "/t2")}')
        self.assertEqual(u, [f'* LIST (\\HasChildren) "/" "{p}/t2" '
                             f'{sub}'.encode()])
        u, t = c.ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" ({q(p + "/t2")} '
                    f'{q(p + "/t2/x")})')
        self.assertEqual(u, [f'* LIST (\\HasNoChildren \\Subscribed) "/" '
                             f'"{p}/t2/x"'.encode()])
        u, t = c.ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" {q(p + "*t7")}')
        self.assertEqual(u, [f'* LIST (\\HasNoChildren \\Subscribed) "/" '
                             f'"{p}/t7/t7"'.encode()])
        u, t = c.ok(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" {q(p + "*t8")}')
        self.assertEqual(sorted(u), sorted([
            f'* LIST (\\HasChildren) "/" "{p}/t8" {sub}'.encode(),
            f'* LIST (\\HasNoChildren \\Subscribed) "/" '
            f'"{p}/t8/t8"'.encode()]))

    def test_list_status(self):
        c = self.conn()
        p = f"ls{int(time.time() * 1000) % 100000}"
        c.ok(f"CREATE {q(p + '/one')}")
        c.append_ok(p + "/one", make_msg("list status"))
        u, t = c.ok(f'LIST "" {q(p + "/*")} RETURN (STATUS (MESSAGES '
                    'UNSEEN SIZE))')
        st = [r for r in u if r.startswith(b"* STATUS")]
        size = len(make_msg("list status"))
        self.assertEqual(st, [f'* STATUS "{p}/one" (MESSAGES 1 UNSEEN 1 '
                              f'SIZE {size})'.encode()])
        # The STATUS follows its LIST line.
        i = u.index(st[0])
        self.assertTrue(u[i - 1].startswith(b"* LIST "))
        u, t = c.command(f'LIST "" {q(p + "/*")} RETURN (STATUS (NOPE))')
        self.assertEqual(status_of(t), "BAD")


class TestUtf8AndRev2(Base):
    """UTF8=ACCEPT (RFC 6855) and IMAP4rev2 (RFC 9051) via ENABLE."""

    def test_utf8_accept_mailbox_names(self):
        c = self.conn()
        u, _ = c.ok("CAPABILITY")
        self.assertIn("UTF8=ACCEPT", one(u, b"* CAPABILITY ").decode())
        u, _ = c.ok("ENABLE UTF8=ACCEPT")
        self.assertEqual(one(u, b"* ENABLED"), b"* ENABLED UTF8=ACCEPT")
        name = "Grüße-%d" % (int(time.time() * 1000) % 100000)
        c.ok(b'CREATE "' + name.encode() + b'"')
        u, _ = c.ok(b'LIST "" "Gr' + "ü".encode() + b'*"')
        self.assertIn(b'"/" "' + name.encode() + b'"', b"\n".join(u))
        # "&" is an ordinary character now.
        c.ok(b'CREATE "A&B-%d"' % (int(time.time() * 1000) % 100000))
        u, t = c.command(b'CREATE "bad\xff\xfe"')
        self.assertTrue(t.split()[1] in (b"NO", b"BAD"), t)
        # A session without UTF8=ACCEPT sees modified UTF-7.
        r = self.conn()
        u, _ = r.ok('LIST "" "Gr*"')
        self.assertIn(b'"Gr&APwA3w-e-', b"\n".join(u))
        u, _ = r.ok('LIST "" "A&-B-*"')
        self.assertEqual(len([x for x in u if x.startswith(b"* LIST")]), 1)
        # The other way round, the UTF-8 session reaches it by UTF-8.
        u, _ = c.ok(b'STATUS "' + name.encode() + b'" (MESSAGES)')
        self.assertIn(b'* STATUS "' + name.encode() + b'" (MESSAGES 0)', u)

    def test_utf8_append(self):
        msg = ("From: Jürgen <jürgen@bücher.example>\r\n"
               "To: demo@example.test\r\nSubject: Grüße\r\n\r\n"
               "Hallo.\r\n").encode()
        box = self.box()
        c = self.conn()
        head = b'x1 APPEND "' + box.encode() + b'" UTF8 (~{%d+}\r\n' % \
            len(msg)
        # Not before ENABLE UTF8=ACCEPT.
        c.send(head + msg + b")\r\n")
        u, t = c.read_tagged("x1")
        self.assertTrue(t.startswith(b"x1 BAD"), t)
        c.ok("ENABLE UTF8=ACCEPT")
        c.send(head.replace(b"x1", b"x2") + msg + b")\r\n")
        u, t = c.read_tagged("x2")
        self.assertTrue(t.startswith(b"x2 OK [APPENDUID "), t)
        c.ok(b'SELECT "' + box.encode() + b'"')
        u, _ = c.ok("FETCH 1 (BODY.PEEK[])")
        self.assertIn(msg, b"\n".join(u) + b"\n")

    def test_imap4rev2(self):
        box = self.box(2)
        c = self.conn()
        u, _ = c.ok("CAPABILITY")
        self.assertIn(" IMAP4rev2 ", one(u, b"* CAPABILITY ").decode())
        u, _ = c.ok("ENABLE IMAP4rev2")
        self.assertEqual(one(u, b"* ENABLED"), b"* ENABLED IMAP4rev2")
        u, t = c.ok(f'SELECT "{box}"')
        self.assertFalse([x for x in u if b"RECENT" in x or b"UNSEEN" in x],
                         u)
        self.assertIn(f'* LIST () "/" "{box}"'.encode(), u)
        self.assertIn(b"* 2 EXISTS", u)
        u, _ = c.ok("FETCH 1:2 (FLAGS)")
        self.assertFalse([x for x in u if b"\\Recent" in x], u)
        # SEARCH answers ESEARCH, ALL by default.
        u, t = c.command("SEARCH ALL")
        self.assertEqual([x for x in u if b"SEARCH" in x],
                         [b'* ESEARCH (TAG "%s") ALL 1:2' %
                          t.split()[0]])
        u, t = c.command("UID SEARCH UNSEEN")
        self.assertTrue(u[-1].startswith(b'* ESEARCH (TAG "%s") UID ALL '
                                         % t.split()[0]), u)
        u, t = c.command("SEARCH DELETED")
        self.assertEqual([x for x in u if b"SEARCH" in x],
                         [b'* ESEARCH (TAG "%s")' % t.split()[0]])
        # New mail: EXISTS, never RECENT.
        o = self.conn()
        o.append_ok(box, make_msg("third"))
        u, _ = c.ok("NOOP")
        self.assertIn(b"* 3 EXISTS", u)
        self.assertFalse([x for x in u if b"RECENT" in x], u)
        # The rev2 session claimed the new mail: no one else sees \Recent.
        u, _ = o.ok(f'SELECT "{box}"')
        self.assertIn(b"* 0 RECENT", u)


class ZConn:
    """An IMAP client speaking raw deflate (RFC 4978) after COMPRESS."""

    def __init__(self, sock, leftover=b""):
        self.sock = sock
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.buf = self.z_in.decompress(leftover) if leftover else b""
        self.n = 100

    def send(self, data):
        self.sock.sendall(self.z_out.compress(data) +
                          self.z_out.flush(zlib.Z_SYNC_FLUSH))

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("closed")
        self.buf += self.z_in.decompress(chunk)

    def readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, k):
        while len(self.buf) < k:
            self._fill()
        out, self.buf = self.buf[:k], self.buf[k:]
        return out

    def command(self, text):
        self.n += 1
        tag = f"z{self.n}".encode()
        self.send(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self.readline()
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if m:
                line += self.read_exact(int(m.group(1)))
                line += self.readline()
            if line.startswith(tag + b" "):
                return lines, line
            lines.append(line)


class TestCompress(Base):

    def test_compress_deflate(self):
        name = self.box()
        c = self.conn()
        big = make_msg("compressed", b"".join(
            b"line %06d of a long message body\r\n" % i
            for i in range(4000)))
        c.append_ok(name, big)
        u, t = c.ok("CAPABILITY")
        self.assertIn(b"COMPRESS=DEFLATE", one(u, b"* CAPABILITY"))
        # A command pipelined right behind COMPRESS is compressed.
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        pipelined = z.compress(b"p1 NOOP\r\n") + z.flush(zlib.Z_SYNC_FLUSH)
        c.send(b"c1 COMPRESS DEFLATE\r\n" + pipelined)
        line = c.raw.readline()
        self.assertEqual(line, b"c1 OK DEFLATE active\r\n")
        zc = ZConn(c.raw.sock, bytes(c.raw.buf))
        zc.z_out = z
        self.assertEqual(zc.readline(), b"p1 OK NOOP completed.\r\n")
        u, t = zc.command(f"SELECT {q(name)}")
        self.assertIn(b"OK [READ-WRITE]", t)
        u, t = zc.command("FETCH 1 (BODY.PEEK[])")
        self.assertIn(b" OK ", t)
        self.assertEqual(len(u), 1)
        self.assertTrue(u[0].endswith(big + b")\r\n"), u[0][-100:])
        u, t = zc.command("COMPRESS DEFLATE")
        self.assertIn(b"NO [COMPRESSIONACTIVE]", t)
        u, t = zc.command("CAPABILITY")
        self.assertNotIn(b"COMPRESS=DEFLATE", u[0])
        u, t = zc.command("LOGOUT")
        self.assertEqual(u, [b"* BYE Logging out\r\n"])

    def test_compress_before_login_and_bad(self):
        c = self.conn(login=False)
        u, t = c.command("COMPRESS DEFLATE")
        self.assertEqual(status_of(t), "BAD")
        c.login()
        u, t = c.command("COMPRESS LZMA")
        self.assertEqual(status_of(t), "BAD")
        # Garbage after COMPRESS closes the connection, not the server.
        c.send(b"c9 COMPRESS DEFLATE\r\n")
        self.assertEqual(c.raw.readline(), b"c9 OK DEFLATE active\r\n")
        c.raw.sock.sendall(b"\xff\xfe not deflate at all \x00" * 10)
        c.raw.sock.settimeout(5)
        try:
            while c.raw.sock.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        d = self.conn()
        d.ok("NOOP")


if __name__ == "__main__":
    unittest.main()

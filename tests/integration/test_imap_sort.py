"""
test_imap_sort - SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957) and
their UID forms against the real server over a raw socket.

One mailbox holds ten crafted messages (plus an expunged one in front, so
uids are sequence numbers + 1).  Every expected response below was worked
out by hand from the RFC texts; where RFC 5256 leaves room, Dovecot's
behaviour (followed by src/imap/imap_thread.c) decides.  The messages, in
sequence order (times in UTC):

 seq size intdate From               To            Cc     Date (sent)
  1  700  Jan 10  "Zed Alpha" <zed>  bob           carol  Jan 1 10:00
  2  500  Jan  3  =?Q?Émile Blanc?=  "Anna Smith"  -      Jan 1 09:30
                  <emile>            <zoe>                (11:30 +0200)
  3  700  Jan  2  adam@              yves          Zorro  none: Jan 2 00:00
                                                   <alice> (INTERNALDATE)
  4  300  Jan  1  "bob" <Mallory>    =?B?Äksel?=   -      Jan 1 04:00
                                     <ake>                (Dec 31 -0500)
  5  800  Jan  6  Carl <carl>        dan           bea    Jan 2 08:00
  6  400  Jan  4  "" <eve>           -             -      Jan 3
  7  600  Jan  7  Frank <frank>      bob           -      Jan 4
  8 1000  Jan  8  Bea <bea>          carl          -      Jan 5
  9  450  Jan  9  Ian <ian>          bob           -      Jan 6 00:00
 10  650  Jan 11  Joe <joe>          -             -      Jan 6 01:00

Subjects and base subjects (RFC 5256 2.1), and threading headers:

  1 "Lunch plans"                        LUNCH PLANS  id m1
  2 "Re: Lunch plans"                    LUNCH PLANS  id m2, refs m1
  3 "[list] =?ISO-8859-1?Q?Caf=E9?= news" CAFE NEWS  id m3
  4 "Fwd: Re: LUNCH PLANS (fwd)"         LUNCH PLANS  id m4, refs m1 m2
  5 "Re: =?UTF-8?B?Q2Fmw6k=?= news"      CAFE NEWS    id m5, refs m3 gone
  6 "loop a"                             LOOP A       id m6, refs m7
  7 "loop b"                             LOOP B       id m7, refs m6 (loop)
  8 "Re: lunch plans"                    LUNCH PLANS  no Message-ID
  9 "Re: Lost"                           LOST         id m9, In-Reply-To lost
 10 "Re: Lost"                           LOST         id m10, refs lost
"""
import imaplib
import time
import unittest

from test_imap import (ImapConn, make_server, q, status_of, fetch_map,
                       show_log_on_failure)

SRV = None
BOX = "sorted"


def pad(headers, size):
    """A message of exactly size bytes: headers, then a body of x lines."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n"
    left = size - len(head)
    assert left >= 2, (headers, len(head))
    body = b""
    while left > 0:
        n = min(left, 72)
        body += b"x" * (n - 2) + b"\r\n" if n >= 2 else b"x" * n
        left -= n
    assert len(head) + len(body) == size
    return head + body


D = "example.org"
MSGS = [
    # (headers, size, internaldate)
    ([("From", f'"Zed Alpha" <zed@{D}>'), ("To", f"bob@{D}"),
      ("Cc", f"carol@{D}"), ("Subject", "Lunch plans"),
      ("Date", "Mon, 01 Jan 2024 10:00:00 +0000"),
      ("Message-ID", f"<m1@{D}>")],
     700, "10-Jan-2024 00:00:00 +0000"),
    ([("From", f"=?UTF-8?Q?=C3=89mile_Blanc?= <emile@{D}>"),
      ("To", f'"Anna Smith" <zoe@{D}>'), ("Subject", "Re: Lunch plans"),
      ("Date", "Mon, 01 Jan 2024 11:30:00 +0200"),
      ("Message-ID", f"<m2@{D}>"), ("In-Reply-To", f"<m1@{D}>"),
      ("References", f"<m1@{D}>")],
     500, "03-Jan-2024 00:00:00 +0000"),
    ([("From", f"adam@{D}"), ("To", f"yves@{D}"),
      ("Cc", f'"Zorro" <alice@{D}>'),
      ("Subject", "[list] =?ISO-8859-1?Q?Caf=E9?= news"),
      ("Message-ID", f"<m3@{D}>")],
     700, "02-Jan-2024 00:00:00 +0000"),
    ([("From", f'"bob" <Mallory@{D}>'),
      ("To", f"=?UTF-8?B?w4Rrc2Vs?= <ake@{D}>"),
      ("Subject", "Fwd: Re: LUNCH PLANS (fwd)"),
      ("Date", "Sun, 31 Dec 2023 23:00:00 -0500"),
      ("Message-ID", f"<m4@{D}>"),
      ("References", f"<m1@{D}>\r\n <m2@{D}>")],
     300, "01-Jan-2024 00:00:00 +0000"),
    ([("From", f"Carl <carl@{D}>"), ("To", f"dan@{D}"), ("Cc", f"bea@{D}"),
      ("Subject", "Re: =?UTF-8?B?Q2Fmw6k=?= news"),
      ("Date", "Tue, 02 Jan 2024 09:00:00 +0100"),
      ("Message-ID", f"<m5@{D}>"),
      ("References", f"<m3@{D}> <gone@{D}>")],
     800, "06-Jan-2024 00:00:00 +0000"),
    ([("From", f'"" <eve@{D}>'), ("Subject", "loop a"),
      ("Date", "Wed, 03 Jan 2024 00:00:00 +0000"),
      ("Message-ID", f"<m6@{D}>"), ("References", f"<m7@{D}>")],
     400, "04-Jan-2024 00:00:00 +0000"),
    ([("From", f"Frank <frank@{D}>"), ("To", f"bob@{D}"),
      ("Subject", "loop b"), ("Date", "Thu, 04 Jan 2024 00:00:00 +0000"),
      ("Message-ID", f"<m7@{D}>"), ("References", f"<m6@{D}>")],
     600, "07-Jan-2024 00:00:00 +0000"),
    ([("From", f"Bea <bea@{D}>"), ("To", f"carl@{D}"),
      ("Subject", "Re: lunch plans"),
      ("Date", "Fri, 05 Jan 2024 00:00:00 +0000")],
     1000, "08-Jan-2024 00:00:00 +0000"),
    ([("From", f"Ian <ian@{D}>"), ("To", f"bob@{D}"), ("Subject", "Re: Lost"),
      ("Date", "Sat, 06 Jan 2024 00:00:00 +0000"),
      ("Message-ID", f"<m9@{D}>"), ("In-Reply-To", f"<lost@{D}>")],
     450, "09-Jan-2024 00:00:00 +0000"),
    ([("From", f"Joe <joe@{D}>"), ("Subject", "Re: Lost"),
      ("Date", "Sat, 06 Jan 2024 01:00:00 +0000"),
      ("Message-ID", f"<m10@{D}>"), ("References", f"<lost@{D}>")],
     650, "11-Jan-2024 00:00:00 +0000"),
]


def setUpModule():
    global SRV
    SRV = make_server()
    try:
        SRV.start()
        c = ImapConn(SRV)
        c.login()
        c.ok(f"CREATE {q(BOX)}")
        # A first message, expunged again: uids are seq + 1 from here on.
        c.append_ok(BOX, pad([("Subject", "filler")], 100))
        for headers, size, idate in MSGS:
            c.append_ok(BOX, pad(headers, size), date=idate)
        c.ok(f"SELECT {q(BOX)}")
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.logout()
    except Exception:
        SRV.cleanup()
        raise


def tearDownModule():
    if SRV is not None:
        SRV.cleanup()


class Base(unittest.TestCase):

    def run(self, result=None):
        return show_log_on_failure(self, result, SRV, super().run)

    def conn(self, select=True):
        c = ImapConn(SRV)
        self.addCleanup(c.close)
        c.login()
        if select:
            c.ok(f"SELECT {q(BOX)}")
        return c

    def untagged(self, c, cmd):
        """The one untagged response of an OK command."""
        u, t = c.ok(cmd)
        self.assertEqual(len(u), 1, u)
        return u[0].decode()

    def bad(self, c, cmd, status="BAD"):
        u, t = c.command(cmd)
        self.assertEqual(status_of(t), status, t)
        self.assertEqual([r for r in u if r.startswith((b"* SORT",
                                                        b"* THREAD"))], [])
        return t


class TestFixture(Base):

    def test_sizes_and_uids(self):
        c = self.conn()
        u, t = c.ok("FETCH 1:* (UID RFC822.SIZE)")
        fm = fetch_map(u)
        self.assertEqual(sorted(fm), list(range(1, 11)))
        for seq, (headers, size, idate) in enumerate(MSGS, 1):
            self.assertEqual(int(fm[seq]["RFC822.SIZE"]), size)
            self.assertEqual(int(fm[seq]["UID"]), seq + 1)


class TestSort(Base):

    def sort(self, c, crit, keys="ALL", uid=False, charset="UTF-8"):
        return self.untagged(c, f"{'UID ' if uid else ''}SORT ({crit}) "
                                f"{charset} {keys}")

    def test_each_key(self):
        c = self.conn()
        want = {
            "ARRIVAL": "4 3 2 6 5 7 8 9 1 10",
            # Sent date in UTC; 3 has none and sorts by INTERNALDATE.
            "DATE": "4 2 1 3 5 6 7 8 9 10",
            "SIZE": "4 6 9 2 7 10 1 3 5 8",
            # Base subjects, case-insensitively; ties by sequence.
            "SUBJECT": "3 5 6 7 9 10 1 2 4 8",
            # addr-mailbox of the first address, case-insensitively.
            "FROM": "3 8 5 2 6 7 9 10 4 1",
            # A missing header sorts as the empty string: first.
            "TO": "6 10 4 1 7 9 8 5 3 2",
            "CC": "2 4 6 7 8 9 10 3 5 1",
            # RFC 5957: decoded display-name, else addr-spec; the
            # non-ASCII É and Ä sort after ASCII letters.
            "DISPLAYFROM": "3 8 4 5 6 7 9 10 1 2",
            "DISPLAYTO": "6 10 2 1 7 9 8 5 3 4",
        }
        for key, seqs in want.items():
            with self.subTest(key=key):
                self.assertEqual(self.sort(c, key), f"* SORT {seqs}")
                # Key names are case-insensitive.
                self.assertEqual(self.sort(c, key.lower()),
                                 f"* SORT {seqs}")

    def test_reverse(self):
        c = self.conn()
        # Equal sizes (1 and 3) stay in sequence order: REVERSE flips
        # only its own criterion (RFC 5256 3).
        self.assertEqual(self.sort(c, "REVERSE SIZE"),
                         "* SORT 8 5 1 3 10 7 2 9 6 4")
        self.assertEqual(self.sort(c, "REVERSE FROM"),
                         "* SORT 1 4 10 9 7 6 2 5 8 3")
        self.assertEqual(self.sort(c, "REVERSE ARRIVAL"),
                         "* SORT 10 1 9 8 7 5 6 2 3 4")

    def test_multiple_criteria(self):
        c = self.conn()
        self.assertEqual(self.sort(c, "SUBJECT REVERSE DATE"),
                         "* SORT 5 3 6 7 10 9 8 1 2 4")
        self.assertEqual(self.sort(c, "TO REVERSE SIZE"),
                         "* SORT 10 6 4 1 7 9 8 5 3 2")
        self.assertEqual(self.sort(c, "REVERSE CC DISPLAYFROM"),
                         "* SORT 1 5 3 8 4 6 7 9 10 2")

    def test_uid_sort(self):
        c = self.conn()
        self.assertEqual(self.sort(c, "SIZE", uid=True),
                         "* SORT 5 7 10 3 8 11 2 4 6 9")
        u, t = c.ok("UID SORT (DATE) UTF-8 ALL")
        self.assertIn(b"OK UID SORT completed", t)

    def test_search_keys_filter(self):
        c = self.conn()
        self.assertEqual(self.sort(c, "DATE", 'SUBJECT "lunch"'),
                         "* SORT 4 2 1 8")
        self.assertEqual(self.sort(c, "SIZE", "LARGER 600"),
                         "* SORT 10 1 3 5 8")
        # Search keys given as uids, answered as uids.
        self.assertEqual(self.sort(c, "REVERSE ARRIVAL", "UID 3:6",
                                   uid=True), "* SORT 6 3 4 5")
        self.assertEqual(self.sort(c, "SUBJECT", "OR FROM ian TO dan 5:9"),
                         "* SORT 5 9")
        # Nothing found: a bare SORT response.
        self.assertEqual(self.sort(c, "ARRIVAL", 'SUBJECT "no such"'),
                         "* SORT")
        # Other charsets work as for SEARCH.
        self.assertEqual(self.sort(c, "SIZE", "LARGER 600",
                                   charset="ISO-8859-1"),
                         "* SORT 10 1 3 5 8")

    def test_charset_search_strings(self):
        # The search string is ISO-8859-1 and matches the decoded
        # subjects of 3 (ISO-8859-1 word) and 5 (UTF-8 word).
        c = self.conn()
        u, t = c.ok(b"SORT (REVERSE ARRIVAL) ISO-8859-1 SUBJECT {4+}\r\n"
                    b"caf\xe9")
        self.assertEqual(u, [b"* SORT 5 3"])

    def test_empty_mailbox(self):
        c = self.conn(select=False)
        c.ok('CREATE "empty"')
        c.ok('SELECT "empty"')
        self.assertEqual(self.untagged(c, "SORT (DATE) UTF-8 ALL"),
                         "* SORT")
        self.assertEqual(self.untagged(c, "UID THREAD REFERENCES UTF-8 ALL"),
                         "* THREAD")

    def test_searchres(self):
        c = self.conn()
        c.ok("SEARCH RETURN (SAVE) FROM carl")
        self.assertEqual(self.sort(c, "ARRIVAL", "$"), "* SORT 5")

    def test_modseq(self):
        c = self.conn()
        u, t = c.ok("FETCH 1:* (MODSEQ)")
        mods = {s: int(d["MODSEQ"][0]) for s, d in fetch_map(u).items()}
        top = max(mods.values())
        self.assertEqual(self.sort(c, "ARRIVAL", "MODSEQ 1"),
                         f"* SORT 4 3 2 6 5 7 8 9 1 10 (MODSEQ {top})")
        # Only the hits count.
        self.assertEqual(self.sort(c, "SIZE", "MODSEQ 1 SMALLER 450"),
                         f"* SORT 4 6 (MODSEQ {max(mods[4], mods[6])})")
        # Nothing found: no MODSEQ either (RFC 7162 3.1.5).
        self.assertEqual(self.sort(c, "SIZE", f"MODSEQ {top + 1}"),
                         "* SORT")

    def test_bad_criteria(self):
        c = self.conn()
        for cmd in ("SORT (FOO) UTF-8 ALL",
                    "SORT DATE UTF-8 ALL",
                    "SORT () UTF-8 ALL",
                    "SORT (REVERSE) UTF-8 ALL",
                    "SORT (DATE REVERSE) UTF-8 ALL",
                    "SORT (REVERSE REVERSE DATE) UTF-8 ALL",
                    "SORT ((DATE)) UTF-8 ALL",
                    "SORT (DATE) UTF-8 FOO",
                    "SORT (DATE) UTF-8",
                    "SORT (DATE)",
                    "SORT",
                    "SORT (" + "DATE " * 17 + ") UTF-8 ALL",
                    "UID SORT (ARRIVAL) (UTF-8) ALL"):
            with self.subTest(cmd=cmd):
                self.bad(c, cmd)
        # The session goes on.
        self.assertEqual(self.sort(c, "SIZE", "SMALLER 400"), "* SORT 4")

    def test_badcharset(self):
        c = self.conn()
        t = self.bad(c, "SORT (DATE) X-NO-SUCH-CHARSET ALL", "NO")
        self.assertIn(b"[BADCHARSET (UTF-8 US-ASCII)]", t)
        t = self.bad(c, "UID SORT (DATE) X-NO-SUCH-CHARSET ALL", "NO")
        self.assertIn(b"[BADCHARSET (UTF-8 US-ASCII)]", t)

    def test_needs_selected_mailbox(self):
        c = self.conn(select=False)
        for cmd in ("SORT (DATE) UTF-8 ALL", "UID SORT (DATE) UTF-8 ALL",
                    "THREAD REFERENCES UTF-8 ALL"):
            with self.subTest(cmd=cmd):
                t = self.bad(c, cmd)
                self.assertIn(b"No mailbox selected", t)
        c2 = ImapConn(SRV)
        self.addCleanup(c2.close)
        t = self.bad(c2, "SORT (DATE) UTF-8 ALL")
        self.assertIn(b"Not logged in", t)


class TestThread(Base):

    def thread(self, c, alg, keys="ALL", uid=False):
        return self.untagged(c, f"{'UID ' if uid else ''}THREAD {alg} "
                                f"UTF-8 {keys}")

    def test_orderedsubject(self):
        # Sorted by (base subject, sent date); per subject the first is
        # the parent of the rest; threads by their first's sent date.
        c = self.conn()
        self.assertEqual(self.thread(c, "ORDEREDSUBJECT"),
                         "* THREAD (4 (2)(1)(8))(3 5)(6)(7)(9 10)")
        self.assertEqual(self.thread(c, "orderedsubject", "NOT 4"),
                         "* THREAD (2 (1)(8))(3 5)(6)(7)(9 10)")

    def test_references(self):
        # 2 answers 1 and 4 answers 2 (References); 5 hangs below the
        # missing <gone>, a dummy that step 3 removes, so below 3; 6 and
        # 7 reference each other: the link that would close the loop is
        # not made; 8 has no references and joins 1, the non-reply root
        # with its subject (step 5); 9 (In-Reply-To) and 10 (References)
        # share the missing parent <lost>: a dummy root with two
        # children.  Roots and siblings by sent date; a dummy by its
        # first child.
        c = self.conn()
        self.assertEqual(self.thread(c, "REFERENCES"),
                         "* THREAD (1 (2 4)(8))(3 5)(7 6)((9)(10))")

    def test_uid_thread(self):
        c = self.conn()
        self.assertEqual(self.thread(c, "REFERENCES", uid=True),
                         "* THREAD (2 (3 5)(9))(4 6)(8 7)((10)(11))")
        self.assertEqual(self.thread(c, "ORDEREDSUBJECT", uid=True),
                         "* THREAD (5 (3)(2)(9))(4 6)(7)(8)(10 11)")

    def test_search_keys_filter(self):
        c = self.conn()
        # Without 8, 1 - 2 - 4 is a plain chain.
        self.assertEqual(self.thread(c, "REFERENCES", "NOT FROM bea"),
                         "* THREAD (1 2 4)(3 5)(7 6)((9)(10))")
        # Without 1, its dummy has one child and gives way to 2; then 2
        # and 8 are roots with the same subject, both replies: a new
        # dummy takes both (step 5 C, last case).  Without 9, the <lost>
        # dummy has one child left and gives way to it (step 3).
        self.assertEqual(self.thread(c, "REFERENCES", "NOT 1 NOT 9"),
                         "* THREAD ((2 4)(8))(3 5)(7 6)(10)")
        self.assertEqual(self.thread(c, "REFERENCES", 'SUBJECT "no such"'),
                         "* THREAD")

    def test_bad(self):
        c = self.conn()
        for cmd in ("THREAD FOO UTF-8 ALL", "THREAD (REFERENCES) UTF-8 ALL",
                    "THREAD REFERENCES UTF-8", "THREAD REFERENCES",
                    "THREAD", "UID THREAD REFERENCES UTF-8 BAR"):
            with self.subTest(cmd=cmd):
                self.bad(c, cmd)
        t = self.bad(c, "THREAD REFERENCES X-NO-SUCH-CHARSET ALL", "NO")
        self.assertIn(b"[BADCHARSET (UTF-8 US-ASCII)]", t)


class TestCapabilityAndClients(Base):

    def test_capabilities(self):
        c = self.conn(select=False)
        u, t = c.ok("CAPABILITY")
        caps = u[0].decode().split()[2:]
        for cap in ("SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT",
                    "THREAD=REFERENCES"):
            self.assertIn(cap, caps)
        self.assertEqual(len(caps), len(set(caps)), caps)

    def test_imaplib(self):
        m = SRV.imap_login()
        self.addCleanup(m.logout)
        self.assertEqual(m.select(BOX)[0], "OK")
        typ, data = m.sort("(DISPLAYFROM)", "UTF-8", "ALL")
        self.assertEqual((typ, data), ("OK", [b"3 8 4 5 6 7 9 10 1 2"]))
        typ, data = m.thread("REFERENCES", "UTF-8", "ALL")
        self.assertEqual((typ, data),
                         ("OK", [b"(1 (2 4)(8))(3 5)(7 6)((9)(10))"]))
        typ, data = m.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
        self.assertEqual((typ, data), ("OK", [b"11 10 9 8 7 6 4 2 3 5"]))
        with self.assertRaises(imaplib.IMAP4.error):
            m.sort("(NOPE)", "UTF-8", "ALL")


if __name__ == "__main__":
    unittest.main()

"""
test_imap_snapshot - SELECT of a big mailbox starts from the message table
the last SELECT left in memory (imap_snap.c) and applies only the changes
since.  Whatever other sessions did in between (flags, keywords, expunges,
new mail, a mailbox deleted and made again under the same name), a new
SELECT must show exactly what the store holds: every check here compares a
session's view with the account database itself, read directly.
"""
import os
import re
import sqlite3
import unittest

from harness import Server

USER, PASS = "snap@example.test", "snap-pass-123"
N = 1500            # above imap_snap.c's SNAP_MIN
BODY = (b"From: bulk@example.org\r\nTo: snap@example.test\r\n"
        b"Subject: bulk\r\n\r\nbody\r\n")
FLAG_BITS = [(1, "\\Seen"), (2, "\\Answered"), (4, "\\Flagged"),
             (8, "\\Deleted"), (16, "\\Draft")]
FETCH_RE = re.compile(rb"(\d+) \((?:UID (\d+) FLAGS \(([^)]*)\)|"
                      rb"FLAGS \(([^)]*)\) UID (\d+))\)")


def make_mailbox(srv, name_sql="INBOX"):
    """Fill the mailbox with N entries of one stored message (the server
    is stopped meanwhile), with a pattern of flags and keywords."""
    srv.stop()
    db = sqlite3.connect(mail_db(srv))
    (mbox, uidnext, hms) = db.execute(
        "SELECT id, uidnext, highestmodseq FROM mailboxes WHERE name = ?",
        (name_sql,)).fetchone()
    (mid, size) = db.execute(
        "SELECT message_id, (SELECT size FROM messages WHERE id = "
        "message_id) FROM mails WHERE mailbox_id = ?", (mbox,)).fetchone()

    def row(i):
        uid = uidnext + i
        flags = (1 if uid % 7 == 0 else 0) | (4 if uid % 11 == 0 else 0)
        kw = "$Label1" if uid % 13 == 0 else None
        return (mbox, uid, mid, flags, kw, hms + 1 + i)
    db.executemany(
        "INSERT INTO mails (mailbox_id, uid, message_id, flags, keywords, "
        "modseq) VALUES (?, ?, ?, ?, ?, ?)", (row(i) for i in range(N - 1)))
    db.execute("UPDATE messages SET refs = refs + ? WHERE id = ?",
               (N - 1, mid))
    unseen = db.execute("SELECT count(*) FROM mails WHERE mailbox_id = ? "
                        "AND flags & 1 = 0", (mbox,)).fetchone()[0]
    db.execute("UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, "
               "messages = ?, unseen = ?, size = ? WHERE id = ?",
               (uidnext + N - 1, hms + N, N, unseen, N * size, mbox))
    db.commit()
    db.close()
    srv.start()


def mail_db(srv):
    acct = os.listdir(os.path.join(srv.data_dir, "accounts"))
    return os.path.join(srv.data_dir, "accounts", max(acct, key=int),
                        "mail.db")


def store_truth(srv, name="INBOX"):
    """[(uid, {flags and keywords})] of the mailbox, from the database."""
    db = sqlite3.connect(f"file:{mail_db(srv)}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT m.uid, m.flags, m.keywords FROM mails m JOIN mailboxes b "
        "ON b.id = m.mailbox_id WHERE b.name = ? ORDER BY m.uid",
        (name,)).fetchall()
    db.close()
    out = []
    for uid, flags, kw in rows:
        names = {n for bit, n in FLAG_BITS if flags & bit}
        names |= set((kw or "").split())
        out.append((uid, names))
    return out


def session_view(m):
    """[(uid, {flags})] as a selected session sees the mailbox, in
    message-number order (\\Recent left out)."""
    typ, data = m.fetch("1:*", "(UID FLAGS)")
    assert typ == "OK", data
    out = []
    for i, d in enumerate(x for x in data if x):
        mo = FETCH_RE.match(d)
        assert mo, d
        seq = int(mo.group(1))
        assert seq == i + 1, (seq, i)
        uid = int(mo.group(2) or mo.group(5))
        flags = (mo.group(3) if mo.group(3) is not None else mo.group(4))
        names = set(flags.decode().split()) - {"\\Recent"}
        out.append((uid, names))
    return out


class Snapshot(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={USER: PASS}).start()
        s = cls.srv.smtp()
        s.sendmail("bulk@example.org", [USER], BODY)
        s.quit()
        make_mailbox(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def login(self):
        return self.srv.imap_login(USER, PASS)

    def select_and_compare(self, name="INBOX", readonly=False):
        m = self.login()
        typ, data = m.select(name, readonly=readonly)
        self.assertEqual(typ, "OK", data)
        truth = store_truth(self.srv, name)
        self.assertEqual(int(data[0]), len(truth))
        self.assertEqual(session_view(m), truth)
        return m

    def test_1_changes_between_selects(self):
        # The first SELECT loads the mailbox and leaves the snapshot.
        a = self.select_and_compare()
        b = self.login()
        b.select("INBOX")
        # Flags, a keyword nobody has used yet, expunges, new mail.
        b.uid("STORE", "10,20,700", "+FLAGS", "(\\Flagged \\Answered)")
        b.uid("STORE", "14", "-FLAGS", "(\\Seen)")
        b.uid("STORE", "30,31", "+FLAGS", "($Snapshot)")
        b.uid("STORE", "5,6,1400:1410", "+FLAGS", "(\\Deleted)")
        typ, _ = b.uid("EXPUNGE", "5,6,1400:1410")
        self.assertEqual(typ, "OK")
        for i in range(3):
            b.append("INBOX", "(\\Seen $New)", None,
                     b"Subject: new %d\r\n\r\nx\r\n" % i)
        b.logout()
        c = self.select_and_compare()
        # A keyword first seen through the snapshot's changes is announced
        # in FLAGS, as on a load.
        typ, data = c.response("FLAGS")
        self.assertIn(b"$Snapshot", data[0])
        self.assertIn(b"$New", data[0])
        # The session selected before the changes hears of them.
        a.noop()
        a.response("FETCH")     # drop the untagged FETCHes of the NOOP
        self.assertEqual(session_view(a), store_truth(self.srv))
        for m in (a, c):
            m.logout()

    def test_2_examine_and_repeat(self):
        # Repeated SELECTs and an EXAMINE without changes in between.
        for ro in (False, True, False):
            self.select_and_compare(readonly=ro).logout()
        # Every message expunged but one, then a SELECT.
        b = self.login()
        b.select("INBOX")
        b.store("2:*", "+FLAGS.SILENT", "(\\Deleted)")
        b.expunge()
        b.logout()
        self.select_and_compare().logout()

    def test_3_mailbox_made_again(self):
        # A big mailbox deleted and made again under the same name gets a
        # new id and UIDVALIDITY: nothing of the old one may show.
        m = self.login()
        m.create("Archive")
        m.append("Archive", None, None, BODY)
        m.logout()
        make_mailbox(self.srv, "Archive")
        self.select_and_compare("Archive").logout()
        m = self.login()
        m.delete("Archive")
        m.create("Archive")
        for i in range(2):
            m.append("Archive", "($Fresh)", None, b"Subject: a\r\n\r\nb\r\n")
        m.logout()
        m = self.select_and_compare("Archive")
        self.assertEqual(len(session_view(m)), 2)
        m.logout()


if __name__ == "__main__":
    unittest.main()

"""
test_bigbox - a 100,000-message INBOX: POP3 lists and retrieves it and IMAP
selects and fetches from it, while the server's memory stays small.

The mailbox is made directly in the account's database (one stored
message, 100,000 mailbox entries pointing at it, as 100,000 COPYs would
leave it), because delivering 100,000 messages one fsync at a time would
take minutes.  Nothing here measures speed; the only bound is memory.
"""
import os
import sqlite3
import time
import unittest

from harness import Server

N = 100_000
BODY = (b"From: bulk@example.org\r\nTo: big@example.test\r\n"
        b"Subject: bulk\r\n\r\n.leading dot\r\nline two\r\n")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class BigMailbox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={"big@example.test": "big-pass-123"}).start()
        srv = cls.srv
        # Deliver one real message: it creates the account database and a
        # stored message with its parsed MIME structure.
        s = srv.smtp()
        s.sendmail("bulk@example.org", ["big@example.test"], BODY)
        s.quit()
        srv.stop()
        acct = [d for d in os.listdir(os.path.join(srv.data_dir,
                "accounts"))]
        db = sqlite3.connect(os.path.join(srv.data_dir, "accounts",
                                          max(acct, key=int), "mail.db"))
        (mbox, uidnext, hms) = db.execute(
            "SELECT id, uidnext, highestmodseq FROM mailboxes "
            "WHERE name = 'INBOX'").fetchone()
        (mid, size) = db.execute(
            "SELECT message_id, (SELECT size FROM messages WHERE id = "
            "message_id) FROM mails WHERE mailbox_id = ?",
            (mbox,)).fetchone()
        db.executemany(
            "INSERT INTO mails (mailbox_id, uid, message_id, flags, "
            "modseq) VALUES (?, ?, ?, 0, ?)",
            ((mbox, uidnext + i, mid, hms + 1 + i) for i in range(N - 1)))
        db.execute("UPDATE messages SET refs = ? WHERE id = ?", (N, mid))
        db.execute("UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, "
                   "messages = ?, unseen = ?, size = ? WHERE id = ?",
                   (uidnext + N - 1, hms + N, N, N, N * size, mbox))
        db.commit()
        db.close()
        cls.size = size
        srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_pop3_lists_and_retrieves(self):
        srv = self.srv
        # A login's hashing memory (yescrypt's 16 MiB) stays with its
        # thread until the thread has been idle for a second: measure
        # both figures without it.
        time.sleep(1.5)
        before = rss_kib(srv.proc.pid)
        p = srv.pop3()
        p.user("big@example.test")
        p.pass_("big-pass-123")
        self.assertEqual(p.stat(), (N, N * self.size))
        resp, lines, _ = p.list()
        self.assertEqual(len(lines), N)
        self.assertEqual(lines[-1], f"{N} {self.size}".encode())
        resp, lines, _ = p.uidl()
        self.assertEqual(len(lines), N)
        self.assertEqual(len(set(l.split()[1] for l in lines)), N)
        resp, lines, _ = p.retr(N)
        self.assertEqual(lines[-2:], [b".leading dot", b"line two"])
        self.assertEqual(p.top(N // 2, 0)[1][-1], b"")
        time.sleep(1.5)
        during = rss_kib(srv.proc.pid)
        p.quit()
        # The maildrop is numbered with 16 bytes a message, not loaded.
        self.assertLess(during - before, 16 * 1024,
                        f"RSS grew from {before} to {during} KiB")

    def test_imap_select_fetch_search(self):
        m = self.srv.imap_login("big@example.test", "big-pass-123")
        typ, data = m.select("INBOX")
        self.assertEqual(data, [str(N).encode()])
        typ, data = m.uid("FETCH", f"{N - 2}:*", "(FLAGS RFC822.SIZE)")
        self.assertEqual(len([d for d in data if d]), 3)
        typ, data = m.fetch(str(N), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(data[0][1], b"Subject: bulk\r\n\r\n")
        typ, data = m.search(None, "UID", f"{N - 9}:*")
        self.assertEqual(len(data[0].split()), 10)
        typ, data = m.store(f"{N}", "+FLAGS", "(\\Flagged)")
        self.assertIn(b"\\Flagged", data[0])
        m.logout()


if __name__ == "__main__":
    unittest.main()

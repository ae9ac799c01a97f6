"""
test_esmtp - the ESMTP extensions of the receiving side: CHUNKING/BDAT
(RFC 3030), DSN parameters (RFC 3461) and SMTPUTF8 (RFC 6531).
"""
import email
import email.policy
import time
import unittest

import harness  # noqa: E402
from harness import Server


def stored(srv, user, pw, n=None):
    m = srv.imap_login(user, pw)
    typ, data = m.select("INBOX")
    count = int(data[0])
    msgs = []
    for i in range(1, count + 1):
        typ, d = m.fetch(str(i), "(BODY.PEEK[])")
        msgs.append(d[0][1])
    m.logout()
    return msgs


def strip_received(raw):
    lines = harness.strip_return_path(raw).split(b"\r\n")
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


class Chunking(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={"ch@example.test": "ch-pass-1"},
                         extra_config="[limits]\nmessage_size = 64k\n")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def session(self):
        c = self.srv.raw("smtp")
        c.readline()
        c.send(b"EHLO client.example.org\r\n")
        ehlo = c.read_until(b"250 CHUNKING\r\n")
        self.assertIn(b"250-DSN\r\n", ehlo)
        self.assertIn(b"250-SMTPUTF8\r\n", ehlo)
        return c

    def test_bdat_chunks_pipelined(self):
        c = self.session()
        part1 = b"Subject: chunks\r\n\r\nfirst part\r\n"
        part2 = b".a line starting with a dot\r\nlast line\r\n"
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<ch@example.test>\r\n"
               + b"BDAT %d\r\n" % len(part1) + part1 +
               b"BDAT %d LAST\r\n" % len(part2) + part2 + b"QUIT\r\n")
        self.assertEqual(c.readline(), b"250 2.1.0 Ok\r\n")
        self.assertEqual(c.readline(), b"250 2.1.5 Ok\r\n")
        self.assertEqual(c.readline(), b"250 2.0.0 %d octets received\r\n"
                         % len(part1))
        self.assertTrue(c.readline().startswith(b"250 2.0.0 Ok: queued as "))
        self.assertEqual(c.readline(), b"221 2.0.0 Bye\r\n")
        msgs = stored(self.srv, "ch@example.test", "ch-pass-1")
        # No dot-unstuffing in BDAT: the bytes are kept as sent.
        self.assertEqual(strip_received(msgs[-1]), part1 + part2)

    def test_bdat_zero_last_and_bare_lf(self):
        c = self.session()
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<ch@example.test>\r\n"
               b"BDAT 12\r\nSubject: x\n\nBDAT 0 LAST\r\n")
        c.readline()
        c.readline()
        self.assertEqual(c.readline(), b"250 2.0.0 12 octets received\r\n")
        self.assertTrue(c.readline().startswith(b"250 2.0.0 Ok: queued as "))
        msgs = stored(self.srv, "ch@example.test", "ch-pass-1")
        self.assertEqual(strip_received(msgs[-1]), b"Subject: x\r\n\r\n")

    def test_bdat_errors_consume_the_chunk(self):
        c = self.session()
        # No transaction: 503, and the 5 bytes are not taken as commands.
        c.send(b"BDAT 6\r\nNOOP\r\nNOOP\r\n")
        self.assertEqual(c.readline(),
                         b"503 5.5.1 Error: need MAIL command\r\n")
        self.assertEqual(c.readline(), b"250 2.0.0 Ok\r\n")
        # DATA after BDAT and BDAT after DATA are refused.
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<ch@example.test>\r\n"
               b"BDAT 3\r\nabcDATA\r\n")
        c.readline()
        c.readline()
        self.assertEqual(c.readline(), b"250 2.0.0 3 octets received\r\n")
        self.assertEqual(c.readline(),
                         b"503 5.5.1 Error: DATA after BDAT\r\n")
        c.send(b"RSET\r\n")
        self.assertEqual(c.readline(), b"250 2.0.0 Ok\r\n")
        # Too big: the chunk is read whole, then 552, and the session
        # goes on.
        big = b"x" * (70 * 1024)
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<ch@example.test>\r\n"
               + b"BDAT %d LAST\r\n" % len(big) + big + b"NOOP\r\n")
        c.readline()
        c.readline()
        self.assertEqual(c.readline(),
                         b"552 5.3.4 Error: message file too big\r\n")
        self.assertEqual(c.readline(), b"250 2.0.0 Ok\r\n")
        # A BDAT without a size can't be skipped: the session ends.
        c.send(b"BDAT lots\r\n")
        self.assertTrue(c.readline().startswith(b"501 5.5.4"))
        self.assertTrue(c.closed())


class Dsn(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={"dsn@example.test": "dsn-pass-1",
                                "snd@example.test": "snd-pass-1"})
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_params_accepted_and_validated(self):
        c = self.srv.raw("smtp")
        c.readline()
        c.send(b"EHLO c.example.org\r\n")
        c.read_until(b"250 CHUNKING\r\n")
        c.send(b"MAIL FROM:<a@example.org> RET=HDRS ENVID=abc+2Bdef\r\n")
        self.assertEqual(c.readline(), b"250 2.1.0 Ok\r\n")
        c.send(b"RCPT TO:<dsn@example.test> NOTIFY=SUCCESS,DELAY "
               b"ORCPT=rfc822;dsn@example.test\r\n")
        self.assertEqual(c.readline(), b"250 2.1.5 Ok\r\n")
        c.send(b"RCPT TO:<dsn@example.test> NOTIFY=NEVER,SUCCESS\r\n")
        self.assertTrue(c.readline().startswith(b"501 5.5.4"))
        c.send(b"RSET\r\nMAIL FROM:<a@example.org> RET=MAYBE\r\n")
        self.assertEqual(c.readline(), b"250 2.0.0 Ok\r\n")
        self.assertTrue(c.readline().startswith(b"501 5.5.4"))
        c.close()

    def test_local_success_notification(self):
        # A local sender asks for NOTIFY=SUCCESS to a local mailbox.
        c = self.srv.raw("submission")
        c.readline()
        c.send(b"EHLO c.example.org\r\n")
        c.read_until(b"250 CHUNKING\r\n")
        import base64
        c.send(b"AUTH PLAIN " + base64.b64encode(
            b"\0snd@example.test\0snd-pass-1") + b"\r\n")
        self.assertTrue(c.readline().startswith(b"235"))
        c.send(b"MAIL FROM:<snd@example.test> ENVID=env-42\r\n"
               b"RCPT TO:<dsn@example.test> NOTIFY=SUCCESS "
               b"ORCPT=rfc822;dsn@example.test\r\nDATA\r\n")
        c.readline()
        c.readline()
        self.assertTrue(c.readline().startswith(b"354"))
        c.send(b"Subject: please confirm\r\n\r\nbody\r\n.\r\n")
        self.assertTrue(c.readline().startswith(b"250 2.0.0"))
        c.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            msgs = stored(self.srv, "snd@example.test", "snd-pass-1")
            if msgs:
                break
            time.sleep(0.1)
        self.assertEqual(len(msgs), 1)
        rep = email.message_from_bytes(msgs[0], policy=email.policy.compat32)
        self.assertEqual(rep.get_content_type(), "multipart/report")
        self.assertEqual(rep.get_param("report-type"), "delivery-status")
        parts = rep.get_payload()
        status = parts[1].get_payload()
        text = "".join(str(p) for p in status)
        self.assertIn("Original-Envelope-Id: env-42", text)
        self.assertIn("Final-Recipient: rfc822; dsn@example.test", text)
        self.assertIn("Original-Recipient: rfc822;dsn@example.test", text)
        self.assertIn("Action: delivered", text)
        self.assertIn("Status: 2.0.0", text)
        self.assertIn("please confirm", parts[2].as_string())
        self.assertEqual(len(stored(self.srv, "dsn@example.test",
                                    "dsn-pass-1")), 1)


class SmtpUtf8(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={"u8@example.test": "u-pass-123"})
        # A UTF-8 local part, as an alias of an ASCII mailbox.
        cls.srv.cli("alias", "add", "ü@example.test", "u8@example.test")
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def test_utf8_addresses(self):
        c = self.srv.raw("smtp")
        c.readline()
        c.send(b"EHLO c.example.org\r\n")
        c.read_until(b"250 CHUNKING\r\n")
        # Without SMTPUTF8 a non-ASCII path is refused.
        c.send("MAIL FROM:<jöran@example.org>\r\n".encode())
        self.assertTrue(c.readline().startswith(b"553 5.6.7"))
        c.send("MAIL FROM:<jöran@example.org> SMTPUTF8\r\n".encode())
        self.assertEqual(c.readline(), b"250 2.1.0 Ok\r\n")
        c.send("RCPT TO:<ü@example.test>\r\nDATA\r\n".encode())
        self.assertEqual(c.readline(), b"250 2.1.5 Ok\r\n")
        self.assertTrue(c.readline().startswith(b"354"))
        body = "From: Jöran <jöran@example.org>\r\nSubject: grüße\r\n\r\n" \
            "hallo\r\n"
        c.send(body.encode() + b".\r\n")
        self.assertTrue(c.readline().startswith(b"250 2.0.0"))
        c.close()
        msgs = stored(self.srv, "u8@example.test", "u-pass-123")
        self.assertTrue(msgs[-1].startswith("Return-Path: <jöran@example.org>"
                                            "\r\n".encode()))
        self.assertIn(b"with UTF8ESMTP", msgs[-1].split(b"\r\n")[2])
        self.assertEqual(strip_received(msgs[-1]), body.encode())


if __name__ == "__main__":
    unittest.main()

"""
test_scram - SCRAM-SHA-256 (RFC 5802, RFC 7677) over IMAP, POP3 and SMTP
submission, driven by a client written here from the RFC (hashlib/hmac).
"""
import base64
import hashlib
import hmac
import os
import unittest

from harness import Server


def b64(b):
    return base64.b64encode(b).decode()


class ScramClient:
    def __init__(self, user, password, nonce=None):
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode()
        self.cnonce = nonce or b64(os.urandom(18))
        self.first_bare = f"n={self.user},r={self.cnonce}"

    def first(self):
        return b64(("n,," + self.first_bare).encode())

    def final(self, server_first_b64):
        sf = base64.b64decode(server_first_b64).decode()
        attrs = dict(kv.split("=", 1) for kv in sf.split(","))
        assert attrs["r"].startswith(self.cnonce)
        salt = base64.b64decode(attrs["s"])
        it = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, it)
        ckey = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(ckey).digest()
        without_proof = f"c={b64(b'n,,')},r={attrs['r']}"
        auth_msg = f"{self.first_bare},{sf},{without_proof}".encode()
        sig = hmac.new(stored, auth_msg, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        skey = hmac.new(salted, b"Server Key", "sha256").digest()
        self.expected_v = b64(hmac.new(skey, auth_msg, "sha256").digest())
        self.salt_iter = (attrs["s"], attrs["i"])
        return b64(f"{without_proof},p={b64(proof)}".encode())

    def check_server_final(self, b64msg):
        return base64.b64decode(b64msg).decode() == "v=" + self.expected_v


PW = "scram-Pässword-1"


class Scram(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={"sc@example.test": PW}).start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def imap_scram(self, user, password):
        c = self.srv.raw("imap")
        c.readline()
        cl = ScramClient(user, password)
        c.send(f"a AUTHENTICATE SCRAM-SHA-256 {cl.first()}\r\n".encode())
        line = c.readline()
        self.assertTrue(line.startswith(b"+ "), line)
        c.send(cl.final(line[2:].strip().decode()).encode() + b"\r\n")
        line = c.readline()
        if line.startswith(b"+ "):
            self.assertTrue(cl.check_server_final(line[2:].strip().decode()))
            c.send(b"\r\n")
            line = c.readline()
        c.close()
        return line, cl

    def test_imap_ok(self):
        line, _ = self.imap_scram("sc@example.test", PW)
        self.assertTrue(line.startswith(b"a OK [CAPABILITY "), line)
        self.assertIn("mech=SCRAM-SHA-256", self.srv.read_log())

    def test_imap_wrong_password_and_unknown_user(self):
        line, cl = self.imap_scram("sc@example.test", "wrong")
        self.assertEqual(line, b"a NO [AUTHENTICATIONFAILED] "
                         b"Authentication failed.\r\n")
        line, cl1 = self.imap_scram("nobody@example.test", "x")
        self.assertEqual(line, b"a NO [AUTHENTICATIONFAILED] "
                         b"Authentication failed.\r\n")
        # An unknown user gets a stable salt, like a real one.
        _, cl2 = self.imap_scram("nobody@example.test", "y")
        self.assertEqual(cl1.salt_iter, cl2.salt_iter)
        _, cl3 = self.imap_scram("NOBODY@example.test", "y")
        self.assertEqual(cl1.salt_iter, cl3.salt_iter)
        _, r1 = self.imap_scram("sc@example.test", "a")
        _, r2 = self.imap_scram("SC@example.test", "b")
        self.assertEqual(r1.salt_iter, r2.salt_iter)
        self.assertEqual(r1.salt_iter[1], "4096")

    def test_imap_capability_lists_scram(self):
        c = self.srv.raw("imap")
        greeting = c.readline()
        self.assertIn(b"AUTH=SCRAM-SHA-256 AUTH=PLAIN AUTH=LOGIN", greeting)
        c.close()

    def test_pop3(self):
        c = self.srv.raw("pop3")
        c.readline()
        cl = ScramClient("sc@example.test", PW)
        c.send(b"AUTH SCRAM-SHA-256\r\n")
        self.assertEqual(c.readline(), b"+ \r\n")
        c.send(cl.first().encode() + b"\r\n")
        line = c.readline()
        c.send(cl.final(line[2:].strip().decode()).encode() + b"\r\n")
        line = c.readline()
        self.assertTrue(cl.check_server_final(line[2:].strip().decode()))
        c.send(b"\r\n")
        self.assertEqual(c.readline(), b"+OK Logged in.\r\n")
        c.send(b"STAT\r\n")
        self.assertEqual(c.readline(), b"+OK 0 0\r\n")
        c.close()

    def test_smtp_submission(self):
        c = self.srv.raw("submission")
        c.readline()
        c.send(b"EHLO client.example.org\r\n")
        ehlo = c.read_until(b"250 ")
        c.readline()
        self.assertIn(b"AUTH SCRAM-SHA-256 PLAIN LOGIN", ehlo)
        cl = ScramClient("sc@example.test", PW)
        c.send(f"AUTH SCRAM-SHA-256 {cl.first()}\r\n".encode())
        line = c.readline()
        self.assertTrue(line.startswith(b"334 "), line)
        c.send(cl.final(line[4:].strip().decode()).encode() + b"\r\n")
        line = c.readline()
        self.assertTrue(line.startswith(b"334 "), line)
        self.assertTrue(cl.check_server_final(line[4:].strip().decode()))
        c.send(b"\r\n")
        self.assertEqual(c.readline(),
                         b"235 2.7.0 Authentication successful\r\n")
        c.send(b"MAIL FROM:<sc@example.test>\r\n")
        self.assertEqual(c.readline(), b"250 2.1.0 Ok\r\n")
        c.close()

    def test_password_change_updates_scram(self):
        self.srv.add_user("chg@example.test", "old-pass-123")
        self.srv.cli("user", "passwd", "chg@example.test", "--password-stdin",
                     input="new-pass-456\n")
        line, _ = self.imap_scram("chg@example.test", "old-pass-123")
        self.assertTrue(line.startswith(b"a NO "), line)
        line, _ = self.imap_scram("chg@example.test", "new-pass-456")
        self.assertTrue(line.startswith(b"a OK "), line)

    def test_policy_applies_after_scram(self):
        self.srv.add_user("pol@example.test", "pol-pass-123")
        self.srv.cli("user", "set", "pol@example.test", "imap=off")
        line, _ = self.imap_scram("pol@example.test", "pol-pass-123")
        self.assertEqual(line, b"a NO [NOPERM] IMAP is disabled for this "
                         b"account.\r\n")


if __name__ == "__main__":
    unittest.main()

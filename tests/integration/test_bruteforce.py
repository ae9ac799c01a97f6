"""
test_bruteforce - failed logins: the delay grows with each failure from an
address or for a user name, the address is locked out after
lockout_failures, the lock-out is logged, the right password still works
from another address, and an unknown user is answered exactly like a wrong
password, after the same delay.
"""
import socket
import time
import unittest

from harness import Server, RawClient

USER = "victim@example.test"
PW = "victim-pass-123"


def connect_from(srv, listener, source):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(30)
    s.connect(("127.0.0.1", srv.port[listener]))
    return RawClient(s)


class BruteForce(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(auth_failure_delay="100ms", lockout_failures=5,
                         extra_config="", users={
                             USER: PW, "other@example.test": "o-pass-1",
                             "other2@example.test": "o-pass-2",
                             "other3@example.test": "o-pass-3",
                             "other4@example.test": "o-pass-4",
                             "other5@example.test": "o-pass-5"})
        with open(cls.srv.conf) as f:
            conf = f.read()
        conf = conf.replace("lockout_failures = 5",
                            "lockout_failures = 5\nmax_failure_delay = 800ms"
                            "\nlockout_time = 1m")
        with open(cls.srv.conf, "w") as f:
            f.write(conf)
        cls.srv.start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def imap_login(self, c, tag, user, pw):
        t0 = time.monotonic()
        c.send(f"{tag} LOGIN {user} {pw}\r\n".encode())
        line = c.readline()
        return line, time.monotonic() - t0

    def test_growing_delay_then_lockout(self):
        c = connect_from(self.srv, "imap", "127.0.0.2")
        c.readline()
        delays = []
        for i in range(4):
            line, dt = self.imap_login(c, f"a{i}", USER, "wrong")
            self.assertEqual(line, f"a{i} NO [AUTHENTICATIONFAILED] "
                             "Authentication failed.\r\n".encode())
            delays.append(dt)
        # 100, 200, 400, 800 ms (plus the yescrypt work).
        for got, want in zip(delays, (0.1, 0.2, 0.4, 0.8)):
            self.assertGreaterEqual(got, want * 0.95, delays)
        self.assertLess(delays[0], 0.6, delays)
        # The fifth failure locks the address out; after that even the
        # right password fails from there, capped delay, same reply.
        self.imap_login(c, "a4", USER, "wrong")
        line, dt = self.imap_login(c, "a5", USER, PW)
        self.assertEqual(line, b"a5 NO [AUTHENTICATIONFAILED] "
                         b"Authentication failed.\r\n")
        self.assertGreaterEqual(dt, 0.75)
        c.close()
        log = self.srv.read_log()
        self.assertIn("auth lockout from=127.0.0.2", log)
        self.assertIn('reason="address locked out"', log)
        # Other addresses, including for the same user, are not locked.
        c2 = connect_from(self.srv, "imap", "127.0.0.3")
        c2.readline()
        line, _ = self.imap_login(c2, "b1", USER, PW)
        self.assertTrue(line.startswith(b"b1 OK "), line)
        c2.close()
        # POP3 and SMTP from the locked address are refused too.
        p = connect_from(self.srv, "pop3", "127.0.0.2")
        p.readline()
        p.send(f"USER {USER}\r\nPASS {PW}\r\n".encode())
        self.assertEqual(p.readline(), b"+OK\r\n")
        self.assertEqual(p.readline(),
                         b"-ERR [AUTH] Authentication failed.\r\n")
        p.close()

    def test_unknown_user_like_wrong_password(self):
        def attempt(src, user, tag):
            c = connect_from(self.srv, "imap", src)
            c.readline()
            line, dt = self.imap_login(c, tag, user, "wrong")
            c.close()
            return line.split(b" ", 1)[1], dt

        # Five of each, alternating, each the first failure of its
        # address and its name.  A hashing thread that has not hashed for
        # a second maps its 16 MiB afresh (tens of ms of page faults here),
        # for a real hash and the dummy alike: the medians compare the
        # work, not which attempt met a cold thread (or a busy machine).
        t1, t2 = [], []
        for i, (known, unknown_name) in enumerate(
                (("other", "nobody"), ("other2", "nobody2"),
                 ("other3", "nobody3"), ("other4", "nobody4"),
                 ("other5", "nobody5"))):
            wrong_pw, dt = attempt(f"127.0.0.{4 + 2 * i}",
                                   f"{known}@example.test", "x")
            t1.append(dt)
            unknown, dt = attempt(f"127.0.0.{5 + 2 * i}",
                                  f"{unknown_name}@example.test", "x")
            t2.append(dt)
            self.assertEqual(wrong_pw, unknown)
        # Same delay (first failure of each address and name) and the
        # same password work: within a small margin of each other.
        m1, m2 = sorted(t1)[2], sorted(t2)[2]
        self.assertLess(abs(m1 - m2), 0.08, (t1, t2))


if __name__ == "__main__":
    unittest.main()

"""
test_addressing - which mailbox an address reaches, and which addresses a
user may send as:

  - subaddressing: user+tag@domain is delivered to user@domain (the
    account or an alias with the whole address wins); [smtp]
    recipient_delimiter chooses the characters, empty turns it off;
  - catch-all: `alias add @domain TARGET` takes mail for every address of
    the domain that nothing else takes (not a disabled account's);
  - sender ownership on submission ([smtp] sender_check): MAIL FROM and
    the From field must be the user's address, an extension of it, or an
    alias that delivers to them: 553 5.7.1 at MAIL, 550 5.7.1 after the
    data; "envelope" checks MAIL FROM only, "off" nothing.
"""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

Server = harness.Server
PW = "Addr-Secret-31"


def msg(subject, frm="someone@example.org", to="x@example.test"):
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@test>\r\n\r\n"
            f"body of {subject}\r\n").encode()


def inbox_subjects(srv, user, box="INBOX"):
    m = srv.imap()
    try:
        m.login(user, PW)
        typ, _ = m.select(box, readonly=True)
        assert typ == "OK", box
        typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        out = []
        for item in data:
            if isinstance(item, tuple):
                out.append(item[1].decode().strip()[len("Subject: "):])
        return out
    finally:
        m.logout()


def port25(srv, rcpts, message, sender="someone@example.org"):
    """Sends over port 25; returns {rcpt: (code, text)} of the refusals."""
    s = srv.smtp()
    try:
        return s.sendmail(sender, rcpts, message)
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients
    finally:
        s.quit()


class Submit:
    """A logged-in submission session that reports every reply."""

    def __init__(self, srv, user):
        self.s = srv.smtp("submission")
        self.s.starttls(context=harness.tls_context())
        self.s.login(user, PW)

    def send(self, sender, rcpt, message):
        """(MAIL reply, DATA reply or None)."""
        code, text = self.s.mail(sender)
        if code != 250:
            self.s.rset()
            return (code, text.decode()), None
        code2, _ = self.s.rcpt(rcpt)
        assert code2 == 250, code2
        code3, text3 = self.s.data(message)
        if code3 != 250:
            self.s.rset()
        return (code, text.decode()), (code3, text3.decode())

    def close(self):
        self.s.quit()


class AddressingTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        try:
            srv = cls.srv
            for d in ("catch.test", "plain.test"):
                srv.cli("domain", "add", d)
            for u in ("ann@example.test", "ben@example.test",
                      "cat@catch.test", "dis@catch.test",
                      "pat@plain.test"):
                srv.add_user(u, PW)
            srv.cli("alias", "add", "sales@example.test", "ann@example.test")
            srv.cli("alias", "add", "team@example.test",
                    "ann@example.test,ben@example.test")
            srv.cli("alias", "add", "ann+special@example.test",
                    "ben@example.test")
            srv.start()
        except Exception:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    # -- subaddressing ----------------------------------------------------

    def test_extension_goes_to_the_user(self):
        self.assertEqual(port25(self.srv, ["ann+lists@example.test",
                                           "Ann+A+B@Example.TEST",
                                           "sales+x@example.test"],
                                msg("ext one")), {})
        # One copy (one account, deduplicated).
        self.assertEqual(inbox_subjects(self.srv, "ann@example.test"),
                         ["ext one"])

    def test_whole_address_wins_over_extension(self):
        self.assertEqual(port25(self.srv, ["ann+special@example.test"],
                                msg("special")), {})
        self.assertIn("special", inbox_subjects(self.srv,
                                                "ben@example.test"))
        self.assertNotIn("special", inbox_subjects(self.srv,
                                                   "ann@example.test"))

    def test_unknown_user_with_extension_refused(self):
        r = port25(self.srv, ["nobody+x@example.test"], msg("nobody"))
        self.assertEqual(r["nobody+x@example.test"],
                         (550, b"5.1.1 <nobody+x@example.test>: Recipient "
                          b"address rejected: User unknown in local "
                          b"recipient table"))
        r = port25(self.srv, ["+ann@example.test"], msg("plus first"))
        self.assertEqual(r["+ann@example.test"][0], 550)

    def test_delimiter_configured_and_off(self):
        with Server(extra_config="[smtp]\nrecipient_delimiter = -\n") as s2:
            s2.add_user("dee@example.test", PW)
            self.assertEqual(port25(s2, ["dee-news@example.test"],
                                    msg("dash")), {})
            r = port25(s2, ["dee+news@example.test"], msg("plus"))
            self.assertEqual(r["dee+news@example.test"][0], 550)
            self.assertEqual(inbox_subjects(s2, "dee@example.test"),
                             ["dash"])
        with Server(extra_config="[smtp]\nrecipient_delimiter =\n") as s3:
            s3.add_user("eve@example.test", PW)
            r = port25(s3, ["eve+x@example.test"], msg("off"))
            self.assertEqual(r["eve+x@example.test"][0], 550)

    # -- catch-all ------------------------------------------------------

    def test_catch_all(self):
        srv = self.srv
        r = port25(srv, ["whatever@catch.test"], msg("before"))
        self.assertEqual(r["whatever@catch.test"][0], 550)
        srv.cli("alias", "add", "@catch.test", "cat@catch.test")
        self.assertIn("@catch.test -> cat@catch.test",
                      srv.cli("alias", "list").stdout)
        # The server sees directory changes within its poll interval.
        self.assertEqual(port25(srv, ["whatever@catch.test",
                                      "Other.One@CATCH.test"],
                                msg("caught")), {})
        self.assertEqual(inbox_subjects(srv, "cat@catch.test"), ["caught"])
        # A disabled account is not swallowed by the catch-all.
        srv.cli("user", "set", "dis@catch.test", "enabled=no")
        r = port25(srv, ["dis@catch.test"], msg("to disabled"))
        self.assertEqual(r["dis@catch.test"][0], 550)
        self.assertTrue(r["dis@catch.test"][1].startswith(b"5.2.1 "))
        # Other domains are not covered.
        r = port25(srv, ["whatever@plain.test"], msg("plain"))
        self.assertEqual(r["whatever@plain.test"][0], 550)
        srv.cli("alias", "del", "@catch.test")
        r = port25(srv, ["whatever@catch.test"], msg("after"))
        self.assertEqual(r["whatever@catch.test"][0], 550)
        self.assertEqual(inbox_subjects(srv, "cat@catch.test"), ["caught"])

    def test_catch_all_cli_errors(self):
        r = self.srv.cli("alias", "add", "@", "cat@catch.test", check=False)
        self.assertNotEqual(r.returncode, 0)
        r = self.srv.cli("alias", "add", "@remote.org", "cat@catch.test",
                         check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not served here", r.stderr)

    # -- sender ownership -----------------------------------------------

    def test_sender_must_be_owned(self):
        sub = Submit(self.srv, "ann@example.test")
        try:
            ok = [("ann@example.test", "ann@example.test"),
                  ("ANN@example.test", "Ann <ann@EXAMPLE.test>"),
                  ("ann+tag@example.test", "ann+tag@example.test"),
                  ("sales@example.test", "Sales <sales@example.test>"),
                  ("team@example.test", "team@example.test"),
                  ("", "ann@example.test")]
            for i, (env, hdr) in enumerate(ok):
                with self.subTest(env=env, hdr=hdr):
                    mail, data = sub.send(env, "ben@example.test",
                                          msg(f"owned {i}", frm=hdr))
                    self.assertEqual(mail[0], 250, mail)
                    self.assertEqual(data[0], 250, data)
            # Someone else's address, a foreign one, an alias of others.
            for env in ("ben@example.test", "ceo@example.org",
                        "pat@plain.test", "ben+x@example.test"):
                with self.subTest(env=env):
                    mail, data = sub.send(env, "ben@example.test",
                                          msg("not owned"))
                    self.assertEqual(mail, (553, f"5.7.1 <{env}>: Sender "
                                     "address rejected: not owned by user "
                                     "ann@example.test"))
                    self.assertIsNone(data)
            # The envelope is fine, the author is not.
            for hdr, bad in (("ben@example.test", "ben@example.test"),
                             ("Ann <ann@example.test>, Ben "
                              "<ben@example.test>", "ben@example.test"),
                             ("\"Ann\" <boss@example.org>",
                              "boss@example.org")):
                with self.subTest(hdr=hdr):
                    mail, data = sub.send("ann@example.test",
                                          "ben@example.test",
                                          msg("forged author", frm=hdr))
                    self.assertEqual(mail[0], 250)
                    self.assertEqual(data, (550, f"5.7.1 <{bad}>: From "
                                     "address rejected: not owned by user "
                                     "ann@example.test"))
        finally:
            sub.close()
        got = inbox_subjects(self.srv, "ben@example.test")
        self.assertEqual([s for s in got if s.startswith("owned ")],
                         [f"owned {i}" for i in range(len(ok))])
        self.assertNotIn("not owned", got)
        self.assertNotIn("forged author", got)
        log = self.srv.read_log()
        self.assertIn("smtp sender rejected from=<ben@example.test> "
                      "user=ann@example.test", log)

    def test_sender_check_envelope_and_off(self):
        for mode, header_ok, envelope_ok in (("envelope", True, False),
                                             ("off", True, True)):
            with self.subTest(mode=mode), Server(
                    extra_config=f"[smtp]\nsender_check = {mode}\n") as s2:
                s2.add_user("ann@example.test", PW)
                s2.add_user("ben@example.test", PW)
                sub = Submit(s2, "ann@example.test")
                try:
                    mail, data = sub.send("ann@example.test",
                                          "ben@example.test",
                                          msg("hdr", frm="ben@example.test"))
                    self.assertEqual(data[0] == 250, header_ok, data)
                    mail, data = sub.send("ben@example.test",
                                          "ben@example.test",
                                          msg("env", frm="ann@example.test"))
                    self.assertEqual(mail[0] == 250, envelope_ok, mail)
                finally:
                    sub.close()

    def test_port25_senders_not_checked(self):
        # Mail from other servers carries any sender.
        self.assertEqual(port25(self.srv, ["pat@plain.test"],
                                msg("from outside", frm="ben@example.test"),
                                sender="ben@example.test"), {})
        self.assertEqual(inbox_subjects(self.srv, "pat@plain.test"),
                         ["from outside"])


if __name__ == "__main__":
    unittest.main()

"""
test_clients - real mail programs from Debian against the real binary:
swaks (SMTP, submission with STARTTLS and AUTH, implicit TLS), curl (SMTP
upload, POP3S, IMAPS), fetchmail (POP3 with STLS and POP3S, with and
without --keep), msmtp (465 and 587) and openssl s_client (STARTTLS for
SMTP, IMAP and POP3; TLS 1.1 refused).

Every client runs with a timeout and talks only to 127.0.0.1.  Messages
are compared byte for byte with what the server stores, minus the
server's Received header.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PW = "Client-Pw-2024"
USER = harness.Server.USER
PASSWORD = harness.Server.PASSWORD


Server = harness.Server


def strip_received(msg):
    msg = harness.strip_return_path(msg)
    assert msg.startswith(b"Received: "), msg[:100]
    i = msg.index(b"\r\n") + 2
    while msg[i:i + 1] == b"\t":
        i = msg.index(b"\r\n", i) + 2
    return msg[i:]


def imap_messages(srv, user, pw=PW):
    """{uid: bytes} of user's INBOX, read without setting \\Seen."""
    m = srv.imap()
    try:
        m.login(user, pw)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        if int(data[0]) == 0:
            return {}
        typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK", data
        out = {}
        for item in data:
            if isinstance(item, tuple):
                mm = re.search(rb"UID (\d+)", item[0])
                out[int(mm.group(1))] = item[1]
        return out
    finally:
        m.logout()


def stored(srv, user, pw=PW):
    """The messages of user's INBOX in UID order."""
    msgs = imap_messages(srv, user, pw)
    return [msgs[k] for k in sorted(msgs)]


def deliver(srv, rcpt, msgs):
    s = srv.smtp()
    try:
        for m in msgs:
            assert s.sendmail("sender@example.org", [rcpt], m) == {}
    finally:
        s.quit()


def run(cmd, input=None, env=None, timeout=30):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, input=input, capture_output=True,
                          timeout=timeout, env=e)


def out(r):
    return (r.stdout + r.stderr).decode("utf-8", "replace")


def msg(subject, body=b"Body line.\r\n.leading dot\r\nlast\r\n"):
    return (b"Date: Mon, 02 Jan 2023 10:00:00 +0000\r\n"
            b"From: Demo <" + USER.encode() + b">\r\n"
            b"To: someone@example.test\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.replace(" ", ".").encode() +
            b"@client.example.org>\r\n"
            b"\r\n" + body)


USERS = ["swaks25", "swaks587", "swaks465", "curlsmtp", "curlpop",
         "curlimap", "fmkeep", "fmdel", "msmtp465", "msmtp587"]


class ClientsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(users={f"{u}@example.test": PW for u in USERS})
        try:
            cls.srv.start()
        except Exception:
            cls.srv.cleanup()
            raise
        cls.tmp = tempfile.mkdtemp(prefix="clients-", dir=cls.srv.dir)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def u(self, name):
        return f"{name}@example.test"

    def file(self, name, data, mode=0o644):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def port(self, listener):
        return str(self.srv.port[listener])

    # -- swaks ---------------------------------------------------------

    def swaks(self, listener, rcpt, data_file, *extra):
        return run(["swaks", "--server", "127.0.0.1:" + self.port(listener),
                    "--helo", "client.example.org",
                    "--to", rcpt, "--data", "@" + data_file] + list(extra))

    def test_swaks_port25_local_delivery(self):
        # swaks ends the DATA with CRLF "." CRLF after the file's bytes.
        data = msg("swaks 25").rstrip(b"\r\n")
        path = self.file("swaks25.eml", data)
        r = self.swaks("smtp", self.u("swaks25"), path,
                       "--from", "sender@example.org")
        self.assertEqual(r.returncode, 0, out(r))
        self.assertRegex(out(r), r"<-  250 2\.0\.0 ")
        self.assertEqual([strip_received(m) for m in
                          stored(self.srv, self.u("swaks25"))],
                         [data + b"\r\n"])

    def test_swaks_587_starttls_auth_plain_and_login(self):
        data = msg("swaks 587").rstrip(b"\r\n")
        path = self.file("swaks587.eml", data)
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                r = self.swaks("submission", self.u("swaks587"), path,
                               "--from", USER, "--tls", "--auth", mech,
                               "--auth-user", USER,
                               "--auth-password", PASSWORD)
                o = out(r)
                self.assertEqual(r.returncode, 0, o)
                self.assertIn("<-  220 2.0.0 Ready to start TLS", o)
                self.assertIn(f" ~> AUTH {mech}", o)
                self.assertIn("<~  235 2.7.0 Authentication successful", o)
                self.assertRegex(o, r"<~  250 2\.0\.0 ")
        got = stored(self.srv, self.u("swaks587"))
        self.assertEqual([strip_received(m) for m in got],
                         [data + b"\r\n"] * 2)
        for m in got:
            self.assertIn(b" with ESMTPSA id ", m)

    def test_swaks_465_tls_on_connect(self):
        data = msg("swaks 465").rstrip(b"\r\n")
        path = self.file("swaks465.eml", data)
        r = self.swaks("submissions", self.u("swaks465"), path,
                       "--from", USER, "--tlsc", "--auth", "PLAIN",
                       "--auth-user", USER, "--auth-password", PASSWORD)
        o = out(r)
        self.assertEqual(r.returncode, 0, o)
        self.assertIn("<~  220 mail.example.test ", o)
        self.assertIn("<~  235 2.7.0", o)
        self.assertEqual([strip_received(m) for m in
                          stored(self.srv, self.u("swaks465"))],
                         [data + b"\r\n"])

    def test_swaks_wrong_password_fails(self):
        path = self.file("swaksbad.eml", msg("swaks bad").rstrip(b"\r\n"))
        r = self.swaks("submission", self.u("swaks587"), path,
                       "--from", USER, "--tls", "--auth", "PLAIN",
                       "--auth-user", USER, "--auth-password", "wrong-pw")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("<~* 535 5.7.8", out(r))

    # -- curl ------------------------------------------------------------

    def test_curl_smtp_upload_587(self):
        data = msg("curl upload")
        path = self.file("curl.eml", data)
        r = run(["curl", "-sS", "--ssl-reqd", "-k",
                 "--url", f"smtp://127.0.0.1:{self.port('submission')}"
                          "/client.example.org",
                 "--mail-from", USER, "--mail-rcpt", self.u("curlsmtp"),
                 "-u", f"{USER}:{PASSWORD}", "-T", path])
        self.assertEqual(r.returncode, 0, out(r))
        got = stored(self.srv, self.u("curlsmtp"))
        self.assertEqual([strip_received(m) for m in got], [data])
        self.assertIn(b" with ESMTPSA id ", got[0])

    def test_curl_smtp_requires_tls_and_auth(self):
        path = self.file("curl2.eml", msg("curl noauth"))
        r = run(["curl", "-sS", "--ssl-reqd", "-k",
                 "--url", f"smtp://127.0.0.1:{self.port('submission')}"
                          "/client.example.org",
                 "--mail-from", USER, "--mail-rcpt", self.u("curlsmtp"),
                 "-T", path])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("530", out(r))

    def test_curl_pop3s_list_and_retrieve(self):
        user = self.u("curlpop")
        deliver(self.srv, user, [msg("pop one"),
                                 msg("pop two", b"..\r\n.x\r\nend\r\n")])
        msgs = stored(self.srv, user)
        base = f"pop3s://127.0.0.1:{self.port('pop3s')}/"
        r = run(["curl", "-sS", "-k", "-u", f"{user}:{PW}", base])
        self.assertEqual(r.returncode, 0, out(r))
        self.assertEqual(r.stdout, b"1 %d\r\n2 %d\r\n" % (len(msgs[0]),
                                                         len(msgs[1])))
        for i in (1, 2):
            r = run(["curl", "-sS", "-k", "-u", f"{user}:{PW}",
                     base + str(i)])
            self.assertEqual(r.returncode, 0, out(r))
            self.assertEqual(r.stdout, msgs[i - 1])
        r = run(["curl", "-sS", "-k", "-u", f"{user}:wrong", base])
        self.assertNotEqual(r.returncode, 0)

    def test_curl_imaps_fetch_by_uid(self):
        user = self.u("curlimap")
        deliver(self.srv, user, [msg("imap one"), msg("imap two")])
        msgs = imap_messages(self.srv, user)
        self.assertEqual(len(msgs), 2)
        for uid, data in msgs.items():
            r = run(["curl", "-sS", "-k", "-u", f"{user}:{PW}",
                     f"imaps://127.0.0.1:{self.port('imaps')}"
                     f"/INBOX;UID={uid}"])
            self.assertEqual(r.returncode, 0, out(r))
            self.assertEqual(r.stdout, data)

    # -- fetchmail -------------------------------------------------------

    def fetchmail(self, name, listener, keep, ssl):
        home = os.path.join(self.tmp, name)
        outdir = os.path.join(home, "out")
        os.makedirs(outdir)
        mda = self.file(f"{name}-mda.py",
                        (f"#!{sys.executable}\n"
                         "import os, sys\n"
                         "d = sys.argv[1]\n"
                         "data = sys.stdin.buffer.read()\n"
                         "n = len(os.listdir(d))\n"
                         "with open(os.path.join(d, '%04d.eml' % n),"
                         " 'wb') as f:\n"
                         "    f.write(data)\n").encode(), 0o755)
        rc = self.file(f"{name}.rc", (
            "set no syslog\n"
            "set invisible\n"
            f"poll 127.0.0.1 with protocol POP3 port "
            f"{self.port(listener)} :\n"
            f'  user "{self.u(name)}" there with password "{PW}" '
            "is root here\n"
            f"  options {'keep' if keep else 'no keep'} no stripcr "
            f"no rewrite {'ssl ' if ssl else ''}sslproto 'TLS1.2+' "
            f"no sslcertck mda \"{mda} {outdir}\"\n").encode(), 0o600)

        def go():
            return run(["fetchmail", "-f", rc, "-v", "--nodetach"],
                       env={"HOME": home, "FETCHMAILHOME": home},
                       timeout=60)
        return go, outdir

    def fetched(self, outdir):
        files = sorted(glob.glob(os.path.join(outdir, "*.eml")))
        data = []
        for f in files:
            with open(f, "rb") as fh:
                data.append(fh.read())
        return data

    def pop3_stat(self, user):
        c = self.srv.pop3()
        try:
            c.user(user)
            c.pass_(PW)
            return c.stat()
        finally:
            c.quit()

    def test_fetchmail_stls_keep(self):
        user = self.u("fmkeep")
        deliver(self.srv, user, [msg("fm keep one"),
                                 msg("fm keep two", b".\r\n..\r\nx\r\n")])
        msgs = stored(self.srv, user)
        go, outdir = self.fetchmail("fmkeep", "pop3", keep=True, ssl=False)
        r = go()
        o = out(r)
        self.assertEqual(r.returncode, 0, o)
        self.assertIn("POP3> STLS", o)
        self.assertIn("POP3< +OK", o)
        self.assertEqual(self.fetched(outdir), msgs)
        # --keep: the server still has both.
        self.assertEqual(self.pop3_stat(user),
                         (2, sum(len(m) for m in msgs)))
        self.assertEqual(stored(self.srv, user), msgs)
        # A second run recognises both by UIDL and fetches nothing
        # (fetchmail exits 1 for "no mail").
        r = go()
        self.assertEqual(r.returncode, 1, out(r))
        self.assertEqual(len(self.fetched(outdir)), 2)

    def test_fetchmail_pop3s_delete(self):
        user = self.u("fmdel")
        deliver(self.srv, user, [msg("fm del one"), msg("fm del two"),
                                 msg("fm del three")])
        msgs = stored(self.srv, user)
        go, outdir = self.fetchmail("fmdel", "pop3s", keep=False, ssl=True)
        r = go()
        o = out(r)
        self.assertEqual(r.returncode, 0, o)
        self.assertNotIn("POP3> STLS", o)
        self.assertEqual(self.fetched(outdir), msgs)
        self.assertEqual(self.pop3_stat(user), (0, 0))
        self.assertEqual(stored(self.srv, user), [])

    # -- msmtp -----------------------------------------------------------

    def msmtp(self, listener, starttls, rcpt, data, auth):
        return run(["msmtp", f"--host=127.0.0.1",
                    f"--port={self.port(listener)}", "--tls=on",
                    f"--tls-starttls={'on' if starttls else 'off'}",
                    "--tls-certcheck=off", f"--auth={auth}",
                    f"--user={USER}",
                    f"--passwordeval=echo {PASSWORD}",
                    f"--from={USER}", "--domain=client.example.org",
                    rcpt], input=data,
                   env={"HOME": self.tmp})

    def test_msmtp_465(self):
        data = msg("msmtp 465")
        r = self.msmtp("submissions", False, self.u("msmtp465"), data,
                       "plain")
        self.assertEqual(r.returncode, 0, out(r))
        got = stored(self.srv, self.u("msmtp465"))
        self.assertEqual([strip_received(m) for m in got], [data])
        self.assertIn(b" with ESMTPSA id ", got[0])

    def test_msmtp_587(self):
        data = msg("msmtp 587")
        r = self.msmtp("submission", True, self.u("msmtp587"), data,
                       "login")
        self.assertEqual(r.returncode, 0, out(r))
        got = stored(self.srv, self.u("msmtp587"))
        self.assertEqual([strip_received(m) for m in got], [data])
        self.assertIn(b" with ESMTPSA id ", got[0])

    # -- openssl s_client ------------------------------------------------

    def s_client(self, port, *args, input=b""):
        return run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                    "-brief", "-crlf", "-ign_eof"] + list(args),
                   input=input)

    def test_openssl_starttls_smtp(self):
        r = self.s_client(self.port("submission"), "-starttls", "smtp",
                          input=b"EHLO client.example.org\nQUIT\n")
        o = out(r)
        self.assertEqual(r.returncode, 0, o)
        self.assertRegex(o, r"Protocol version: TLSv1\.[23]\b")
        self.assertIn("250-AUTH SCRAM-SHA-256 PLAIN LOGIN", o)
        self.assertNotIn("250-STARTTLS", o)
        self.assertIn("221 2.0.0", o)

    def test_openssl_starttls_imap(self):
        r = self.s_client(self.port("imap"), "-starttls", "imap",
                          input=b"a1 NOOP\na2 LOGOUT\n")
        o = out(r)
        self.assertEqual(r.returncode, 0, o)
        self.assertRegex(o, r"Protocol version: TLSv1\.[23]\b")
        self.assertRegex(o, r"a1 OK")
        self.assertRegex(o, r"a2 OK")

    def test_openssl_starttls_pop3(self):
        r = self.s_client(self.port("pop3"), "-starttls", "pop3",
                          input=b"NOOP\nQUIT\n")
        o = out(r)
        self.assertEqual(r.returncode, 0, o)
        self.assertRegex(o, r"Protocol version: TLSv1\.[23]\b")
        self.assertIn("+OK", o)

    def test_openssl_tls12_and_tls13_on_465(self):
        for opt, ver in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            with self.subTest(version=ver):
                r = self.s_client(self.port("submissions"), opt,
                                  input=b"QUIT\n")
                o = out(r)
                self.assertEqual(r.returncode, 0, o)
                self.assertIn(f"Protocol version: {ver}\n", o)
                self.assertIn("220 mail.example.test ", o)

    def test_openssl_tls11_refused(self):
        # SECLEVEL=0 lets this client offer TLS 1.1, so a failure comes
        # from the server (a protocol_version alert), not from the client.
        for listener, extra in (("submissions", []),
                                ("imaps", []),
                                ("pop3s", []),
                                ("submission", ["-starttls", "smtp"])):
            with self.subTest(listener=listener):
                r = self.s_client(self.port(listener), "-tls1_1",
                                  "-cipher", "DEFAULT@SECLEVEL=0", *extra,
                                  input=b"")
                o = out(r)
                self.assertNotEqual(r.returncode, 0, o)
                self.assertNotIn("CONNECTION ESTABLISHED", o)
                self.assertIn("alert protocol version", o)


if __name__ == "__main__":
    unittest.main()

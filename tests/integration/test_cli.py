"""
test_cli - the command line and the configuration file: FILE:LINE errors,
domain/user/alias management while the server runs, graceful stop,
privilege drop, certificates (self-signed at first start, SNI), and
./quickstart with the commands it prints.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import harness  # noqa: E402
from harness import BINARY, Server, free_ports, tls_context


def run(*args, input=None):
    return subprocess.run([BINARY] + list(args), input=input,
                          capture_output=True, text=True, timeout=60)


class ConfigErrors(unittest.TestCase):
    def write(self, text):
        fd, path = tempfile.mkstemp(suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def check_error(self, text, line, fragment):
        path = self.write(text)
        r = run("-c", path, "serve")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{path}:{line}: ", r.stderr)
        self.assertIn(fragment, r.stderr)

    def test_unknown_key(self):
        self.check_error("[server]\nhostname = a.example\nbogus = 1\n", 3,
                         "unknown key 'bogus'")

    def test_unknown_section(self):
        self.check_error("[server]\n\n[nope]\nx = 1\n", 3,
                         "unknown section [nope]")
        # A section without keys is an error too.
        self.check_error("[server]\n[nope]\n[limits]\n", 2,
                         "unknown section [nope]")

    def test_bad_values(self):
        self.check_error("[auth]\nplaintext_on_loopback = perhaps\n", 2,
                         "bad value 'perhaps'")
        self.check_error("; c\n[listen]\nimap = 127.0.0.1:0\n", 3,
                         "bad listen address")
        self.check_error("[listen]\nsmtp = 127.0.0.1:25, nonsense\n", 2,
                         "bad listen address 'nonsense'")
        self.check_error("[limits]\nmessage_size = lots\n", 2,
                         "bad value 'lots'")
        self.check_error("[server]\nhostname = bad_name\n", 2,
                         "bad host name")

    def test_missing_file(self):
        r = run("-c", "/nonexistent/posthorn.conf", "serve")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/posthorn.conf", r.stderr)

    def test_example_config_parses(self):
        example = os.path.join(harness.ROOT, "posthorn.conf.example")
        with open(example) as f:
            text = f.read()
        d = tempfile.mkdtemp(prefix="posthorn-ex-")
        os.chmod(d, 0o755)
        # Same file, a private data_dir: every documented key must parse.
        path = self.write(text.replace("/var/lib/posthorn", d))
        r = run("-c", path, "domain", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server().start()

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def login_ok(self, user, password):
        m = self.srv.imap()
        try:
            m.login(user, password)
            return True
        except Exception:
            return False
        finally:
            try:
                m.logout()
            except Exception:
                pass

    def test_domain_commands(self):
        srv = self.srv
        self.assertEqual(srv.cli("domain", "add", "Other.Example").returncode,
                         0)
        r = srv.cli("domain", "add", "other.example", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists already", r.stderr)
        self.assertIn("other.example\n", srv.cli("domain", "list").stdout)
        srv.add_user("x@other.example", "pw-x-1234")
        r = srv.cli("domain", "del", "other.example", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("still has accounts", r.stderr)
        srv.cli("user", "del", "x@other.example")
        srv.cli("domain", "del", "other.example")
        self.assertNotIn("other.example", srv.cli("domain", "list").stdout)
        r = srv.cli("domain", "add", "not a domain", check=False)
        self.assertEqual(r.returncode, 1)

    def test_generated_password_logs_in(self):
        r = self.srv.cli("user", "add", "gen@example.test")
        pw = r.stdout.strip()
        self.assertRegex(pw, r"^[A-Za-z0-9]{16}$")
        self.assertTrue(self.login_ok("gen@example.test", pw))
        self.assertIn("gen@example.test\n",
                      self.srv.cli("user", "list").stdout)

    def test_passwd_and_del_while_running(self):
        srv = self.srv
        srv.add_user("pw@example.test", "first-password")
        self.assertTrue(self.login_ok("pw@example.test", "first-password"))
        srv.cli("user", "passwd", "pw@example.test", "--password-stdin",
                input="second-password\n")
        self.assertFalse(self.login_ok("pw@example.test", "first-password"))
        self.assertTrue(self.login_ok("pw@example.test", "second-password"))
        srv.cli("user", "del", "pw@example.test")
        self.assertFalse(self.login_ok("pw@example.test", "second-password"))
        r = srv.cli("user", "del", "pw@example.test", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such account", r.stderr)

    def test_user_add_refusals(self):
        srv = self.srv
        r = srv.cli("user", "add", "u@unknown.example", "--password-stdin",
                    input="x\n", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not served here", r.stderr)
        r = srv.cli("user", "add", Server.USER, "--password-stdin",
                    input="x\n", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists already", r.stderr)
        r = srv.cli("user", "add", "empty@example.test", "--password-stdin",
                    input="\n", check=False)
        self.assertEqual(r.returncode, 1)

    def test_alias_added_while_running_delivers(self):
        srv = self.srv
        srv.add_user("t1@example.test", "pw-t1-xyz")
        srv.add_user("t2@example.test", "pw-t2-xyz")
        srv.cli("alias", "add", "team@example.test",
                "t1@example.test,t2@example.test")
        self.assertIn("team@example.test -> t1@example.test,t2@example.test",
                      srv.cli("alias", "list").stdout)
        s = srv.smtp()
        s.sendmail("a@remote.example", ["team@example.test"],
                   b"Subject: to the team\r\n\r\nhi\r\n")
        s.quit()
        for user, pw in (("t1@example.test", "pw-t1-xyz"),
                         ("t2@example.test", "pw-t2-xyz")):
            m = srv.imap_login(user, pw)
            typ, data = m.select("INBOX")
            self.assertEqual(data, [b"1"])
            m.logout()
        srv.cli("alias", "del", "team@example.test")
        s = srv.smtp()
        s.ehlo()
        code, _ = s.docmd("MAIL FROM:<a@remote.example>")
        self.assertEqual(code, 250)
        code, msg = s.docmd("RCPT TO:<team@example.test>")
        self.assertEqual(code, 550)
        s.quit()
        r = srv.cli("alias", "add", Server.USER, "t1@example.test",
                    check=False)
        self.assertEqual(r.returncode, 1)

    def test_check(self):
        r = self.srv.cli("check")
        self.assertEqual(r.stdout, "store ok\n")


class Lifecycle(unittest.TestCase):
    def test_sigterm_exit_zero_and_goodbyes(self):
        srv = Server()
        try:
            srv.start()
            imap = srv.raw("imap")
            self.assertTrue(imap.readline().startswith(b"* OK"))
            smtp = srv.raw("smtp")
            self.assertTrue(smtp.readline().startswith(b"220 "))
            pop = srv.raw("pop3")
            self.assertTrue(pop.readline().startswith(b"+OK"))
            self.assertEqual(srv.stop(signal.SIGTERM), 0)
            self.assertEqual(imap.readline(),
                             b"* BYE Server shutting down.\r\n")
            self.assertTrue(smtp.readline().startswith(b"421 4.3.2 "))
            self.assertTrue(pop.readline().startswith(b"-ERR [SYS/TEMP]"))
            log = srv.read_log()
            self.assertIn("received SIGTERM", log)
            self.assertIn("stopped", log)
        finally:
            srv.cleanup()

    @unittest.skipUnless(os.geteuid() == 0, "needs root")
    def test_privilege_drop(self):
        with Server() as srv:
            with open(f"/proc/{srv.proc.pid}/status") as f:
                status = f.read()
            uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)",
                             status, re.M).groups()
            self.assertTrue(all(u != "0" for u in uids), uids)
            self.assertRegex(srv.read_log(), r"running as user \w+")
            st = os.stat(os.path.join(srv.data_dir, "posthorn.db"))
            self.assertEqual(st.st_uid, int(uids[0]))

    def test_sandbox(self):
        # The serving process has no_new_privs and a seccomp filter
        # (Seccomp: 2 = filter mode), and says so in the log.
        # A sanitizer build serves without (its leak check needs ptrace);
        # sandbox-check still tries the sandbox itself there.
        sanitizer = harness.asan_runtime() is not None
        with Server() as srv:
            with open(f"/proc/{srv.proc.pid}/status") as f:
                status = f.read()
            if sanitizer:
                self.assertRegex(status, r"(?m)^Seccomp:\s+0$")
                self.assertIn("sandbox: off in a sanitizer build",
                              srv.read_log())
            else:
                self.assertRegex(status, r"(?m)^NoNewPrivs:\s+1$")
                self.assertRegex(status, r"(?m)^Seccomp:\s+2$")
                self.assertIn("sandbox: seccomp filter on, landlock on",
                              srv.read_log())
            # What the sandbox does, tried in children of the CLI.
            r = srv.cli("sandbox-check")
            self.assertEqual(r.stdout,
                             "ok   write outside the data directory is "
                             "refused\n"
                             "ok   write inside the data directory works\n"
                             "ok   exec kills the process\n")
            # Mail still flows in and out of the store.
            s = srv.smtp()
            s.sendmail("a@example.org", [srv.USER], b"Subject: s\r\n\r\nx\r\n")
            s.quit()
            m = srv.imap()
            m.login(srv.USER, srv.PASSWORD)
            self.assertEqual(m.select("INBOX")[1], [b"1"])
            m.logout()
        with Server(extra_config="[server]\nsandbox = no\n") as srv:
            with open(f"/proc/{srv.proc.pid}/status") as f:
                self.assertRegex(f.read(), r"(?m)^Seccomp:\s+0$")

    def test_selfsigned_made_once_and_warned_every_start(self):
        srv = Server()
        try:
            srv.start()
            crt = os.path.join(srv.data_dir, "tls", "selfsigned.crt")
            self.assertTrue(os.path.exists(crt))
            first = os.stat(crt).st_mtime_ns
            self.assertIn("created a self-signed certificate",
                          srv.read_log())
            srv.stop()
            open(srv.log_path, "w").close()
            srv.start()
            log = srv.read_log()
            self.assertNotIn("created a self-signed", log)
            self.assertIn("using the self-signed certificate", log)
            self.assertEqual(os.stat(crt).st_mtime_ns, first)
            # The certificate names the configured host.
            out = subprocess.run(["openssl", "x509", "-in", crt, "-noout",
                                  "-ext", "subjectAltName"],
                                 capture_output=True, text=True).stdout
            self.assertIn("DNS:" + Server.HOSTNAME, out)
        finally:
            srv.cleanup()

    def test_sni_picks_certificate_by_name(self):
        d = tempfile.mkdtemp(prefix="posthorn-sni-")
        os.chmod(d, 0o755)
        names = ["mail.example.test", "mail.other.example"]
        for n in names:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-keyout", f"{d}/{n}.key", "-out", f"{d}/{n}.crt",
                            "-days", "2", "-nodes", "-subj", f"/CN={n}",
                            "-addext", f"subjectAltName=DNS:{n}"],
                           check=True, capture_output=True)
        extra = (f"[tls]\ncert = {d}/{names[0]}.crt\nkey = {d}/{names[0]}.key\n"
                 f"{names[1]} = {d}/{names[1]}.crt, {d}/{names[1]}.key\n")
        srv = Server(extra_config=extra)
        try:
            srv.start()
            for sni, want in ((names[0], names[0]), (names[1], names[1]),
                              ("unknown.example", names[0])):
                ctx = tls_context()
                with socket.create_connection(
                        ("127.0.0.1", srv.port["imaps"]), timeout=10) as raw:
                    with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                        der = tls.getpeercert(binary_form=True)
                        self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
                pem = ssl.DER_cert_to_PEM_cert(der)
                out = subprocess.run(["openssl", "x509", "-noout",
                                      "-subject"], input=pem,
                                     capture_output=True, text=True).stdout
                self.assertIn(f"CN = {want}", out, sni)
            self.assertIn("is self-signed", srv.read_log())
        finally:
            srv.cleanup()
            subprocess.run(["rm", "-rf", d])

    def test_old_tls_versions_refused(self):
        with Server() as srv:
            for proto in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
                ctx = tls_context()
                try:
                    ctx.minimum_version = proto
                    ctx.maximum_version = proto
                except ValueError:
                    continue
                with socket.create_connection(
                        ("127.0.0.1", srv.port["imaps"]), timeout=10) as raw:
                    with self.assertRaises(ssl.SSLError):
                        ctx.wrap_socket(raw).close()

    def test_helo_strict(self):
        with Server(extra_config="[smtp]\nhelo_strict = yes\n") as srv:
            s = srv.raw("smtp")
            s.readline()
            s.send(b"EHLO localhost\r\n")
            self.assertEqual(s.readline(), b"550 5.7.1 Bad HELO <localhost>: "
                             b"need a fully-qualified host name\r\n")
            s.send(b"EHLO my_host.example.com\r\n")
            self.assertEqual(s.readline(), b"550 5.7.1 Bad HELO "
                             b"<my_host.example.com>: need a "
                             b"fully-qualified host name\r\n")
            s.send(b"EHLO mailhost\r\n")
            self.assertTrue(s.readline().startswith(b"550 5.7.1 Bad HELO "))
            s.send(b"EHLO no-such-host.invalid\r\n")
            self.assertEqual(s.readline(), b"550 5.7.1 Bad HELO "
                             b"<no-such-host.invalid>: Host not found\r\n")
            s.send(b"EHLO [127.0.0.1]\r\n")
            self.assertEqual(s.readline(),
                             f"250-{Server.HOSTNAME}\r\n".encode())
            s.close()
            # Submission ports are not subject to it.
            s = srv.raw("submission")
            s.readline()
            s.send(b"EHLO localhost.localdomain\r\n")
            self.assertTrue(s.readline().startswith(b"250-"))
            s.close()
        # Without helo_strict a machine name with '_' is accepted.
        with Server() as srv:
            s = srv.raw("smtp")
            s.readline()
            s.send(b"EHLO DESKTOP_7\r\n")
            self.assertEqual(s.readline(),
                             f"250-{Server.HOSTNAME}\r\n".encode())
            s.close()


if __name__ == "__main__":
    unittest.main()


class Quickstart(unittest.TestCase):
    """./quickstart as the README has it: it sets up the demo domain,
    prints the settings and two commands to try, and serves; every port
    in its table answers, and the two commands work as printed."""

    def setUp(self):
        if os.path.realpath(BINARY) != os.path.join(harness.ROOT, "build",
                                                    "posthorn"):
            self.skipTest("quickstart builds and runs build/posthorn")
        self.var = tempfile.mkdtemp(prefix="posthorn-it-qs-")
        os.chmod(self.var, 0o755)   # the server's user reaches data/ in it
        self.addCleanup(shutil.rmtree, self.var, True)
        self.out = []
        self.proc = subprocess.Popen(
            [os.path.join(harness.ROOT, "quickstart")],
            env=dict(os.environ, QUICKSTART_VAR=self.var),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.addCleanup(self.stop)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.out.append(line.rstrip("\n"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def wait_output(self, pattern, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.out):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no '{pattern}' from quickstart:\n" +
                             "\n".join(self.out[-40:]))

    def test_settings_and_commands_work_as_printed(self):
        self.wait_output(r"posthorn \S+ ready: ")
        out = list(self.out)
        table = [re.match(r"  (\w+) \((\w+)\) +mail\.example\.test +(\d+) +"
                          r"(.+?) *$", line) for line in out]
        rows = [m.groups() for m in table if m]
        self.assertEqual([(p, d, s) for p, d, _, s in rows], [
            ("IMAP", "incoming", "SSL/TLS"), ("IMAP", "incoming", "STARTTLS"),
            ("POP3", "incoming", "SSL/TLS"), ("POP3", "incoming", "STARTTLS"),
            ("SMTP", "outgoing", "SSL/TLS"), ("SMTP", "outgoing", "STARTTLS"),
            ("SMTP", "outgoing", "STARTTLS (alternative)"),
            ("SMTP", "servers", "STARTTLS, no login")])
        # Each port greets as its row says.
        greeting = {"IMAP": b"* OK", "POP3": b"+OK", "SMTP": b"220 "}
        for proto, _, port, sec in rows:
            s = socket.create_connection(("127.0.0.1", int(port)), 10)
            try:
                if sec == "SSL/TLS":
                    s = tls_context().wrap_socket(
                        s, server_hostname="mail.example.test")
                with self.subTest(port=port):
                    self.assertTrue(s.recv(512).startswith(greeting[proto]))
            finally:
                s.close()
        user = self.wait_output(r"^  User name: ").split()[-1]
        self.assertEqual(user, "demo@example.test")
        i = out.index("Try it:")
        swaks, curl = out[i + 1].strip(), out[i + 2].strip()
        self.assertTrue(swaks.startswith("swaks ") and
                        curl.startswith("curl "), (swaks, curl))
        r = subprocess.run(["bash", "-c", swaks], capture_output=True,
                           text=True, timeout=60)
        self.assertRegex(r.stdout, r"<~  250 2\.0\.0 Ok: queued as ",
                         r.stdout + r.stderr)
        r = subprocess.run(["bash", "-c", curl], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout),
                         (0, "* 1 FETCH (FLAGS (\\Recent))\n"), r.stderr)
        self.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.proc.wait(30), 0)
        self.reader.join(10)
        self.assertTrue(self.out[-1].endswith("posthorn: stopped"),
                        self.out[-3:])

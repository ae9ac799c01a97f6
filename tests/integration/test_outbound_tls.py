"""
test_outbound_tls - the TLS policy of outbound delivery between two real
posthorn instances: DANE (RFC 7672: TLSA records in a DNSSEC-signed zone)
and MTA-STS (RFC 8461: a policy fetched over HTTPS and cached).

    A  the sender (example.test): [dns] validates DNSSEC with the key of
       the signed zone dane.test as its trust anchor (everything else is
       insecure); [delivery] tls_ca_file = the test CA.
    B  the receiver mx.remote.test on 127.0.0.2, with a certificate from
       the test CA that names most of the MX hosts below (not
       mx.stscert.test, mx.ststest.test, mx.stsdane.dane.test); it takes
       mail for every test domain (aliases to bob@remote.test).
    F  a fake SMTP server on 127.0.0.4 that offers no STARTTLS.
    W  an HTTPS server on 127.0.0.5:443 (RFC 8461 3.3: the port is 443)
       serving MTA-STS policies by Host; its certificate (test CA) names
       every mta-sts.* host below but mta-sts.stsnocert.test.

The signed zone dane.test (ldns-signzone at set-up), TLSA at _PORT._tcp:
    dane.test          MX mx.dane.test           TLSA 3 1 1 B's key
    ta.dane.test       MX mx.ta.dane.test        TLSA 2 0 1 the test CA
    bad.dane.test      MX mx.bad.dane.test       TLSA 3 1 1 another key
    mixed.dane.test    MX 10 mx.bad.dane.test, MX 20 mx.dane.test
    nostarttls.dane.test  MX mx.nostarttls.dane.test (F)  TLSA 3 1 1
    pkix.dane.test     MX mx.pkix.dane.test      TLSA 1 1 1 (unusable)
    bogus.dane.test    MX mx.bogus.dane.test     TLSA changed after signing
    stsdane.dane.test  MX mx.stsdane.dane.test   TLSA 3 1 1, and an MTA-STS
                       enforce policy (whose check would fail: the name
                       is not in B's certificate)
    cname.dane.test    MX mx.cname.dane.test, a CNAME of host.cname...:
                       TLSA 3 1 1 at host.cname only (RFC 7672 2.2.2)
    cnameorig.dane.test  the same, TLSA 3 1 1 at mx.cnameorig only
    cnameta.dane.test  the same, TLSA 2 0 1 at host.cnameta; B's
                       certificate names mx.cnameta.dane.test
Insecure names (plain local data, outside the trust anchor):
    insecure.test      MX mx.insecure.test -> B
    insecmx.test       MX mx.ta.dane.test: a secure DANE-TA host behind an
                       insecure MX (its name is no reference identifier)
    sts.test           enforce, mx: mx.sts.test
    stswild.test       enforce, mx: *.stswild.test (B: *.stswild.test)
    stsbad.test        enforce, mx: other.stsbad.test; MX mx.stsbad.test
    stscert.test       enforce, MX mx.stscert.test (not in B's cert)
    ststest.test       testing, MX mx.ststest.test (not in B's cert)
    stsnocert.test     a TXT record; W's certificate does not fit
    sts404.test        a TXT record; W answers 404
"""
import hashlib
import http.server
import os
import re
import shutil
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import imaplib
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port, tls_context  # noqa: E402
from dnsfixture import Unbound, txt  # noqa: E402

B_IP, F_IP, W_IP = "127.0.0.2", "127.0.0.4", "127.0.0.5"
B_HOST = "mx.remote.test"
BOB_PW = "bob-password-1"
WAIT = 15
POLICY_PATH = "/.well-known/mta-sts.txt"
CIPHER = r"TLSv1\.3/[A-Z0-9_]+"

B_NAMES = ["mx.remote.test", "mx.dane.test", "mx.ta.dane.test",
           "mx.bad.dane.test", "mx.pkix.dane.test", "mx.bogus.dane.test",
           "mx.insecure.test", "mx.sts.test", "*.stswild.test",
           "mx.stsbad.test", "mx.cnameta.dane.test"]
W_NAMES = ["mta-sts.sts.test", "mta-sts.stswild.test", "mta-sts.stsbad.test",
           "mta-sts.stscert.test", "mta-sts.ststest.test",
           "mta-sts.sts404.test", "mta-sts.stsdane.dane.test"]
DOMAINS = ["dane.test", "ta.dane.test", "bad.dane.test", "mixed.dane.test",
           "nostarttls.dane.test", "pkix.dane.test", "bogus.dane.test",
           "stsdane.dane.test", "insecure.test", "insecmx.test", "sts.test",
           "stswild.test", "stsbad.test", "stscert.test", "ststest.test",
           "stsnocert.test", "sts404.test", "cname.dane.test",
           "cnameorig.dane.test", "cnameta.dane.test"]


def policy(mode, *mx, max_age=86400):
    return ("version: STSv1\r\n" f"mode: {mode}\r\n" +
            "".join(f"mx: {m}\r\n" for m in mx) + f"max_age: {max_age}\r\n")


# What W serves, by Host (tests may change it).
POLICIES = {
    "mta-sts.sts.test": policy("enforce", "mx.sts.test"),
    "mta-sts.stswild.test": policy("enforce", "*.stswild.test"),
    "mta-sts.stsbad.test": policy("enforce", "other.stsbad.test"),
    "mta-sts.stscert.test": policy("enforce", "mx.stscert.test"),
    "mta-sts.ststest.test": policy("testing", "mx.ststest.test"),
    "mta-sts.stsdane.dane.test": policy("enforce", "mx.stsdane.dane.test"),
    "mta-sts.stsnocert.test": policy("enforce", "mx.stsnocert.test"),
}
REQUESTS = []           # (host, path) of every request W answered
LOCK = threading.Lock()


def run(*cmd, cwd=None, input=None):
    r = subprocess.run(cmd, cwd=cwd, input=input, capture_output=True,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: {r.stderr.decode()}")
    return r.stdout


def make_pki(d):
    """The test CA, B's and W's certificates (chains with the CA)."""
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n"
                "x509_extensions = v3\n[dn]\nCN = posthorn test CA\n"
                "[v3]\nbasicConstraints = critical,CA:TRUE\n"
                "keyUsage = critical,keyCertSign,cRLSign\n"
                "subjectKeyIdentifier = hash\n")
    run("openssl", "req", "-x509", "-config", "ca.cnf", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
        "ca.key", "-out", "ca.crt", "-days", "30", cwd=d)
    for name, names in (("b", B_NAMES), ("w", W_NAMES), ("other", ["x"])):
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write("subjectAltName = " +
                    ",".join(f"DNS:{n}" for n in names) + "\n"
                    "basicConstraints = CA:FALSE\n"
                    "keyUsage = critical,digitalSignature\n"
                    "extendedKeyUsage = serverAuth\n"
                    "authorityKeyIdentifier = keyid\n")
        run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={names[0]}",
            cwd=d)
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt",
            "-CAkey", "ca.key", "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
            "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)
        with open(os.path.join(d, f"{name}-chain.pem"), "w") as out:
            for part in (f"{name}.crt", "ca.crt"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)


def spki_sha256(d, cert):
    pub = run("openssl", "x509", "-in", cert, "-noout", "-pubkey", cwd=d)
    der = run("openssl", "pkey", "-pubin", "-outform", "DER", input=pub)
    return hashlib.sha256(der).hexdigest()


def cert_sha256(d, cert):
    der = run("openssl", "x509", "-in", cert, "-outform", "DER", cwd=d)
    return hashlib.sha256(der).hexdigest()


BOGUS_SIGNED, BOGUS_SERVED = "11" * 32, "22" * 32


def make_zone(d, port):
    """Signs dane.test; returns (signed zone file, trust anchor file)."""
    ee = spki_sha256(d, "b.crt")
    ta = cert_sha256(d, "ca.crt")
    other = spki_sha256(d, "other.crt")
    t = f"_{port}._tcp"
    z = f"""$ORIGIN dane.test.
$TTL 1
@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 1
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
@ IN MX 10 mx.dane.test.
mx IN A {B_IP}
{t}.mx IN TLSA 3 1 1 {ee}
ta IN MX 10 mx.ta.dane.test.
mx.ta IN A {B_IP}
{t}.mx.ta IN TLSA 2 0 1 {ta}
bad IN MX 10 mx.bad.dane.test.
mx.bad IN A {B_IP}
{t}.mx.bad IN TLSA 3 1 1 {other}
mixed IN MX 10 mx.bad.dane.test.
mixed IN MX 20 mx.dane.test.
nostarttls IN MX 10 mx.nostarttls.dane.test.
mx.nostarttls IN A {F_IP}
{t}.mx.nostarttls IN TLSA 3 1 1 {ee}
pkix IN MX 10 mx.pkix.dane.test.
mx.pkix IN A {B_IP}
{t}.mx.pkix IN TLSA 1 1 1 {ee}
bogus IN MX 10 mx.bogus.dane.test.
mx.bogus IN A {B_IP}
{t}.mx.bogus IN TLSA 3 1 1 {BOGUS_SIGNED}
stsdane IN MX 10 mx.stsdane.dane.test.
mx.stsdane IN A {B_IP}
{t}.mx.stsdane IN TLSA 3 1 1 {ee}
_mta-sts.stsdane IN TXT "v=STSv1; id=1"
mta-sts.stsdane IN A {W_IP}
cname IN MX 10 mx.cname.dane.test.
mx.cname IN CNAME host.cname.dane.test.
host.cname IN A {B_IP}
{t}.host.cname IN TLSA 3 1 1 {ee}
cnameorig IN MX 10 mx.cnameorig.dane.test.
mx.cnameorig IN CNAME host.cnameorig.dane.test.
host.cnameorig IN A {B_IP}
{t}.mx.cnameorig IN TLSA 3 1 1 {ee}
cnameta IN MX 10 mx.cnameta.dane.test.
mx.cnameta IN CNAME host.cnameta.dane.test.
host.cnameta IN A {B_IP}
{t}.host.cnameta IN TLSA 2 0 1 {ta}
"""
    with open(os.path.join(d, "dane.test.zone"), "w") as f:
        f.write(z)
    ksk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test",
              cwd=d).decode().strip()
    zsk = run("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.test",
              cwd=d).decode().strip()
    run("ldns-signzone", "-f", "dane.test.signed", "dane.test.zone", ksk,
        zsk, cwd=d)
    signed = os.path.join(d, "dane.test.signed")
    with open(signed) as f:
        text = f.read()
    # A TLSA record whose signature no longer fits: DNSSEC "bogus".
    assert text.count(BOGUS_SIGNED) == 1, text
    with open(signed, "w") as f:
        f.write(text.replace(BOGUS_SIGNED, BOGUS_SERVED))
    anchor = os.path.join(d, "trust-anchor.ds")
    shutil.copy(os.path.join(d, ksk + ".ds"), anchor)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return signed, anchor


DNS_RECORDS = {
    "remote.test": ["MX 10 mx.remote.test."],
    "mx.remote.test": [f"A {B_IP}"],
    "insecure.test": ["MX 10 mx.insecure.test."],
    "mx.insecure.test": [f"A {B_IP}"],
    "insecmx.test": ["MX 10 mx.ta.dane.test."],
    "mail.example.test": ["A 127.0.0.1"],
}
for _dom, _mx, _ip in (("sts.test", "mx.sts.test", B_IP),
                       ("stswild.test", "mx.stswild.test", B_IP),
                       ("stsbad.test", "mx.stsbad.test", B_IP),
                       ("stscert.test", "mx.stscert.test", B_IP),
                       ("ststest.test", "mx.ststest.test", B_IP),
                       ("stsnocert.test", "mx.stsnocert.test", B_IP),
                       ("sts404.test", "mx.sts404.test", B_IP)):
    DNS_RECORDS[_dom] = [f"MX 10 {_mx}."]
    DNS_RECORDS[_mx] = [f"A {_ip}"]
    DNS_RECORDS["_mta-sts." + _dom] = [txt("v=STSv1; id=1")]
    DNS_RECORDS["mta-sts." + _dom] = [f"A {W_IP}"]


# -- W: the MTA-STS policy server -------------------------------------------

class PolicyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        host = self.headers.get("Host", "")
        with LOCK:
            REQUESTS.append((host, self.path))
            body = POLICIES.get(host) if self.path == POLICY_PATH else None
        if body is None:
            self.send_error(404)
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class PolicyServer:
    def __init__(self, d):
        self.httpd = http.server.ThreadingHTTPServer((W_IP, 443),
                                                     PolicyHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "w-chain.pem"),
                            os.path.join(d, "w.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def fetches(host):
    with LOCK:
        return [r for r in REQUESTS if r[0] == host]


# -- F: an SMTP server without STARTTLS --------------------------------------

class PlainSmtp(harness.TcpServer):
    """Greets, answers EHLO without STARTTLS, records every command."""

    def __init__(self, port):
        self.commands = []
        super().__init__(F_IP, port, self._session_commands)

    def _session_commands(self, c):
        with c.makefile("rb") as f:
            c.sendall(b"220 fake.test ESMTP\r\n")
            for line in f:
                cmd = line.rstrip(b"\r\n").decode("ascii", "replace")
                with LOCK:
                    self.commands.append(cmd)
                verb = cmd.split(" ")[0].upper()
                if verb == "EHLO":
                    c.sendall(b"250-fake.test\r\n250 PIPELINING\r\n")
                elif verb == "QUIT":
                    c.sendall(b"221 bye\r\n")
                    break
                else:
                    c.sendall(b"250 ok\r\n")


# -- the two servers ------------------------------------------------------

def free_port_bf():
    """A port free on 127.0.0.2 (B) and 127.0.0.4 (F)."""
    return free_port((B_IP, F_IP))


def free_port_on(ip):
    return free_port((ip,))


def set_listen(conf, key, value):
    with open(conf) as f:
        text = f.read()
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert n == 1, (key, text)
    with open(conf, "w") as f:
        f.write(text)


class Receiver(harness.Server):
    DOMAIN = "remote.test"
    USER = "bob@remote.test"
    PASSWORD = BOB_PW
    HOSTNAME = B_HOST

    def __init__(self, smtp_port, **kw):
        super().__init__(**kw)
        self.port["smtp"] = smtp_port
        self.port["imap"] = free_port_on(B_IP)
        set_listen(self.conf, "smtp", f"{B_IP}:{smtp_port}")
        set_listen(self.conf, "imap", f"{B_IP}:{self.port['imap']}")

    def imap(self, timeout=30):
        return imaplib.IMAP4(B_IP, self.port["imap"], timeout=timeout)


DIR = DNS = A = B = F = W = PORT = None


def setUpModule():
    global DIR, DNS, A, B, F, W, PORT
    DIR = tempfile.mkdtemp(prefix="posthorn-tls-")
    os.chmod(DIR, 0o755)
    try:
        PORT = free_port_bf()
        make_pki(DIR)
        signed, anchor = make_zone(DIR, PORT)
        DNS = Unbound(DNS_RECORDS, auth_zones={"dane.test": signed})
        DNS.start()
        W = PolicyServer(DIR)
        F = PlainSmtp(PORT)
        B = Receiver(PORT, extra_config=(
            f"[tls]\ncert = {DIR}/b-chain.pem\nkey = {DIR}/b.key\n"
            f"[dns]\nresolver = {DNS.resolver}\ndnssec = no\n"))
        for dom in DOMAINS:
            B.cli("domain", "add", dom)
            B.cli("alias", "add", f"bob@{dom}", "bob@remote.test")
        B.start()
        A = harness.Server(extra_config=(
            f"[dns]\nresolver = {DNS.resolver}\ndnssec = yes\n"
            f"trust_anchor = {anchor}\n"
            "[smtp]\nsender_check = off\n"
            f"[delivery]\nport = {PORT}\nretry_first = 1s\nretry_max = 2s\n"
            "delay_warning = 0\nconnect_timeout = 5s\n"
            "command_timeout = 30s\ndane = yes\nmta_sts = yes\n"
            f"tls_ca_file = {DIR}/ca.crt\n"))
        A.start()
    except Exception:
        tearDownModule()
        raise


def tearDownModule():
    for srv in (A, B):
        if srv is not None:
            srv.cleanup()
    for x in (W, F):
        if x is not None:
            x.stop()
    if DNS is not None:
        DNS.cleanup()
    if DIR is not None:
        shutil.rmtree(DIR, ignore_errors=True)


# -- helpers ----------------------------------------------------------------

_counter = [0]


def unique(tag):
    _counter[0] += 1
    return f"{tag}-{os.getpid()}-{_counter[0]}-{int(time.time() * 1000)}"


def make_msg(subject, msgid, to):
    return (f"From: Demo <demo@example.test>\r\nTo: <{to}>\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{msgid}>\r\n"
            "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\n"
            f"Body of {subject}.\r\n").encode()


def submit(rcpt):
    """demo sends one message to rcpt; returns (A's queue id, msgid)."""
    mid = unique("tls") + "@example.test"
    s = A.smtp("submission")
    try:
        s.starttls(context=tls_context())
        s.login(A.USER, A.PASSWORD)
        assert s.mail(A.USER)[0] == 250
        code, resp = s.rcpt(rcpt)
        assert code == 250, (code, resp)
        code, resp = s.data(make_msg(unique("subj"), mid, rcpt))
        assert code == 250, (code, resp)
        m = re.match(rb"2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$", resp)
        assert m, resp
        return m.group(1).decode(), mid
    finally:
        s.quit()


def outcome(qid, rcpt, status, timeout=WAIT):
    """Waits for A's first outcome line of status for qid; returns
    (relay, attempts, reason)."""
    pat = re.compile(rf"queue id={qid} to=<{re.escape(rcpt)}> relay=(\S+) "
                     rf"attempts=(\d+) status={status} \((.*)\)$", re.M)
    m = A.wait_for(lambda: pat.search(A.read_log()), timeout,
                   f"queue id={qid} status={status}")
    return m.group(1), int(m.group(2)), m.group(3)


def wait_log(srv, pattern, since=0, timeout=WAIT):
    return srv.wait_for(lambda: re.search(pattern, srv.read_log()[since:],
                                           re.M), timeout, pattern)


def tls_lines(domain, since=0):
    return re.findall(rf"^.* queue domain={re.escape(domain)} relay=\S+ "
                      rf"tls=.*$", A.read_log()[since:], re.M)


def at_b(mid):
    m = B.imap()
    try:
        m.login(B.USER, BOB_PW)
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK", data
        typ, data = m.search(None, "HEADER", "Message-ID", mid)
        assert typ == "OK", data
        return len(data[0].split())
    finally:
        m.logout()


def queued(qid):
    return any(line.split()[0] == qid
               for line in A.cli("queue", "list").stdout.splitlines())


class Base(unittest.TestCase):
    def run(self, result=None):
        n = len(result.failures) + len(result.errors) if result else 0
        r = super().run(result)
        if result is not None and \
                len(result.failures) + len(result.errors) > n:
            for name, srv in (("A", A), ("B", B)):
                print(f"\n--- {name} log (tail) for {self.id()} ---\n" +
                      srv.read_log()[-5000:])
        return r

    def setUp(self):
        self.off = len(A.read_log())

    def tearDown(self):
        for line in A.cli("queue", "list").stdout.splitlines():
            qid = line.split()[0]
            if qid != "queue":
                A.cli("queue", "delete", qid, check=False)

    def delivered(self, rcpt, relay, tls_line):
        """Sends to rcpt; asserts it went to B through relay, with the
        TLS log line (a regex after "relay=RELAY ")."""
        qid, mid = submit(rcpt)
        got_relay, n, why = outcome(qid, rcpt, "sent")
        self.assertEqual((got_relay, n), (relay, 1))
        self.assertRegex(why, r"^250 2\.0\.0 Ok: queued as \w+$")
        dom = rcpt.split("@")[1]
        lines = tls_lines(dom, self.off)
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], rf" queue domain={re.escape(dom)} "
                                   rf"relay={re.escape(relay)} {tls_line}$")
        self.assertEqual(at_b(mid), 1)
        return qid, mid

    def deferred(self, rcpt, relay, reason):
        """Sends to rcpt; asserts the first try was deferred with reason
        (a regex), the message stays queued and B never got it."""
        qid, mid = submit(rcpt)
        got_relay, n, why = outcome(qid, rcpt, "deferred")
        self.assertEqual((got_relay, n), (relay, 1))
        self.assertRegex(why, "^" + reason + "$")
        self.assertTrue(queued(qid))
        self.assertEqual(at_b(mid), 0)
        dom = rcpt.split("@")[1]
        # No connection of this domain got as far as a transaction.
        self.assertEqual(tls_lines(dom, self.off), [])
        return qid, mid


# -- DANE ---------------------------------------------------------------------

class TestDane(Base):
    def test_dane_ee_match(self):
        self.delivered("bob@dane.test", "mx.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-EE\)")

    def test_dane_ta_match(self):
        # 2 0 1: the test CA; the MX name (secure MX) is in B's cert.
        self.delivered("bob@ta.dane.test", "mx.ta.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-TA\)")

    def test_tlsa_mismatch_defers(self):
        reason = "dane: certificate does not match TLSA"
        self.deferred("bob@bad.dane.test", "mx.bad.dane.test[127.0.0.2]",
                      re.escape("4.7.5 " + reason))
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=bad\.dane\.test "
                         r"relay=mx\.bad\.dane\.test\[127\.0\.0\.2\] "
                         r"connection failed: " + re.escape(reason) + "$")

    def test_tlsa_mismatch_tries_next_mx(self):
        # MX 10 fails DANE; MX 20 matches: delivered in the same try.
        self.delivered("bob@mixed.dane.test", "mx.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-EE\)")
        log = A.read_log()[self.off:]
        failed = log.find("queue domain=mixed.dane.test relay=mx.bad.dane."
                          "test[127.0.0.2] connection failed: dane: "
                          "certificate does not match TLSA\n")
        ok = log.find("queue domain=mixed.dane.test relay=mx.dane.test[")
        self.assertGreaterEqual(failed, 0, log)
        self.assertLess(failed, ok)

    def test_no_starttls_defers(self):
        with LOCK:
            F.commands.clear()
        self.deferred("bob@nostarttls.dane.test",
                      "mx.nostarttls.dane.test[127.0.0.4]",
                      re.escape("4.7.5 dane: mx.nostarttls.dane.test does "
                                "not offer STARTTLS"))
        # Nothing but EHLO went over the plaintext connection.
        with LOCK:
            cmds = list(F.commands)
        self.assertGreaterEqual(len(cmds), 1)
        self.assertEqual(set(cmds), {"EHLO mail.example.test"})

    def test_unusable_tlsa_requires_tls(self):
        # Only PKIX-EE(1): unusable for SMTP, but TLS is mandatory.
        self.delivered("bob@pkix.dane.test", "mx.pkix.dane.test[127.0.0.2]",
                       rf"tls=encrypt verify=none cipher={CIPHER} "
                       r"\(no usable TLSA record\)")

    def test_bogus_tlsa_defers(self):
        qid, mid = self.deferred(
            "bob@bogus.dane.test", "none",
            r"4\.7\.5 dane: TLSA lookup for mx\.bogus\.dane\.test failed: "
            r"DNSSEC: .+")
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=bogus\.dane\.test "
                         r"mx=mx\.bogus\.dane\.test dane: TLSA lookup "
                         r"failed: DNSSEC: .+; host skipped$")
        self.assertNotIn("relay=mx.bogus.dane.test", A.read_log()[self.off:])

    def test_insecure_zone_is_opportunistic(self):
        self.delivered("bob@insecure.test", "mx.insecure.test[127.0.0.2]",
                       rf"tls=opportunistic verify=none cipher={CIPHER}")

    def test_cname_mx_tlsa_at_target(self):
        # RFC 7672 2.2.2: the MX name is an alias; the TLSA records at
        # the end of its chain are the ones used.
        self.delivered("bob@cname.dane.test", "mx.cname.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-EE\)")

    def test_cname_mx_tlsa_at_alias(self):
        # None at the target: the alias (the MX name) is tried next.
        self.delivered("bob@cnameorig.dane.test",
                       "mx.cnameorig.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-EE\)")

    def test_cname_mx_dane_ta_names(self):
        # DANE-TA at the target; B's certificate names the MX name,
        # which stays a reference identifier (2.2.2, 3.2.2).
        self.delivered("bob@cnameta.dane.test",
                       "mx.cnameta.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-TA\)")

    def test_insecure_mx_name_is_no_reference(self):
        # RFC 7672 2.2.1: the DANE-TA host is used, but only the
        # next-hop domain may be the name (RFC 7525 6.1); B's
        # certificate names mx.ta.dane.test, not insecmx.test.
        self.deferred("bob@insecmx.test", "mx.ta.dane.test[127.0.0.2]",
                      re.escape("4.7.5 dane: certificate does not verify: "
                                "hostname mismatch"))


# -- MTA-STS --------------------------------------------------------------

class TestMtaSts(Base):
    def cached(self, domain):
        db = sqlite3.connect(os.path.join(A.data_dir, "posthorn.db"),
                             timeout=10)
        try:
            return db.execute("SELECT policy_id, policy, expires - fetched "
                              "FROM mta_sts WHERE domain = ?",
                              (domain,)).fetchall()
        finally:
            db.close()

    def test_01_enforce_match_delivers(self):
        self.delivered("bob@sts.test", "mx.sts.test[127.0.0.2]",
                       rf"tls=mta-sts verify=ok cipher={CIPHER}")
        self.assertEqual(fetches("mta-sts.sts.test"),
                         [("mta-sts.sts.test", POLICY_PATH)])
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=sts\.test mta-sts policy "
                         r"fetched id=1 mode=enforce max_age=86400 mx=1$")
        self.assertEqual(self.cached("sts.test"),
                         [("1", POLICIES["mta-sts.sts.test"], 86400)])

    def test_02_policy_cached_until_id_changes(self):
        if not fetches("mta-sts.sts.test"):
            self.test_01_enforce_match_delivers()
            self.off = len(A.read_log())
        self.delivered("bob@sts.test", "mx.sts.test[127.0.0.2]",
                       rf"tls=mta-sts verify=ok cipher={CIPHER}")
        self.assertEqual(len(fetches("mta-sts.sts.test")), 1)
        self.assertNotIn("mta-sts policy fetched", A.read_log()[self.off:])
        # A new id: fetched again, and the new policy cached.
        new = policy("enforce", "mx.sts.test", "mx2.sts.test",
                     max_age=3600)
        with LOCK:
            POLICIES["mta-sts.sts.test"] = new
        DNS.set("_mta-sts.sts.test", txt("v=STSv1; id=2"))
        # The server's resolver keeps answers for their TTL (1 s).
        time.sleep(1.5)
        self.off = len(A.read_log())
        self.delivered("bob@sts.test", "mx.sts.test[127.0.0.2]",
                       rf"tls=mta-sts verify=ok cipher={CIPHER}")
        self.assertEqual(len(fetches("mta-sts.sts.test")), 2)
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=sts\.test mta-sts policy "
                         r"fetched id=2 mode=enforce max_age=3600 mx=2$")
        self.assertEqual(self.cached("sts.test"), [("2", new, 3600)])
        # 5.1: the cached policy outlives its TXT record (an attacker
        # who strips the record does not turn the policy off).
        DNS.set("_mta-sts.sts.test")
        time.sleep(1.5)
        self.off = len(A.read_log())
        self.delivered("bob@sts.test", "mx.sts.test[127.0.0.2]",
                       rf"tls=mta-sts verify=ok cipher={CIPHER}")
        self.assertEqual(len(fetches("mta-sts.sts.test")), 2)

    def test_enforce_wildcard(self):
        self.delivered("bob@stswild.test", "mx.stswild.test[127.0.0.2]",
                       rf"tls=mta-sts verify=ok cipher={CIPHER}")

    def test_enforce_no_matching_mx_defers(self):
        self.deferred("bob@stsbad.test", "none",
                      re.escape("4.7.5 mta-sts: no MX host of stsbad.test "
                                "is named by its policy"))
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=stsbad\.test mta-sts: no MX "
                         r"host is named by the policy \(mode enforce\)$")
        self.assertNotIn("relay=mx.stsbad.test", A.read_log()[self.off:])

    def test_enforce_bad_certificate_defers(self):
        reason = ("mta-sts: certificate of mx.stscert.test does not "
                  "verify: hostname mismatch")
        self.deferred("bob@stscert.test", "mx.stscert.test[127.0.0.2]",
                      re.escape("4.7.5 " + reason))
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=stscert\.test "
                         r"relay=mx\.stscert\.test\[127\.0\.0\.2\] "
                         r"connection failed: " + re.escape(reason) + "$")

    def test_testing_mode_delivers_and_logs(self):
        self.delivered("bob@ststest.test", "mx.ststest.test[127.0.0.2]",
                       rf"tls=mta-sts-testing verify=failed cipher={CIPHER} "
                       r"\(certificate of mx\.ststest\.test does not "
                       r"verify: hostname mismatch\)")

    def test_dane_takes_precedence(self):
        # The policy is fetched, but the host has DANE: RFC 8461 2.
        self.delivered("bob@stsdane.dane.test",
                       "mx.stsdane.dane.test[127.0.0.2]",
                       rf"tls=dane verify=ok cipher={CIPHER} \(DANE-EE\)")
        self.assertRegex(A.read_log()[self.off:],
                         r"(?m) queue domain=stsdane\.dane\.test mta-sts "
                         r"policy fetched id=1 mode=enforce max_age=86400 "
                         r"mx=1$")

    def test_fetch_failure_means_no_policy(self):
        # RFC 8461 3.3: no valid policy (and none cached): as before.
        # A failed fetch is not repeated at once by the next delivery.
        for dom, why, asked in (
                ("stsnocert.test", "certificate of mta-sts.stsnocert.test "
                 "does not verify: hostname mismatch", 0),
                ("sts404.test", "HTTP status 404 from mta-sts.sts404.test",
                 1)):
            with self.subTest(dom=dom):
                start = len(A.read_log())
                for _ in range(2):
                    self.off = len(A.read_log())
                    self.delivered(f"bob@{dom}", f"mx.{dom}[127.0.0.2]",
                                   rf"tls=opportunistic verify=none "
                                   rf"cipher={CIPHER}")
                self.assertEqual(re.findall(
                    rf"(?m) warning: queue domain={re.escape(dom)} "
                    rf"mta-sts policy fetch failed: (.*)$",
                    A.read_log()[start:]), [why])
                self.assertEqual(len(fetches("mta-sts." + dom)), asked)
                self.assertEqual(self.cached(dom), [])


if __name__ == "__main__":
    unittest.main()

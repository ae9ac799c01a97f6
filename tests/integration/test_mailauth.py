"""
test_mailauth - mail authentication on the real binary: DKIM keys and
signing of our users' mail (RFC 6376, RFC 8463 ed25519), and the checks of
mail from other servers on port 25: SPF (RFC 7208), DKIM, DMARC (RFC 7489)
with the result in Authentication-Results (RFC 8601).

Servers (all with [dns] resolver = the module's unbound, dnssec = no):
    A  the sender: mail.example.test, domain example.test, user demo,
       default [smtp] (so checks_skip = 127.0.0.0/8, ::1), two signing
       keys (rsa, ed25519) made with `posthorn dkim generate` and
       published; delivers to B ([delivery] port).
    B  the receiver on 127.0.0.2: mx.remote.test, domain remote.test
       (bob, carol), [smtp] checks_skip = (empty), dmarc_policy = apply.
    Q  q.remote.test: dmarc_policy = quarantine, checks_skip empty.
    N  n.remote.test: dmarc_policy = none, spf_fail = mark, checks_skip
       empty.
    The CLI tests use a server of their own that is never started;
    TestChecksOff starts one with [smtp] checks = no.

Mail to B, Q and N comes straight from the test over SMTP from 127.0.0.1
(or another loopback source address, to vary what SPF sees); signatures
of "other" domains are made with dkimpy (Debian python3-dkim) and a key
made with openssl, published as py._domainkey.<domain>.

The DNS (one unbound, everything under .test so nothing leaves the host):
    remote.test        MX 10 mx.remote.test.   mx.remote.test A 127.0.0.2
    mail.example.test  A 127.0.0.1, "v=spf1 a -all"  (A's HELO)
    example.test       "v=spf1 ip4:127.0.0.1 -all", _dmarc p=reject,
                       A's two keys
    signed.test        "v=spf1 ?all", _dmarc p=none, py key
    spfpass.test       "v=spf1 ip4:127.0.0.1 -all" (no DMARC)
    spfsoft.test       "v=spf1 ip4:192.0.2.1 ~all"
    spfexp.test        "v=spf1 ip4:192.0.2.1 -all exp=why.spfexp.test"
    spfbad.test        "v=spf1 ip4:127.0.0.1 frob:x -all" (permerror)
    out.heloid.test    "v=spf1 ip4:127.0.0.1 -all" (a HELO name)
    badhelo.test       "v=spf1 -all" (a HELO name)
    fwd.test           "v=spf1 ip4:192.0.2.1 -all", _dmarc p=reject, py key
    fwd2.test          "v=spf1 ip4:192.0.2.1 -all", no DMARC, py key
    dmreject.test      _dmarc p=reject
    dmquar.test        _dmarc p=quarantine
    dmsub.test         _dmarc "p=none; sp=reject"
    relaxed.test       _dmarc p=reject, py key
    strict.test        _dmarc "p=reject; adkim=s", py key
    spfal.test         _dmarc p=reject; bounce.spfal.test SPF 127.0.0.1
    spfstrict.test     _dmarc "p=reject; aspf=s"; bounce.spfstrict.test
                       SPF 127.0.0.1
    pct.test           _dmarc "p=reject; pct=0"
    npdom.test         _dmarc "p=none; np=reject" (RFC 9091);
                       exists.npdom.test A 127.0.0.9
"""
import base64
import os
import pwd
import re
import shutil
import smtplib
import socket
import stat
import subprocess
import sys
import tempfile
import time
import imaplib
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import free_port, tls_context  # noqa: E402
from dnsfixture import Unbound, txt  # noqa: E402


def _import_dkimpy():
    """dkimpy (Debian python3-dkim) lives in Debian's dist-packages; the
    python3 running the tests may be another interpreter (pyenv) that does
    not look there."""
    try:
        import dkim
    except ImportError:
        deb = "/usr/lib/python3/dist-packages"
        if os.path.isdir(deb) and deb not in sys.path:
            sys.path.append(deb)
        try:
            import dkim
        except ImportError:
            return None, False
    try:
        import nacl.signing  # noqa: F401  (dkimpy's ed25519)
        have_nacl = True
    except ImportError:
        have_nacl = False
    return dkim, have_nacl


dkim, HAVE_NACL = _import_dkimpy()

B_IP = "127.0.0.2"
BOB_PW = "bob-password-1"
CAROL_PW = "carol-password-2"
A_HOST = harness.Server.HOSTNAME          # mail.example.test
B_HOST = "mx.remote.test"
Q_HOST = "q.remote.test"
N_HOST = "n.remote.test"
HELO = "relay.client.test"                # no DNS records: spf=none
WAIT = 15
A_RSA_SEL = "rsa1"
A_ED_SEL = "ed1"
PY_SEL = "py"
PY_DOMAINS = ("signed.test", "fwd.test", "fwd2.test", "relaxed.test",
              "strict.test")

BASE_RECORDS = {
    "remote.test": ["MX 10 mx.remote.test."],
    "mx.remote.test": ["A 127.0.0.2"],
    "mail.example.test": ["A 127.0.0.1", txt("v=spf1 a -all")],
    "example.test": [txt("v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.example.test": [txt("v=DMARC1; p=reject")],
    "signed.test": [txt("v=spf1 ?all")],
    "_dmarc.signed.test": [txt("v=DMARC1; p=none")],
    "spfpass.test": [txt("v=spf1 ip4:127.0.0.1 -all")],
    "spfsoft.test": [txt("v=spf1 ip4:192.0.2.1 ~all")],
    "spfexp.test": [txt("v=spf1 ip4:192.0.2.1 -all exp=why.spfexp.test")],
    # Inner quotes on purpose (dnsfixture.txt escapes them).
    "why.spfexp.test": [txt('%{i} may not send for %{d}: see "%{d}" '
                            'policy')],
    "spfbad.test": [txt("v=spf1 ip4:127.0.0.1 frob:x -all")],
    "out.heloid.test": [txt("v=spf1 ip4:127.0.0.1 -all")],
    "badhelo.test": [txt("v=spf1 -all")],
    "fwd.test": [txt("v=spf1 ip4:192.0.2.1 -all")],
    "_dmarc.fwd.test": [txt("v=DMARC1; p=reject")],
    "fwd2.test": [txt("v=spf1 ip4:192.0.2.1 -all")],
    "_dmarc.dmreject.test": [txt("v=DMARC1; p=reject")],
    "_dmarc.dmquar.test": [txt("v=DMARC1; p=quarantine")],
    "_dmarc.dmsub.test": [txt("v=DMARC1; p=none; sp=reject")],
    "_dmarc.relaxed.test": [txt("v=DMARC1; p=reject")],
    "_dmarc.strict.test": [txt("v=DMARC1; p=reject; adkim=s")],
    "_dmarc.spfal.test": [txt("v=DMARC1; p=reject")],
    "bounce.spfal.test": [txt("v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.spfstrict.test": [txt("v=DMARC1; p=reject; aspf=s")],
    "bounce.spfstrict.test": [txt("v=spf1 ip4:127.0.0.1 -all")],
    "_dmarc.pct.test": [txt("v=DMARC1; p=reject; pct=0")],
    "_dmarc.npdom.test": [txt("v=DMARC1; p=none; np=reject")],
    "exists.npdom.test": ["A 127.0.0.9"],
}

TOKEN_SPECIALS = set('()<>@,;:\\"/[]?=')


# -- servers --------------------------------------------------------------

def free_port_on(ip):
    return free_port((ip,))


def delivery_port():
    """A port free on 127.0.0.2 (B's smtp)."""
    return free_port_on(B_IP)


def set_listen(conf, key, value):
    with open(conf) as f:
        text = f.read()
    text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert n == 1, (key, text)
    with open(conf, "w") as f:
        f.write(text)


def dns_config(dns):
    return f"[dns]\nresolver = {dns.resolver}\ndnssec = no\n"


class RemoteServer(harness.Server):
    """A receiving server for remote.test (bob, carol) on 127.0.0.1."""
    DOMAIN = "remote.test"
    USER = "bob@remote.test"
    PASSWORD = BOB_PW

    def __init__(self, hostname, smtp_config, dns, **kw):
        self.HOSTNAME = hostname
        super().__init__(extra_config=dns_config(dns) + "[smtp]\n" +
                         smtp_config, users={"carol@remote.test": CAROL_PW},
                         **kw)

    def send(self, *a, **kw):
        return send_smtp(("127.0.0.1", self.port["smtp"]), *a, **kw)


class Receiver(RemoteServer):
    """B: smtp and imap on 127.0.0.2."""

    def __init__(self, smtp_port, dns):
        super().__init__(B_HOST, "checks_skip =\n", dns)
        self.port["smtp"] = smtp_port
        self.port["imap"] = free_port_on(B_IP)
        set_listen(self.conf, "smtp", f"{B_IP}:{smtp_port}")
        set_listen(self.conf, "imap", f"{B_IP}:{self.port['imap']}")

    def imap(self, timeout=30):
        return imaplib.IMAP4(B_IP, self.port["imap"], timeout=timeout)

    def send(self, *a, **kw):
        return send_smtp((B_IP, self.port["smtp"]), *a, **kw)


# -- module fixtures --------------------------------------------------------

DNS = None
A = B = Q = N = None
PYKEY = None          # PEM bytes of the dkimpy signing key
PYKEY_TXT = None      # its record text
A_TXT = {}            # selector -> record text of A's keys
TMP = None


def openssl(*args, input=None):
    r = subprocess.run(["openssl"] + list(args), input=input,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


def spki_b64(pem_path):
    """base64 of the SubjectPublicKeyInfo of a private key file."""
    return base64.b64encode(openssl("pkey", "-in", pem_path, "-pubout",
                                    "-outform", "DER")).decode()


def parse_zone_line(line):
    """`SEL._domainkey.DOM. IN TXT ( "a" "b" )` -> (SEL, DOM, [strings])."""
    m = re.fullmatch(r'([^. ]+)\._domainkey\.(\S+)\. IN TXT \(((?: "[^"]*")+)'
                     r' \)', line)
    assert m, line
    return m.group(1), m.group(2), re.findall(r'"([^"]*)"', m.group(3))


def setUpModule():
    global DNS, A, B, Q, N, PYKEY, PYKEY_TXT, TMP
    try:
        TMP = tempfile.mkdtemp(prefix="posthorn-mailauth-")
        keyfile = os.path.join(TMP, "py.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                "rsa_keygen_bits:2048", "-out", keyfile)
        with open(keyfile, "rb") as f:
            PYKEY = f.read()
        PYKEY_TXT = "v=DKIM1; k=rsa; p=" + spki_b64(keyfile)

        DNS = Unbound(BASE_RECORDS)
        for d in PY_DOMAINS:
            DNS.add(f"{PY_SEL}._domainkey.{d}", txt(PYKEY_TXT))
        port = delivery_port()
        A = harness.Server(extra_config=dns_config(DNS) + (
            f"[delivery]\nport = {port}\nretry_first = 1s\nretry_max = 2s\n"
            "delay_warning = 0\nconnect_timeout = 5s\n"
            "command_timeout = 30s\n"))
        A.cli("domain", "add", "alt.test")
        A.cli("alias", "add", "demo@alt.test", "demo@example.test")
        for sel, alg in ((A_RSA_SEL, "rsa"), (A_ED_SEL, "ed25519")):
            out = A.cli("dkim", "generate", "example.test", "--selector",
                        sel, "--algorithm", alg).stdout
            s, d, strings = parse_zone_line(out.rstrip("\n"))
            assert (s, d) == (sel, "example.test"), out
            A_TXT[sel] = "".join(strings)
            DNS.add(f"{sel}._domainkey.example.test", txt(A_TXT[sel]))
        DNS.start()
        B = Receiver(port, DNS)
        Q = RemoteServer(Q_HOST, "checks_skip =\ndmarc_policy = quarantine\n",
                         DNS)
        N = RemoteServer(N_HOST, "checks_skip =\ndmarc_policy = none\n"
                         "spf_fail = mark\n", DNS)
        for srv in (A, B, Q, N):
            srv.start()
    except Exception:
        tearDownModule()
        raise


def tearDownModule():
    for srv in (A, B, Q, N):
        if srv is not None:
            srv.cleanup()
    if DNS is not None:
        DNS.cleanup()
    if TMP is not None:
        shutil.rmtree(TMP, ignore_errors=True)


# -- helpers ----------------------------------------------------------------

_counter = [0]


def unique(tag):
    _counter[0] += 1
    return f"{tag}-{os.getpid()}-{_counter[0]}-{int(time.time() * 1000)}"


def make_msg(frm, mid, to="bob@remote.test", subject=None, body=None,
             extra=""):
    """A message; extra is header fields (CRLF-terminated) put after
    From."""
    if subject is None:
        subject = mid.split("@")[0]
    if body is None:
        body = f"Body of {subject}.\r\nSecond line.\r\n"
    return (f"From: Sender <{frm}>\r\n" + extra +
            f"To: <{to}>\r\n"
            f"Subject: {subject}\r\n"
            f"Message-ID: <{mid}>\r\n"
            "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" + body).encode()


def py_sign(msg, domain, selector=PY_SEL):
    """msg with a dkimpy DKIM-Signature (rsa-sha256, relaxed/relaxed)
    put first."""
    sig = dkim.sign(msg, selector.encode(), domain.encode(), PYKEY,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject",
                                     b"message-id", b"date"])
    assert sig.startswith(b"DKIM-Signature: "), sig
    return sig + msg


def send_smtp(addr, mail_from, rcpts, msg, helo=HELO, source="127.0.0.1"):
    """One transaction; returns the DATA reply as "CODE TEXT" (or the
    RCPT/MAIL reply that refused)."""
    s = smtplib.SMTP(addr[0], addr[1], local_hostname=helo,
                     source_address=(source, 0), timeout=30)
    try:
        code, resp = s.ehlo()
        assert code == 250, (code, resp)
        code, resp = s.mail(mail_from)
        if code != 250:
            return f"{code} {resp.decode()}"
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        try:
            code, resp = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, resp = e.smtp_code, e.smtp_error
        return f"{code} {resp.decode()}"
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass


def queued_id(reply):
    m = re.fullmatch(r"250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)", reply)
    assert m, reply
    return m.group(1)


def fetch_all(srv, user, pw, mailbox="INBOX"):
    m = srv.imap()
    try:
        m.login(user, pw)
        typ, data = m.select(mailbox, readonly=True)
        assert typ == "OK", (mailbox, data)
        n = int(data[0])
        if n == 0:
            return []
        typ, data = m.fetch(f"1:{n}", "(BODY.PEEK[])")
        assert typ == "OK", data
        return [item[1] for item in data if isinstance(item, tuple)]
    finally:
        try:
            m.logout()
        except Exception:
            pass


def with_msgid(msgs, mid):
    pat = re.compile(rb"(?im)^Message-ID: <" + re.escape(mid.encode()) +
                     rb">\r$")
    return [m for m in msgs if pat.search(m)]


def found_in(srv, mid, user="bob@remote.test", pw=BOB_PW):
    """{mailbox: number of copies} for INBOX and Junk."""
    return {box: len(with_msgid(fetch_all(srv, user, pw, box), mid))
            for box in ("INBOX", "Junk")}


def the_message(srv, mid, mailbox="INBOX", user="bob@remote.test",
                pw=BOB_PW):
    got = with_msgid(fetch_all(srv, user, pw, mailbox), mid)
    assert len(got) == 1, (mailbox, mid, len(got))
    return got[0]


AR_FIELD = re.compile(rb"Authentication-Results: ((?:[^\r\n]|\r\n[ \t])*)"
                      rb"\r\n")


def split_received(raw, host, helo, ip, rcpt="bob@remote.test"):
    """raw = [Authentication-Results] Received rest.  Returns (the AR
    field as stored or None, the rest after our Received)."""
    ar = None
    # Final delivery puts the return path first (RFC 5321 4.4).
    rp = re.match(rb"Return-Path: <[^>\r\n]*>\r\n", raw)
    assert rp, raw[:200]
    raw = raw[rp.end():]
    m = AR_FIELD.match(raw)
    if m:
        ar = m.group(0)
        raw = raw[m.end():]
    mr = re.match(
        rb"Received: from " + re.escape(helo.encode()) + rb" \(\[" +
        re.escape(ip.encode()) + rb"\]\)\r\n\tby " +
        re.escape(host.encode()) + rb" \(posthorn\) with ESMTPS? id \w+"
        rb"\r\n(?:\t\(version=[^\r\n]*\)\r\n)?\tfor <" +
        re.escape(rcpt.encode()) + rb">; [^\r\n]+\r\n", raw)
    assert mr, raw[:400]
    return ar, raw[mr.end():]


def ar_value(field):
    """The value of a stored AR field, unfolded (the folds are CRLF TAB in
    place of a space)."""
    assert field.startswith(b"Authentication-Results: "), field
    assert field.endswith(b"\r\n"), field
    v = field[len(b"Authentication-Results: "):-2]
    return v.replace(b"\r\n\t", b" ").decode()


def check_folding(test, field):
    """RFC 5322 2.1.1 / 2.2.3: folded only before white space, lines of at
    most 78 characters here (no word is that long)."""
    lines = field[:-2].split(b"\r\n")
    for i, line in enumerate(lines):
        test.assertLessEqual(len(line), 78, field)
        if i > 0:
            test.assertTrue(line.startswith(b"\t"), field)
            test.assertFalse(line[1:2].isspace(), field)
        test.assertFalse(line.endswith((b" ", b"\t")), field)


def dkim_tags(field):
    """The tags of a DKIM-Signature field (bytes, whole field)."""
    value = field.split(b":", 1)[1].decode()
    value = re.sub(r"\r\n[ \t]", " ", value)
    tags = {}
    for spec in value.split(";"):
        if spec.strip():
            k, v = spec.split("=", 1)
            tags[k.strip()] = v.strip()
    return tags


def sig_fields(raw):
    header = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return [m.group(0) for m in re.finditer(
        rb"(?im)^DKIM-Signature:(?:[^\r\n]|\r\n[ \t])*\r\n", header)]


def bvalue(field, n=8):
    """header.b as RFC 6008 makes it: the first n characters of b=,
    quoted when not a MIME token."""
    b = re.sub(r"\s", "", dkim_tags(field)["b"])[:n]
    if any(c in TOKEN_SPECIALS for c in b):
        return '"' + b + '"'
    return b


def wait_log(srv, pattern, timeout=WAIT, since=0):
    return srv.wait_for(lambda: re.search(pattern, srv.read_log()[since:],
                                           re.M), timeout, pattern)


def accepted_line(srv, qid):
    """The "smtp message accepted id=QID ..." log line, without the
    session prefix."""
    m = wait_log(srv, rf"smtp message accepted id={qid} .*$")
    return m.group(0)


def dnsfunc(name, timeout=5):
    """For dkimpy: the TXT record as published in our unbound."""
    qname = name.decode() if isinstance(name, bytes) else name
    try:
        import dns.resolver
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = DNS.port
        ans = r.resolve(qname, "TXT", lifetime=timeout)
        return b"".join(ans[0].strings)
    except ImportError:
        key = qname.rstrip(".").lower()
        for rr in DNS.records.get(key, []):
            if rr.startswith("TXT "):
                return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"',
                                          rr)).replace('\\"', '"').encode()
        return None


def show_log_on_failure(test, result, run, servers):
    n = len(result.failures) + len(result.errors) if result else 0
    r = run(result)
    if result is not None and \
            len(result.failures) + len(result.errors) > n:
        for name, srv in servers:
            if srv is not None:
                print(f"\n--- {name} log (tail) for {test.id()} ---\n" +
                      srv.read_log()[-4000:])
    return r


class Base(unittest.TestCase):
    maxDiff = None

    def run(self, result=None):
        return show_log_on_failure(self, result, super().run,
                                   (("A", A), ("B", B), ("Q", Q), ("N", N)))

    def setUp(self):
        # A server that died in an earlier test is started again, so one
        # crash fails one test (which says so), not all that follow.
        for name, srv in (("A", A), ("B", B), ("Q", Q), ("N", N)):
            if srv is not None and srv.proc is not None and \
                    srv.proc.poll() is not None:
                print(f"\n{name} had exited ({srv.proc.returncode}); "
                      "restarting it")
                srv.proc = None
                srv.log.close()
                srv.log = None
                srv.start()

    def assertAR(self, field, host, *items):
        """The stored field is exactly "Authentication-Results: host;
        item; item ..." once unfolded, and folded properly."""
        self.assertIsNotNone(field, "no Authentication-Results field")
        self.assertEqual(ar_value(field), f"{host}; " + "; ".join(items))
        check_folding(self, field)

    def deliver(self, srv, mail_from, msg, helo=HELO, source="127.0.0.1",
                rcpts=("bob@remote.test",)):
        self.log_off = len(srv.read_log())
        return srv.send(mail_from, list(rcpts), msg, helo=helo,
                        source=source)

    def rejected(self, srv):
        """(MAIL FROM, summary, reply) of the one "smtp message rejected"
        line logged since the last deliver()."""
        pat = (r"smtp message rejected id=\w+ from=<([^>]*)> (.*) "
               r"reply=\"(.*)\"$")
        wait_log(srv, pat, since=self.log_off)
        found = re.findall(pat, srv.read_log()[self.log_off:], re.M)
        self.assertEqual(len(found), 1, found)
        return found[0]


# -- 1. the CLI ---------------------------------------------------------------

class TestDkimCli(Base):
    """posthorn dkim generate / list / show / del on a server that is not
    running."""

    @classmethod
    def setUpClass(cls):
        cls.S = harness.Server()
        cls.S.cli("domain", "add", "other.test")
        cls.dkimdir = os.path.join(cls.S.data_dir, "dkim")

    @classmethod
    def tearDownClass(cls):
        cls.S.cleanup()

    def run(self, result=None):
        return show_log_on_failure(self, result, super(Base, self).run, ())

    def generate(self, *args):
        r = self.S.cli("dkim", "generate", *args)
        self.assertEqual(r.stdout.count("\n"), 1, r.stdout)
        sel, dom, strings = parse_zone_line(r.stdout[:-1])
        for s in strings:
            self.assertLessEqual(len(s.encode()), 255, strings)
        # Split at 255 bytes: every string but the last is full.
        for s in strings[:-1]:
            self.assertEqual(len(s.encode()), 255, strings)
        path = os.path.join(self.dkimdir, f"{dom}.{sel}.pem")
        alg = "ed25519-sha256" if "k=ed25519" in "".join(strings) else \
            "rsa-sha256"
        self.assertEqual(r.stderr, f"DKIM key {sel} for {dom} ({alg}) in "
                                   f"{path}; publish this record:\n")
        return sel, dom, strings, r.stdout, path

    def check_key_file(self, path):
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        if os.getuid() == 0:
            # The server (running as 'posthorn') must be able to read it.
            self.assertEqual(st.st_uid, pwd.getpwnam("posthorn").pw_uid)

    def test_cli_keys(self):
        now = time.gmtime()
        month = f"{now.tm_year:04d}{now.tm_mon:02d}"
        # rsa, default selector YYYYMMr.
        sel_r, dom, strs_r, line_r, path_r = self.generate("example.test")
        self.assertEqual((sel_r, dom), (month + "r", "example.test"))
        value = "".join(strs_r)
        self.assertTrue(value.startswith("v=DKIM1; k=rsa; p="), value)
        self.assertGreaterEqual(len(strs_r), 2)      # 2048 bits: > 255
        self.assertEqual(value, "v=DKIM1; k=rsa; p=" + spki_b64(path_r))
        self.check_key_file(path_r)
        self.assertIn(b"BEGIN PRIVATE KEY", open(path_r, "rb").read())

        # ed25519, default selector YYYYMMe: p= is the raw 32-byte key.
        sel_e, dom, strs_e, line_e, path_e = self.generate(
            "example.test", "--algorithm", "ed25519")
        self.assertEqual((sel_e, dom), (month + "e", "example.test"))
        value = "".join(strs_e)
        self.assertEqual(len(strs_e), 1)
        m = re.fullmatch(r"v=DKIM1; k=ed25519; p=([A-Za-z0-9+/=]+)", value)
        self.assertTrue(m, value)
        raw = base64.b64decode(m.group(1))
        self.assertEqual(len(raw), 32)
        spki = base64.b64decode(spki_b64(path_e))
        self.assertEqual(spki[-32:], raw)
        self.check_key_file(path_e)

        # A named selector.
        sel_s, _, strs_s, line_s, path_s = self.generate(
            "example.test", "--selector", "s2", "--algorithm", "rsa")
        self.assertEqual(sel_s, "s2")
        self.check_key_file(path_s)

        def listing():
            return self.S.cli("dkim", "list").stdout

        today = time.strftime("%Y-%m-%d", time.gmtime())
        expect = "".join(
            f"example.test {s} {a} {today} {p}\n" for s, a, p in sorted([
                (sel_r, "rsa-sha256", path_r),
                (sel_e, "ed25519-sha256", path_e),
                ("s2", "rsa-sha256", path_s)]))
        self.assertEqual(listing(), expect)
        self.assertEqual(self.S.cli("dkim", "list", "example.test").stdout,
                         expect)
        self.assertEqual(self.S.cli("dkim", "list", "other.test").stdout, "")

        # show: the same records generate printed, in selector order.
        show = self.S.cli("dkim", "show", "example.test").stdout
        self.assertEqual(show, "".join(line for _, line in sorted([
            (sel_r, line_r), (sel_e, line_e), ("s2", line_s)])))
        for line in show.splitlines():
            for s in parse_zone_line(line)[2]:
                self.assertLessEqual(len(s.encode()), 255)

        # The same selector again (also in another case): refused, the
        # key is not replaced.
        before = open(path_s, "rb").read()
        for s in ("s2", "S2"):
            r = self.S.cli("dkim", "generate", "example.test", "--selector",
                           s, check=False)
            self.assertNotEqual(r.returncode, 0, s)
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, f"posthorn: {path_s}: File exists\n")
        self.assertEqual(open(path_s, "rb").read(), before)
        self.assertEqual(listing(), expect)
        # The file gone but the row still there: the store refuses, and
        # the new file is not left behind.
        os.rename(path_s, path_s + ".saved")
        r = self.S.cli("dkim", "generate", "example.test", "--selector",
                       "s2", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr, "posthorn: example.test: the domain has a "
                                   "key with that selector already\n")
        self.assertFalse(os.path.exists(path_s))
        os.rename(path_s + ".saved", path_s)
        self.assertEqual(listing(), expect)

        # Bad options.
        r = self.S.cli("dkim", "generate", "example.test", "--algorithm",
                       "dsa", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr,
                         "posthorn: dsa: algorithm is rsa or ed25519\n")
        r = self.S.cli("dkim", "generate", "example.test", "--selector",
                       "bad/sel", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr, "posthorn: bad/sel: a selector is letters, "
                                   "digits, '-' and '_', in dot-separated "
                                   "labels\n")
        self.assertFalse(os.path.exists(
            os.path.join(self.dkimdir, "example.test.bad/sel.pem")))

        # del: the row and the file go.
        r = self.S.cli("dkim", "del", "example.test", "s2")
        self.assertEqual(r.stdout, "DKIM key s2 of example.test deleted\n")
        self.assertFalse(os.path.exists(path_s))
        self.assertEqual(listing(), "".join(
            line + "\n" for line in expect.splitlines()
            if " s2 " not in line))
        self.assertNotIn("s2._domainkey",
                         self.S.cli("dkim", "show", "example.test").stdout)
        r = self.S.cli("dkim", "del", "example.test", "s2", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stderr, "posthorn: s2: no such DKIM key\n")
        # The other keys are still there.
        self.assertTrue(os.path.exists(path_r) and os.path.exists(path_e))

        # After del the selector can be used again.
        sel, _, _, _, path = self.generate("example.test", "--selector",
                                           "s2", "--algorithm", "ed25519")
        self.assertEqual(sel, "s2")
        self.assertTrue(os.path.exists(path))

    def test_cli_unknown_domain(self):
        files = set(os.listdir(self.dkimdir)) if \
            os.path.isdir(self.dkimdir) else set()
        r = self.S.cli("dkim", "generate", "nosuch.test", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, "posthorn: nosuch.test: no such domain\n")
        now = set(os.listdir(self.dkimdir)) if \
            os.path.isdir(self.dkimdir) else set()
        self.assertEqual(now, files)
        # show of a domain without keys (known or not) fails.
        for d in ("nosuch.test", "other.test"):
            r = self.S.cli("dkim", "show", d, check=False)
            self.assertNotEqual(r.returncode, 0, d)
            self.assertEqual(r.stdout, "")
            self.assertEqual(r.stderr, f"posthorn: {d}: no DKIM keys\n")
        r = self.S.cli("dkim", "del", "nosuch.test", "x", check=False)
        self.assertNotEqual(r.returncode, 0)


# -- 2. signing, end to end ------------------------------------------------

class TestSigning(Base):
    """demo@example.test on A sends to bob@remote.test on B."""

    def submit(self, msg, rcpts=("bob@remote.test",),
               sender="demo@example.test"):
        s = A.smtp("submission")
        try:
            s.starttls(context=tls_context())
            s.login(A.USER, A.PASSWORD)
            self.assertEqual(s.mail(sender)[0], 250)
            for r in rcpts:
                self.assertEqual(s.rcpt(r)[0], 250)
            code, resp = s.data(msg)
            self.assertEqual(code, 250, resp)
            return queued_id(f"{code} {resp.decode()}")
        finally:
            s.quit()

    def sent_to_b(self, qid, rcpt="bob@remote.test"):
        """Waits for A's delivery; returns B's queue id."""
        m = wait_log(A, rf"queue id={qid} to=<{re.escape(rcpt)}> "
                        rf"relay=mx\.remote\.test\[127\.0\.0\.2\] "
                        rf"attempts=1 status=sent \(250 2\.0\.0 Ok: "
                        rf"queued as (\w+)\)$")
        return m.group(1)

    def test_signed_end_to_end(self):
        mid = unique("e2e") + "@example.test"
        msg = make_msg("demo@example.test", mid,
                       body="Signed body.\r\n\r\nWith  spaces \t\r\n\r\n")
        qid = self.submit(msg)
        b_id = self.sent_to_b(qid)
        line = accepted_line(B, b_id)
        self.assertRegex(line, r" from=<demo@example\.test> spf=pass "
                               r"dkim=pass dmarc=pass$")
        # A's own log for the submission has no check summary.
        self.assertRegex(accepted_line(A, qid),
                         r" from=<demo@example\.test>$")

        raw = the_message(B, mid)
        ar, rest = split_received(raw, B_HOST, A_HOST, "127.0.0.1")
        sigs = sig_fields(rest)
        self.assertEqual(len(sigs), 2, rest[:2000])
        tags = [dkim_tags(f) for f in sigs]
        self.assertEqual(sorted((t["s"], t["a"]) for t in tags),
                         [(A_ED_SEL, "ed25519-sha256"),
                          (A_RSA_SEL, "rsa-sha256")])
        for t in tags:
            self.assertEqual(t["v"], "1")
            self.assertEqual(t["d"], "example.test")
            self.assertEqual(t["c"], "relaxed/relaxed")
            self.assertNotIn("l", t)
            h = [x.strip().lower() for x in t["h"].split(":")]
            # From signed, and once more than present (oversigned).
            self.assertEqual(h.count("from"), 2, h)
            for name in ("to", "subject", "date", "message-id",
                         "mime-version", "content-type"):
                self.assertIn(name, h)
            self.assertLess(abs(int(t["t"]) - time.time()), 300)
        # The message itself is unchanged after the signatures (and A's
        # Received, which is not signed).
        self.assertTrue(rest.endswith(msg), rest[-600:])

        items = ["spf=pass smtp.mailfrom=demo@example.test",
                 "spf=pass smtp.helo=mail.example.test"]
        for f, t in zip(sigs, tags):
            items.append(f"dkim=pass header.d=example.test header.s={t['s']}"
                         f" header.a={t['a']} header.b={bvalue(f)}")
        items.append("dmarc=pass (p=reject dis=none) header.from="
                     "example.test")
        self.assertAR(ar, B_HOST, *items)

        # Independently: dkimpy, keys from the records in our unbound.
        for i, t in enumerate(tags):
            with self.subTest(dkimpy=t["s"]):
                if dkim is None:
                    self.skipTest("dkimpy (python3-dkim) not importable")
                if t["a"] == "ed25519-sha256" and not HAVE_NACL:
                    self.skipTest("python3-nacl missing: dkimpy cannot "
                                  "verify ed25519-sha256")
                self.assertTrue(dkim.DKIM(raw).verify(idx=i, dnsfunc=dnsfunc),
                                f"dkimpy: signature {t['s']} does not verify")

    def test_signing_falls_back_to_mail_from_domain(self):
        # From a domain without keys (demo@alt.test is an alias of demo):
        # signed as the MAIL FROM domain.
        mid = unique("fb") + "@example.test"
        msg = make_msg("demo@alt.test", mid)
        qid = self.submit(msg)
        b_id = self.sent_to_b(qid)
        self.assertRegex(accepted_line(B, b_id),
                         r" from=<demo@example\.test> spf=pass dkim=pass "
                         r"dmarc=none$")
        raw = the_message(B, mid)
        ar, rest = split_received(raw, B_HOST, A_HOST, "127.0.0.1")
        sigs = sig_fields(rest)
        self.assertEqual(sorted(dkim_tags(f)["s"] for f in sigs),
                         [A_ED_SEL, A_RSA_SEL])
        self.assertEqual({dkim_tags(f)["d"] for f in sigs}, {"example.test"})
        self.assertEqual(ar_value(ar).split("; ")[-1],
                         "dmarc=none header.from=alt.test")

    def test_key_added_and_removed_while_running(self):
        # `dkim generate` / `dkim del` while A runs: the next message is
        # signed with the keys there are then.
        out = A.cli("dkim", "generate", "example.test", "--selector",
                    "rsa2").stdout
        strings = parse_zone_line(out.rstrip("\n"))[2]
        try:
            DNS.add("rsa2._domainkey.example.test", txt("".join(strings)))
            mid = unique("k3") + "@example.test"
            b_id = self.sent_to_b(self.submit(make_msg("demo@example.test",
                                                       mid)))
            self.assertRegex(accepted_line(B, b_id),
                             r" spf=pass dkim=pass dmarc=pass$")
            ar, rest = split_received(the_message(B, mid), B_HOST, A_HOST,
                                      "127.0.0.1")
            sigs = sig_fields(rest)
            self.assertEqual(sorted(dkim_tags(f)["s"] for f in sigs),
                             [A_ED_SEL, A_RSA_SEL, "rsa2"])
            v = ar_value(ar)
            for f in sigs:
                t = dkim_tags(f)
                self.assertIn(f"dkim=pass header.d=example.test header.s="
                              f"{t['s']} header.a={t['a']} header.b="
                              f"{bvalue(f)};", v)
        finally:
            A.cli("dkim", "del", "example.test", "rsa2", check=False)
        mid = unique("k2") + "@example.test"
        self.sent_to_b(self.submit(make_msg("demo@example.test", mid)))
        _, rest = split_received(the_message(B, mid), B_HOST, A_HOST,
                                 "127.0.0.1")
        self.assertEqual(sorted(dkim_tags(f)["s"] for f in sig_fields(rest)),
                         [A_ED_SEL, A_RSA_SEL])

    def test_local_mail_is_not_signed(self):
        mid = unique("loc") + "@example.test"
        msg = make_msg("demo@example.test", mid, to="demo@example.test")
        self.submit(msg, rcpts=("demo@example.test",))
        raw = the_message(A, mid, user=A.USER, pw=A.PASSWORD)
        self.assertEqual(sig_fields(raw), [])
        self.assertNotIn(b"Authentication-Results", raw)


# -- 3. incoming DKIM -------------------------------------------------------

@unittest.skipIf(dkim is None, "dkimpy (python3-dkim) not importable")
class TestIncomingDkim(Base):

    def py_ar(self, signed, result, domain, reason=None, selector=PY_SEL):
        f = sig_fields(signed)[0]
        r = f' reason="{reason}"' if reason else ""
        return (f"dkim={result}{r} header.d={domain} header.s={selector} "
                f"header.a=rsa-sha256 header.b={bvalue(f)}")

    def test_dkim_no_key(self):
        # RFC 6376 6.1.2: no key record is a permanent failure.
        mid = unique("dkn") + "@signed.test"
        msg = py_sign(make_msg("alice@signed.test", mid), "signed.test",
                      selector="nokey")
        qid = queued_id(self.deliver(B, "alice@signed.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=neutral dkim=permerror dmarc=fail$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST,
                      "spf=neutral smtp.mailfrom=alice@signed.test",
                      f"spf=none smtp.helo={HELO}",
                      self.py_ar(msg, "permerror", "signed.test", "no key",
                                 selector="nokey"),
                      "dmarc=fail (p=none dis=none) header.from=signed.test")

    def test_dkim_pass(self):
        mid = unique("dk") + "@signed.test"
        msg = py_sign(make_msg("alice@signed.test", mid), "signed.test")
        reply = self.deliver(B, "alice@signed.test", msg)
        qid = queued_id(reply)
        self.assertRegex(accepted_line(B, qid),
                         r" from=<alice@signed\.test> spf=neutral dkim=pass "
                         r"dmarc=pass$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST,
                      "spf=neutral smtp.mailfrom=alice@signed.test",
                      f"spf=none smtp.helo={HELO}",
                      self.py_ar(msg, "pass", "signed.test"),
                      "dmarc=pass (p=none dis=none) header.from=signed.test")

    def test_dkim_dot_lines(self):
        # Lines starting with "." are dot-stuffed on the wire (RFC 5321
        # 4.5.2); the signature covers the unstuffed text.
        mid = unique("dkd") + "@signed.test"
        msg = py_sign(make_msg("alice@signed.test", mid,
                               body=".leading dot\r\n..two\r\n.\r\nend\r\n"),
                      "signed.test")
        qid = queued_id(self.deliver(B, "alice@signed.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=neutral dkim=pass dmarc=pass$")
        _, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                 "127.0.0.1")
        self.assertEqual(rest, msg)

    def test_dkim_bdat_pipelined(self):
        # RFC 3030 chunks, sent in one go with the commands (PIPELINING):
        # the checks run after the LAST chunk, the replies stay in order.
        mid = unique("dbd") + "@signed.test"
        msg = py_sign(make_msg("alice@signed.test", mid), "signed.test")
        cut = len(msg) // 2
        c = harness.RawClient(
            socket.create_connection((B_IP, B.port["smtp"]), timeout=10))
        try:
            self.assertTrue(c.readline().startswith(b"220 "))
            c.send(f"EHLO {HELO}\r\n".encode())
            ehlo = c.read_until(b"250 ")
            ehlo += c.readline()
            self.assertIn(b"CHUNKING", ehlo)
            c.send(b"MAIL FROM:<alice@signed.test>\r\n"
                   b"RCPT TO:<bob@remote.test>\r\n" +
                   f"BDAT {cut}\r\n".encode() + msg[:cut] +
                   f"BDAT {len(msg) - cut} LAST\r\n".encode() + msg[cut:] +
                   b"QUIT\r\n")
            replies = [c.readline() for _ in range(6)]
        finally:
            c.close()
        self.assertEqual(replies[:4], [
            b"250 2.1.0 Ok\r\n", b"250 2.1.5 Ok\r\n",
            f"250 2.0.0 {cut} octets received\r\n".encode(),
            replies[3]])
        qid = queued_id(replies[3].decode().rstrip("\r\n"))
        self.assertTrue(replies[4].startswith(b"221 "), replies)
        self.assertRegex(accepted_line(B, qid),
                         r" spf=neutral dkim=pass dmarc=pass$")
        _, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                 "127.0.0.1")
        self.assertEqual(rest, msg)

    def test_dkim_body_tampered(self):
        mid = unique("dkb") + "@signed.test"
        signed = py_sign(make_msg("alice@signed.test", mid), "signed.test")
        msg = signed.replace(b"Second line.", b"Second line!")
        self.assertNotEqual(msg, signed)
        reply = self.deliver(B, "alice@signed.test", msg)
        qid = queued_id(reply)
        # p=none: accepted into INBOX, DMARC fails.
        self.assertRegex(accepted_line(B, qid),
                         r" from=<alice@signed\.test> spf=neutral dkim=fail "
                         r"dmarc=fail$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST,
                      "spf=neutral smtp.mailfrom=alice@signed.test",
                      f"spf=none smtp.helo={HELO}",
                      self.py_ar(msg, "fail", "signed.test",
                                 "body hash mismatch"),
                      "dmarc=fail (p=none dis=none) header.from=signed.test")
        self.assertEqual(found_in(B, mid), {"INBOX": 1, "Junk": 0})

    def test_dkim_header_tampered(self):
        mid = unique("dkh") + "@signed.test"
        signed = py_sign(make_msg("alice@signed.test", mid,
                                  subject="Original subject"),
                         "signed.test")
        msg = signed.replace(b"Subject: Original subject",
                             b"Subject: Changed subject")
        self.assertNotEqual(msg, signed)
        queued_id(self.deliver(B, "alice@signed.test", msg))
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        self.assertAR(ar, B_HOST,
                      "spf=neutral smtp.mailfrom=alice@signed.test",
                      f"spf=none smtp.helo={HELO}",
                      self.py_ar(msg, "fail", "signed.test",
                                 "signature mismatch"),
                      "dmarc=fail (p=none dis=none) header.from=signed.test")


# -- 4. SPF ------------------------------------------------------------------

class TestSpf(Base):

    def test_spf_pass(self):
        mid = unique("sp") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid)
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@spfpass\.test> spf=pass dkim=none "
                         r"dmarc=none$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@spfpass.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=none header.from=spfpass.test")

    def test_spf_fail_rejected(self):
        # The same domain from an address its record does not list.
        mid = unique("sf") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid)
        reply = self.deliver(B, "x@spfpass.test", msg, source="127.0.0.5")
        text = ("550 5.7.23 SPF: 127.0.0.5 is not allowed to send mail for "
                "spfpass.test")
        self.assertEqual(reply, text)
        self.assertEqual(self.rejected(B), (
            "x@spfpass.test", "spf=fail dkim=none dmarc=none", text))
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})

    def test_spf_softfail_accepted(self):
        mid = unique("ss") + "@spfsoft.test"
        msg = make_msg("x@spfsoft.test", mid)
        qid = queued_id(self.deliver(B, "x@spfsoft.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@spfsoft\.test> spf=softfail dkim=none "
                         r"dmarc=none$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=softfail smtp.mailfrom=x@spfsoft.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=none header.from=spfsoft.test")

    def test_spf_permerror_accepted(self):
        mid = unique("sb") + "@spfbad.test"
        msg = make_msg("x@spfbad.test", mid)
        qid = queued_id(self.deliver(B, "x@spfbad.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@spfbad\.test> spf=permerror dkim=none "
                         r"dmarc=none$")
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        # RFC 7208 4.6: an unknown mechanism is a permerror; RFC 8601
        # 2.7.1 reason= says why.
        self.assertAR(ar, B_HOST,
                      'spf=permerror reason="unknown mechanism in the SPF '
                      'record of spfbad.test" smtp.mailfrom=x@spfbad.test',
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=none header.from=spfbad.test")

    @unittest.skipIf(dkim is None, "dkimpy (python3-dkim) not importable")
    def test_spf_fail_dkim_aligned_accepted(self):
        # A forwarder: SPF fails, the author domain's signature survives.
        mid = unique("fw") + "@fwd.test"
        msg = py_sign(make_msg("x@fwd.test", mid), "fwd.test")
        qid = queued_id(self.deliver(B, "x@fwd.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@fwd\.test> spf=fail dkim=pass "
                         r"dmarc=pass$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=fail smtp.mailfrom=x@fwd.test",
                      f"spf=none smtp.helo={HELO}",
                      "dkim=pass header.d=fwd.test header.s=py "
                      f"header.a=rsa-sha256 header.b="
                      f"{bvalue(sig_fields(msg)[0])}",
                      "dmarc=pass (p=reject dis=none) header.from=fwd.test")

    @unittest.skipIf(dkim is None, "dkimpy (python3-dkim) not importable")
    def test_spf_fail_dkim_aligned_no_dmarc_accepted(self):
        # posthorn.conf.example, spf_fail: "reject (550 5.7.23, unless a
        # DKIM signature of the From domain passes, as forwarded mail keeps
        # it)" - also when the From domain publishes no DMARC record.
        mid = unique("fw2") + "@fwd2.test"
        msg = py_sign(make_msg("x@fwd2.test", mid), "fwd2.test")
        reply = self.deliver(B, "x@fwd2.test", msg)
        qid = queued_id(reply)
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@fwd2\.test> spf=fail dkim=pass "
                         r"dmarc=none$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=fail smtp.mailfrom=x@fwd2.test",
                      f"spf=none smtp.helo={HELO}",
                      "dkim=pass header.d=fwd2.test header.s=py "
                      f"header.a=rsa-sha256 header.b="
                      f"{bvalue(sig_fields(msg)[0])}",
                      "dmarc=none header.from=fwd2.test")

    def test_spf_fail_mark(self):
        # N has spf_fail = mark: recorded, accepted.
        mid = unique("sm") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid)
        qid = queued_id(self.deliver(N, "x@spfpass.test", msg,
                                     source="127.0.0.5"))
        self.assertRegex(accepted_line(N, qid),
                         r" from=<x@spfpass\.test> spf=fail dkim=none "
                         r"dmarc=none$")
        ar, rest = split_received(the_message(N, mid), N_HOST, HELO,
                                  "127.0.0.5")
        self.assertEqual(rest, msg)
        self.assertAR(ar, N_HOST, "spf=fail smtp.mailfrom=x@spfpass.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=none header.from=spfpass.test")

    def test_spf_exp_explanation(self):
        # RFC 7208 6.2: the explanation, macro-expanded, is the reply.
        mid = unique("se") + "@spfexp.test"
        msg = make_msg("x@spfexp.test", mid)
        reply = self.deliver(B, "x@spfexp.test", msg)
        text = ('550 5.7.23 SPF: 127.0.0.1 may not send for spfexp.test: '
                'see "spfexp.test" policy')
        self.assertEqual(reply, text)
        self.assertEqual(self.rejected(B), (
            "x@spfexp.test", "spf=fail dkim=none dmarc=none", text))
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})

    def test_spf_address_literal_helo(self):
        # RFC 7208 2.3: an address literal is no HELO identity to check.
        mid = unique("sl") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid)
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg,
                                     helo="[127.0.0.1]"))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@spfpass\.test> spf=pass dkim=none "
                         r"dmarc=none$")
        ar, rest = split_received(the_message(B, mid), B_HOST, "[127.0.0.1]",
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@spfpass.test",
                      "dkim=none", "dmarc=none header.from=spfpass.test")

    def test_spf_helo_fail_only_recorded(self):
        # The HELO identity fails, MAIL FROM passes: only MAIL FROM's
        # result decides (the HELO one is recorded).
        mid = unique("hf") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid)
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg,
                                     helo="badhelo.test"))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@spfpass\.test> spf=pass dkim=none "
                         r"dmarc=none$")
        ar, rest = split_received(the_message(B, mid), B_HOST, "badhelo.test",
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@spfpass.test",
                      "spf=fail smtp.helo=badhelo.test", "dkim=none",
                      "dmarc=none header.from=spfpass.test")

    def test_spf_helo_identity_for_null_sender(self):
        # RFC 7208 2.4: MAIL FROM:<> is checked as postmaster@HELO.
        mid = unique("sh") + "@heloid.test"
        msg = make_msg("mailer-daemon@out.heloid.test", mid)
        qid = queued_id(self.deliver(B, "", msg, helo="out.heloid.test"))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<> spf=pass dkim=none dmarc=none$")
        ar, rest = split_received(the_message(B, mid), B_HOST,
                                  "out.heloid.test", "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=pass smtp.helo=out.heloid.test",
                      "dkim=none", "dmarc=none header.from=out.heloid.test")
        # From elsewhere: fail, and the reply names the HELO domain.
        mid = unique("sh2") + "@heloid.test"
        reply = self.deliver(B, "", make_msg("mailer-daemon@out.heloid.test",
                                             mid),
                             helo="out.heloid.test", source="127.0.0.6")
        self.assertEqual(reply, "550 5.7.23 SPF: 127.0.0.6 is not allowed "
                                "to send mail for out.heloid.test")
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})


# -- 5. DMARC ----------------------------------------------------------------

class TestDmarc(Base):
    # MAIL FROM at spfpass.test (SPF pass, but not aligned with From).
    BOUNCE = "bounce@spfpass.test"

    def test_reject_unaligned(self):
        mid = unique("dr") + "@dmreject.test"
        msg = make_msg("ceo@dmreject.test", mid)
        reply = self.deliver(B, self.BOUNCE, msg)
        text = ("550 5.7.1 Unauthenticated email from dmreject.test is not "
                "accepted due to its DMARC policy")
        self.assertEqual(reply, text)
        self.assertEqual(self.rejected(B), (
            self.BOUNCE, "spf=pass dkim=none dmarc=fail", text))
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})

    def test_next_transaction_after_reject(self):
        # One connection: a message rejected, then MAIL, RSET, and a new
        # MAIL: each message has its own results.
        mid1 = unique("t1") + "@dmreject.test"
        mid2 = unique("t2") + "@spfpass.test"
        msg2 = make_msg("x@spfpass.test", mid2)
        s = smtplib.SMTP(B_IP, B.port["smtp"], local_hostname=HELO,
                         timeout=30)
        try:
            s.ehlo()
            self.assertEqual(s.mail(self.BOUNCE)[0], 250)
            self.assertEqual(s.rcpt("bob@remote.test")[0], 250)
            self.assertEqual(s.data(make_msg("ceo@dmreject.test", mid1)),
                             (550, b"5.7.1 Unauthenticated email from "
                                   b"dmreject.test is not accepted due to "
                                   b"its DMARC policy"))
            self.assertEqual(s.mail("x@spfsoft.test")[0], 250)
            self.assertEqual(s.rcpt("bob@remote.test")[0], 250)
            self.assertEqual(s.rset()[0], 250)
            self.assertEqual(s.mail("x@spfpass.test")[0], 250)
            self.assertEqual(s.rcpt("bob@remote.test")[0], 250)
            code, resp = s.data(msg2)
        finally:
            s.quit()
        queued_id(f"{code} {resp.decode()}")
        self.assertEqual(found_in(B, mid1), {"INBOX": 0, "Junk": 0})
        ar, rest = split_received(the_message(B, mid2), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg2)
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@spfpass.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=none header.from=spfpass.test")

    def test_quarantine_to_junk(self):
        mid = unique("dq") + "@dmquar.test"
        msg = make_msg("ceo@dmquar.test", mid)
        qid = queued_id(self.deliver(B, self.BOUNCE, msg))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<bounce@spfpass\.test> spf=pass dkim=none "
                         r"dmarc=fail folder=Junk$")
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 1})
        ar, rest = split_received(the_message(B, mid, "Junk"), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, f"spf=pass smtp.mailfrom={self.BOUNCE}",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=fail (p=quarantine dis=quarantine) "
                      "header.from=dmquar.test")

    def test_quarantine_without_junk_mailbox(self):
        # carol has no \Junk mailbox: INBOX.
        m = B.imap()
        m.login("carol@remote.test", CAROL_PW)
        typ, data = m.delete("Junk")
        self.assertEqual(typ, "OK", data)
        m.logout()
        mid = unique("dqi") + "@dmquar.test"
        msg = make_msg("ceo@dmquar.test", mid, to="carol@remote.test")
        queued_id(self.deliver(B, self.BOUNCE, msg,
                               rcpts=("carol@remote.test",)))
        ar, rest = split_received(
            the_message(B, mid, user="carol@remote.test", pw=CAROL_PW),
            B_HOST, HELO, "127.0.0.1", rcpt="carol@remote.test")
        self.assertEqual(rest, msg)
        self.assertEqual(ar_value(ar).split("; ")[-1],
                         "dmarc=fail (p=quarantine dis=quarantine) "
                         "header.from=dmquar.test")

    def test_subdomain_policy(self):
        # _dmarc.dmsub.test: p=none; sp=reject.
        mid = unique("ds") + "@dmsub.test"
        reply = self.deliver(B, self.BOUNCE,
                             make_msg("ceo@news.dmsub.test", mid))
        self.assertEqual(reply, "550 5.7.1 Unauthenticated email from "
                                "news.dmsub.test is not accepted due to its "
                                "DMARC policy")
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})
        # The organizational domain itself: p=none.
        mid = unique("ds2") + "@dmsub.test"
        msg = make_msg("ceo@dmsub.test", mid)
        queued_id(self.deliver(B, self.BOUNCE, msg))
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        self.assertAR(ar, B_HOST, f"spf=pass smtp.mailfrom={self.BOUNCE}",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=fail (p=none dis=none) header.from=dmsub.test")

    @unittest.skipIf(dkim is None, "dkimpy (python3-dkim) not importable")
    def test_relaxed_alignment(self):
        # From sub.relaxed.test, d=relaxed.test: same organizational domain.
        mid = unique("dl") + "@relaxed.test"
        msg = py_sign(make_msg("ceo@sub.relaxed.test", mid), "relaxed.test")
        qid = queued_id(self.deliver(B, self.BOUNCE, msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=pass dkim=pass dmarc=pass$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, f"spf=pass smtp.mailfrom={self.BOUNCE}",
                      f"spf=none smtp.helo={HELO}",
                      "dkim=pass header.d=relaxed.test header.s=py "
                      "header.a=rsa-sha256 header.b="
                      f"{bvalue(sig_fields(msg)[0])}",
                      "dmarc=pass (p=reject dis=none) "
                      "header.from=sub.relaxed.test")

    @unittest.skipIf(dkim is None, "dkimpy (python3-dkim) not importable")
    def test_strict_alignment(self):
        # adkim=s: d=strict.test does not align with sub.strict.test.
        mid = unique("dt") + "@strict.test"
        msg = py_sign(make_msg("ceo@sub.strict.test", mid), "strict.test")
        reply = self.deliver(B, self.BOUNCE, msg)
        text = ("550 5.7.1 Unauthenticated email from sub.strict.test is not "
                "accepted due to its DMARC policy")
        self.assertEqual(reply, text)
        self.assertEqual(self.rejected(B), (
            self.BOUNCE, "spf=pass dkim=pass dmarc=fail", text))
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})
        # The same, aligned exactly: passes.
        mid = unique("dt2") + "@strict.test"
        msg = py_sign(make_msg("ceo@strict.test", mid), "strict.test")
        queued_id(self.deliver(B, self.BOUNCE, msg))
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        self.assertEqual(ar_value(ar).split("; ")[-1],
                         "dmarc=pass (p=reject dis=none) "
                         "header.from=strict.test")

    def test_spf_alignment(self):
        # RFC 7489 3.1.2: relaxed, the MAIL FROM domain bounce.spfal.test
        # aligns with From spfal.test; aspf=s: bounce.spfstrict.test does
        # not align with spfstrict.test.
        mid = unique("sa") + "@spfal.test"
        msg = make_msg("ceo@spfal.test", mid)
        qid = queued_id(self.deliver(B, "x@bounce.spfal.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=pass dkim=none dmarc=pass$")
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@bounce.spfal.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=pass (p=reject dis=none) header.from=spfal.test")
        mid = unique("sas") + "@spfstrict.test"
        reply = self.deliver(B, "x@bounce.spfstrict.test",
                             make_msg("ceo@spfstrict.test", mid))
        self.assertEqual(reply, "550 5.7.1 Unauthenticated email from "
                                "spfstrict.test is not accepted due to its "
                                "DMARC policy")
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})

    def test_pct_zero_downgrades_reject(self):
        # RFC 7489 6.6.4: outside the pct sample (pct=0: always) reject
        # becomes quarantine.
        mid = unique("pc") + "@pct.test"
        msg = make_msg("ceo@pct.test", mid)
        qid = queued_id(self.deliver(B, self.BOUNCE, msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=pass dkim=none dmarc=fail folder=Junk$")
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 1})
        ar, _ = split_received(the_message(B, mid, "Junk"), B_HOST, HELO,
                               "127.0.0.1")
        self.assertAR(ar, B_HOST, f"spf=pass smtp.mailfrom={self.BOUNCE}",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=fail (p=reject dis=quarantine) "
                      "header.from=pct.test")

    def test_np_for_nonexistent_subdomain(self):
        # RFC 9091: np= for a From domain that does not exist.
        mid = unique("np") + "@npdom.test"
        reply = self.deliver(B, self.BOUNCE,
                             make_msg("ceo@ghost.npdom.test", mid))
        self.assertEqual(reply, "550 5.7.1 Unauthenticated email from "
                                "ghost.npdom.test is not accepted due to its "
                                "DMARC policy")
        self.assertEqual(found_in(B, mid), {"INBOX": 0, "Junk": 0})
        # A subdomain that exists gets sp (here p): none.
        mid = unique("np2") + "@npdom.test"
        queued_id(self.deliver(B, self.BOUNCE,
                               make_msg("ceo@exists.npdom.test", mid)))
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        self.assertEqual(ar_value(ar).split("; ")[-1],
                         "dmarc=fail (p=none dis=none) "
                         "header.from=exists.npdom.test")

    def test_local_policy_quarantine(self):
        # Q: dmarc_policy = quarantine turns reject into Junk.
        mid = unique("lq") + "@dmreject.test"
        msg = make_msg("ceo@dmreject.test", mid)
        qid = queued_id(self.deliver(Q, self.BOUNCE, msg))
        self.assertRegex(accepted_line(Q, qid),
                         r" from=<bounce@spfpass\.test> spf=pass dkim=none "
                         r"dmarc=fail folder=Junk$")
        self.assertEqual(found_in(Q, mid), {"INBOX": 0, "Junk": 1})
        ar, rest = split_received(the_message(Q, mid, "Junk"), Q_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        # dis= is the disposition applied (RFC 7489 7.2.1.1 / appendix C
        # "disposition": the final policy applied): quarantine, not the
        # reject that was published.
        self.assertAR(ar, Q_HOST, f"spf=pass smtp.mailfrom={self.BOUNCE}",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=fail (p=reject dis=quarantine) "
                      "header.from=dmreject.test")

    def test_local_policy_none(self):
        # N: dmarc_policy = none only records.
        for dom, p in (("dmreject.test", "reject"),
                       ("dmquar.test", "quarantine")):
            mid = unique("ln") + "@" + dom
            msg = make_msg("ceo@" + dom, mid)
            qid = queued_id(self.deliver(N, self.BOUNCE, msg))
            self.assertRegex(accepted_line(N, qid),
                             r" from=<bounce@spfpass\.test> spf=pass "
                             r"dkim=none dmarc=fail$")
            self.assertEqual(found_in(N, mid), {"INBOX": 1, "Junk": 0})
            ar, rest = split_received(the_message(N, mid), N_HOST, HELO,
                                      "127.0.0.1")
            self.assertEqual(rest, msg)
            # Nothing was applied: dis=none (see test_local_policy_
            # quarantine).
            self.assertAR(ar, N_HOST, f"spf=pass smtp.mailfrom={self.BOUNCE}",
                          f"spf=none smtp.helo={HELO}", "dkim=none",
                          f"dmarc=fail (p={p} dis=none) header.from={dom}")


# -- 6. forged Authentication-Results --------------------------------------

class TestForgedResults(Base):

    def test_forged_removed_foreign_kept(self):
        mid = unique("fr") + "@spfpass.test"
        kept_foreign = ("Authentication-Results: mx.other.test; dkim=pass "
                        "header.d=spfpass.test\r\n")
        kept_similar = ("Authentication-Results: mx.remote.test.evil.test; "
                        "spf=pass\r\n")
        forged = [
            "Authentication-Results: mx.remote.test; spf=pass "
            "smtp.mailfrom=x@spfpass.test\r\n",
            "authentication-results:   MX.Remote.TEST;\r\n"
            "\tdkim=pass header.d=bank.test;\r\n"
            "  dmarc=pass header.from=bank.test\r\n",
            "Authentication-Results: (our host) \"mx.remote.test\"; "
            "dmarc=pass\r\n",
            # A version after the id (RFC 8601 2.2), and the obsolete
            # space before the colon (RFC 5322 4.5.3).
            "Authentication-Results: mx.remote.test 1; spf=pass\r\n",
            "Authentication-Results : mx.remote.test; dkim=pass\r\n",
        ]
        head = ("From: Sender <x@spfpass.test>\r\n", forged[0], "To: <bob@"
                "remote.test>\r\n", forged[1], kept_foreign, kept_similar,
                f"Subject: forged\r\nMessage-ID: <{mid}>\r\n", forged[2],
                forged[3], "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n",
                forged[4])
        body = "\r\nBody line.\r\nAuthentication-Results: mx.remote.test; " \
               "in the body\r\n"
        msg = ("".join(head) + body).encode()
        expect = ("".join(h for h in head if h not in forged) +
                  body).encode()
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=pass dkim=none dmarc=none$")
        raw = the_message(B, mid)
        ar, rest = split_received(raw, B_HOST, HELO, "127.0.0.1")
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@spfpass.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      "dmarc=none header.from=spfpass.test")
        self.assertEqual(rest, expect)
        # Exactly one field claims B.
        claims = [v for v in re.findall(
            rb"(?im)^Authentication-Results:\s*(?:\([^)]*\)\s*)?\"?([^\s;\"]+)",
            raw.split(b"\r\n\r\n", 1)[0])
            if v.lower() == B_HOST.encode()]
        self.assertEqual(len(claims), 1, raw[:1500])


# -- 7. what is not checked ------------------------------------------------

class TestNotChecked(Base):

    def test_loopback_skipped_by_default(self):
        # A keeps checks_skip = 127.0.0.0/8, ::1.
        mid = unique("lo") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid, to="demo@example.test")
        reply = send_smtp(("127.0.0.1", A.port["smtp"]), "x@spfpass.test",
                          ["demo@example.test"], msg, source="127.0.0.5")
        qid = queued_id(reply)
        self.assertRegex(accepted_line(A, qid),
                         r" from=<x@spfpass\.test>$")
        raw = the_message(A, mid, user=A.USER, pw=A.PASSWORD)
        ar, rest = split_received(raw, A_HOST, HELO, "127.0.0.5",
                                  rcpt="demo@example.test")
        self.assertIsNone(ar)
        # 127.0.0.5 is not in spfpass.test's record: an SPF fail had it
        # been checked (see TestSpf.test_spf_fail_rejected).
        self.assertEqual(rest, msg)

    def test_submission_not_checked(self):
        # B checks port 25 from everywhere, but not its users' mail.
        mid = unique("sub") + "@remote.test"
        msg = make_msg("bob@remote.test", mid, to="carol@remote.test")
        s = smtplib.SMTP("127.0.0.1", B.port["submission"],
                         local_hostname=HELO, timeout=30)
        try:
            s.starttls(context=tls_context())
            s.login("bob@remote.test", BOB_PW)
            self.assertEqual(s.mail("bob@remote.test")[0], 250)
            self.assertEqual(s.rcpt("carol@remote.test")[0], 250)
            code, resp = s.data(msg)
            self.assertEqual(code, 250, resp)
            qid = queued_id(f"{code} {resp.decode()}")
        finally:
            s.quit()
        self.assertRegex(accepted_line(B, qid), r" from=<bob@remote\.test>$")
        raw = the_message(B, mid, user="carol@remote.test", pw=CAROL_PW)
        self.assertNotIn(b"Authentication-Results", raw)
        self.assertTrue(raw.endswith(msg))


class TestChecksOff(Base):
    """[smtp] checks = no (and checks_skip empty): nothing is checked."""

    @classmethod
    def setUpClass(cls):
        cls.S = RemoteServer("off.remote.test",
                             "checks = no\nchecks_skip =\n", DNS)
        try:
            cls.S.start()
        except Exception:
            cls.S.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.S.cleanup()

    def test_checks_off(self):
        mid = unique("off") + "@dmreject.test"
        msg = make_msg("ceo@dmreject.test", mid)
        # p=reject and an SPF fail (from 127.0.0.5): accepted all the same.
        qid = queued_id(self.deliver(self.S, "x@spfpass.test", msg,
                                     source="127.0.0.5"))
        self.assertRegex(accepted_line(self.S, qid),
                         r" from=<x@spfpass\.test>$")
        ar, rest = split_received(the_message(self.S, mid),
                                  "off.remote.test", HELO, "127.0.0.5")
        self.assertIsNone(ar)
        self.assertEqual(rest, msg)


class TestRobustness(Base):

    def test_clients_gone_while_checking(self):
        # Connections that go away while SPF (after MAIL) or DKIM and DMARC
        # (after the data) are still running; then B works as before.
        off = len(B.read_log())
        n = 0
        def connect():
            # After the greeting: an early talker is held back on purpose.
            c = socket.create_connection((B_IP, B.port["smtp"]), timeout=10)
            f = c.makefile("rb")
            self.assertTrue(f.readline().startswith(b"220 "))
            f.close()
            return c

        for i in range(8):
            c = connect()
            c.sendall(f"EHLO {HELO}\r\nMAIL FROM:<x@spfexp.test>\r\n"
                      .encode())
            c.close()
            n += 1
        signed = py_sign(make_msg("alice@signed.test", unique("gone") +
                                  "@signed.test"), "signed.test") \
            if dkim is not None else make_msg("ceo@dmreject.test",
                                              unique("gone") + "@x.test")
        for i in range(8):
            c = connect()
            c.sendall(f"EHLO {HELO}\r\nMAIL FROM:<alice@signed.test>\r\n"
                      "RCPT TO:<bob@remote.test>\r\nDATA\r\n".encode())
            c.sendall(signed + b".\r\n")
            c.close()
            n += 1
        B.wait_for(lambda: len(re.findall(
            r"smtp disconnect", B.read_log()[off:])) >= n, WAIT,
            f"{n} disconnects")
        self.assertIsNone(B.proc.poll(), "B exited")
        mid = unique("after") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid)
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" spf=pass dkim=none dmarc=none$")
        self.assertIsNone(B.proc.poll(), "B exited")


# -- 8. From ----------------------------------------------------------------

class TestFrom(Base):

    def test_multiple_from_permerror(self):
        # RFC 7489 6.6.1: no single author domain.
        mid = unique("mf") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid,
                       extra="From: Other <ceo@dmreject.test>\r\n")
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg))
        self.assertRegex(accepted_line(B, qid),
                         r" from=<x@spfpass\.test> spf=pass dkim=none "
                         r"dmarc=permerror$")
        ar, rest = split_received(the_message(B, mid), B_HOST, HELO,
                                  "127.0.0.1")
        self.assertEqual(rest, msg)
        self.assertAR(ar, B_HOST, "spf=pass smtp.mailfrom=x@spfpass.test",
                      f"spf=none smtp.helo={HELO}", "dkim=none",
                      'dmarc=permerror reason="several From addresses"')

    def test_from_forms_of_one_address(self):
        # One author each time (RFC 5322 3.4): a quoted display name with
        # a comma, a comment with a comma, a folded field.  dmquar.test's
        # p=quarantine applies: Junk.
        forms = ['"Doe, John" <ceo@dmquar.test>',
                 "ceo@dmquar.test (Doe, John)",
                 "A Rather Long Display Name\r\n <ceo@DMQUAR.test>"]
        for form in forms:
            mid = unique("ff") + "@dmquar.test"
            msg = make_msg("ceo@dmquar.test", mid).replace(
                b"From: Sender <ceo@dmquar.test>", b"From: " + form.encode())
            qid = queued_id(self.deliver(B, "bounce@spfpass.test", msg))
            self.assertRegex(accepted_line(B, qid),
                             r" spf=pass dkim=none dmarc=fail folder=Junk$",
                             form)
            ar, rest = split_received(the_message(B, mid, "Junk"), B_HOST,
                                      HELO, "127.0.0.1")
            self.assertEqual(rest, msg)
            self.assertEqual(ar_value(ar).split("; ")[-1],
                             "dmarc=fail (p=quarantine dis=quarantine) "
                             "header.from=dmquar.test", form)

    def test_from_with_two_addresses_permerror(self):
        mid = unique("mf2") + "@spfpass.test"
        msg = make_msg("x@spfpass.test", mid).replace(
            b"From: Sender <x@spfpass.test>",
            b"From: Sender <x@spfpass.test>, ceo@dmreject.test")
        qid = queued_id(self.deliver(B, "x@spfpass.test", msg))
        self.assertRegex(accepted_line(B, qid), r" dmarc=permerror$")
        ar, _ = split_received(the_message(B, mid), B_HOST, HELO,
                               "127.0.0.1")
        self.assertEqual(ar_value(ar).split("; ")[-1],
                         'dmarc=permerror reason="several From addresses"')


if __name__ == "__main__":
    unittest.main()

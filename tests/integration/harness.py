"""
harness - start the real posthorn binary on loopback ports in a temporary
data directory, for the integration tests.

    with Server() as srv:                 # domain example.test, user demo
        srv.smtp()                        # smtplib.SMTP on port 25's stand-in
        srv.imap() / srv.imaps()          # logged-out imaplib clients
        srv.pop3() / srv.pop3s()
        srv.cli("user", "add", ...)       # runs `posthorn -c conf ...`

Every server gets its own free ports and its own directory; the log is
kept in srv.log_path and shown when a test fails.  Nothing here sleeps for
a fixed time to "let things settle": waits poll a condition with a bound.
"""
import os
import random
import resource
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import imaplib
import poplib
import smtplib
import shutil

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("POSTHORN_BIN", os.path.join(ROOT, "build", "posthorn"))

LISTENERS = ["smtp", "submission", "submission2", "submissions", "imap",
             "imaps", "pop3", "pop3s"]


def asan_runtime():
    """The path of the AddressSanitizer runtime the binary links, or None.
    A preloaded shim must come after it in LD_PRELOAD, and memory figures
    of such a build (shadow memory, quarantine) say nothing about ours."""
    try:
        out = subprocess.run(["ldd", BINARY], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0].startswith("libasan.so") and len(parts) >= 3:
            return parts[2]
    return None


# Ports for servers the tests start come from below the kernel's
# ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default):
# a port picked there and closed until the server binds it could meanwhile
# become the local port of some client connection ("Address already in
# use").  Each port is handed out once per process.
_PORT_LO, _PORT_HI = 20000, 32700
_ports_given = set()
_port_rng = random.Random(os.getpid() ^ int(time.time() * 1000))


def free_port(ips=("127.0.0.1",), udp=False):
    """A port that TCP (and UDP if asked) can bind on each of ips now."""
    for _ in range(500):
        port = _port_rng.randrange(_PORT_LO, _PORT_HI)
        if port in _ports_given:
            continue
        ok = True
        kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else \
            (socket.SOCK_STREAM,)
        for ip in ips:
            for kind in kinds:
                s = socket.socket(socket.AF_INET, kind)
                try:
                    s.bind((ip, port))
                except OSError:
                    ok = False
                finally:
                    s.close()
                if not ok:
                    break
            if not ok:
                break
        if ok:
            _ports_given.add(port)
            return port
    raise AssertionError(f"no free port on {ips}")


def free_ports(n):
    return [free_port() for _ in range(n)]


def strip_return_path(msg):
    """The message without the Return-Path field that final delivery puts
    first (RFC 5321 4.4); asserts it is there."""
    assert msg.startswith(b"Return-Path: <"), msg[:100]
    return msg[msg.index(b"\r\n") + 2:]


def tls_context():
    """A client context that accepts the server's self-signed certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Server:
    DOMAIN = "example.test"
    USER = "demo@example.test"
    PASSWORD = "demo-password-1"
    HOSTNAME = "mail.example.test"

    def __init__(self, extra_config="", auth_failure_delay="0",
                 plaintext_on_loopback=True, users=None,
                 lockout_failures=0):
        self.dir = tempfile.mkdtemp(prefix="posthorn-it-")
        # Started as root, the server runs as the 'posthorn' user, which
        # must be able to enter the directory (mkdtemp makes it 0700).
        os.chmod(self.dir, 0o755)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "posthorn.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        ports = free_ports(len(LISTENERS))
        self.port = dict(zip(LISTENERS, ports))
        self.extra_config = extra_config
        self.nofile = None      # RLIMIT_NOFILE (soft and hard) to start with
        self.proc = None
        self.log = None
        with open(self.conf, "w") as f:
            f.write(f"""[server]
hostname = {self.HOSTNAME}
data_dir = {self.data_dir}
io_threads = 2
workers = 4
[auth]
plaintext_on_loopback = {"yes" if plaintext_on_loopback else "no"}
failure_delay = {auth_failure_delay}
lockout_failures = {lockout_failures}
[listen]
smtp = 127.0.0.1:{self.port['smtp']}
submission = 127.0.0.1:{self.port['submission']}, 127.0.0.1:{self.port['submission2']}
submissions = 127.0.0.1:{self.port['submissions']}
imap = 127.0.0.1:{self.port['imap']}
imaps = 127.0.0.1:{self.port['imaps']}
pop3 = 127.0.0.1:{self.port['pop3']}
pop3s = 127.0.0.1:{self.port['pop3s']}
{extra_config}
""")
        self.cli("domain", "add", self.DOMAIN)
        self.add_user(self.USER, self.PASSWORD)
        for u, p in (users or {}).items():
            self.add_user(u, p)

    # -- the CLI --------------------------------------------------------
    def cli(self, *args, input=None, check=True):
        r = subprocess.run([BINARY, "-c", self.conf] + list(args),
                           input=input, capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"posthorn {' '.join(args)} failed "
                                 f"({r.returncode}): {r.stderr}")
        return r

    def add_user(self, address, password):
        self.cli("user", "add", address, "--password-stdin",
                 input=password + "\n")

    # -- the server -----------------------------------------------------
    def start(self):
        self.log = open(self.log_path, "ab")
        limit = None
        if self.nofile is not None:
            def limit():
                resource.setrlimit(resource.RLIMIT_NOFILE,
                                   (self.nofile, self.nofile))
        self.proc = subprocess.Popen([BINARY, "-c", self.conf, "serve"],
                                     stdout=self.log, stderr=self.log,
                                     preexec_fn=limit)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited at start:\n" +
                                     self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.port["pop3"]),
                                         timeout=0.5).close()
                if "ready:" in self.read_log():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("server did not start:\n" + self.read_log())

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Stops the server; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop within "
                                     f"{timeout}s")
        rc = self.proc.returncode
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None
        return rc

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def cleanup(self):
        if self.proc is not None:
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- clients --------------------------------------------------------
    def smtp(self, listener="smtp", timeout=30):
        return smtplib.SMTP("127.0.0.1", self.port[listener],
                            local_hostname="client.example.org",
                            timeout=timeout)

    def smtps(self, timeout=30):
        return smtplib.SMTP_SSL("127.0.0.1", self.port["submissions"],
                                local_hostname="client.example.org",
                                context=tls_context(), timeout=timeout)

    def submit(self, msg_bytes, rcpts, sender=None, listener="submission",
               user=None, password=None):
        """Sends over a submission port with STARTTLS + AUTH."""
        s = self.smtp(listener)
        try:
            s.starttls(context=tls_context())
            s.login(user or self.USER, password or self.PASSWORD)
            return s.sendmail(sender or self.USER, rcpts, msg_bytes)
        finally:
            s.quit()

    def imap(self, timeout=30):
        return imaplib.IMAP4("127.0.0.1", self.port["imap"], timeout=timeout)

    def imaps(self, timeout=30):
        return imaplib.IMAP4_SSL("127.0.0.1", self.port["imaps"],
                                 ssl_context=tls_context(), timeout=timeout)

    def imap_login(self, user=None, password=None):
        m = self.imap()
        m.login(user or self.USER, password or self.PASSWORD)
        return m

    def pop3(self, timeout=30):
        return poplib.POP3("127.0.0.1", self.port["pop3"], timeout=timeout)

    def pop3s(self, timeout=30):
        return poplib.POP3_SSL("127.0.0.1", self.port["pop3s"],
                               context=tls_context(), timeout=timeout)

    def wait_for(self, cond, timeout=10, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def raw(self, listener, timeout=10):
        """A plain socket to a listener, for byte-level tests."""
        return RawClient(socket.create_connection(
            ("127.0.0.1", self.port[listener]), timeout=timeout))


class RawClient:
    """Line-oriented access to a socket, for malformed-input tests."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        i = self.buf.find(marker)
        if i < 0:
            out, self.buf = self.buf, b""
            return out
        out, self.buf = self.buf[:i + len(marker)], self.buf[i + len(marker):]
        return out

    def closed(self, timeout=5):
        """True when the server closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class TcpServer:
    """A listening socket on (ip, port) that hands each connection to
    handle(sock) in a thread of its own until stop(); for stand-in peers
    (MX hosts) written in the tests.  The socket is closed after handle."""

    def __init__(self, ip, port, handle):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.handle = handle
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._session, args=(c,),
                             daemon=True).start()

    def _session(self, c):
        c.settimeout(10)
        try:
            self.handle(c)
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

"""
servers - private instances of posthorn and of Postfix + Dovecot, on
loopback ports, each in its own directory under bench/work/.

Nothing here uses the system's own services or configuration: Postfix runs
with its own config_directory and queue_directory (postfix -c DIR), Dovecot
with its own base_dir and config file (dovecot -c FILE).  Both sides keep
their shipped durability: Postfix's cleanup fsyncs the queue file before
its 250, Dovecot's LMTP fsyncs (mail_fsync = optimized) before its 250;
posthorn's 250 means committed (WAL, synchronous) in the mailbox.

For the relay load (issue 3) two more helpers: Sink, Postfix's smtp-sink
on 127.0.0.2 playing the remote instance for both sides, and Resolver, a
local unbound that answers for remote.test (MX -> 127.0.0.2) and nothing
else, for posthorn's MX lookups.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

BENCH = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROOT = os.path.dirname(BENCH)
DOMAIN = "example.test"
MAIL_USER = "phbench"          # bench/setup creates it; Dovecot's mail uid
# The relay load: mail for REMOTE_DOMAIN goes to the sink on SINK_IP.
REMOTE_DOMAIN = "remote.test"
SINK_IP = "127.0.0.2"
SINK_HOST = "mx.remote.test"


def password_of(i):
    return f"bench-password-{i:05d}"


def user_of(i):
    return f"u{i:05d}@{DOMAIN}"


def free_port_block(n, start=17000, ip="127.0.0.1", udp=False):
    """n consecutive-ish free loopback ports from start upwards (udp:
    free for UDP as well as TCP)."""
    ports = []
    p = start
    while len(ports) < n and p < 60000:
        socks = [socket.socket()]
        if udp:
            socks.append(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        try:
            for s in socks:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((ip, p))
            ports.append(p)
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
        p += 1
    return ports


def wait_greeting(port, prefix, deadline, tls=False):
    """Connects until the service greets with prefix; True on success."""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=2) as s:
                data = b""
                while b"\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(prefix):
                    return True
        except OSError:
            pass
        time.sleep(0.005)
    return False


def descendants(root_pid):
    """root_pid and every process below it (walks /proc)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def mem_of(pids):
    """(rss_kb, pss_kb) summed over pids, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def cpu_of(pids):
    """CPU seconds (user+system, own + reaped children) of pids."""
    tck = os.sysconf("SC_CLK_TCK")
    t = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            t += sum(int(x) for x in fields[11:15])
        except OSError:
            pass
    return t / tck


def make_cert(work):
    """One self-signed certificate that both servers present."""
    d = os.path.join(work, "tls")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not os.path.exists(cert):
        os.makedirs(d, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-days", "3650", "-subj",
                        "/CN=mail.example.test", "-keyout", key,
                        "-out", cert], check=True, capture_output=True)
        os.chmod(d, 0o755)
        os.chmod(cert, 0o644)
        os.chmod(key, 0o644)    # a throw-away key for loopback tests
    return cert, key


def stop_leftovers(work):
    """Stops the instances an interrupted earlier run left behind (by the
    pids they recorded under work/, nothing else)."""
    pidfile = os.path.join(work, "posthorn.pid")
    try:
        pid = int(open(pidfile).read())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"posthorn.bin" in f.read():
                os.kill(pid, signal.SIGTERM)
                for _ in range(200):
                    if not os.path.exists(f"/proc/{pid}"):
                        break
                    time.sleep(0.05)
    except (OSError, ValueError):
        pass
    for name, prog, mark in (("sink.pid", b"smtp-sink", SINK_HOST),
                             ("unbound.pid", b"unbound", work)):
        try:
            pid = int(open(os.path.join(work, name)).read())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            if prog in cmd and mark.encode() in cmd:
                os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
    inc = os.path.join(work, "incumbent")
    if os.path.exists(os.path.join(inc, "postfix", "etc", "main.cf")):
        subprocess.run(["postfix", "-c", os.path.join(inc, "postfix", "etc"),
                        "stop"], capture_output=True)
    conf = os.path.join(inc, "dovecot", "dovecot.conf")
    if os.path.exists(conf):
        subprocess.run(["doveadm", "-c", conf, "stop"], capture_output=True)


class Server:
    """What the loads need from either side."""
    name = "?"
    ports = {}

    def pids(self):
        raise NotImplementedError

    def mem(self):
        return mem_of(self.pids())

    def cpu(self):
        return cpu_of(self.pids())


class Posthorn(Server):
    name = "posthorn"
    LISTENERS = ["smtp", "submission", "submissions", "imap", "imaps",
                 "pop3", "pop3s"]

    def __init__(self, work, binary, cert, key, users, dns_port,
                 relay_port):
        self.dir = os.path.join(work, "posthorn")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.binary = os.path.join(work, "posthorn.bin")
        shutil.copy2(binary, self.binary + ".new")
        os.chmod(self.binary + ".new", 0o755)
        os.rename(self.binary + ".new", self.binary)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "posthorn.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        ports = free_port_block(len(self.LISTENERS), 17100)
        self.ports = dict(zip(self.LISTENERS, ports))
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(f"""; written by bench/run
[server]
hostname = mail.example.test
data_dir = {self.data_dir}
[tls]
cert = {cert}
key = {key}
[listen]
smtp = 127.0.0.1:{self.ports['smtp']}
submission = 127.0.0.1:{self.ports['submission']}
submissions = 127.0.0.1:{self.ports['submissions']}
imap = 127.0.0.1:{self.ports['imap']}
imaps = 127.0.0.1:{self.ports['imaps']}
pop3 = 127.0.0.1:{self.ports['pop3']}
pop3s = 127.0.0.1:{self.ports['pop3s']}
[limits]
; the load comes from one address: no per-address cap
max_connections_per_ip = 1000000
; DNS: the bench's own unbound (Resolver), which knows remote.test and
; sends nothing out; when only other loads run, nothing listens there.
; Its zone is unsigned: no DNSSEC, so no DANE (the sink offers no TLS).
[dns]
resolver = 127.0.0.1@{dns_port}
dnssec = no
; the relay load: the sink (the remote instance) listens on this port
[delivery]
port = {relay_port}
""")
        self.cli("domain", "add", DOMAIN)
        self.hashes = {}
        for i in range(users):
            self.cli("user", "add", user_of(i), "--password-stdin",
                     input=password_of(i) + "\n")
        db = sqlite3.connect(os.path.join(self.data_dir, "posthorn.db"))
        for addr, pw in db.execute("SELECT address, password FROM accounts"):
            self.hashes[addr] = pw
        db.close()

    def cli(self, *args, input=None):
        r = subprocess.run([self.binary, "-c", self.conf] + list(args),
                           input=input, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"posthorn {' '.join(args)}: {r.stderr}")
        return r.stdout

    def start(self):
        """Starts; returns seconds until SMTP, IMAP and POP3 greet."""
        log = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "-c", self.conf, "serve"],
                                     stdout=log, stderr=log)
        log.close()
        with open(os.path.join(os.path.dirname(self.dir), "posthorn.pid"),
                  "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = t0 + 60
        for port, prefix in ((self.ports["smtp"], b"220"),
                             (self.ports["imap"], b"* OK"),
                             (self.ports["pop3"], b"+OK")):
            if not wait_greeting(port, prefix, deadline):
                raise RuntimeError("posthorn did not start:\n" +
                                   open(self.log_path).read()[-3000:])
        return time.monotonic() - t0

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        if rc not in (0, -signal.SIGTERM):
            raise RuntimeError(f"posthorn exited with {rc}; see "
                               f"{self.log_path}")

    # posthorn takes mail for its users on its SMTP port
    def inject_target(self):
        return ("smtp", self.ports["smtp"])

    def smtp_target(self):
        return ("smtp", self.ports["smtp"])

    # posthorn relays only for users who logged in: submission + AUTH
    def relay_target(self):
        return (self.ports["submission"], True)


POSTFIX_MASTER = """\
# written by bench/run: Debian's services, chroot off (private instance)
127.0.0.1:{smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

POSTFIX_MAIN = """\
# written by bench/run: a private instance; everything else as shipped
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.bench.test
mydomain = bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
maillog_file = {dir}/postfix.log
maillog_file_prefixes = {dir}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
message_size_limit = 52428800
virtual_mailbox_domains = {domain}
virtual_mailbox_maps = texthash:{dir}/etc/vmailbox
virtual_transport = lmtp:inet:127.0.0.1:{lmtp}
smtp_dns_support_level = disabled
# the relay load: mail for {remote} goes to the sink, no MX lookup
transport_maps = texthash:{dir}/etc/transport
"""

DOVECOT_CONF = """\
# written by bench/run: a private instance, standalone config; the
# defaults (mail_fsync = optimized, fsync on) as Debian ships them.
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = phbench-dovecot
log_path = {dir}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_uid = {mail_user}
mail_gid = {mail_user}
first_valid_uid = 100
mail_privileged_group =
passdb {{
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
}}
# This machine allows 128 inotify instances per user, fewer than the
# idle sessions, so Dovecot falls back to polling: poll each second
# (default 30 s) so the IDLE latency is not the fallback's.
mailbox_idle_check_interval = 1 secs
namespace inbox {{
  inbox = yes
}}
# capacity for the idle-connection load; login processes in Dovecot's
# documented high-performance mode (one process serves many clients)
default_process_limit = {proc_limit}
default_client_limit = {client_limit}
default_vsz_limit = 1G
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
# the imap and pop3 services have built-in process limits of their own
# (1024), which default_process_limit does not raise: one process per
# session, so without these no more than 1024 sessions log in
service imap {{
  process_limit = {proc_limit}
}}
service pop3 {{
  process_limit = {proc_limit}
}}
protocol imap {{
  mail_max_userip_connections = 1000000
}}
protocol pop3 {{
  mail_max_userip_connections = 1000000
}}
"""


class Incumbent(Server):
    """Postfix (SMTP, queue) delivering over LMTP into Dovecot (IMAP,
    POP3)."""
    name = "incumbent"

    def __init__(self, work, cert, key, hashes, relay_port, max_conns=2000):
        self.dir = os.path.join(work, "incumbent")
        if os.path.exists(self.dir):
            subprocess.run(["rm", "-rf", self.dir])
        self.pf = os.path.join(self.dir, "postfix")
        self.dv = os.path.join(self.dir, "dovecot")
        for d in (self.pf + "/etc", self.dv + "/mail"):
            os.makedirs(d)
        os.chmod(self.dir, 0o755)
        names = ["smtp", "imap", "imaps", "pop3", "pop3s", "lmtp"]
        self.ports = dict(zip(names, free_port_block(len(names), 17200)))
        self.dovecot_conf = os.path.join(self.dv, "dovecot.conf")
        pw = pwd.getpwnam(MAIL_USER)
        with open(os.path.join(self.dv, "users"), "w") as f:
            for addr, h in sorted(hashes.items()):
                local = addr.split("@")[0]
                home = os.path.join(self.dv, "mail", local)
                f.write(f"{addr}:{{CRYPT}}{h}:{pw.pw_uid}:{pw.pw_gid}"
                        f"::{home}::\n")
        os.chown(os.path.join(self.dv, "mail"), pw.pw_uid, pw.pw_gid)
        with open(self.dovecot_conf, "w") as f:
            f.write(DOVECOT_CONF.format(
                dir=self.dv, cert=cert, key=key, mail_user=MAIL_USER,
                proc_limit=max_conns + 500,
                client_limit=5 * max_conns + 5000,
                **self.ports))
        with open(os.path.join(self.pf, "etc", "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(dir=self.pf, domain=DOMAIN,
                                        lmtp=self.ports["lmtp"],
                                        remote=REMOTE_DOMAIN))
        with open(os.path.join(self.pf, "etc", "transport"), "w") as f:
            f.write(f"{REMOTE_DOMAIN} smtp:[{SINK_IP}]:{relay_port}\n")
        with open(os.path.join(self.pf, "etc", "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER.format(smtp=self.ports["smtp"]))
        with open(os.path.join(self.pf, "etc", "vmailbox"), "w") as f:
            for addr in sorted(hashes):
                f.write(f"{addr} ok\n")
        os.makedirs(os.path.join(self.pf, "spool"))
        os.makedirs(os.path.join(self.pf, "data"))
        pf = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.pf, "data"), pf.pw_uid, pf.pw_gid)
        r = subprocess.run(["postfix", "-c", self.pf + "/etc", "check"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix check failed; run it under script(1) to see why")

    def start(self):
        out = open(os.path.join(self.dir, "start.out"), "ab")
        t0 = time.monotonic()
        d = subprocess.Popen(["dovecot", "-c", self.dovecot_conf],
                             stdout=out, stderr=out)
        p = subprocess.Popen(["postfix", "-c", self.pf + "/etc", "start"],
                             stdout=out, stderr=out)
        out.close()
        if d.wait() != 0 or p.wait() != 0:
            raise RuntimeError("incumbent did not start; see " + self.dir +
                               "/start.out and " + self.pf + "/postfix.log")
        deadline = t0 + 60
        for port, prefix in ((self.ports["smtp"], b"220"),
                             (self.ports["imap"], b"* OK"),
                             (self.ports["pop3"], b"+OK"),
                             (self.ports["lmtp"], b"220")):
            if not wait_greeting(port, prefix, deadline):
                raise RuntimeError("incumbent did not start; see " +
                                   self.dv + "/dovecot.log, " + self.pf +
                                   "/postfix.log")
        return time.monotonic() - t0

    def master_pids(self):
        out = []
        for path in (os.path.join(self.dv, "run", "master.pid"),
                     os.path.join(self.pf, "spool", "pid", "master.pid")):
            try:
                with open(path) as f:
                    out.append(int(f.read().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        return out

    def dovecot_pids(self):
        m = self.master_pids()
        return descendants(m[0]) if m else []

    def pids(self):
        out = []
        for m in self.master_pids():
            out += descendants(m)
        return out

    def alive(self):
        ms = self.master_pids()
        return len(ms) == 2 and all(os.path.exists(f"/proc/{p}") for p in ms)

    def stop(self):
        ms = self.master_pids()
        subprocess.run(["postfix", "-c", self.pf + "/etc", "stop"],
                       capture_output=True)
        subprocess.run(["doveadm", "-c", self.dovecot_conf, "stop"],
                       capture_output=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
                os.path.exists(f"/proc/{p}") for p in ms):
            time.sleep(0.05)

    def doveadm(self, *args):
        return subprocess.run(["doveadm", "-c", self.dovecot_conf] +
                              list(args), capture_output=True, text=True)

    # Preloading (not timed) goes straight into Dovecot over LMTP.
    def inject_target(self):
        return ("lmtp", self.ports["lmtp"])

    def smtp_target(self):
        return ("smtp", self.ports["smtp"])

    # Postfix relays for mynetworks (127.0.0.0/8) on port 25, no AUTH
    def relay_target(self):
        return (self.ports["smtp"], False)

    def maildir(self, addr):
        return os.path.join(self.dv, "mail", addr.split("@")[0], "Maildir")


class Sink:
    """The remote instance of the relay load: Postfix's smtp-sink on
    SINK_IP, the same for both sides.  It takes every message and throws
    it away (no TLS, no AUTH, XCLIENT or XFORWARD offered); -c makes it
    print "sess=N quit=N mesg=N" to its output after every message, and
    count() reads the last mesg= from that file."""

    def __init__(self, work):
        self.work = work
        self.port = free_port_block(1, 17300, ip=SINK_IP)[0]
        self.out_path = os.path.join(work, "sink.out")
        self.proc = None

    def start(self):
        out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", MAIL_USER, "-4", "-c", "-a", "-C", "-F",
             "-h", SINK_HOST, "-m", "1000",
             f"inet:{SINK_IP}:{self.port}", "1000"],
            stdout=out, stderr=out, cwd=self.work)
        out.close()
        with open(os.path.join(self.work, "sink.pid"), "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("smtp-sink exited: " +
                                   open(self.out_path).read()[-500:])
            try:
                socket.create_connection((SINK_IP, self.port), 1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("smtp-sink does not answer")

    def count(self):
        """Messages received so far ("." answered with 250)."""
        try:
            with open(self.out_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 256))
                tail = f.read()
        except OSError:
            return 0
        got = re.findall(rb"mesg=(\d+)\r", tail)
        return int(got[-1]) if got else 0

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class Resolver:
    """A local unbound (the Debian package) for posthorn's [dns] resolver,
    as tests/integration/dnsfixture.py runs one for the delivery tests:
    remote.test MX 10 mx.remote.test, mx.remote.test A 127.0.0.2.  Every
    other name is answered from a static root zone (NXDOMAIN), so no query
    leaves the machine.  TTLs are an hour, as a real zone's would be, so
    posthorn's resolver library may cache them."""

    RECORDS = [(REMOTE_DOMAIN, f"MX 10 {SINK_HOST}."),
               (SINK_HOST, f"A {SINK_IP}")]

    def __init__(self, work):
        self.dir = os.path.join(work, "dns")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port_block(1, 17350, udp=True)[0]
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.pidfile = os.path.join(work, "unbound.pid")
        self.proc = None

    def start(self):
        lines = ["server:",
                 "    interface: 127.0.0.1",
                 f"    port: {self.port}",
                 "    do-ip4: yes", "    do-ip6: no",
                 "    do-udp: yes", "    do-tcp: yes",
                 "    do-daemonize: no",
                 '    username: ""', '    chroot: ""',
                 f'    directory: "{self.dir}"',
                 f'    pidfile: "{os.path.join(self.dir, "unbound.pid")}"',
                 f'    logfile: "{self.log_path}"',
                 "    use-syslog: no", "    verbosity: 1",
                 '    module-config: "iterator"',
                 "    access-control: 127.0.0.0/8 allow",
                 "    num-threads: 1", "    so-reuseport: no",
                 '    local-zone: "." static']
        for name, rr in self.RECORDS:
            lines.append(f'    local-data: "{name}. 3600 IN {rr}"')
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run(["unbound-checkconf", self.conf],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("unbound-checkconf: " + r.stdout + r.stderr)
        out = open(os.path.join(self.dir, "unbound.out"), "ab")
        self.proc = subprocess.Popen(["unbound", "-d", "-c", self.conf],
                                     stdout=out, stderr=out)
        out.close()
        with open(self.pidfile, "w") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.mx_answers():
                return
            time.sleep(0.05)
        raise RuntimeError("unbound does not answer; see " + self.log_path)

    def mx_answers(self):
        """True once an MX query for REMOTE_DOMAIN gets one answer."""
        qid = os.getpid() & 0xFFFF
        name = b"".join(bytes([len(x)]) + x.encode()
                        for x in REMOTE_DOMAIN.split(".")) + b"\0"
        pkt = qid.to_bytes(2, "big") + bytes.fromhex("0100000100000000"
                                                      "0000") + \
            name + (15).to_bytes(2, "big") + (1).to_bytes(2, "big")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            s.sendto(pkt, ("127.0.0.1", self.port))
            data, _ = s.recvfrom(4096)
        except OSError:
            return False
        finally:
            s.close()
        return (len(data) >= 12 and data[:2] == pkt[:2] and
                data[3] & 0x0F == 0 and int.from_bytes(data[6:8], "big") == 1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

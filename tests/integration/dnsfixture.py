"""
dnsfixture - a local unbound (the Debian package) answering from records
the test gives, for the outbound-delivery tests.

    dns = Unbound({"remote.test": ["MX 10 mx.remote.test."],
                   "mx.remote.test": ["A 127.0.0.2"]})
    dns.start()
    ... [dns] resolver = 127.0.0.1@{dns.port}  (dns.resolver) ...
    dns.add("other.test", "A 127.0.0.2")    # rewrites the config, restarts
    dns.cleanup()

Signed zones (DNSSEC, for DANE) are served from zone files as unbound
auth-zones, inside .test: Unbound(records, auth_zones={"dane.test":
"/path/dane.test.signed"}).  The server validates them with the zone's
key as its [dns] trust_anchor; everything else under .test is insecure.

The whole of .test is a static local zone: names without records are
NXDOMAIN, names with records but not of the asked type are NODATA.  TTLs
are short (ttl=1 by default), so that the resolver library inside the
server does not keep answers for long after a change.
"""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

UNBOUND = "/usr/sbin/unbound"

# RR types for query().
A, NS, MX, TXT, AAAA = 1, 2, 15, 16, 28


def txt(text):
    """A TXT record of any length: character-strings of at most 255 bytes
    (RFC 1035 3.3.14), as a zone file writes them."""
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return "TXT " + " ".join('"' + p.replace('"', '\\"') + '"'
                             for p in parts)


def free_udp_tcp_port(host="127.0.0.1"):
    """A port number free for both TCP and UDP on host."""
    from harness import free_port
    return free_port((host,), udp=True)


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def query(port, name, rtype=A, host="127.0.0.1", timeout=1.0):
    """One UDP query; returns (rcode, number of answer records)."""
    qid = random.randint(0, 0xFFFF)
    pkt = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + \
        _encode_name(name) + struct.pack("!HH", rtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(pkt, (host, port))
        while True:
            data, _ = s.recvfrom(65535)
            if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == qid:
                break
    finally:
        s.close()
    flags, _qd, an = struct.unpack("!HHH", data[2:8])
    return flags & 0x0F, an


class Unbound:
    def __init__(self, records=None, ttl=1, auth_zones=None):
        self.records = {}
        self.ttl = ttl
        self.auth_zones = dict(auth_zones or {})
        for name, rrs in (records or {}).items():
            for rr in rrs:
                self._put(name, rr)
        self.dir = tempfile.mkdtemp(prefix="posthorn-dns-")
        self.conf = os.path.join(self.dir, "unbound.conf")
        self.log_path = os.path.join(self.dir, "unbound.log")
        self.port = free_udp_tcp_port()
        self.proc = None
        self._out = None

    @property
    def resolver(self):
        """The value for posthorn's [dns] resolver."""
        return f"127.0.0.1@{self.port}"

    def _put(self, name, rr):
        name = name.rstrip(".").lower()
        self.records.setdefault(name, [])
        if rr not in self.records[name]:
            self.records[name].append(rr)

    def _write_config(self):
        lines = [
            "server:",
            "    interface: 127.0.0.1",
            f"    port: {self.port}",
            "    do-ip4: yes",
            "    do-ip6: no",
            "    do-udp: yes",
            "    do-tcp: yes",
            "    do-daemonize: no",
            '    username: ""',
            '    chroot: ""',
            f'    directory: "{self.dir}"',
            f'    pidfile: "{os.path.join(self.dir, "unbound.pid")}"',
            f'    logfile: "{self.log_path}"',
            "    use-syslog: no",
            "    verbosity: 1",
            '    module-config: "iterator"',
            "    access-control: 127.0.0.0/8 allow",
            "    num-threads: 1",
            "    so-reuseport: no",
            "    cache-max-ttl: 1",
            "    cache-max-negative-ttl: 1",
            # Nothing under .test goes out; unknown names are NXDOMAIN.
            '    local-zone: "test." static',
        ]
        # Signed zones: past the static zone to the auth-zone below.
        for zone in sorted(self.auth_zones):
            lines.append(f'    local-zone: "{zone.rstrip(".")}." '
                         'transparent')
        for name in sorted(self.records):
            for rr in self.records[name]:
                # TXT data is quoted itself: then quote with '.
                q = "'" if '"' in rr else '"'
                lines.append(f'    local-data: {q}{name}. {self.ttl} IN '
                             f'{rr}{q}')
        for zone, path in sorted(self.auth_zones.items()):
            lines += ["auth-zone:",
                      f'    name: "{zone.rstrip(".")}."',
                      f'    zonefile: "{path}"',
                      "    for-downstream: yes",
                      "    for-upstream: yes",
                      "    fallback-enabled: no"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        self._write_config()
        chk = subprocess.run(["unbound-checkconf", self.conf],
                             capture_output=True, text=True, timeout=30)
        if chk.returncode != 0:
            raise AssertionError("bad unbound config:\n" + chk.stdout +
                                 chk.stderr + open(self.conf).read())
        self._out = open(os.path.join(self.dir, "unbound.out"), "ab")
        self.proc = subprocess.Popen([UNBOUND, "-c", self.conf],
                                     stdout=self._out, stderr=self._out)
        deadline = time.time() + timeout
        # Any name of ours answers NOERROR once the records are loaded.
        probe = sorted(self.records)[0] if self.records else "probe.test"
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited at start:\n" +
                                     self.read_log())
            try:
                rcode, _ = query(self.port, probe, A, timeout=0.2)
                if rcode in (0, 3):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("unbound does not answer:\n" + self.read_log())

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._out:
            self._out.close()
            self._out = None

    def restart(self):
        self.stop()
        return self.start()

    def add(self, name, *rrs):
        """Adds records (rewriting the config and restarting unbound)."""
        for rr in rrs:
            self._put(name, rr)
        if self.proc is not None:
            self.restart()

    def set(self, name, *rrs):
        """Replaces every record of name (restarts unbound)."""
        self.records.pop(name.rstrip(".").lower(), None)
        self.add(name, *rrs)

    def read_log(self):
        out = ""
        for p in (self.log_path, os.path.join(self.dir, "unbound.out")):
            try:
                with open(p, "rb") as f:
                    out += f.read().decode("utf-8", "replace")
            except OSError:
                pass
        return out

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

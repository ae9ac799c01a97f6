"""
proto - small asyncio clients for SMTP/LMTP, IMAP and POP3 that check
every reply.  A reply that is not what the protocol promises raises
ProtocolError; the loads count those as errors.
"""
import asyncio
import base64
import re
import ssl
import time


class ProtocolError(Exception):
    pass


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


LIMIT = 1 << 22


async def open_conn(port, tls=False, timeout=60):
    return await asyncio.wait_for(asyncio.open_connection(
        "127.0.0.1", port, ssl=tls_context() if tls else None, limit=LIMIT),
        timeout)


# -- SMTP / LMTP -------------------------------------------------------
class Smtp:
    def __init__(self, reader, writer, lmtp=False):
        self.r, self.w, self.lmtp = reader, writer, lmtp

    @classmethod
    async def connect(cls, port, lmtp=False):
        r, w = await open_conn(port)
        c = cls(r, w, lmtp)
        await c.expect("220")
        w.write(b"LHLO bench.client\r\n" if lmtp else
                b"EHLO bench.client\r\n")
        await c.expect("250")
        return c

    async def reply(self):
        lines = []
        while True:
            line = await self.r.readline()
            if not line:
                raise ProtocolError("connection closed")
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return line[:3].decode(), lines

    async def expect(self, code):
        got, lines = await self.reply()
        if got != code:
            raise ProtocolError(f"expected {code}, got {lines!r}")
        return lines

    async def auth_plain(self, user, pw):
        """AUTH PLAIN (RFC 4616) with the initial response."""
        tok = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
        self.w.write(f"AUTH PLAIN {tok}\r\n".encode())
        await self.expect("235")

    async def send(self, rcpts, data, sender="sender@remote.example"):
        """One transaction, pipelined (MAIL, RCPT..., DATA)."""
        cmd = f"MAIL FROM:<{sender}>\r\n" + "".join(
            f"RCPT TO:<{r}>\r\n" for r in rcpts) + "DATA\r\n"
        self.w.write(cmd.encode())
        await self.expect("250")
        for _ in rcpts:
            await self.expect("250")
        await self.expect("354")
        self.w.write(data)
        self.w.write(b".\r\n")
        for _ in (rcpts if self.lmtp else [0]):
            await self.expect("250")

    async def quit(self):
        self.w.write(b"QUIT\r\n")
        try:
            await self.expect("221")
        except ProtocolError:
            pass
        self.w.close()


async def smtp_blast(port, lmtp, jobs, conc, per_conn=None):
    """Sends jobs [(rcpts, data)] over conc connections; returns the
    number sent.  per_conn: messages per connection before a new one
    (None: one connection for all its messages)."""
    queue = list(reversed(jobs))
    sent = 0

    async def worker():
        nonlocal sent
        c = None
        k = 0
        while queue:
            rcpts, data = queue.pop()
            if c is None:
                c = await Smtp.connect(port, lmtp)
                k = 0
            await c.send(rcpts, data)
            sent += 1
            k += 1
            if per_conn and k >= per_conn:
                await c.quit()
                c = None
        if c is not None:
            await c.quit()

    await asyncio.gather(*(worker() for _ in range(conc)))
    return sent


# -- IMAP ---------------------------------------------------------------
LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


class Imap:
    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.n = 0

    @classmethod
    async def connect(cls, port, tls=False, timeout=60):
        r, w = await open_conn(port, tls, timeout)
        c = cls(r, w)
        line = await asyncio.wait_for(r.readline(), timeout)
        if not line.startswith(b"* OK"):
            raise ProtocolError(f"greeting {line!r}")
        return c

    async def read_response(self):
        """One response line with its literals: (text, [literals])."""
        line = await self.r.readline()
        if not line:
            raise ProtocolError("connection closed")
        lits = []
        parts = [line]
        while True:
            m = LITERAL.search(line)
            if not m:
                break
            n = int(m.group(1))
            lits.append(await self.r.readexactly(n))
            line = await self.r.readline()
            parts.append(line)
        return b"".join(parts), lits

    async def cmd(self, text, ok=True):
        """Sends one command; returns (untagged [(line, lits)], tagged)."""
        self.n += 1
        tag = f"a{self.n}".encode()
        self.w.write(tag + b" " + text.encode() + b"\r\n")
        untagged = []
        while True:
            line, lits = await self.read_response()
            if line.startswith(tag + b" "):
                if ok and not line.startswith(tag + b" OK"):
                    raise ProtocolError(f"{text[:60]!r}: {line!r}")
                return untagged, line
            if line.startswith(b"+"):
                raise ProtocolError(f"unexpected continuation {line!r}")
            untagged.append((line, lits))

    async def cmd_bulk(self, text):
        """Sends one command whose answer has no literals (such as UID
        FETCH 1:* (FLAGS)) and reads it in big chunks, leaving the parsing
        to the caller: a line-by-line read of 100,000 responses times
        this client, not the server.  Returns (untagged bytes, tagged)."""
        self.n += 1
        tag = f"a{self.n}".encode()
        self.w.write(tag + b" " + text.encode() + b"\r\n")
        buf = bytearray()
        while True:
            chunk = await self.r.read(1 << 20)
            if not chunk:
                raise ProtocolError("connection closed")
            buf += chunk
            if not buf.endswith(b"\r\n"):
                continue
            start = buf.rfind(b"\n", 0, len(buf) - 1) + 1
            if buf.startswith(tag + b" ", start):
                tagged = bytes(buf[start:])
                if not tagged.startswith(tag + b" OK"):
                    raise ProtocolError(f"{text[:60]!r}: {tagged!r}")
                return bytes(buf[:start]), tagged

    async def login(self, user, pw):
        return await self.cmd(f'LOGIN "{user}" "{pw}"')

    async def select(self, box="INBOX"):
        u, _ = await self.cmd(f"SELECT {box}")
        exists = None
        for line, _ in u:
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                exists = int(m.group(1))
        if exists is None:
            raise ProtocolError("SELECT without EXISTS")
        return exists

    async def idle_start(self):
        self.n += 1
        self.idle_tag = f"a{self.n}".encode()
        self.w.write(self.idle_tag + b" IDLE\r\n")
        while True:
            line, _ = await self.read_response()
            if line.startswith(b"+"):
                return
            if line.startswith(self.idle_tag):
                raise ProtocolError(f"IDLE refused: {line!r}")

    async def idle_done(self):
        self.w.write(b"DONE\r\n")
        while True:
            line, _ = await self.read_response()
            if line.startswith(self.idle_tag + b" "):
                if not line.startswith(self.idle_tag + b" OK"):
                    raise ProtocolError(f"IDLE end: {line!r}")
                return

    async def logout(self):
        u, _ = await self.cmd("LOGOUT")
        if not any(l.startswith(b"* BYE") for l, _ in u):
            raise ProtocolError("LOGOUT without BYE")
        self.w.close()

    def close(self):
        self.w.close()


def search_result(untagged):
    for line, _ in untagged:
        if line.startswith(b"* SEARCH"):
            return [int(x) for x in line[8:].split()]
    raise ProtocolError("no SEARCH response")


def status_messages(untagged):
    for line, _ in untagged:
        m = re.search(rb"MESSAGES (\d+)", line)
        if line.startswith(b"* STATUS") and m:
            return int(m.group(1))
    raise ProtocolError("no STATUS response")


# -- POP3 ---------------------------------------------------------------
class Pop3:
    def __init__(self, reader, writer):
        self.r, self.w = reader, writer

    @classmethod
    async def connect(cls, port):
        r, w = await open_conn(port)
        c = cls(r, w)
        await c.ok()
        return c

    async def ok(self):
        line = await self.r.readline()
        if not line.startswith(b"+OK"):
            raise ProtocolError(f"POP3: {line!r}")
        return line

    async def cmd(self, text):
        self.w.write(text.encode() + b"\r\n")
        return await self.ok()

    async def lines(self, text):
        """A multi-line reply as a list of lines (without CRLF)."""
        await self.cmd(text)
        out = []
        while True:
            line = await self.r.readline()
            if not line:
                raise ProtocolError("connection closed")
            if line == b".\r\n":
                return out
            out.append(line[:-2])

    async def retr(self, n):
        self.w.write(f"RETR {n}\r\n".encode())
        await self.ok()
        data = await self.r.readuntil(b"\r\n.\r\n")
        body = data[:-3]
        return b"\r\n".join(l[1:] if l.startswith(b".") else l
                             for l in body.split(b"\r\n"))


def now():
    return time.monotonic()

"""
loads - the six loads of issue 6, and the relay load of issue 3, each run
against one server at a time.

Every load function takes (bench, server, round) and returns a dict of
figures {name: value}, plus "_cpu" details: the server's CPU seconds
(read from /proc for all its processes) and the load generator's own CPU
seconds during the timed part, so that the CPU both compete for on this
2-core machine is accounted for.
"""
import asyncio
import os
import random
import re
import resource
import statistics
import time

import corpus
import servers
from proto import (Imap, Pop3, ProtocolError, Smtp, search_result,
                   smtp_blast, status_messages, now)

# users by load (indices into servers.user_of)
SMTP_USERS = range(0, 10)
IMAP_USERS = range(10, 60)
POP3_USERS = range(60, 70)
IDLE_USERS = range(70, 90)
BIGBOX_USER = 90
BIGBOX_REPEAT = 5
NUSERS = 91


def client_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Meter:
    """Wall time, server CPU and client CPU over a timed part."""

    def __init__(self, server):
        self.server = server

    def __enter__(self):
        self.t0, self.s0, self.c0 = now(), self.server.cpu(), client_cpu()
        return self

    def __exit__(self, *exc):
        self.wall = now() - self.t0
        self.server_cpu = self.server.cpu() - self.s0
        self.client_cpu = client_cpu() - self.c0
        return False

    def details(self, ops):
        return {"wall_s": round(self.wall, 3),
                "server_cpu_s": round(self.server_cpu, 3),
                "client_cpu_s": round(self.client_cpu, 3),
                "server_cpu_ms_per_op": round(
                    1000 * self.server_cpu / max(ops, 1), 3),
                "client_busy": round(self.client_cpu / max(self.wall, 1e-9),
                                     3),
                "loadavg": round(os.getloadavg()[0], 2)}


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100 * (len(v) - 1)))))
    return v[k]


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.quick = args.quick
        self.work = work
        self.corpus = corpus.Corpus()
        self.pool = self.corpus.pool(60 if self.quick else 400)
        self.small = None
        self.errors = []      # (server, load, text)
        self.seq = 0

    def stamp(self, data):
        self.seq += 1
        return f"X-Bench-Seq: {self.seq}\r\n".encode() + data

    def error(self, server, load, text):
        if len([e for e in self.errors if e[0] == server.name and
                e[1] == load]) < 20:
            self.errors.append((server.name, load, str(text)[:500]))

    async def inject(self, server, per_user, users, pool, conc=10):
        """Preloads mail (not timed): posthorn over SMTP, Dovecot
        directly over LMTP."""
        kind, port = server.inject_target()
        jobs = []
        k = 0
        for u in users:
            for _ in range(per_user):
                jobs.append(([servers.user_of(u)],
                             self.stamp(pool[k % len(pool)])))
                k += 1
        random.Random(k).shuffle(jobs)
        await smtp_blast(port, kind == "lmtp", jobs, conc)

    async def status_sum(self, server, users):
        tot = 0
        for u in users:
            c = await Imap.connect(server.ports["imap"])
            await c.login(servers.user_of(u), servers.password_of(u))
            unt, _ = await c.cmd("STATUS INBOX (MESSAGES)")
            tot += status_messages(unt)
            await c.logout()
        return tot


# -- 1. SMTP inbound, durable -------------------------------------------
async def smtp_load(b, server, rnd, conc, n):
    users = list(SMTP_USERS)
    pollers = []
    for u in users:
        c = await Imap.connect(server.ports["imap"])
        await c.login(servers.user_of(u), servers.password_of(u))
        pollers.append(c)

    async def count():
        res = await asyncio.gather(*(c.cmd("STATUS INBOX (MESSAGES)")
                                     for c in pollers))
        return sum(status_messages(u) for u, _ in res)

    base = await count()
    jobs = [([servers.user_of(users[i % len(users)])],
             b.stamp(b.pool[(i * 7 + rnd) % len(b.pool)]))
            for i in range(n)]
    nbytes = sum(len(d) for _, d in jobs)
    kind, port = server.smtp_target()
    with Meter(server) as m:
        await smtp_blast(port, False, jobs, conc)
        t_accept = now() - m.t0
        deadline = now() + 600
        while True:
            got = await count() - base
            if got >= n or now() > deadline:
                break
            await asyncio.sleep(0.02)
    for c in pollers:
        await c.logout()
    if got != n:
        b.error(server, f"smtp_c{conc}",
                f"{got} of {n} messages readable over IMAP")
    return {f"smtp_durable_c{conc}": n / m.wall,
            f"smtp_accept_c{conc}": n / t_accept,
            "_cpu": dict(m.details(n), messages=n, mbytes=round(nbytes / 1e6,
                                                                1))}


# -- 1b. Outbound relay (issue 3) ----------------------------------------
HEADER_FROM = re.compile(rb"^From: [^\r\n]*\r\n", re.M)


async def relay_load(b, server, sink, rnd, conc, n):
    """n messages for remote.test over conc connections, timed from the
    first MAIL until the sink (the remote instance) has received all n.
    Connection i submits as user SMTP_USERS[i] (MAIL FROM and From: its
    address, as a mail program sends): posthorn on submission after AUTH
    PLAIN, Postfix on port 25 from mynetworks.  The connections are open
    and logged in before the clock starts: the login (a yescrypt hash on
    posthorn, none on Postfix) is not relaying."""
    port, auth = server.relay_target()
    users = [SMTP_USERS[i % len(SMTP_USERS)] for i in range(conc)]
    work = [[] for _ in range(conc)]
    nbytes = 0
    for i in range(n):
        w = i % conc
        frm = f"From: <{servers.user_of(users[w])}>\r\n".encode()
        data = HEADER_FROM.sub(frm, b.pool[(i * 7 + rnd) % len(b.pool)], 1)
        data = b.stamp(data)
        nbytes += len(data)
        work[w].append(([f"r{i % 50}@{servers.REMOTE_DOMAIN}"], data))
    conns = []
    try:
        for w in range(conc):
            c = await Smtp.connect(port)
            conns.append(c)
            if auth:
                await c.auth_plain(servers.user_of(users[w]),
                                   servers.password_of(users[w]))

        async def submit(w):
            for rcpts, data in work[w]:
                await conns[w].send(rcpts, data,
                                    sender=servers.user_of(users[w]))

        base = sink.count()
        with Meter(server) as m:
            await asyncio.gather(*(submit(w) for w in range(conc)))
            t_accept = now() - m.t0
            deadline = now() + (120 if b.quick else 600)
            while True:
                got = sink.count() - base
                if got >= n or now() > deadline:
                    break
                await asyncio.sleep(0.02)
        for c in conns:
            await c.quit()
    finally:
        for c in conns:
            c.w.close()
    if got != n:
        # A late message would count in the next run: say so.
        b.error(server, f"relay_c{conc}",
                f"the sink received {got} of {n} messages")
    return {f"relay_c{conc}": n / m.wall,
            f"relay_accept_c{conc}": n / t_accept,
            "_cpu": dict(m.details(n), messages=n,
                         mbytes=round(nbytes / 1e6, 1),
                         accept_s=round(t_accept, 3))}


# -- 2. IMAP mixed load -------------------------------------------------
FETCH_RE = re.compile(rb"\* (\d+) FETCH")
FETCH_LINE_RE = re.compile(rb"^\* \d+ FETCH \(", re.M)
SIZE_RE = re.compile(rb"RFC822\.SIZE (\d+)")
SUBJ_RE = re.compile(rb"Subject: ([a-z]+)", re.I)


async def imap_client(b, server, user, deadline, logout, lat, counts, rng,
                      load):
    pw = servers.password_of(user)
    addr = servers.user_of(user)

    async def timed(kind, coro):
        t = now()
        r = await coro
        lat.append((kind, (now() - t) * 1000))
        return r

    while now() < deadline:
        c = None
        try:
            c = await Imap.connect(server.ports["imap"])
            await timed("LOGIN", c.login(addr, pw))
            n = await timed("SELECT", c.select())
            if n < 20:
                raise ProtocolError(f"only {n} messages in INBOX")
            lo = n - 19
            u, _ = await timed("FETCH_HDR", c.cmd(
                f"FETCH {lo}:{n} (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER."
                "FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])"))
            sizes, subj = {}, {}
            for line, lits in u:
                m = FETCH_RE.match(line)
                if not m:
                    continue
                s = SIZE_RE.search(line)
                if not s or len(lits) != 1:
                    raise ProtocolError(f"FETCH headers: {line[:120]!r}")
                sizes[int(m.group(1))] = int(s.group(1))
                w = SUBJ_RE.search(lits[0])
                if w:
                    subj[int(m.group(1))] = w.group(1).decode()
            if sorted(sizes) != list(range(lo, n + 1)):
                raise ProtocolError(f"FETCH {lo}:{n} gave {sorted(sizes)}")
            k = 0
            while (not logout and now() < deadline) or (logout and k < 3):
                k += 1
                seq = rng.randint(lo, n)
                u, _ = await timed("FETCH_BODY",
                                   c.cmd(f"FETCH {seq} BODY.PEEK[]"))
                lits = [l for line, ls in u if FETCH_RE.match(line)
                        for l in ls]
                if len(lits) != 1 or len(lits[0]) != sizes[seq]:
                    raise ProtocolError(
                        f"BODY[] of {seq}: {len(lits[0]) if lits else None}"
                        f" bytes, RFC822.SIZE {sizes[seq]}")
                op = "+" if rng.random() < 0.5 else "-"
                u, _ = await timed("STORE",
                                   c.cmd(f"STORE {seq} {op}FLAGS (\\Seen)"))
                fl = [line for line, _ in u if line.startswith(
                    f"* {seq} FETCH".encode())]
                # no FETCH is allowed when the flags did not change
                if fl and ((b"\\Seen" in fl[-1]) != (op == "+")):
                    raise ProtocolError(f"STORE {op}: {u!r}")
                if seq in subj and rng.random() < 0.5:
                    u, _ = await timed("SEARCH", c.cmd(
                        f"SEARCH SUBJECT {subj[seq]}"))
                    if seq not in search_result(u):
                        raise ProtocolError(f"SEARCH SUBJECT {subj[seq]} "
                                            f"misses {seq}")
                else:
                    u, _ = await timed("SEARCH", c.cmd("SEARCH UNSEEN"))
                    if any(x > n or x < 1 for x in search_result(u)):
                        raise ProtocolError("SEARCH UNSEEN out of range")
                t = now()
                await c.idle_start()
                await c.idle_done()
                lat.append(("IDLE", (now() - t) * 1000))
                await timed("NOOP", c.cmd("NOOP"))
            if logout:
                await timed("LOGOUT", c.logout())
            else:
                c.close()
        except (ProtocolError, OSError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, asyncio.TimeoutError) as e:
            counts["errors"] = counts.get("errors", 0) + 1
            b.error(server, load, f"{addr}: {e!r}")
            if c is not None:
                c.close()
            await asyncio.sleep(0.1)


async def imap_mixed(b, server, rnd, logout):
    duration = 8 if b.quick else 30
    clients = 50
    lat, counts = [], {}
    load = "imap_mixed" if logout else "imap_nologout"
    rng = random.Random(rnd)
    with Meter(server) as m:
        deadline = now() + duration
        await asyncio.gather(*(
            imap_client(b, server, IMAP_USERS[i % len(IMAP_USERS)],
                        deadline, logout, lat, counts,
                        random.Random(rng.random()), load)
            for i in range(clients)))
    ncmd = len(lat)
    name = "imap_mixed" if logout else "imap_nologout"
    ms = [x for _, x in lat]
    kinds = {}
    for k, x in lat:
        kinds.setdefault(k, []).append(x)
    per = {k: {"n": len(v), "p50": round(pct(v, 50), 2),
               "p99": round(pct(v, 99), 2)} for k, v in sorted(kinds.items())}
    return {f"{name}_cmds": ncmd / m.wall,
            f"{name}_p50": pct(ms, 50),
            f"{name}_p99": pct(ms, 99),
            "_cpu": dict(m.details(ncmd), errors=counts.get("errors", 0),
                         per_command=per)}


async def imap_preload(b, server):
    per = 25 if b.quick else 60
    await b.inject(server, per, IMAP_USERS, b.pool)


# -- 3. POP3 ------------------------------------------------------------
async def pop3_client(b, server, user, stat):
    addr, pw = servers.user_of(user), servers.password_of(user)
    c = await Pop3.connect(server.ports["pop3"])
    await c.cmd(f"USER {addr}")
    await c.cmd(f"PASS {pw}")
    listing = await c.lines("LIST")
    sizes = {}
    for line in listing:
        a, s = line.split()
        sizes[int(a)] = int(s)
    await c.lines("UIDL")
    for k in sorted(sizes):
        data = await c.retr(k)
        if len(data) != sizes[k]:
            b.error(server, "pop3", f"{addr} RETR {k}: {len(data)} bytes, "
                    f"LIST said {sizes[k]}")
        stat["msgs"] += 1
        stat["bytes"] += len(data)
        await c.cmd(f"DELE {k}")
    await c.cmd("QUIT")
    c.w.close()


async def pop3_load(b, server, rnd):
    per = 20 if b.quick else 150
    await b.inject(server, per, POP3_USERS, b.pool)
    stat = {"msgs": 0, "bytes": 0}
    with Meter(server) as m:
        await asyncio.gather(*(pop3_client(b, server, u, stat)
                               for u in POP3_USERS))
    # every maildrop must be empty now (DELE committed at QUIT)
    for u in POP3_USERS:
        c = await Pop3.connect(server.ports["pop3"])
        await c.cmd(f"USER {servers.user_of(u)}")
        await c.cmd(f"PASS {servers.password_of(u)}")
        st = await c.cmd("STAT")
        if not st.startswith(b"+OK 0 "):
            b.error(server, "pop3", f"after QUIT: STAT {st!r}")
        await c.cmd("QUIT")
        c.w.close()
    exp = per * len(POP3_USERS)
    if stat["msgs"] != exp:
        b.error(server, "pop3", f"downloaded {stat['msgs']} of {exp}")
    return {"pop3_msgs": stat["msgs"] / m.wall,
            "pop3_mb": stat["bytes"] / 1e6 / m.wall,
            "_cpu": m.details(stat["msgs"])}


# -- 4. Idle TLS IMAP connections ----------------------------------------
async def idle_load(b, server, rnd):
    n = b.args.idle
    users = list(IDLE_USERS)
    # memory of the IMAP side only: posthorn, or Dovecot's processes
    memp = (server.dovecot_pids if server.name == "incumbent"
            else server.pids)
    # one warm-up session, so one-time allocations are not counted
    c = await Imap.connect(server.ports["imaps"], tls=True)
    await c.login(servers.user_of(users[0]), servers.password_of(users[0]))
    await c.select()
    await c.logout()
    # posthorn keeps a hashing thread's 16 MiB until it has been idle for
    # a second: let it go before the baseline, as before the second figure
    await asyncio.sleep(2)
    rss0, pss0 = servers.mem_of(memp())
    sessions = [None] * n
    sem = asyncio.Semaphore(64)
    failed = 0

    async def open_one(i):
        nonlocal failed
        u = users[i % len(users)]
        async with sem:
            for attempt in range(3):
                try:
                    c = await Imap.connect(server.ports["imaps"], tls=True,
                                           timeout=120)
                    await c.login(servers.user_of(u), servers.password_of(u))
                    await c.select()
                    await c.idle_start()
                    sessions[i] = c
                    return
                except (ProtocolError, OSError, asyncio.TimeoutError,
                        asyncio.IncompleteReadError) as e:
                    b.error(server, "idle", f"session {i}: {e!r}")
            failed += 1

    t_open = now()
    with Meter(server) as m_open:
        await asyncio.gather(*(open_one(i) for i in range(n)))
    t_open = now() - t_open
    await asyncio.sleep(2)
    rss1, pss1 = servers.mem_of(memp())
    nproc = len(memp())
    live = [(i, c) for i, c in enumerate(sessions) if c is not None]
    lat = []

    async def wait_exists(c):
        while True:
            line, _ = await c.read_response()
            if re.match(rb"\* \d+ EXISTS", line):
                lat.append((now() - t0) * 1000)
                return

    t0 = now()
    waiters = [asyncio.ensure_future(wait_exists(c)) for _, c in live]
    kind, port = server.smtp_target()
    s = await Smtp.connect(port)
    await s.send([servers.user_of(u) for u in users],
                 b.stamp(b.pool[rnd % len(b.pool)]))
    await s.quit()
    done, pending = await asyncio.wait(waiters, timeout=120)
    for p in pending:
        p.cancel()
    if pending:
        b.error(server, "idle", f"{len(pending)} of {len(live)} sessions "
                "got no EXISTS within 120 s")
    for _, c in live:
        c.close()
    await asyncio.sleep(1)
    k = len(live)
    return {"idle_kb_per_conn": (pss1 - pss0) / max(k, 1),
            "idle_rss_kb_per_conn": (rss1 - rss0) / max(k, 1),
            # the whole server with every session open (Dovecot's RSS
            # counts each shared page once per process: PSS is the fair
            # total there)
            "idle_sessions_pss_kb": pss1,
            "idle_sessions_rss_kb": rss1,
            "idle_exists_latency_ms": max(lat) if lat else float("nan"),
            "idle_exists_p50_ms": pct(lat, 50),
            "_cpu": dict(m_open.details(k), sessions=k, failed=failed,
                         open_s=round(t_open, 2), processes=nproc,
                         rss_kb=[rss0, rss1], pss_kb=[pss0, pss1])}


# -- 5. Large mailbox ------------------------------------------------------
def bigbox_pool(b):
    """2,000 small messages; every 1,000th has the subject needle and
    every 500th the body needle, so a mailbox that cycles through the
    pool has exact, known hit counts."""
    if b.small is None:
        c = b.corpus
        b.small = [c.message(i, c.size(median=4000, sigma=0.8, hi=64000),
                             to=servers.user_of(BIGBOX_USER),
                             subject_needle=(i % 1000 == 7),
                             body_needle=(i % 500 == 3))
                   for i in range(2000)]
    return b.small


async def bigbox_fill(b, server):
    n = b.args.bigbox
    pool = bigbox_pool(b)
    addr = servers.user_of(BIGBOX_USER)
    t = now()
    if server.name == "posthorn":
        jobs = [([addr], b.stamp(pool[i % len(pool)])) for i in range(n)]
        await smtp_blast(server.ports["smtp"], False, jobs, 10)
        how = "SMTP, 10 connections"
    else:
        # Dovecot's fastest legitimate path: files written into the
        # Maildir (the format's delivery protocol), then doveadm index
        md = server.maildir(addr)
        pw = servers.pwd.getpwnam(servers.MAIL_USER)
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, d), exist_ok=True)
        for i in range(n):
            data = corpus.unstuff(b.stamp(pool[i % len(pool)]))
            data = data.replace(b"\r\n", b"\n")
            name = os.path.join(md, "cur", f"{1790000000 + i}.M{i}P1.bench,"
                                f"S={len(data)}:2,")
            with open(name, "wb") as f:
                f.write(data)
            os.chown(name, pw.pw_uid, pw.pw_gid)
        for root, dirs, _ in os.walk(os.path.dirname(md)):
            os.chown(root, pw.pw_uid, pw.pw_gid)
        r = server.doveadm("index", "-u", addr, "INBOX")
        if r.returncode != 0:
            raise RuntimeError("doveadm index: " + r.stderr)
        how = "Maildir files + doveadm index"
    return round(now() - t, 1), how


async def quiesce(server, limit=300.0):
    """Waits until the server has used under 2% of a core for two seconds
    in a row (at most limit seconds): work the last round left running,
    such as posthorn's background indexing after a BODY search or
    Dovecot's index updates, is not timed as part of the next round.
    Returns the seconds waited."""
    t0 = now()
    calm = 0
    while now() - t0 < limit and calm < 4:
        c0 = server.cpu()
        await asyncio.sleep(0.5)
        calm = calm + 1 if server.cpu() - c0 < 0.01 else 0
    return round(now() - t0, 1)


async def bigbox_ops(b, server, rnd):
    n = b.args.bigbox
    addr = servers.user_of(BIGBOX_USER)
    waited = await quiesce(server)
    if waited > 2.5:
        print(time.strftime("%H:%M:%S"), f"  {server.name}: waited {waited}"
              " s for the server to go idle", flush=True)
    c = await Imap.connect(server.ports["imap"], timeout=600)
    await c.login(addr, servers.password_of(BIGBOX_USER))
    out = {}

    async def timed(name, text):
        t = now()
        u, _ = await asyncio.wait_for(c.cmd(text), 600)
        out[name] = (now() - t) * 1000
        return u

    # Millisecond figures: the median of REPEAT tries in the session, so
    # that one scheduling hiccup does not make the round's figure; the
    # first SELECT of the round is kept apart (the first of round 1 is
    # the cold one: Dovecot builds its index there).
    sel = []
    for _ in range(BIGBOX_REPEAT):
        t = now()
        exists = await c.select()
        sel.append((now() - t) * 1000)
        if exists != n:
            b.error(server, "bigbox", f"SELECT: {exists} EXISTS, want {n}")
    out["bigbox_first_select_ms"] = sel[0]
    out["bigbox_select_ms"] = statistics.median(sel)
    t = now()
    raw, _ = await asyncio.wait_for(c.cmd_bulk("UID FETCH 1:* (FLAGS)"),
                                    600)
    out["bigbox_fetch_flags_ms"] = (now() - t) * 1000
    got = len(FETCH_LINE_RE.findall(raw))
    if got != n:
        b.error(server, "bigbox", f"UID FETCH 1:* gave {got} of {n}")
    env = []
    for _ in range(BIGBOX_REPEAT):
        u = await timed("bigbox_envelopes_ms",
                        f"FETCH {n - 49}:{n} (ENVELOPE)")
        env.append(out["bigbox_envelopes_ms"])
        got = sum(1 for line, _ in u if FETCH_RE.match(line) and
                  b"ENVELOPE" in line)
        if got != 50:
            b.error(server, "bigbox", f"FETCH ENVELOPE gave {got} of 50")
    out["bigbox_envelopes_ms"] = statistics.median(env)
    u = await timed("bigbox_search_subject_ms",
                    f"SEARCH SUBJECT {corpus.NEEDLE_SUBJECT}")
    want = sum(1 for i in range(n) if i % 2000 % 1000 == 7)
    if len(search_result(u)) != want:
        b.error(server, "bigbox", f"SEARCH SUBJECT: {len(search_result(u))}"
                f" hits, want {want}")
    u = await timed("bigbox_search_body_ms",
                    f"SEARCH BODY {corpus.NEEDLE_BODY}")
    want = sum(1 for i in range(n) if i % 2000 % 500 == 3)
    if len(search_result(u)) != want:
        b.error(server, "bigbox", f"SEARCH BODY: {len(search_result(u))} "
                f"hits, want {want}")
    await c.logout()
    return out


# -- 6. Start-up time and idle memory -------------------------------------
def startup(b, server):
    server.stop()
    t = server.start()
    time.sleep(2)
    rss, pss = server.mem()
    return {"startup_ms": t * 1000, "idle_rss_kb": rss, "idle_pss_kb": pss,
            "_cpu": {"processes": len(server.pids())}}


# -- the machine -----------------------------------------------------------
def fsync_rate(work, seconds):
    path = os.path.join(work, "fsync.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = b"x" * 4096
    n = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < seconds:
            os.write(fd, buf)
            os.fsync(fd)
            n += 1
    finally:
        os.close(fd)
        os.unlink(path)
    return n / (time.monotonic() - t0)

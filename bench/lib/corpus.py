"""
corpus - a generated mail corpus, the same for both servers (fixed seed).

Sizes follow a log-normal distribution with a median of 20 KB, clipped to
1 KB..1 MB: most mail is a few KB of text, some carries an attachment.
Messages above 64 KB are multipart/mixed with a base64 attachment, as
such mail is.  Messages are kept dot-stuffed with CRLF line ends, ready
for SMTP/LMTP DATA.
"""
import base64
import math
import random

NEEDLE_SUBJECT = "quokkasubject"     # only in the subjects of chosen mail
NEEDLE_BODY = "zebrabodyword"         # only in the bodies of chosen mail


def _vocab(rng, n=3000):
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    weights = [12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 6, 4.3, 4, 2.8, 2.8, 2.4, 2.4,
               2, 2, 1.9, 1, 1.5, 2, 0.8, 0.2, 0.1, 0.2, 0.1]
    words = set()
    while len(words) < n:
        k = max(1, min(12, int(rng.gauss(5, 2))))
        words.add("".join(rng.choices(letters, weights, k=k)))
    return sorted(words)


class Corpus:
    def __init__(self, seed=6):
        self.rng = random.Random(seed)
        self.words = _vocab(self.rng)

    def size(self, median=20000, sigma=1.0, lo=1000, hi=1000000):
        s = int(math.exp(self.rng.gauss(math.log(median), sigma)))
        return max(lo, min(hi, s))

    def text(self, nbytes, needle=None):
        rng, words = self.rng, self.words
        lines, n = [], 0
        while n < nbytes:
            line = " ".join(rng.choices(words, k=rng.randint(8, 13)))
            if rng.random() < 0.02:
                line = "." + line      # exercises dot-stuffing
            lines.append(line)
            n += len(line) + 2
        if needle:
            i = rng.randrange(len(lines))
            lines[i] = lines[i] + " " + needle
        return lines

    def message(self, i, size, to="user@example.test", subject_needle=False,
                body_needle=False):
        rng = self.rng
        size = max(size, 600)
        subj = " ".join(rng.choices(self.words, k=rng.randint(3, 8)))
        if subject_needle:
            subj += " " + NEEDLE_SUBJECT
        head = [
            f"From: Sender {i % 97} <sender{i % 97}@remote.example>",
            f"To: <{to}>",
            f"Subject: {subj}",
            f"Date: Mon, 2 Nov 2026 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
            f"{i % 60:02d} +0000",
            f"Message-ID: <bench.{i}.{rng.getrandbits(48):x}@remote.example>",
            "MIME-Version: 1.0",
        ]
        needle = NEEDLE_BODY if body_needle else None
        if size <= 64000:
            head.append("Content-Type: text/plain; charset=utf-8")
            body = self.text(size - 300, needle)
        else:
            b = "bnd" + format(rng.getrandbits(64), "x")
            head.append(f'Content-Type: multipart/mixed; boundary="{b}"')
            body = ["This is a multi-part message in MIME format.", "",
                    f"--{b}", "Content-Type: text/plain; charset=utf-8", ""]
            body += self.text(min(8000, size // 10), needle)
            raw = rng.randbytes(int((size - 9000) * 0.74))
            enc = base64.b64encode(raw).decode()
            body += ["", f"--{b}",
                     "Content-Type: application/octet-stream; name=a.bin",
                     "Content-Transfer-Encoding: base64",
                     "Content-Disposition: attachment; filename=a.bin", ""]
            body += [enc[k:k + 76] for k in range(0, len(enc), 76)]
            body += [f"--{b}--"]
        lines = head + [""] + body
        stuffed = [("." + l) if l.startswith(".") else l for l in lines]
        return ("\r\n".join(stuffed) + "\r\n").encode()

    def pool(self, n, **kw):
        """n messages of realistic sizes."""
        return [self.message(i, self.size(**kw)) for i in range(n)]


def unstuff(data):
    """The message as stored: dot-stuffing removed."""
    return b"\r\n".join(l[1:] if l.startswith(b".") else l
                        for l in data.split(b"\r\n"))

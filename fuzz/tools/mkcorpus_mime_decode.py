#!/usr/bin/env python3
"""mkcorpus_mime_decode.py - (re)write fuzz/corpus/mime_decode/.

    fuzz/tools/mkcorpus_mime_decode.py

Seeds for fuzz_mime_decode.c: a control byte (0x00 = one chunk, other
values cut the input; see fuzz_common.h), a selector byte (low 3 bits: what
to run, high 5 bits: the variant), then the data.  The data are RFC
examples (2045 6.7, 2047 section 8, 2231, 5256 2.1), text in each charset
the harness knows, real-world messages and the hostile classics (unclosed
markup, runs of "=?", invalid UTF-8).  The directory is replaced.
"""
import base64
import os
import shutil

FUZZ = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(FUZZ, "corpus", "mime_decode")

# Must match the order of charsets[] in fuzz_mime_decode.c.
CHARSETS = [
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-8859-15",
    "koi8-r", "shift_jis", "iso-2022-jp", "gb2312", "euc-kr", "big5",
    "utf-16", "utf-7", "x-unknown", "euc-jp", "utf-32", "iso-2022-kr",
    "cp1255", "tcvn", "gb18030", "iso-2022-cn-ext",
]

SAMPLE = {
    "utf-8": "Grüße, Привет, 日本語, 😀",
    "us-ascii": "plain ASCII text\r\n",
    "iso-8859-1": "café crème brûlée",
    "windows-1252": "“quoted” – 5 €",
    "iso-8859-15": "5 € œuvre",
    "koi8-r": "Привет, мир",
    "shift_jis": "日本語のテキスト",
    "iso-2022-jp": "日本語のテキスト",
    "gb2312": "中文文本",
    "euc-kr": "한국어 텍스트",
    "big5": "繁體中文",
    "utf-16": "UTF-16 text 😀",
    "utf-7": "Hi Mom -☺-!",
    "euc-jp": "日本語",
    "utf-32": "UTF-32 ω",
    "iso-2022-kr": "한국어",
    "cp1255": "שלום",
    "gb18030": "中文 €",
}


def b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def seed(sel, variant, data, control=0):
    return bytes([control, (sel & 7) | (variant << 3)]) + b(data)


def main():
    seeds = []

    # 0: transfer encodings (3 = QP, 4 = base64, 5 = unknown).
    qp = [
        "Now's the time =\r\nfor all folk to come=\r\n to the aid of "
        "their country.",
        "foo  \r\nbar=\n=0A=0D  ",
        "foo=Ax=xy =FJ=X1 a\rb c=\rd caf=C3=A9",
        " " * 300 + "x\r\n" + "\t" * 10 + "\r\n=",
        "=E3=81=93=E3=82=8C=E3=81=AF=E5=A2=\r\n=83",
    ]
    for i, t in enumerate(qp):
        seeds.append(("qp_%d" % i, seed(0, 3, t)))
        seeds.append(("qp_%d_chunked" % i, seed(0, 3, t, control=0x11)))
    b64 = [
        "SGVsbG8gd29ybGQ=",
        "SGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n",
        "SGV*sbG8=\r\nAAAA",
        "QUJDR",
    ]
    for i, t in enumerate(b64):
        seeds.append(("base64_%d" % i, seed(0, 4, t, control=0x02)))
    seeds.append(("uuencode", seed(0, 5, "begin 644 x\n`\nend\n")))

    # 1: charsets.
    for i, cs in enumerate(CHARSETS):
        if cs in SAMPLE:
            data = SAMPLE[cs].encode(cs)
        elif cs == "tcvn":
            data = b"Vi\xd6t Nam a\xb0"
        elif cs == "iso-2022-cn-ext":
            data = b"\x1b$)A\x0e\x56\x50\x0f abc"
        else:
            data = b"caf\xc3\xa9"
        seeds.append(("charset_" + cs, seed(1, i, data)))
        seeds.append(("charset_%s_chunked" % cs, seed(1, i, data, 0x03)))
    seeds.append(("charset_sjis_bad", seed(1, 6, b"a\x93\xfa\x81\xff\x93")))
    seeds.append(("charset_2022_bad",
                  seed(1, 7, b"\x1b$BF|\x1b(B\x1b$\x1b(Jx\x1b")))

    # 2: header values and subjects.
    headers = [
        "=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
        "=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
        "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
        "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)",
        "Nathaniel Borenstein <nsb@thumper.bellcore.com> "
        "(=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
        "=?US-ASCII*EN?Q?Keith_Moore?=",
        "=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?= foo=?x?q?y?=bar =?utf-8?q?",
        "Re: [list] Fwd: hello (fwd)",
        "[Fwd: Re: hello (fwd)]",
        "[a][b] Re [c]: x",
        "=?utf-8?q?Re:_caf=C3=A9?=\t\t(FWD)",
        "[fwd: [fwd: [fwd: x]]]",
        "=?" * 50,
    ]
    for i, t in enumerate(headers):
        seeds.append(("header_%d" % i, seed(2, 0, t)))

    # 3: matching (variant = needle length).
    matches = [
        ("WORLD", "Hello World"),
        ("école", "xxÉCOLEyy"),
        ("привет", "ПРИВЕТ мир"),
        ("σσευς", "ΟΔΥΣΣΕΥΣ"),
        ("aaab", "aaaaaaaaab"),
        ("300k", "Temperature 300\u212a"),
        ("", "anything"),
    ]
    for i, (n, h) in enumerate(matches):
        nb = b(n)
        seeds.append(("match_%d" % i,
                      seed(3, len(nb), nb + b(h), control=0x01)))
    seeds.append(("match_invalid", seed(3, 3, b"a\xffba\xffb\xe2\x82")))

    # 4: messages (first data byte: bound and walk flags).
    alt = (
        "From: a@example.org\r\nSubject: test\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
        "--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Caf=E9 cr=E8me=\r\n br=FBl=E9e\r\n> quoted\r\n"
        "--b1\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" +
        base64.b64encode("<p>Café <b>crème</b></p>".encode()).decode() +
        "\r\n--b1--\r\n")
    mixed = (
        "Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
        "--outer\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
        "--in\r\nContent-Type: text/html\r\n\r\n<p>only &amp; html</p>\r\n"
        "--in--\r\n--outer\r\nContent-Type: text/plain; name=n.txt\r\n"
        "Content-Disposition: attachment\r\n\r\nattached\r\n"
        "--outer\r\nContent-Type: message/rfc822\r\n\r\n"
        "Subject: inner\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n")
    mixed = b(mixed) + "Привет".encode("koi8-r") + b"\r\n--outer--\r\n"
    html = (
        "Content-Type: text/html; charset=windows-1252\r\n\r\n"
        "<html><head><title>T</title><style>p{}</style></head><body>"
        "<p>Hello&nbsp;<b>World</b> &lt;you&gt; &#233; &#x20AC;</p>"
        "<script>x<y</script><!-- c --><div>Next</div>")
    html = b(html) + b"\x93quoted\x94</body></html>"
    plain = "Subject: x\r\n\r\n  Hello,\r\n\r\n  this   is\ta test.  \r\n"
    seeds.append(("msg_alt", seed(4, 0, bytes([0x0f]) + b(alt))))
    seeds.append(("msg_alt_cut", seed(4, 0, bytes([0x01]) + b(alt))))
    seeds.append(("msg_mixed", seed(4, 0, bytes([0x3f]) + mixed)))
    seeds.append(("msg_html", seed(4, 0, bytes([0x07]) + html)))
    seeds.append(("msg_plain", seed(4, 0, bytes([0x02]) + b(plain))))

    # 5: parameters, after "Content-Type: text/plain;".
    params = [
        " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
        " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
        " name*=UTF-8''%E2%82%AC%20rates.pdf",
        " filename=\"=?UTF-8?B?w6kudHh0?=\"",
        " name*1=\"b\"; name*0=\"a\"; name*0=z; name*999=q",
        " filename*0*=koi8-r''%F0%D2; filename*1*=%C9; filename=x",
    ]
    for i, t in enumerate(params):
        seeds.append(("param_%d" % i, seed(5, 0, t)))

    # 6: HTML bodies.
    htmls = [
        "<!-- <p>hidden</p> -->A<a href=\"x>y\" title='q>'>B</a> "
        "&bogus; &amp &#150; &#0; 1 < 2<br/>C<!DOCTYPE x><?xml y?>D",
        "<script>if (a</b) x='</script'; </SCRIPT >after",
        "<table><tr><td>a</td><td>b</td></tr></table>&#65&#x42;&eacute;",
        "<p>unclosed <!-- comment",
    ]
    for i, t in enumerate(htmls):
        seeds.append(("html_%d" % i, seed(6, 0, t, control=0x04)))

    # 7: UTF-8 repair.
    seeds.append(("utf8_bad", seed(7, 0, b"a\x80\x80b\xc3\xe2\x82\xe2\x82"
                                         b"\xac\xed\xa0\x80\xf4\x90\x80\x80"
                                         b"\xc0\xaf\xef\xbf\xbd",
                                   control=0x01)))
    seeds.append(("utf8_good", seed(7, 0, "Grüße 日本 😀")))

    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, data in seeds:
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()

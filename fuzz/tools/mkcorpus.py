#!/usr/bin/env python3
"""mkcorpus.py - (re)write the committed seed corpora under fuzz/corpus/.

    fuzz/tools/mkcorpus.py

Every seed is small and realistic: RFC examples, what real clients send,
and a few hostile classics.  Targets whose harness reads a control byte
first (smtp_data, mime) get it prepended here (0x00 = one chunk).  The
mime seeds include every tests/golden/mime/*.eml; the mime_deserialize
seeds are the serialized trees of those messages and of the extra messages
below, written by fuzz/build/mime_serial_seeds (built on demand).
Existing seed directories are replaced; fuzz/regressions/ is not touched.
"""
import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import sys
import tempfile

FUZZ = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(FUZZ)
CORPUS = os.path.join(FUZZ, "corpus")


def b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(b(data))


# --------------------------------------------------------------- SMTP
SMTP_CMD = [
    ("ehlo", "EHLO mail.example.org"),
    ("helo_literal", "HELO [192.0.2.1]"),
    ("ehlo_ipv6", "EHLO [IPv6:2001:db8::1]"),
    ("helo_lower", "helo Client.Example.COM"),
    ("mail_simple", "MAIL FROM:<alice@example.org>"),
    ("mail_null", "MAIL FROM:<> SIZE=1024 BODY=8BITMIME"),
    ("mail_route", "MAIL FROM:<@a.example,@b.example:user@c.example>"),
    ("mail_quoted", 'MAIL FROM:<"john smith"@example.com> RET=HDRS '
     "ENVID=QQ314159"),
    ("mail_utf8", "MAIL FROM:<用户@例子.广告> SMTPUTF8"),
    ("mail_binary", "MAIL FROM:<bob@example.org> BODY=BINARYMIME SMTPUTF8 "
     "REQUIRETLS"),
    ("mail_envid_xtext", "MAIL FROM:<a@b.example> ENVID=a+2Bb+3Dc RET=FULL"),
    ("rcpt_postmaster", "RCPT TO:<Postmaster>"),
    ("rcpt_dsn", "RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE "
     "ORCPT=rfc822;bob+2Bx@example.com"),
    ("rcpt_percent", "RCPT TO:<user%other@local.example>"),
    ("rcpt_bang", "RCPT TO:<host!user@example.net> NOTIFY=NEVER"),
    ("rcpt_space", "rcpt to: <a@b.example>"),
    ("rcpt_literal", "RCPT TO:<root@[IPv6:2001:db8::25]> NOTIFY=DELAY"),
    ("rcpt_orcpt_utf8", "RCPT TO:<ü@example.de> ORCPT=utf-8;\\x{FC}@example.de"),
    ("simple_verbs", "DATA\r\nRSET\r\nNOOP\r\nQUIT\r\nHELP\r\nSTARTTLS\r\n"),
    ("vrfy_expn", "VRFY postmaster\r\nEXPN staff-list\r\n"),
    ("auth", "AUTH PLAIN AHVzZXIAcGFzcw==\r\nAUTH LOGIN\r\n"),
    ("bdat", "BDAT 1000 LAST\r\nBDAT 0\r\n"),
    ("rfc5321_d1",
     "EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\n"
     "RCPT TO:<Jones@foo.com>\r\nRCPT TO:<Green@foo.com>\r\n"
     "RCPT TO:<Brown@foo.com>\r\nDATA\r\nQUIT\r\n"),
    ("pipelined", "EHLO x.example\nMAIL FROM:<a@x.example> SIZE=10\n"
     "RCPT TO:<b@y.example>\nDATA\n"),
    ("size_overflow", "MAIL FROM:<a@b.example> SIZE=99999999999999999999999"),
    ("param_dup", "MAIL FROM:<a@b.example> SIZE=1 size=2"),
    ("no_brackets", "MAIL FROM:a@b.example"),
    ("nul_byte", b"MAIL FROM:<a\x00b@c.example>"),
    ("bad_utf8", b"MAIL FROM:<\xc0\xaf@example.org> SMTPUTF8"),
    ("long_local", "RCPT TO:<" + "x" * 70 + "@example.org>"),
    ("trailing_dot", "EHLO example.org.\r\nHELO _\r\n"),
    ("quoted_escape", 'RCPT TO:<"a\\"b\\\\c"@example.org>'),
    ("tab", "MAIL\tFROM:<a@b.example>\t \r\n"),
]

SMTP_DATA_BODIES = [
    ("simple", "Subject: hi\r\n\r\nHello\r\n.\r\n"),
    ("stuffed", "From: a@b.example\r\n\r\n..leading dot\r\n...two\r\n.\r\n"),
    ("empty", ".\r\n"),
    ("pipelined", "body\r\n.\r\nQUIT\r\n"),
    ("bare_lf", "line one\nline two\n.\n.\r\n\r\n.\r\n"),
    ("smuggle_lf", "a\r\n\n.\nMAIL FROM:<x@y.example>\r\n.\r\n"),
    ("smuggle_cr", "a\r.\rb\r\n.\r\n"),
    ("smuggle_mixed", "x\r\n.\nRCPT TO:<evil@z.example>\n.\r\nrest"),
    ("dot_cr", "x\r\n.\rhidden\r\n.\r\n"),
    ("eight_bit", b"Subject: caf\xc3\xa9\r\n\r\n\x00nul\xff\r\n.\r\n"),
    ("unterminated", "no end of data here\r\n."),
    ("long_line", "x" * 1200 + "\r\n.\r\n"),
    ("crlf_dot_only", "\r\n.\r\n"),
    ("dot_dot", "..\r\n.\r\n"),
]


def smtp_data():
    out = []
    controls = [0x00, 0x01, 0x02, 0x05, 0x07]
    for i, (name, body) in enumerate(SMTP_DATA_BODIES):
        out.append((name, bytes([0]) + b(body)))
        c = controls[(i % (len(controls) - 1)) + 1] | ((i * 8) & 0xf8)
        out.append((name + "_chunked", bytes([c]) + b(body)))
    return out


# --------------------------------------------------------------- IMAP
IMAP_CMD = [
    ("capability", "a001 CAPABILITY"),
    ("login", "a002 LOGIN joe secret"),
    ("login_literal", "a003 LOGIN {3}\r\njoe {6+}\r\nsecret"),
    ("select", 'A142 SELECT INBOX\r\na EXAMINE "Sent Items"'),
    ("list", 'a LIST "" "*"\r\na LIST "" %'),
    ("list_ext", 'a LIST (SUBSCRIBED) "" ("INBOX" "Drafts") RETURN (CHILDREN)'),
    ("status", "a STATUS INBOX (MESSAGES UNSEEN UIDNEXT HIGHESTMODSEQ)"),
    ("fetch_fields", "a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To "
     "Subject)])"),
    ("uid_fetch", "a UID FETCH 100:200 (UID RFC822.SIZE BODY[1.2.MIME] "
     "BODY[]<0.2048>)"),
    ("fetch_binary", "a FETCH 2 (BINARY.PEEK[1]<0.100> BINARY.SIZE[2])"),
    ("fetch_macros", "a FETCH 1 ALL\r\nb FETCH 1 FULL\r\nc FETCH 2:4 FAST"),
    ("fetch_structure", "a FETCH 1,3:5,7:* (BODYSTRUCTURE ENVELOPE "
     "INTERNALDATE)"),
    ("fetch_not", 'a FETCH $ (BODY[HEADER.FIELDS.NOT ("Received" X-Spam)] '
     "MODSEQ RFC822.HEADER RFC822.TEXT)"),
    ("fetch_text", "a FETCH 5 (BODY[3.TEXT] BODY.PEEK[3.HEADER] RFC822)"),
    ("store", "a STORE 1:3 +FLAGS.SILENT (\\Deleted \\Seen)"),
    ("uid_store", "a UID STORE 5 FLAGS (\\Answered $Forwarded)"),
    ("copy_move", 'a COPY 1:2 "Archive"\r\nb UID MOVE 1:* Trash'),
    ("search", 'a SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'),
    ("search_return", "a SEARCH RETURN (MIN MAX COUNT) CHARSET UTF-8 OR "
     "BODY {4}\r\ntest SUBJECT hello"),
    ("uid_search", "a UID SEARCH UID 1:100 LARGER 1024 SMALLER 100000 "
     "HEADER X-Spam yes"),
    ("search_modseq", 'a SEARCH (OR SEEN DELETED) NOT (KEYWORD $Junk) '
     'MODSEQ "/flags/\\\\draft" all 620162338'),
    ("search_dates", 'a SEARCH YOUNGER 3600 OLDER 60 SENTON 2-Jul-2003 '
     'ON 01-Jan-2000 BEFORE "3-Mar-2003" SENTSINCE 1-Jan-1990'),
    ("search_save", "a SEARCH RETURN (SAVE) UNSEEN\r\nb FETCH $ FLAGS\r\n"
     "c SEARCH $ NEW OLD RECENT ANSWERED UNDRAFT"),
    ("sort_thread", "a SORT (DATE REVERSE SUBJECT) UTF-8 ALL\r\n"
     "b THREAD REFERENCES UTF-8 SUBJECT x"),
    ("append", 'a APPEND INBOX (\\Seen) "17-Jul-1996 02:44:25 -0700" '
     "{11}\r\nHello world"),
    ("append_binary", b"a APPEND Drafts ~{5+}\r\nab\x00cd"),
    ("idle", "a IDLE\r\nDONE"),
    ("authenticate", "a AUTHENTICATE PLAIN AHVzZXIAcGFzcw=="),
    ("enable", "a ENABLE CONDSTORE UTF8=ACCEPT QRESYNC"),
    ("mailbox_ops", 'a CREATE "&ZeVnLIqe-/Sub"\r\nb RENAME old new\r\n'
     "c DELETE x\r\nd SUBSCRIBE INBOX"),
    ("noop_logout", "a NOOP\r\nb CHECK\r\nc CLOSE\r\nd EXPUNGE\r\ne LOGOUT"),
    ("uid_expunge", "a UID EXPUNGE 3:5,9"),
    ("nested", "a X ((((((((((((((((((((x))))))))))))))))))))"),
    ("unclosed", "a FETCH 1 (BODY["),
    ("huge_literal", "a LOGIN {99999999999999999999}"),
    ("empty_literal_marker", "a LOGIN {}"),
    ("literal_lf", "a LOGIN {3}\njoe pass"),
    ("quoted_escapes", 'a LOGIN "jo\\"e" "p\\\\ss"'),
    ("utf8_quoted", 'a SELECT "Entwürfe"'),
    ("no_tag", " FETCH 1 FLAGS\r\n*\r\n+ x"),
    ("partial_big", "a FETCH 1 BODY[]<9223372036854775807.1>"),
]

IMAP_SEQSET = [
    ("one", "1"), ("all", "1:*"), ("star", "*"), ("star_range", "*:5"),
    ("mixed", "1,3:5,7:*"), ("searchres", "$"), ("max", "4294967295"),
    ("overlap", "2:4,3:6,10"), ("adjacent", "1:1,2:2,3:3"),
    ("reversed", "5:1"), ("zero", "0"), ("leading_zero", "01"),
    ("empty_elem", "1,,2"), ("overflow", "1:4294967296"),
    ("star_star", "*:*"), ("two_stars", "5:*,*:10"),
    ("long", ",".join(str(i * 3) for i in range(1, 60))),
    ("trailing_comma", "1,2,"), ("space", "1, 2"), ("dollar_list", "$,1"),
    ("bin_values", b"1:10\x00" + (5).to_bytes(4, "little") +
     (1).to_bytes(4, "little") + (7).to_bytes(4, "little") +
     (0xffffffff).to_bytes(4, "little")),
    ("bin_array", b"3\x00" + b"".join(v.to_bytes(4, "little") for v in
                                        (1, 2, 3, 10, 9, 9, 100, 4294967295))),
]

IMAP_UTF7 = [
    ("inbox", "INBOX"), ("amp", "&-"), ("entwuerfe7", "Entw&APw-rfe"),
    ("japanese7", "&ZeVnLIqe-"), ("rfc3501", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("space", "Sent Items"), ("two_runs", "&AMk-t&AOk-"),
    ("surrogates7", "&2D3eAQ-"), ("split_run", "&AMk-&AMk-"),
    ("amp_text", "Tom &- Jerry"), ("hierarchy", "a/b/c"),
    ("dots", "INBOX.Sub.Deeper"), ("dotdot", "../x"), ("trailing", "Drafts/"),
    ("lone_amp", "&"), ("nul7", "&AAA-"), ("unclosed", "&AMk"),
    ("padding", "&AMkA-"), ("lower_inbox", "inbox/Sub"),
    ("entwuerfe8", "Entwürfe"), ("japanese8", "日本語"), ("emoji", "😀/Fun"),
    ("bad_utf8", b"\xc3\x28"), ("surrogate8", b"\xed\xa0\x80"),
    ("overlong", b"\xc0\xaf"), ("above_max", b"\xf4\x90\x80\x80"),
    ("control", "a\tb"), ("del", "a\x7fb"),
    ("deep", "/".join("l%d" % i for i in range(18))),
    ("long_name", "n" * 260),
]

IMAP_DATE = [
    ("date", "1-Feb-1994"), ("date2", "01-Feb-1994"),
    ("date_quoted", '"29-Feb-2000"'), ("not_leap", "29-Feb-1900"),
    ("datetime", "17-Jul-1996 02:44:25 -0700"),
    ("datetime_sp", " 7-Jul-1996 02:44:25 +0000"),
    ("datetime_max", '"31-Dec-9999 23:59:59 -2359"'),
    ("datetime_min", "01-Jan-0001 00:00:00 +2359"),
    ("leap_second", "30-Jun-2012 23:59:60 +0000"),
    ("rfc5322", "Tue, 1 Jul 2003 10:52:37 +0200"),
    ("rfc5322_obs", "1 Jul 03 10:52 EST"),
    ("rfc5322_neg", "Thu, 13 Feb 1969 23:32:54 -0330"),
    ("rfc5322_a1", "Fri, 21 Nov 1997 09:55:06 -0600"),
    ("rfc5322_comment", "Mon, 24 Nov 1997 14:22:01 -0800 (PST)"),
    ("rfc5322_gmt", "21 Nov 97 09:55:06 GMT"),
    ("rfc5322_military", "Tue, 1 Jul 2003 10:52:37 z"),
    ("rfc5322_junk", "Wed, 17 Jul 1996 02:44:25 -0700 (PDT) junk"),
    ("rfc5322_folded", "Thu,\r\n 13\r\n Feb\r\n 1969 23:32\r\n -0330 "
     "(Newfoundland Time)"),
    ("rfc5322_3digit", "Sat, 1 Jan 101 00:00:00 +0000"),
    ("rfc5322_nozone", "2 Jan 2006 15:04:05"),
    ("bad_month", "1-Foo-1994"), ("bad_day", "32-Jan-2000"),
    ("year0", "1-Jan-0000"), ("nul", b"1-Feb-\x001994"),
    ("tz_big", "17-Jul-1996 02:44:25 +2400"),
]

# --------------------------------------------------------------- MIME
MIME_EXTRA = {
    "rfc2046_multipart": (
        "From: Nathaniel Borenstein <nsb@bellcore.com>\r\n"
        "To: Ned Freed <ned@innosoft.com>\r\n"
        "Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)\r\n"
        "Subject: Sample message\r\nMIME-Version: 1.0\r\n"
        "Content-type: multipart/mixed; boundary=\"simple boundary\"\r\n\r\n"
        "This is the preamble.\r\n--simple boundary\r\n\r\n"
        "This is implicitly typed plain US-ASCII text.\r\n"
        "--simple boundary\r\nContent-type: text/plain; charset=us-ascii\r\n"
        "\r\nThis is explicitly typed plain US-ASCII text.\r\n"
        "--simple boundary--\r\n\r\nThis is the epilogue.\r\n"),
    "rfc2231_params": (
        "From: a@example.org\r\nMIME-Version: 1.0\r\n"
        "Content-Type: application/x-stuff;\r\n"
        " title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
        " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"\r\n"
        "Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9.txt\r\n"
        "Content-Language: en, de\r\nContent-ID: <part1@example.org>\r\n"
        "Content-Description: =?utf-8?q?caf=C3=A9?=\r\n"
        "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
        "Content-Location: http://example.org/x\r\n\r\nbody\r\n"),
    "message_global": (
        "From: =?utf-8?b?w6k=?= <ü@example.de>\r\nTo: group: a@b.c, d@e.f;\r\n"
        "MIME-Version: 1.0\r\nContent-Type: message/global\r\n\r\n"
        "From: x@y.example\r\nSubject: inner\r\n\r\ninner body\r\n"),
    "nested_digest": (
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
        "--a\r\nContent-Type: multipart/digest; boundary=b\r\n\r\n"
        "--b\r\n\r\nFrom: one@x.example\r\n\r\nfirst\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n"
        "--a\r\nContent-Type: image/png\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--a--\r\n"),
    "header_folding": (
        "Subject: a very\r\n long\r\n\tfolded subject\r\n"
        "From:    \"Doe, John\" <jd@example.com>  \r\n"
        "Reply-To: <>\r\nCc: undisclosed-recipients:;\r\n"
        "In-Reply-To: <a@b> <c@d>\r\nMessage-ID: <id@host>\r\n"
        "Content-Type: TEXT/Plain; CHARSET=\"UTF-8\"; format=flowed\r\n\r\n"
        "x\r\n"),
    "boundary_prefix": (
        "Content-Type: multipart/mixed; boundary=\"ab\"\r\n\r\n"
        "--ab\r\nContent-Type: multipart/alternative; boundary=\"abc\"\r\n\r\n"
        "--abc\r\n\r\ninner\r\n--ab\r\n\r\nouter closes inner\r\n--ab--\r\n"),
}


def mime():
    out = []
    golden = os.path.join(ROOT, "tests", "golden", "mime")
    ctl = [0x00, 0x01, 0x05, 0x06, 0x43, 0x87, 0xc2, 0x0c, 0x14]
    names = sorted(f for f in os.listdir(golden) if f.endswith(".eml"))
    for i, f in enumerate(names):
        with open(os.path.join(golden, f), "rb") as fp:
            msg = fp.read()
        base = f[:-4]
        out.append((base, bytes([0]) + msg))
        out.append((base + "_chunked", bytes([ctl[1 + i % (len(ctl) - 1)]]) +
                    msg))
    for i, (name, msg) in enumerate(sorted(MIME_EXTRA.items())):
        out.append((name, bytes([0]) + b(msg)))
        out.append((name + "_limits", bytes([0xc0 | (i % 8)]) + b(msg)))
    return out


def mime_deserialize():
    """Serialized trees of the golden and the extra messages."""
    subprocess.run(["make", "-s", "-C", FUZZ, "build/mime_serial_seeds"],
                   check=True)
    d = os.path.join(CORPUS, "mime_deserialize")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    golden = os.path.join(ROOT, "tests", "golden", "mime")
    files = [os.path.join(golden, f) for f in sorted(os.listdir(golden))
             if f.endswith(".eml")]
    with tempfile.TemporaryDirectory() as tmp:
        for name, msg in MIME_EXTRA.items():
            p = os.path.join(tmp, name + ".eml")
            with open(p, "wb") as f:
                f.write(b(msg))
            files.append(p)
        subprocess.run([os.path.join(FUZZ, "build", "mime_serial_seeds"), d]
                       + files, check=True)
    # Two damaged blobs: a wrong checksum and a truncation.
    with open(os.path.join(d, "simple.phm"), "rb") as f:
        blob = f.read()
    with open(os.path.join(d, "bad_crc.phm"), "wb") as f:
        f.write(blob[:-1] + bytes([blob[-1] ^ 1]))
    with open(os.path.join(d, "truncated.phm"), "wb") as f:
        f.write(blob[:len(blob) // 2])


MIME_ADDR = [
    ("rfc5322_a1_1", "Joe Q. Public <john.q.public@example.com>"),
    ("rfc5322_a1_2", "Mary Smith <mary@x.test>, jdoe@example.org, "
     "Who? <one@y.test>"),
    ("rfc5322_a1_2b", '<boss@nil.test>, "Giant; \\"Big\\" Box" '
     "<sysservices@example.net>"),
    ("rfc5322_group", "A Group:Ed Jones <c@a.test>,joe@where.test,"
     "John <jdoe@one.test>;"),
    ("undisclosed", "Undisclosed recipients:;"),
    ("rfc5322_a5", "Pete(A nice \\) chap) <pete(his account)@silly.test"
     "(his host)>"),
    ("route", "<@node.test,@relay.test:mary@example.net>"),
    ("obs_spaces", "jdoe@machine(comment).  example"),
    ("obs_a6", '"Joe & J. Harvey" <ddd @Org>, JJV @ BBN'),
    ("encoded_word", "=?utf-8?q?J=C3=B6rg?= <joerg@example.de>"),
    ("domain_literal", "user@[192.0.2.1], x@[IPv6:2001:db8::1]"),
    ("lone_at", "@"), ("empty_angle", "<>"), ("no_domain", "a@"),
    ("unterminated_quote", '"unterminated <a@b.c>'),
    ("open_group", "Group: a@b.c, d@e.f"), ("comment_only", "(comment only)"),
    ("bare_word", "postmaster"), ("utf8", "Müller <müller@bücher.example>"),
    ("trailing_comment", "a@b.example (Alice)"),
    ("two_groups", "g1: a@b.c; g2: ; x@y.z"),
    ("nul", b"a\x00b@c.example"),
    ("many_commas", ",,,a@b.c,,,"),
    ("nested_comments", "a@b.c ((nested (comment)))"),
    ("crlf", "A <a@b.c>,\r\n B <b@c.d>"),
]

# --------------------------------------------------------------- SASL


def scram_seeds():
    """A complete SCRAM-SHA-256 exchange for the harness's fixed account
    ("user", "pencil", salt "fuzz-salt-16byte", 4096 iterations) and server
    nonce "fuzznonce", plus a few broken ones."""
    cnonce = "rOprNGfwEbeRWgbNEkqO"
    first_bare = "n=user,r=" + cnonce
    salt = b"fuzz-salt-16byte"
    server_first = ("r=%sfuzznonce,s=%s,i=4096" %
                    (cnonce, base64.b64encode(salt).decode()))
    final_wo = "c=biws,r=%sfuzznonce" % cnonce
    auth = ",".join([first_bare, server_first, final_wo]).encode()
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    ckey = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(ckey).digest()
    sig = hmac.new(stored, auth, hashlib.sha256).digest()
    proof = bytes(x ^ y for x, y in zip(ckey, sig))
    final = final_wo + ",p=" + base64.b64encode(proof).decode()

    def e(s):
        return base64.b64encode(s.encode()).decode()
    return [
        ("scram_full", "SCRAM-SHA-256 %s\r\n%s\r\n\r\n" %
         (e("n,," + first_bare), e(final))),
        ("scram_no_ir", "SCRAM-SHA-256\r\n%s\r\n%s\r\n=\r\n" %
         (e("n,," + first_bare), e(final))),
        ("scram_unknown_user", "SCRAM-SHA-256 %s\r\n%s\r\n" %
         (e("n,,n=bob,r=abc"), e("c=biws,r=abcfuzznonce,p=" +
                                base64.b64encode(b"x" * 32).decode()))),
        ("scram_authzid", "SCRAM-SHA-256 %s\r\n" %
         e("n,a=admin,n=us=2Cer=3D,r=xyz,ext=1")),
        ("scram_cbind", "SCRAM-SHA-256 %s\r\n" % e("p=tls-unique,,n=user,r=x")),
        ("scram_y", "scram-sha-256 %s\r\n*\r\n" % e("y,,n=user,r=q")),
    ]


SASL = [
    ("plain_ir", "PLAIN AHVzZXIAcGFzcw=="),
    ("plain_no_ir", "PLAIN\r\nAHVzZXIAcGFzcw==\r\n"),
    ("plain_empty_ir", "PLAIN =\r\nAHVzZXIAcGFzcw==\r\n"),
    ("plain_cancel", "PLAIN\r\n*\r\n"),
    ("plain_authzid", "plain YWRtaW4AdXNlcgBwYXNz"),
    ("plain_same_authzid", "PLAIN dXNlcgB1c2VyAHBhc3M="),
    ("plain_bad_pad", "PLAIN AHVzZXIAcGFzcw"),
    ("plain_three_nul", "PLAIN AHVzZXIAcGFzcwB4"),
    ("login", "LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n"),
    ("login_ir", "LOGIN dXNlcg==\r\ncGFzcw==\r\n"),
    ("login_cancel", "LOGIN\r\n*\r\n"),
    ("login_empty", "LOGIN\r\n\r\n\r\n"),
    ("unknown_mech", "CRAM-MD5\r\n"),
    ("lowercase", "login\ndXNlcg==\ncGFzcw==\n"),
    ("utf8_user", "PLAIN " + base64.b64encode(
        "\0jörg\0pässword".encode()).decode()),
    ("codec_mime", "aGVsbG8g\r\nd29y bGQ=\r\n"),
    ("codec_noncanon", "Zm9vYg=="),
    ("codec_junk", "Zm9v!YmFy\n===\nZg"),
    ("long_field", "PLAIN " + base64.b64encode(
        b"\0" + b"u" * 300 + b"\0p").decode()),
] + scram_seeds()

# --------------------------------------------------------------- POP3
POP3 = [
    ("user_pass", "USER alice\r\nPASS secret\r\n"),
    ("apop", "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
    ("auth_stls_capa", "AUTH PLAIN\r\nSTLS\r\nCAPA\r\n"),
    ("transaction", "STAT\r\nLIST\r\nLIST 1\r\nRETR 1\r\nDELE 2\r\nNOOP\r\n"
     "RSET\r\nQUIT\r\n"),
    ("top", "TOP 1 10\r\ntop 2 0\r\nTOP 1\r\nTOP 50 18446744073709551615\r\n"),
    ("uidl", "UIDL\r\nUIDL 3\r\n"),
    ("bad_numbers", "RETR 4294967296\r\nLIST 01\r\nDELE 0\r\nRETR -1\r\n"),
    ("spacing", "retr  1\r\nLIST \r\nSTAT x\r\n"),
    ("unknown", "XTND XMIT\r\nUSERX a\r\n\r\n"),
    ("nul", b"USER a\x00b\r\n"),
    ("stuffing", ".hidden\r\n..two\r\n.\r\nend"),
    ("bare_lf", "line1\n.line2\nline3"),
    ("no_newline", "no newline at end"),
    ("lone_dot", ".\r\n"),
    ("cr_only", "a\r.b\r"),
    ("no_args", "USER\r\nPASS\r\nAPOP\r\n"),
    ("max_msg", "LIST 4294967295\r\nRETR 50\r\nRETR 51\r\n"),
    ("top_edges", "TOP 1 0\r\nTOP 0 5\r\nTOP 1 -1\r\n"
     "TOP 1 18446744073709551616\r\nTOP 1  2\r\nTOP 1 2 3\r\n"),
    ("extra_args", "DELE 1 2\r\nSTAT 1\r\nQUIT now\r\n"),
    ("mixed_case", "uidl 1\r\nUidl 2\r\nrEtR 3\r\n"),
    ("auth_ir", "AUTH\r\nAUTH PLAIN dGVzdA==\r\nAUTH SCRAM-SHA-256\r\n"),
    ("message", "Received: from x\r\nSubject: .dots\r\n\r\n.\r\n..\r\n"
     ". \r\nend\r\n"),
    ("plus_sign", "RETR +1\r\nLIST 1.0\r\nDELE 1e3\r\n"),
    ("long_line", "USER " + "u" * 300 + "\r\n"),
    ("eight_bit", b"USER j\xc3\xb6rg\r\nPASS p\xe4ss\r\n"),
]

# --------------------------------------------------------------- config


def config():
    with open(os.path.join(ROOT, "posthorn.conf.example"), "rb") as f:
        example = f.read()
    return [
        ("example", example),
        ("minimal", "[server]\nhostname = mx.example.org\n"),
        ("listen", "[listen]\nsmtp = [::1]:25, 127.0.0.1:2525\n"
         "imaps = *:993\npop3 = [::]:110\n"),
        ("tls_sni", "[tls]\ncert = a.pem\nkey = b.pem\n"
         "mail.example.org = c.pem, d.pem\n*.example.net = e.pem, f.pem\n"),
        ("limits", "[limits]\nmessage_size = 10m\nimap_line_max = 64k\n"
         "smtp_timeout = 5m\nimap_idle_timeout = 1h\nmax_bad_commands = 3\n"),
        ("auth", "[auth]\nfailure_delay = 500ms\nplaintext_on_loopback = no\n"
         "plaintext_without_tls = yes\n"),
        ("smtp", "[smtp]\nhelo_strict = yes\n[server]\ngreeting = hi there\n"),
        ("unknown_section", "[nosuch]\nx = 1\n"),
        ("bad_level", "[server]\nlog_level = loud\n"),
        ("no_section", "hostname = x\n"),
        ("overflow", "[limits]\nmessage_size = 99999999999999999999g\n"),
        ("comments", "; comment\n# comment\n[server] ; here\n"
         "hostname = a.example ; inline\n"),
        ("long_line", "[server]\nhostname = " + "h" * 300 + "\n"),
        ("negative", "[server]\nio_threads = -1\nworkers = 0\n"),
        ("cert_without_key", "[tls]\ncert = /etc/x.pem\n"),
        ("bad_listen", "[listen]\nsmtp = 1.2.3.4\nimap = [::1\n"
         "pop3 = 256.0.0.1:110\nsubmission = :587\n"),
        ("continuation", "[server]\nhostname = a\n  continued\n"),
        ("crlf", "[server]\r\nhostname = b.example\r\nworkers = 8\r\n"),
        ("duplicate", "[server]\nhostname = a\nhostname = b\n"),
        ("relative", "[server]\ndata_dir = var/lib\n[tls]\ncert = c.pem\n"
         "key = ../k.pem\n"),
    ]


def main():
    write("smtp_cmd", SMTP_CMD)
    write("smtp_data", smtp_data())
    write("imap_cmd", IMAP_CMD)
    write("imap_seqset", IMAP_SEQSET)
    write("imap_utf7", IMAP_UTF7)
    write("imap_date", IMAP_DATE)
    write("mime", mime())
    mime_deserialize()
    write("mime_addr", MIME_ADDR)
    write("sasl", SASL)
    write("pop3", POP3)
    write("config", config())
    for t in sorted(os.listdir(CORPUS)):
        print("%-18s %3d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

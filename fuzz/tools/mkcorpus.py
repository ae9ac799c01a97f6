#!/usr/bin/env python3
"""mkcorpus.py - (re)write the committed seed corpora under fuzz/corpus/.

    fuzz/tools/mkcorpus.py

Every seed is small and realistic: RFC examples, what real clients send,
and a few hostile classics.  Targets whose harness reads a control byte
first (smtp_data, mime) get it prepended here (0x00 = one chunk).  The
mime seeds include every tests/golden/mime/*.eml; the mime_deserialize
seeds are the serialized trees of those messages and of the extra messages
below, written by fuzz/build/mime_serial_seeds (built on demand).  The
whole-session targets (*_session) get client transcripts for the accounts
fuzz_session.h sets up, each after its control byte.
Existing seed directories are replaced; fuzz/regressions/ is not touched.

    fuzz/tools/mkcorpus.py [TARGET...]      only these targets
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


# --------------------------------------------------------- whole sessions
# Transcripts for the server of fuzz_session.h: domain example.test,
# accounts u@example.test and v@example.test (password "p"; v has neither
# IMAP nor POP3), app password "apppassword" of u (IMAP and submission),
# aliases team@ (u, v), postmaster@ (u), fwd@ (a remote address); five
# messages in u's INBOX.  The first byte is the control byte: its low
# three bits pick the chunk size (0: the whole input at once, 1: byte by
# byte), the rest seeds the cuts; for smtp_session 0x80 means submission.


def crlf(*lines):
    return "".join(line + "\r\n" for line in lines)


def b64(s):
    return base64.b64encode(b(s)).decode()


PLAIN_U = b64("\0u@example.test\0p")
# SCRAM cannot succeed (the server's nonce is random): the client's final
# message arrives before the server's first, as a hasty client sends it.
SCRAM_FIRST = b64("n,,n=u@example.test,r=rOprNGfwEbeRWgbNEkqO")
SCRAM_FINAL = b64("c=biws,r=rOprNGfwEbeRWgbNEkqO,p=" + b64("x" * 32))
MSG_FROM_U = ("From: U <u@example.test>", "To: v@example.test",
              "Subject: test", "Date: Mon, 7 Feb 1994 21:52:25 -0800",
              "Message-ID: <t1@example.test>", "", "Hello.",
              "..leading dot", "")


def session_seeds(seeds):
    out = []
    for name, control, text in seeds:
        out.append((name, bytes([control]) + b(text)))
    return out


SMTP_SESSION = [
    ("mx_rfc5321_d1", 0x00, crlf(
        "EHLO bar.com", "MAIL FROM:<Smith@bar.com>", "RCPT TO:<u@example.test>",
        "RCPT TO:<v@example.test>", "RCPT TO:<Brown@example.test>", "DATA",
        "Received: from x by y; Tue, 8 Feb 1994 09:00:00 +0100",
        "From: Smith <Smith@bar.com>", "Subject: hello", "", "Blah blah",
        "...etc. etc. etc.", ".", "QUIT")),
    ("mx_helo_rset", 0x00, crlf(
        "HELO client.example", "MAIL FROM:<>", "RCPT TO:<Postmaster>",
        "RSET", "NOOP", "HELP", "VRFY u", "EXPN team",
        "MAIL FROM:<a@b.example>",
        "RCPT TO:<team@example.test>", "RCPT TO:<fwd@example.test>",
        "RCPT TO:<nobody@example.test>", "RCPT TO:<x@remote.example>",
        "RCPT TO:<u%remote.example@example.test>", "DATA", "Subject: x", "",
        "y", ".", "QUIT")),
    ("mx_pipelined", 0x00,
     "EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=120\r\n"
     "RCPT TO:<u@example.test>\r\nDATA\r\nSubject: piped\r\n\r\nbody\r\n"
     ".\r\nMAIL FROM:<c@d.example>\r\nRCPT TO:<v@example.test>\r\nDATA\r\n"
     "\r\n.\r\nQUIT\r\n"),
    ("mx_pipelined_chunked", 0x2d,
     "EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=120\r\n"
     "RCPT TO:<u@example.test>\r\nDATA\r\nSubject: piped\r\n\r\nbody\r\n"
     ".\r\nQUIT\r\n"),
    ("mx_bdat", 0x00,
     "EHLO client.example\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\n"
     "RCPT TO:<u@example.test>\r\nBDAT 21\r\nSubject: chunks\r\n\r\nab\r\n"
     "BDAT 9 LAST\r\ncd\nef\r\n\r\nBDAT 0 LAST\r\nMAIL FROM:<a@b.example>\r\n"
     "RCPT TO:<u@example.test>\r\nBDAT 0 LAST\r\nQUIT\r\n"),
    ("mx_dsn_utf8", 0x00, crlf(
        "EHLO client.example",
        "MAIL FROM:<a@b.example> RET=HDRS ENVID=QQ314159 SMTPUTF8",
        "RCPT TO:<u@example.test> NOTIFY=SUCCESS,FAILURE "
        "ORCPT=rfc822;u+2Bx@example.test",
        "RCPT TO:<v@example.test> NOTIFY=NEVER", "DATA",
        "From: =?UTF-8?Q?J=C3=B6rg?= <a@b.example>", "Subject: dsn", "",
        "delivered?", ".",
        "MAIL FROM:<jörg@b.example> SMTPUTF8", "RCPT TO:<u@example.test>",
        "DATA", "Subject: Grüße", "", "ÄÖÜ", ".", "QUIT")),
    ("mx_smuggling", 0x00,
     "EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n"
     "RCPT TO:<u@example.test>\r\nDATA\r\nSubject: s\r\n\r\nx\n.\n"
     "MAIL FROM:<evil@b.example>\r\nRCPT TO:<v@example.test>\r\nDATA\r\n"
     "y\r\n.\rz\r\n.\r\nQUIT\r\n"),
    ("mx_limits", 0x00,
     "EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=99999\r\n"
     "MAIL FROM:<a@b.example> SIZE=100\r\n" +
     "".join("RCPT TO:<u+%d@example.test>\r\n" % i for i in range(10)) +
     "DATA\r\n" + ("x" * 70 + "\r\n") * 60 + ".\r\n" +
     "NOOP " + "n" * 1100 + "\r\nQUIT\r\n"),
    ("mx_bad_commands", 0x00,
     "HELO\r\nEHLO -bad-\r\nMAIL FROM:<a@b.example>\r\nDATA\r\n"
     "RCPT TO:<u@example.test>\r\nBDAT x\r\n" + "FOO\r\n" * 25),
    ("mx_auth_refused_starttls", 0x00, crlf(
        "EHLO client.example", "AUTH PLAIN " + PLAIN_U, "STARTTLS", "NOOP")),
    ("sub_plain", 0x80, crlf(
        "EHLO client.example", "AUTH PLAIN " + PLAIN_U,
        "MAIL FROM:<u@example.test>", "RCPT TO:<v@example.test>",
        "RCPT TO:<someone@remote.example> NOTIFY=DELAY", "DATA", *MSG_FROM_U,
        ".", "QUIT")),
    ("sub_login", 0x80, crlf(
        "EHLO client.example", "AUTH LOGIN", b64("u@example.test"), b64("p"),
        "MAIL FROM:<u+tag@example.test>", "RCPT TO:<team@example.test>",
        "BDAT 48 LAST") + "From: u@example.test\r\nSubject: t\r\n\r\nchunk\r\n"
     + crlf("QUIT")),
    ("sub_login_ir", 0x80, crlf(
        "EHLO client.example", "AUTH LOGIN " + b64("v@example.test"),
        b64("p"), "MAIL FROM:<v@example.test>", "RCPT TO:<u@example.test>",
        "DATA", "From: v@example.test", "", "hi", ".", "QUIT")),
    ("sub_no_auth", 0x80, crlf(
        "HELO client.example", "AUTH PLAIN " + PLAIN_U, "EHLO client.example",
        "MAIL FROM:<u@example.test>", "RCPT TO:<v@example.test>", "QUIT")),
    ("sub_wrong_passwords", 0x80, crlf(
        "EHLO client.example", "AUTH PLAIN " + b64("\0u@example.test\0x"),
        "AUTH PLAIN " + b64("\0nobody@example.test\0p"),
        "AUTH PLAIN " + b64("admin\0u@example.test\0p"),
        "AUTH PLAIN " + PLAIN_U, "AUTH LOGIN", "*", "AUTH CRAM-MD5",
        "AUTH PLAIN", "=", "QUIT")),
    ("sub_app_password", 0x80, crlf(
        "EHLO client.example",
        "AUTH PLAIN " + b64("\0u@example.test\0apppassword"),
        "AUTH PLAIN " + PLAIN_U, "MAIL FROM:<u@example.test>",
        "RCPT TO:<v@example.test>", "RSET", "QUIT")),
    ("sub_sender_checks", 0x80, crlf(
        "EHLO client.example", "AUTH PLAIN " + PLAIN_U,
        "MAIL FROM:<v@example.test>", "MAIL FROM:<u@example.test>",
        "RCPT TO:<v@example.test>", "DATA", "From: Alice <alice@example.org>",
        "", "forged", ".", "MAIL FROM:<>", "RCPT TO:<v@example.test>", "DATA",
        "From: u@example.test", "", "ok", ".", "QUIT")),
    ("sub_scram", 0x80, crlf(
        "EHLO client.example", "AUTH SCRAM-SHA-256 " + SCRAM_FIRST,
        SCRAM_FINAL, "QUIT")),
    ("sub_bytewise", 0x81, crlf(
        "EHLO c.example", "AUTH PLAIN " + PLAIN_U, "MAIL FROM:<u@example.test>",
        "RCPT TO:<v@example.test>", "DATA", "From: u@example.test", "", "x",
        ".", "QUIT")),
    ("sub_chunked", 0x86, crlf(
        "EHLO c.example", "AUTH PLAIN " + PLAIN_U, "MAIL FROM:<u@example.test>",
        "RCPT TO:<x@remote.example>", "DATA", "From: u@example.test",
        "Subject: out", "", "leaves", ".", "QUIT")),
]

IMAP_SESSION = [
    ("login_fetch", 0x00, crlf(
        "a1 CAPABILITY", "a2 LOGIN u@example.test p", "a3 SELECT INBOX",
        "a4 FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE "
        "BODYSTRUCTURE)", "a5 FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] "
        "BODY[1]<0.10> BODY[TEXT] BODY[1.MIME])",
        "a6 UID FETCH 3 (BINARY[2] BINARY.SIZE[2] BODY[3.HEADER] PREVIEW)",
        "a7 FETCH 1:2 ALL", "a8 FETCH 5 (RFC822 RFC822.HEADER RFC822.TEXT)",
        "a9 LOGOUT")),
    ("login_literals", 0x00,
     "a LOGIN {14}\r\nu@example.test {1}\r\np\r\nb SELECT {5+}\r\nINBOX\r\n"
     "c FETCH 1 BODY[]\r\nd LOGOUT\r\n"),
    ("authenticate_plain", 0x00, crlf(
        "a AUTHENTICATE PLAIN", PLAIN_U, "b EXAMINE INBOX",
        "c FETCH 1:* (FLAGS BODY[HEADER])", "d STORE 1 +FLAGS (\\Deleted)",
        "e CLOSE", "f LOGOUT")),
    ("authenticate_ir", 0x00, crlf(
        "a AUTHENTICATE PLAIN " + PLAIN_U, "b LIST \"\" \"*\"",
        "c LIST (SUBSCRIBED) \"\" (\"INBOX\" \"A*\") RETURN (CHILDREN STATUS "
        "(MESSAGES UNSEEN))", "d LSUB \"\" %", "e NAMESPACE", "f LOGOUT")),
    ("append", 0x00,
     "a LOGIN u@example.test p\r\n"
     "b APPEND INBOX (\\Seen $Label) \" 7-Feb-1994 21:52:25 -0800\" {40}\r\n"
     "Subject: appended\r\nFrom: u@example.test\r\n\r\n\r\n"
     "c APPEND Drafts {22+}\r\nSubject: d\r\n\r\ndraft\r\n"
     "d APPEND INBOX {11}\r\nSubject: 1\r\n {11}\r\nSubject: 2\r\n\r\n"
     "e APPEND INBOX ~{8}\r\nx\r\n\r\nbin\r\n"
     "f SELECT INBOX\r\ng FETCH 6:* (UID FLAGS BODY[])\r\nh LOGOUT\r\n"),
    ("store_expunge", 0x00, crlf(
        "a LOGIN u@example.test p", "b ENABLE CONDSTORE", "c SELECT INBOX",
        "d STORE 1:2 +FLAGS (\\Deleted work)", "e STORE 3 -FLAGS.SILENT (work)",
        "f UID STORE 1:* (UNCHANGEDSINCE 1) FLAGS (\\Seen)",
        "g STORE 2 FLAGS (\\Answered \\Draft)", "h EXPUNGE",
        "i UID EXPUNGE 4", "j FETCH 1:* (FLAGS MODSEQ)", "k LOGOUT")),
    ("copy_move", 0x00, crlf(
        "a LOGIN u@example.test p", "b SELECT INBOX", "c COPY 1:2 Archive",
        "d UID COPY 3 Trash", "e MOVE 1 Junk", "f UID MOVE 4:5 Archive",
        "g COPY 1 NoSuchBox", "h STATUS Archive (MESSAGES UIDNEXT UNSEEN SIZE "
        "HIGHESTMODSEQ)", "i SELECT Archive", "j FETCH 1:* (UID FLAGS)",
        "k LOGOUT")),
    ("mailboxes", 0x00, crlf(
        "a LOGIN u@example.test p", "b CREATE Work/Projects",
        "c CREATE \"Sent Items\" (USE (\\Sent))", "d RENAME Work Play",
        "e SUBSCRIBE Play/Projects", "f LIST \"\" *", "g LIST \"Play/\" %",
        "h DELETE Play", "i UNSUBSCRIBE Play/Projects",
        "j CREATE &AMQ-rger", "k RENAME INBOX Old",
        "l LIST \"\" \"*\" RETURN (SPECIAL-USE)", "m DELETE INBOX",
        "n LOGOUT")),
    ("search", 0x00, crlf(
        "a LOGIN u@example.test p", "b SELECT INBOX", "c SEARCH ALL",
        "d SEARCH UNSEEN FROM alice", "e SEARCH OR FLAGGED KEYWORD work "
        "NOT DELETED", "f SEARCH CHARSET UTF-8 TEXT grüße",
        "g UID SEARCH RETURN (MIN MAX COUNT SAVE) SINCE 1-Feb-1994 "
        "LARGER 100", "h FETCH $ (UID)", "i SEARCH HEADER Message-ID "
        "<2@example.net> SUBJECT hello", "j SEARCH 2:4 BODY report "
        "SENTBEFORE 10-Feb-1994", "k SEARCH MODSEQ 1 YOUNGER 100000000",
        "l LOGOUT")),
    ("sort_thread", 0x00, crlf(
        "a LOGIN u@example.test p", "b SELECT INBOX",
        "c SORT (SUBJECT) UTF-8 ALL", "d UID SORT (REVERSE DATE FROM) US-ASCII "
        "UNDELETED", "e SORT (DISPLAYFROM ARRIVAL SIZE) UTF-8 ALL",
        "f THREAD REFERENCES UTF-8 ALL", "g THREAD ORDEREDSUBJECT US-ASCII ALL",
        "h LOGOUT")),
    ("idle", 0x00, crlf(
        "a LOGIN u@example.test p", "b SELECT INBOX", "c IDLE", "DONE",
        "d IDLE", "NOT-DONE", "e NOOP", "f CHECK", "g UNSELECT", "h LOGOUT")),
    ("qresync", 0x00, crlf(
        "a LOGIN u@example.test p", "b ENABLE QRESYNC",
        "c SELECT INBOX (QRESYNC (1 2 1:5))",
        "d FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        "e UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        "f STORE 1 +FLAGS (\\Deleted)", "g UID EXPUNGE 1",
        "h EXAMINE INBOX (CONDSTORE)", "i LOGOUT")),
    ("compress", 0x01, crlf(
        "a LOGIN u@example.test p", "b COMPRESS DEFLATE", "c SELECT INBOX",
        "d FETCH 2 (FLAGS BODY[])", "e COMPRESS DEFLATE", "f LOGOUT")),
    ("utf8_rev2", 0x00, crlf(
        "a LOGIN u@example.test p", "b ENABLE UTF8=ACCEPT IMAP4rev2",
        "c CREATE Grüße", "d LIST \"\" *", "e SELECT Grüße",
        "f APPEND Grüße UTF8 (~{22}", "Subject: Grüße", "", "x)",
        "g STATUS Grüße (MESSAGES DELETED SIZE)", "h LOGOUT")),
    ("quota_id", 0x00, crlf(
        "a ID (\"name\" \"fuzz\" \"version\" \"1\")",
        "b LOGIN u@example.test p",
        "c GETQUOTAROOT INBOX", "d GETQUOTA \"\"",
        "e SETQUOTA \"\" (STORAGE 10)", "f ID NIL", "g LOGOUT")),
    ("login_failures", 0x00, crlf(
        "a LOGIN u@example.test wrong", "b LOGIN nobody@example.test p",
        "c LOGIN v@example.test p", "d AUTHENTICATE PLAIN",
        "*", "e AUTHENTICATE LOGIN", b64("u@example.test"), b64("x"),
        "f LOGIN u@example.test apppassword", "g SELECT INBOX", "h LOGOUT")),
    ("errors", 0x00,
     "a SELECT INBOX\r\nb NOSUCH\r\n* NOOP\r\nc FETCH\r\nd LOGIN\r\n"
     "e LOGIN u@example.test p\r\nf FETCH 1 FLAGS\r\ng SELECT INBOX\r\n"
     "h FETCH 99 FLAGS\r\ni FETCH 1:* (BODY[99] BINARY[1.2.3])\r\n"
     "j STORE 1 +FLAGS (\\Bogus)\r\nk APPEND INBOX {99999999}\r\n"
     "l UID COPY 1:* \"\"\r\nm SEARCH (((((((((((ALL)))))))))))\r\n"
     "n LOGIN a b\r\no STARTTLS\r\np IDLE x\r\nq UID NOOP\r\n"
     "r " + "x" * 5000 + "\r\ns LOGOUT\r\n"),
    ("starttls", 0x00, crlf("a CAPABILITY", "b STARTTLS",
                            "c LOGIN u@example.test p")),
    ("pipelined_chunked", 0x2c, crlf(
        "a LOGIN u@example.test p", "b SELECT INBOX", "c FETCH 1:5 (FLAGS)",
        "d STORE 5 +FLAGS (\\Seen)", "e SEARCH SEEN", "f NOOP", "g LOGOUT")),
    ("bytewise", 0x01, crlf(
        "a LOGIN u@example.test p", "b EXAMINE Archive", "c FETCH 1 BODY[]",
        "d LOGOUT")),
    ("scram", 0x00, crlf(
        "a AUTHENTICATE SCRAM-SHA-256 " + SCRAM_FIRST, SCRAM_FINAL,
        "b AUTHENTICATE SCRAM-SHA-256", SCRAM_FIRST, "*", "c LOGOUT")),
]

POP3_SESSION = [
    ("user_pass", 0x00, crlf(
        "CAPA", "USER u@example.test", "PASS p", "STAT", "LIST", "UIDL",
        "LIST 2", "UIDL 3", "RETR 1", "TOP 3 2", "DELE 2", "LIST", "RSET",
        "NOOP", "QUIT")),
    ("dele_quit", 0x00, crlf(
        "USER u@example.test", "PASS p", "DELE 1", "DELE 5", "RETR 1",
        "STAT", "QUIT")),
    ("auth_plain_ir", 0x00, crlf(
        "AUTH", "AUTH PLAIN " + PLAIN_U, "STAT", "RETR 4", "TOP 2 0", "QUIT")),
    ("auth_plain", 0x00, crlf(
        "AUTH PLAIN", PLAIN_U, "UIDL", "RETR 3", "QUIT")),
    ("auth_login", 0x00, crlf(
        "AUTH LOGIN", b64("u@example.test"), b64("p"), "LIST", "QUIT")),
    ("failures", 0x00, crlf(
        "PASS p", "USER u@example.test", "PASS wrong",
        "USER nobody@example.test",
        "PASS p", "USER v@example.test", "PASS p",
        "USER u@example.test", "PASS apppassword", "AUTH PLAIN", "*",
        "AUTH CRAM-MD5", "APOP u c4c9334bac560ecc979e58001b3e22fb",
        "USER u@example.test", "PASS p", "QUIT")),
    ("stls", 0x00, crlf("CAPA", "STLS", "USER u@example.test")),
    ("errors", 0x00,
     "STAT\r\nUSER\r\nUSER u@example.test\r\nPASS p\r\nRETR\r\nRETR 0\r\n"
     "RETR 6\r\nRETR 4294967296\r\nTOP 1\r\nTOP 1 -1\r\nDELE 1\r\nDELE 1\r\n"
     "LIST 1\r\nXTND\r\nUSER x\r\n" + "L" * 5000 + "\r\nQUIT\r\n"),
    ("bad_commands", 0x00, "FOO\r\n" * 21),
    ("pipelined_chunked", 0x2d, crlf(
        "USER u@example.test", "PASS p", "STAT", "RETR 2", "RETR 3",
        "DELE 3", "QUIT")),
    ("bytewise", 0x01, crlf("USER u@example.test", "PASS p", "RETR 1",
                            "QUIT")),
    ("scram", 0x00, crlf("AUTH SCRAM-SHA-256 " + SCRAM_FIRST, SCRAM_FINAL,
                         "AUTH SCRAM-SHA-256", SCRAM_FIRST, "*", "QUIT")),
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


# ------------------------------------------------------- SMTP client
# What a server says to fuzz_smtp_client (its top comment): a control byte,
# an options byte (bits 0-1 TLS policy, 2 verify_report, 3-4 transactions,
# 5 SMTPUTF8, 6 DSN, 7 8BITMIME and dot lines), then the server's bytes.
EHLO_ALL = ("250-mx.r.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
            "250-8BITMIME\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n"
            "250 SMTPUTF8\r\n")


def txn_replies(nrcpt, rcpt_codes=None, final="250 2.0.0 Ok: queued as 1"):
    codes = rcpt_codes or ["250 2.1.5 Ok"] * nrcpt
    return ("250 2.1.0 Ok\r\n" + "".join(c + "\r\n" for c in codes) +
            "354 End data with <CR><LF>.<CR><LF>\r\n" + final + "\r\n")


def smtp_client():
    greet = "220 mx.r.test ESMTP\r\n"
    three = (txn_replies(1) + txn_replies(2, ["250 ok", "550 5.1.1 no"]) +
             txn_replies(3, ["250 a", "452 4.2.2 full", "250 c"],
                         "554 5.7.1 rejected"))
    T3, ALL = 0x18, 0x18 | 0x20 | 0x40 | 0x80
    seeds = [
        ("pipelined_all", 0, ALL, greet + EHLO_ALL + three + "221 bye\r\n"),
        ("pipelined_chunked", 3, T3, greet + EHLO_ALL + three + "221 bye\r\n"),
        ("pipelined_bytewise", 1, 0x08, greet + EHLO_ALL + txn_replies(1) +
         "221 bye\r\n"),
        ("lockstep", 4, 0x10 | 0x40, greet + "250 mx.r.test\r\n" +
         txn_replies(1) + txn_replies(2) + "221 2.0.0 bye\r\n"),
        ("multiline_replies", 0, 0x08, "220-mx.r.test ESMTP\r\n220-more\r\n"
         "220 end\r\n250-mx.r.test\r\n250 PIPELINING\r\n250-2.1.0 a\r\n"
         "250 2.1.0 b\r\n550-5.1.1 x\r\n550 5.1.1 y\r\n354 go\r\n"
         "221 bye\r\n"),
        ("helo_fallback", 0, 0x08, greet + "502 5.5.2 no EHLO\r\n"
         "250 mx.r.test\r\n" + txn_replies(1) + "221 bye\r\n"),
        ("helo_refused", 0, 0x08, greet + "502 no\r\n501 no\r\n"),
        ("greeting_554", 0, 0x08, "554 5.7.1 go away\r\n"),
        ("greeting_421", 2, 0x08, "421 4.3.2 busy\r\n"),
        ("starttls_encrypt", 0, 0x01 | 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n220 2.0.0 go ahead\r\n"
         "\x16\x03\x03\x00\x05hello"),
        ("starttls_verify", 0, 0x02 | 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n220 go\r\n"),
        ("starttls_dane", 0, 0x03 | 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n220 go\r\n"),
        ("starttls_report", 0, 0x04 | 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n220 go\r\n"),
        ("starttls_injection", 0, 0x01 | 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n220 go ahead\r\n"
         "250-injected.test\r\n250 SMTPUTF8\r\n"),
        ("starttls_refused_may", 0, 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n" +
         txn_replies(1) + "221 bye\r\n"),
        ("starttls_refused_encrypt", 0, 0x01 | 0x08, greet +
         "250-mx.r.test\r\n250 STARTTLS\r\n454 4.7.0 no\r\n"),
        ("no_starttls_encrypt", 0, 0x01, greet + "250 mx.r.test\r\n"),
        ("loop_to_self", 0, 0x08, greet + "250-client.test\r\n250 SIZE\r\n"),
        ("all_rcpts_refused", 0, 0x10, greet + EHLO_ALL + "250 ok\r\n"
         "550 no\r\n354 go\r\n250 empty\r\n250 ok\r\n550 no\r\n"
         "550 no\r\n354 go\r\n250 empty\r\n221 bye\r\n"),
        ("data_refused", 0, 0x08, greet + EHLO_ALL + "250 ok\r\n250 ok\r\n"
         "554 5.5.1 no valid recipients\r\n250 reset\r\n221 bye\r\n"),
        ("mail_refused_lockstep", 0, 0x08, greet + "250 mx.r.test\r\n"
         "553 5.1.8 bad sender\r\n250 reset\r\n221 bye\r\n"),
        ("utf8_not_offered", 0, 0x08 | 0x20, greet +
         "250-mx.r.test\r\n250 PIPELINING\r\n250 noop\r\n221 bye\r\n"),
        ("bare_lf", 0, 0x08, greet.replace("\r\n", "\n") +
         "250-mx.r.test\n250 PIPELINING\n" + txn_replies(1).replace(
             "\r\n", "\n")),
        ("long_line", 0, 0x08, "220 " + "x" * 5000 + "\r\n"),
        ("malformed", 0, 0x08, "22O mx.r.test\r\n"),
        ("code_only", 0, 0x08, "220\r\n250\r\n250\r\n250\r\n354\r\n250\r\n"),
        ("abort_at_ready", 0x08, 0x08, greet + EHLO_ALL + txn_replies(1) +
         "221 bye\r\n"),
        ("abort_at_done", 0x10, 0x10, greet + EHLO_ALL + txn_replies(1) +
         txn_replies(2) + "221 bye\r\n"),
        ("abort_midway", 0x18 | 3, 0x18, greet + EHLO_ALL + three +
         "221 bye\r\n"),
        ("nul_and_cr", 0, 0x08, "220 mx\x00.r\rtest\r\n250-mx\r\n"
         "250 PIPELINING\r\n250 a\x00b\r\n550 5.1.1 c\rd\r\n354 go\r\n"),
    ]
    return [(name, bytes([ctl, opt]) + b(text))
            for name, ctl, opt, text in seeds]


# ------------------------------------------------- SPF, DKIM, DMARC
# fuzz_mailauth_eval (its top comment): selector byte (0 SPF, 1 DKIM,
# 2 DMARC, 3 SPF then DMARC), mode byte, zone lines, "%%", the query.
RFC8463_MSG = (
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n")
RFC8463_ZONE = (
    "brisbane._domainkey.football.example.com TXT v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "test._domainkey.football.example.com TXT v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
    "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+y"
    "z1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w"
    "3QIDAQAB\n")


def mailauth_eval():
    spf_zone = (
        "example.org TXT v=spf1 ip4:192.0.2.0/24 include:_spf.example.net "
        "mx a:mail.example.org/28 exists:%{i}._spf.%{d} ptr -all "
        "exp=explain.example.org\n"
        "_spf.example.net TXT v=spf1 ip6:2001:db8::/32 ~all\n"
        "example.org MX 10 mx1.example.org\n"
        "example.org MX 20 mx2.example.org\n"
        "mx1.example.org A 198.51.100.1\n"
        "mx2.example.org AAAA 2001:db8:1::1\n"
        "mail.example.org A 198.51.100.17\n"
        "explain.example.org TXT %{i} is not one of %{d}'s servers; "
        "ask %{l} at %{o}\n"
        "4.3.2.1.in-addr.arpa PTR mail.example.org\n"
        "redir.example TXT v=spf1 redirect=example.org\n"
        "loop.example TXT v=spf1 include:loop.example -all\n"
        "two.example TXT v=spf1 -all\n"
        "two.example TXT v=spf1 +all\n"
        "temp.example TEMP\n"
        "void.example TXT v=spf1 a:nx1.example a:nx2.example a:nx3.example "
        "-all\n"
        "macro.example TXT v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} "
        "a:%{h} -all\n")
    seeds = [
        ("spf_pass", 0, 0, spf_zone + "%%\n192.0.2.3 mx.example.org "
         "alice@example.org\n"),
        ("spf_fail_exp", 0, 1, spf_zone + "%%\n203.0.113.9 helo.test "
         "bob@example.org\n"),
        ("spf_ipv6_include", 0, 3, spf_zone + "%%\n2001:db8::5 h.test "
         "c@example.org\n"),
        ("spf_mx", 0, 0, spf_zone + "%%\n198.51.100.1 h.test c@example.org\n"),
        ("spf_ptr", 0, 1, spf_zone + "%%\n1.2.3.4 h.test c@example.org\n"),
        ("spf_redirect", 0, 0, spf_zone + "%%\n192.0.2.9 h.test "
         "x@redir.example\n"),
        ("spf_loop", 0, 1, spf_zone + "%%\n192.0.2.9 h.test x@loop.example\n"),
        ("spf_two_records", 0, 0, spf_zone + "%%\n192.0.2.9 h.test "
         "x@two.example\n"),
        ("spf_temp", 0, 0, spf_zone + "%%\n192.0.2.9 h.test x@temp.example\n"),
        ("spf_void", 0, 1, spf_zone + "%%\n192.0.2.9 h.test x@void.example\n"),
        ("spf_macro", 0, 0, spf_zone + "%%\n192.0.2.9 h.test "
         "first-last@macro.example\n"),
        ("spf_null_sender", 0, 0, spf_zone + "%%\n192.0.2.3 example.org <>\n"),
        ("spf_free_early", 0, 1 | 4 | 8, spf_zone + "%%\n203.0.113.9 "
         "helo.test bob@example.org\n"),
        ("spf_free_in_done", 0, 4, spf_zone + "%%\n192.0.2.3 h.test "
         "a@example.org\n"),
        ("dkim_rfc8463", 1, 0x80, RFC8463_ZONE + "%%\n" + RFC8463_MSG),
        ("dkim_rfc8463_deferred", 1, 0x80 | 0x40 | 3, RFC8463_ZONE + "%%\n" +
         RFC8463_MSG),
        ("dkim_body_changed", 1, 1, RFC8463_ZONE + "%%\n" +
         RFC8463_MSG.replace("hungry", "angry")),
        ("dkim_revoked", 1, 0, RFC8463_ZONE.replace("p=11q", "p=; x=") +
         "%%\n" + RFC8463_MSG),
        ("dkim_no_key", 1, 0, "%%\n" + RFC8463_MSG),
        ("dkim_temp", 1, 1, "brisbane._domainkey.football.example.com TEMP\n"
         + RFC8463_ZONE + "%%\n" + RFC8463_MSG),
        ("dkim_free_early", 1, 1 | 4, RFC8463_ZONE + "%%\n" + RFC8463_MSG),
        ("dkim_free_in_done", 1, 4, RFC8463_ZONE + "%%\n" + RFC8463_MSG),
        ("dkim_lf", 1, 0x80, RFC8463_ZONE + "%%\n" +
         RFC8463_MSG.replace("\r\n", "\n")),
        ("dkim_bad_tags", 1, 0, RFC8463_ZONE + "%%\nDKIM-Signature: v=2; "
         "a=rsa-sha1; d=Ex.COM; s=; h=to; l=99999; x=1; bh=!!; b=\r\n"
         "From: a@b\r\n\r\nbody\r\n"),
        ("dmarc_reject", 2, 0, "_dmarc.example.org TXT v=DMARC1; p=reject; "
         "sp=quarantine; adkim=s; aspf=r; pct=50; "
         "rua=mailto:d@example.org\n%%\nexample.org 1 example.org "
         "example.org\n"),
        ("dmarc_subdomain", 2, 1, "_dmarc.example.org TXT v=DMARC1; "
         "p=none; sp=reject; np=reject\nsub.example.org A 192.0.2.1\n"
         "%%\nsub.example.org 0 other.example\n"),
        ("dmarc_nonexistent", 2, 3, "_dmarc.example.org TXT v=DMARC1; "
         "p=none; np=reject\nnx.example.org NX\n%%\nnx.example.org 0 x\n"),
        ("dmarc_two_records", 2, 0, "_dmarc.example.org TXT v=DMARC1; p=none\n"
         "_dmarc.example.org TXT v=DMARC1; p=reject\n%%\nexample.org 0 x\n"),
        ("dmarc_temp", 2, 1, "_dmarc.example.org TEMP\n%%\nexample.org 1 "
         "example.org\n"),
        ("dmarc_relaxed_dkim", 2, 0, "_dmarc.example.co.uk TXT v=DMARC1; "
         "p=quarantine\n%%\nmail.example.co.uk 0 x.test "
         "news.example.co.uk other.test\n"),
        ("spf_then_dmarc", 3, 0, spf_zone + "_dmarc.example.org TXT "
         "v=DMARC1; p=reject\n%%\n192.0.2.3 mx.example.org "
         "alice@example.org\nexample.org\n"),
        ("spf_then_dmarc_deferred", 3, 1 | 4 | 16, spf_zone +
         "_dmarc.example.org TXT v=DMARC1; p=reject\n%%\n203.0.113.1 "
         "mx.example.org alice@example.org\nexample.org 0 x example.org\n"),
    ]
    out = [(name, bytes([sel, mode]) + b(text))
           for name, sel, mode, text in seeds]
    # Raw rdata for dns_answer_decode (selector bit 2): type index, then
    # length-prefixed records.
    def rr(*recs):
        return b"".join(bytes([len(r)]) + r for r in recs)
    out += [
        ("rdata_mx", b"\x04" + b"\x02" + rr(
            b"\x00\x0a\x03mx1\x07example\x03org\x00",
            b"\x00\x05\x03a b\x00", b"\x00\x00\x00")),
        ("rdata_txt", b"\x04" + b"\x03" + rr(
            b"\x07v=spf1 \x04-all", b"\x09short")),
        ("rdata_a", b"\x04" + b"\x00" + rr(b"\xc0\x00\x02\x01", b"\x01")),
        ("rdata_aaaa", b"\x04" + b"\x01" + rr(b"\x20\x01\x0d\xb8" + 12 * b"\x00")),
        ("rdata_ptr", b"\x04" + b"\x04" + rr(
            b"\x04mail\x07Example\x03org\x00", b"\x02a.\x00")),
        ("rdata_tlsa", b"\x04" + b"\x05" + rr(b"\x03\x01\x01" + 32 * b"\xab")),
    ]
    return out


def main():
    targets = {
        "smtp_cmd": lambda: write("smtp_cmd", SMTP_CMD),
        "smtp_data": lambda: write("smtp_data", smtp_data()),
        "imap_cmd": lambda: write("imap_cmd", IMAP_CMD),
        "imap_seqset": lambda: write("imap_seqset", IMAP_SEQSET),
        "imap_utf7": lambda: write("imap_utf7", IMAP_UTF7),
        "imap_date": lambda: write("imap_date", IMAP_DATE),
        "mime": lambda: write("mime", mime()),
        "mime_deserialize": mime_deserialize,
        "mime_addr": lambda: write("mime_addr", MIME_ADDR),
        "sasl": lambda: write("sasl", SASL),
        "pop3": lambda: write("pop3", POP3),
        "config": lambda: write("config", config()),
        "smtp_client": lambda: write("smtp_client", smtp_client()),
        "mailauth_eval": lambda: write("mailauth_eval", mailauth_eval()),
        "smtp_session": lambda: write("smtp_session",
                                      session_seeds(SMTP_SESSION)),
        "imap_session": lambda: write("imap_session",
                                      session_seeds(IMAP_SESSION)),
        "pop3_session": lambda: write("pop3_session",
                                      session_seeds(POP3_SESSION)),
    }
    wanted = [t[5:] if t.startswith("fuzz_") else t for t in sys.argv[1:]]
    for t in wanted:
        if t not in targets:
            print("mkcorpus.py: no target %s (have: %s)" %
                  (t, " ".join(targets)), file=sys.stderr)
            return 2
    for t in wanted or targets:
        targets[t]()
    for t in sorted(os.listdir(CORPUS)):
        if wanted and t not in wanted:
            continue
        print("%-18s %3d seeds" % (t, len(os.listdir(os.path.join(CORPUS, t)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

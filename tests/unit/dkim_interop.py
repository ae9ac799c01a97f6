#!/usr/bin/python3
"""dkim_interop - cross-check posthorn's DKIM with dkimpy (Debian python3-dkim).

Run it with Debian's /usr/bin/python3, which is where python3-dkim (and
python3-nacl, for Ed25519) are installed.  No DNS is used: key records come
from files.

  dkim_interop.py verify MESSAGE [NAME=TXTFILE ...]
      Verify every DKIM-Signature of MESSAGE with dkimpy.  Each NAME=TXTFILE
      answers the TXT query for NAME (e.g. sel._domainkey.example.com) with
      the contents of TXTFILE (a key record such as "v=DKIM1; k=rsa; p=...",
      the zone's strings already joined).  Prints one line per signature:
          sig 0: d=example.com s=sel a=rsa-sha256 result=pass
      and exits 0 when every signature passed, 1 otherwise.

  dkim_interop.py sign MESSAGE KEY.pem DOMAIN SELECTOR [CANON] [HEADERS]
      Sign MESSAGE with dkimpy and write the signed message to stdout.
      KEY.pem is a PKCS#8 (or PKCS#1) PEM private key as posthorn writes it;
      its type chooses rsa-sha256 or ed25519-sha256.  CANON defaults to
      relaxed/relaxed; HEADERS is a ':'-separated h= list (default: From,
      To, Subject, Date, Message-ID).

  dkim_interop.py txt KEY.pem
      Print the key's DNS record text, as dkimpy's dknewkey would.
"""

import base64
import re
import sys

try:
    import dkim
except ImportError:
    sys.exit("dkimpy missing: apt-get install python3-dkim (use /usr/bin/python3)")

# PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def pem_der(pem):
    m = re.search(rb"-----BEGIN [A-Z ]+-----\s*(.*?)\s*-----END", pem, re.S)
    if m is None:
        sys.exit("no PEM block in the key file")
    return base64.b64decode(b"".join(m.group(1).split()))


def key_for_dkimpy(path):
    """(algorithm, key in the form dkim.sign() wants)."""
    pem = read(path)
    der = pem_der(pem)
    if der.startswith(ED25519_PKCS8_PREFIX) and len(der) == 48:
        return b"ed25519-sha256", base64.b64encode(der[16:])
    return b"rsa-sha256", pem


def cmd_verify(args):
    if not args:
        sys.exit(__doc__)
    message = read(args[0])
    records = {}
    for spec in args[1:]:
        name, _, path = spec.partition("=")
        records[name.lower().rstrip(".")] = read(path).strip()

    def dnsfunc(name, timeout=5):
        key = name.decode("ascii", "replace").lower().rstrip(".")
        return records.get(key)

    d = dkim.DKIM(message, minkey=1024)
    count = len([1 for (n, _) in d.headers if n.lower() == b"dkim-signature"])
    if count == 0:
        print("no signature")
        return 1
    ok = True
    for idx in range(count):
        d = dkim.DKIM(message, minkey=1024)
        try:
            result = "pass" if d.verify(idx=idx, dnsfunc=dnsfunc) else "fail"
        except dkim.DKIMException as e:
            result = "error (%s)" % e
        fields = getattr(d, "signature_fields", None) or {}
        print("sig %d: d=%s s=%s a=%s result=%s" % (
            idx,
            fields.get(b"d", b"?").decode(),
            fields.get(b"s", b"?").decode(),
            fields.get(b"a", b"?").decode(),
            result))
        ok = ok and result == "pass"
    return 0 if ok else 1


def cmd_sign(args):
    if len(args) < 4:
        sys.exit(__doc__)
    message = read(args[0])
    alg, key = key_for_dkimpy(args[1])
    canon = (args[4] if len(args) > 4 else "relaxed/relaxed").encode()
    headers = (args[5] if len(args) > 5 else "From:To:Subject:Date:Message-ID")
    hc, _, bc = canon.partition(b"/")
    try:
        sig = dkim.sign(message, args[3].encode(), args[2].encode(), key,
                        canonicalize=(hc, bc or b"simple"),
                        signature_algorithm=alg,
                        include_headers=[h.encode() for h in headers.split(":")])
    except dkim.DKIMException as e:
        sys.exit("dkimpy: %s" % e)
    sys.stdout.buffer.write(sig + message)
    return 0


def cmd_txt(args):
    if len(args) != 1:
        sys.exit(__doc__)
    alg, key = key_for_dkimpy(args[0])
    if alg == b"ed25519-sha256":
        import nacl.encoding
        import nacl.signing
        sk = nacl.signing.SigningKey(key, encoder=nacl.encoding.Base64Encoder)
        pub = base64.b64encode(bytes(sk.verify_key)).decode()
        print("v=DKIM1; k=ed25519; p=" + pub)
    else:
        sys.exit("txt: use posthorn's record for RSA keys")
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = {"verify": cmd_verify, "sign": cmd_sign, "txt": cmd_txt}.get(sys.argv[1])
    if cmd is None:
        sys.exit(__doc__)
    return cmd(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())

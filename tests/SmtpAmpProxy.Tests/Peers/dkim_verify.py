"""Verify the first DKIM-Signature of a message with dkimpy, without DNS.

Usage: dkim_verify.py MESSAGE_FILE PUBLIC_KEY_FILE RECORD_NAME
PUBLIC_KEY_FILE holds the base64 SubjectPublicKeyInfo; it is served as the TXT record
"v=DKIM1; k=rsa; p=..." for RECORD_NAME ("selector._domainkey.domain") and for no other name,
so a signature naming the wrong d= or s= fails. Prints "pass" or "fail" (exit 0 or 1); dkimpy's
log goes to stderr.
"""
import logging
import sys

import dkim


def main():
    with open(sys.argv[1], "rb") as f:
        message = f.read()
    with open(sys.argv[2], "rb") as f:
        public_key = f.read().strip()
    record_name = sys.argv[3].lower().rstrip(".")
    queried = []

    def dnsfunc(name, timeout=5):
        text = name.decode("ascii") if isinstance(name, bytes) else name
        queried.append(text)
        if text.lower().rstrip(".") == record_name:
            return b"v=DKIM1; k=rsa; p=" + public_key
        return None

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dnsfunc)
    print("queried: " + ", ".join(queried), file=sys.stderr)
    print("pass" if ok else "fail")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

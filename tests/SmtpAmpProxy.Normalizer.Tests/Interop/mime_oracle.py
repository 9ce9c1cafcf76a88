"""Reads a message with Python's stdlib email package and prints one JSON object on stdout.

alternatives: for every multipart/alternative outside attached messages, in document order, the
content types of its children. leaves: for every leaf (an attached message counts as one leaf, as
the normalizer never looks inside it), its content type and the SHA-256 of its decoded payload.
"""
import email
import email.policy
import hashlib
import json
import sys


def visit(part, alternatives, leaves):
    ctype = part.get_content_type()
    if ctype.startswith("message/") and part.is_multipart():
        inner = b"".join(m.as_bytes() for m in part.get_payload())
        leaves.append({"type": ctype, "sha256": hashlib.sha256(inner).hexdigest()})
        return
    if part.is_multipart():
        children = part.get_payload()
        if ctype == "multipart/alternative":
            alternatives.append([c.get_content_type() for c in children])
        for child in children:
            visit(child, alternatives, leaves)
        return
    payload = part.get_payload(decode=True) or b""
    leaves.append({"type": ctype, "sha256": hashlib.sha256(payload).hexdigest()})


def main():
    with open(sys.argv[1], "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.compat32)
    alternatives, leaves = [], []
    visit(message, alternatives, leaves)
    print(json.dumps({"alternatives": alternatives, "leaves": leaves}))


if __name__ == "__main__":
    main()

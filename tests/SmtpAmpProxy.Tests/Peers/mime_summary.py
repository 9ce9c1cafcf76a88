"""Summarise a message with Python's stdlib email package: one JSON object on stdout.

For every multipart/alternative (in document order): the content types of its children.
For every leaf: its content type and the SHA-256 of its decoded payload.
"""
import email
import email.policy
import hashlib
import json
import sys


def main():
    with open(sys.argv[1], "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.compat32)
    alternatives, leaves = [], []
    for part in message.walk():
        if part.get_content_type() == "multipart/alternative" and part.is_multipart():
            alternatives.append([child.get_content_type() for child in part.get_payload()])
        elif not part.is_multipart():
            payload = part.get_payload(decode=True) or b""
            leaves.append({"type": part.get_content_type(), "sha256": hashlib.sha256(payload).hexdigest()})
    print(json.dumps({"alternatives": alternatives, "leaves": leaves, "defects": len(message.defects)}))


if __name__ == "__main__":
    main()

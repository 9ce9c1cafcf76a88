"""Read a message's X-SMTPAPI fields with Python's stdlib email and json: one JSON object on stdout.

{"fields": [parsed JSON value of each field, unfolded, or null when json.loads refuses it]}
"""
import email
import email.policy
import json
import re
import sys


def main():
    with open(sys.argv[1], "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.compat32)
    fields = []
    for value in message.get_all("X-SMTPAPI") or []:
        text = re.sub(r"\r?\n", "", str(value))
        try:
            fields.append(json.loads(text))
        except ValueError:
            fields.append(None)
    print(json.dumps({"fields": fields}))


main()

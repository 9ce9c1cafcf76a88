#!/usr/bin/env python3
"""Builds AMP corpus messages with Python's stdlib email package (an independent MIME producer).

Usage: python3 generate.py   (writes python/NAME.eml and python/NAME.expected.json)

Every message is deterministic: fixed boundaries, dates and ids. The expectation beside each message is
written here from the AMP rule table, not derived from the normalizer.
"""
import json
import os
from email import policy
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
import base64

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python")

AMP_DOC = ('<!doctype html><html amp4email><head><meta charset="utf-8">'
           '<script async src="https://cdn.ampproject.org/v0.js"></script>'
           '<style amp4email-boilerplate>body{visibility:hidden}</style></head>'
           '<body>Hello World in AMP! \u2014 caf\u00e9</body></html>\n')
PNG = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')

_counter = [0]


def boundary(tag):
    _counter[0] += 1
    return f"==py{_counter[0]:02d}_{tag}=="


def plain(text="Hello World in plain text!\n", charset="us-ascii"):
    return MIMEText(text, "plain", charset)


def html(text="<p>Hello World in HTML!</p>\n", charset="us-ascii"):
    return MIMEText(text, "html", charset)


def amp(text=AMP_DOC):
    return MIMEText(text, "x-amp-html", "utf-8")   # utf-8 makes the stdlib pick base64


def image(cid="logo@example.com"):
    part = MIMEImage(PNG, "png")
    part.add_header("Content-ID", f"<{cid}>")
    part.add_header("Content-Disposition", "inline", filename="logo.png")
    return part


def attachment(name="report.pdf"):
    part = MIMEApplication(b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj\n<</Type/Catalog>>\nendobj\n", "pdf")
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def multipart(subtype, *children, **params):
    m = MIMEMultipart(subtype, boundary=boundary(subtype), **params)
    for c in children:
        m.attach(c)
    return m


def message(root, subject):
    root["From"] = "Sender <sender@example.com>"
    root["To"] = "Rcpt <rcpt@example.org>"
    root["Subject"] = subject
    root["Date"] = "Sat, 01 Jun 2024 12:00:00 +0000"
    root["Message-ID"] = f"<{subject.replace(' ', '-')}@example.com>"
    return root


A, P, H = "text/x-amp-html", "text/plain", "text/html"


def cases():
    yield "py-compliant", message(multipart("alternative", plain(), amp(), html()), "compliant"), \
        dict(verdict="pass", code=None, actions=[], alternatives=[[P, A, H]])
    yield "py-after-html", message(multipart("alternative", plain(), html(), amp()), "after html"), \
        dict(verdict="rewrite", code=None, actions=["amp-after-html"], alternatives=[[P, A, H]])
    yield "py-amp-last", message(multipart("alternative", plain(), amp()), "amp last"), \
        dict(verdict="rewrite", code=None, actions=["amp-last"], alternatives=[[A, P]])
    yield "py-duplicate", message(multipart("alternative", amp(), plain(), amp(AMP_DOC.replace("Hello", "Again")), html()),
                                  "duplicate"), \
        dict(verdict="rewrite", code=None, actions=["amp-duplicate"], alternatives=[[A, P, H]])
    yield "py-misplaced-mixed", message(multipart("mixed", plain(), amp()), "misplaced"), \
        dict(verdict="reject", code="amp-misplaced", actions=[], alternatives=None)
    yield "py-no-fallback", message(multipart("alternative", amp(), image()), "no fallback"), \
        dict(verdict="reject", code="amp-no-fallback", actions=[], alternatives=None)
    yield "py-mixed-related-attachment", message(
        multipart("mixed", multipart("related", multipart("alternative", plain(), html('<p><img src="cid:logo@example.com"></p>\n'), amp()),
                                     image()), attachment()), "nested"), \
        dict(verdict="rewrite", code=None, actions=["amp-after-html"], alternatives=[[P, A, H]])
    yield "py-related-start", message(
        multipart("alternative", plain(),
                  multipart("related", image(), _with_cid(html(), "root@example.com"), start="<root@example.com>", type="text/html"),
                  amp()), "related start"), \
        dict(verdict="rewrite", code=None, actions=["amp-after-html"], alternatives=[[P, A, "multipart/related"]])
    yield "py-two-alternatives", message(
        multipart("mixed", multipart("alternative", plain(), html(), amp()), multipart("alternative", plain(), amp())), "two"), \
        dict(verdict="rewrite", code=None, actions=["amp-after-html", "amp-last"], alternatives=[[P, A, H], [A, P]])
    yield "py-signed", message(
        multipart("signed", multipart("alternative", plain(), html(), amp()),
                  MIMEApplication(b"-----BEGIN PGP SIGNATURE-----\nAAAA\n-----END PGP SIGNATURE-----\n", "pgp-signature"),
                  protocol="application/pgp-signature", micalg="pgp-sha256"), "signed"), \
        dict(verdict="pass", code=None, actions=[], warnings=["amp-in-signed"], alternatives=[[P, H, A]])
    inner = message(multipart("alternative", plain(), html(), amp()), "inner")
    yield "py-attached-message", message(multipart("mixed", plain(), MIMEMessage(inner)), "attached"), \
        dict(verdict="pass", code=None, actions=[], alternatives=[])
    yield "py-quoted-printable", message(
        multipart("alternative", plain("Gr\u00fc\u00dfe, caf\u00e9 " * 20 + "\n", "iso-8859-1"), html("<p>caf\u00e9</p>\n", "utf-8"), amp()),
        "qp and base64"), \
        dict(verdict="rewrite", code=None, actions=["amp-after-html"], alternatives=[[P, A, H]])
    yield "py-non-amp", message(multipart("mixed", multipart("alternative", plain(), html()), attachment()), "non amp"), \
        dict(verdict="pass", code=None, actions=[], alternatives=[[P, H]])


def _with_cid(part, cid):
    part.add_header("Content-ID", f"<{cid}>")
    return part


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, msg, expected in cases():
        with open(os.path.join(OUT, name + ".eml"), "wb") as f:
            f.write(msg.as_bytes(policy=policy.SMTP))
        with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
            json.dump(expected, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()

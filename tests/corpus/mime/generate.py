#!/usr/bin/env python3
"""Writes the python/*.eml corpus with the standard library's email package, an independent MIME producer.

Deterministic: the random module is seeded, so boundaries are the same on every run. Re-run after changing this
file and commit the outputs (the .tree summaries beside them are refreshed by the tests with
MIME_UPDATE_GOLDEN=1).
"""
import base64
import os
import random
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'python')
AMP = '<!doctype html><html \u26a14email data-css-strict><head><meta charset="utf-8"></head><body>Hello AMP</body></html>\n'


def rnd_bytes(seed, n):
    r = random.Random(seed)
    return bytes(r.randrange(256) for _ in range(n))


def save(name, msg, pol=policy.SMTP):
    with open(os.path.join(OUT, name + '.eml'), 'wb') as f:
        f.write(msg.as_bytes(policy=pol))


def headers(msg, subject):
    msg['From'] = 'Sender <sender@example.com>'
    msg['To'] = 'Recipient <rcpt@example.org>'
    msg['Subject'] = subject
    return msg


def main():
    random.seed(20240601)
    os.makedirs(OUT, exist_ok=True)

    m = headers(EmailMessage(), 'plain text')
    m.set_content('Just text.\nSecond line.\n')
    save('py-plain', m)

    m = headers(EmailMessage(), 'AMP alternative, compliant order')
    m.set_content('Plain fallback.\n')
    m.add_alternative(AMP, subtype='x-amp-html')
    m.add_alternative('<html><body><p>HTML fallback</p></body></html>\n', subtype='html')
    # AMP first, as Gmail asks: move it before the plain part.
    parts = m.get_payload()
    m.set_payload([parts[1], parts[0], parts[2]])
    save('py-amp-alternative', m)

    m = headers(EmailMessage(), 'AMP after HTML')
    m.set_content('Plain fallback.\n')
    m.add_alternative('<html><body><p>HTML</p></body></html>\n', subtype='html')
    m.add_alternative(AMP, subtype='x-amp-html')
    save('py-amp-after-html', m)

    m = headers(EmailMessage(), 'mixed with attachments')
    m.set_content('See attachments.\n')
    m.add_alternative(AMP, subtype='x-amp-html')
    m.add_alternative('<p>html</p>\n', subtype='html')
    m.add_attachment(rnd_bytes(1, 3000), maintype='application', subtype='octet-stream', filename='random.bin')
    m.add_attachment(rnd_bytes(2, 700), maintype='image', subtype='png', filename='pixel.png')
    save('py-mixed-attachments', m)

    m = headers(EmailMessage(), 'related with inline image')
    m.set_content('plain\n')
    m.add_alternative('<html><body><img src="cid:logo@example"></body></html>\n', subtype='html')
    html = m.get_payload()[1]
    html.add_related(rnd_bytes(3, 400), maintype='image', subtype='png', cid='<logo@example>')
    save('py-related', m)

    inner = headers(EmailMessage(), 'inner message')
    inner.set_content('inner plain\n')
    inner.add_alternative('<p>inner html</p>\n', subtype='html')
    m = headers(EmailMessage(), 'forwarded message attached')
    m.set_content('Forwarding.\n')
    m.add_attachment(inner)
    save('py-rfc822', m)

    m = headers(EmailMessage(), 'non-ASCII and long file names')
    m.set_content('Files with names that need RFC 2231.\n')
    m.add_attachment(b'%PDF-1.4\n', maintype='application', subtype='pdf',
                     filename='R\u00e9sum\u00e9 \u2013 \u00fcberlange Dateinamen brauchen Fortsetzungszeilen nach RFC 2231 '
                              'und noch viel mehr Text damit gefaltet wird.pdf')
    save('py-rfc2231-filename', m)

    m = headers(EmailMessage(), 'bare LF line ends')
    m.set_content('plain\n')
    m.add_alternative(AMP, subtype='x-amp-html')
    m.add_attachment(rnd_bytes(4, 200), maintype='application', subtype='octet-stream', filename='a.bin')
    save('py-lf-line-ends', m, pol=policy.default)

    m = MIMEMultipart('mixed')
    headers(m, 'legacy MIME classes, nested')
    alt = MIMEMultipart('alternative')
    alt.attach(MIMEText('plain legacy\n', 'plain', 'utf-8'))
    alt.attach(MIMEText('<p>\u00e9t\u00e9</p>\n', 'html', 'utf-8'))
    m.attach(alt)
    m.attach(MIMEApplication(rnd_bytes(5, 1500), Name='data.bin'))
    m.preamble = 'This is a multi-part message in MIME format.'
    m.epilogue = 'epilogue text'
    save('py-legacy-nested', m)

    m = headers(EmailMessage(), 'quoted-printable and 8bit')
    m.set_content('Gr\u00fc\u00dfe aus K\u00f6ln, ' + 'lange Zeile ' * 12 + '\n', cte='quoted-printable')
    m.add_alternative('<p>\u00e9t\u00e9 \u20ac</p>\n', subtype='html', cte='8bit')
    save('py-qp-8bit', m, pol=policy.SMTPUTF8)


if __name__ == '__main__':
    main()

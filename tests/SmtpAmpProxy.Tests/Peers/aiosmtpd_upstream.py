"""An upstream relay for tests, built on aiosmtpd (run with Debian's /usr/bin/python3).

usage: aiosmtpd_upstream.py OUTDIR [--reject-rcpt-prefix P] [--tempfail-marker M] [--port N] [--no-smtputf8]
                             [--tls-cert CERT --tls-key KEY] [--auth USER:PASSWORD]
Listens on 127.0.0.1 on a free port (or N, for an upstream that comes back where it was) and prints "READY <port>" once serving. Each accepted
message is written to OUTDIR/<n>.eml exactly as received (after SMTP dot-unstuffing),
with its envelope in OUTDIR/<n>.json. Recipients starting with P get 550; a message whose
body holds M gets 452 at the end of data. --no-smtputf8: SMTPUTF8 is not offered. With a certificate, STARTTLS is
required; with --auth, so is AUTH (after TLS when there is a certificate). Exits when stdin closes.
"""
import argparse
import json
import os
import socket
import sys
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Handler:
    def __init__(self, outdir, reject_prefix, tempfail_marker):
        self.outdir = outdir
        self.reject_prefix = reject_prefix
        self.tempfail_marker = tempfail_marker
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_prefix and address.startswith(self.reject_prefix):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if self.tempfail_marker and self.tempfail_marker.encode() in data:
            return "452 4.3.1 Insufficient system storage"
        with self.lock:
            self.count += 1
            n = self.count
        path = os.path.join(self.outdir, "%d.eml" % n)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        with open(os.path.join(self.outdir, "%d.json" % n), "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos, "options": envelope.mail_options,
                       "tls": session.ssl is not None, "auth": session.authenticated}, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: queued as AIO%d" % n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--reject-rcpt-prefix", default="")
    parser.add_argument("--tempfail-marker", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-smtputf8", action="store_true")
    parser.add_argument("--tls-cert", default="")
    parser.add_argument("--tls-key", default="")
    parser.add_argument("--auth", default="")
    args = parser.parse_args()
    handler = Handler(args.outdir, args.reject_rcpt_prefix, args.tempfail_marker)
    # aiosmtpd's Controller connects to its own port to see it serving, so it needs a real one.
    port = args.port
    if not port:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
    options = {}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, password = args.auth.encode().split(b":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            return AuthResult(success=auth_data.login == user and auth_data.password == password, handled=False)

        options.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(args.tls_cert))
    controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=False,
                            server_hostname="upstream.test", enable_SMTPUTF8=not args.no_smtputf8, **options)
    controller.start()
    print("READY %d" % port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()

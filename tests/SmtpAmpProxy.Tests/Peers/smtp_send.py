"""Send one message with Python's smtplib and print the outcome as one JSON line.

usage: smtp_send.py HOST PORT FROM TO[,TO...] FILE [--starttls]
Prints {"ok": true, "refused": {...}} or {"ok": false, "stage": ..., "code": N, "text": ...}.
"""
import json
import smtplib
import ssl
import sys


def main():
    host, port, sender, rcpts, path = sys.argv[1:6]
    starttls = "--starttls" in sys.argv[6:]
    with open(path, "rb") as f:
        data = f.read()
    try:
        with smtplib.SMTP(host, int(port), timeout=30) as client:
            client.ehlo("sender.test")
            if starttls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                client.starttls(context=context)
                client.ehlo("sender.test")
            refused = client.sendmail(sender, rcpts.split(","), data)
            print(json.dumps({"ok": True, "refused": {k: [v[0], v[1].decode("utf-8", "replace")] for k, v in refused.items()}}))
    except smtplib.SMTPRecipientsRefused as e:
        first = next(iter(e.recipients.values()))
        print(json.dumps({"ok": False, "stage": "rcpt", "code": first[0], "text": first[1].decode("utf-8", "replace")}))
    except smtplib.SMTPSenderRefused as e:
        print(json.dumps({"ok": False, "stage": "mail", "code": e.smtp_code, "text": e.smtp_error.decode("utf-8", "replace")}))
    except smtplib.SMTPDataError as e:
        print(json.dumps({"ok": False, "stage": "data", "code": e.smtp_code, "text": e.smtp_error.decode("utf-8", "replace")}))
    except smtplib.SMTPResponseException as e:
        print(json.dumps({"ok": False, "stage": "other", "code": e.smtp_code, "text": e.smtp_error.decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()

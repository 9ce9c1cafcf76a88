"""Parses a delivery status notification with the stdlib email package and prints what it found as JSON."""
import email
import email.header
import email.policy
import json
import sys

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.compat32)

def text(value):
    """Header values of 8-bit messages come back with surrogate escapes; turn them back into UTF-8."""
    if value is None:
        return None
    if isinstance(value, email.header.Header):
        # Raw 8-bit bytes in a header come back as a Header with the "unknown-8bit" charset.
        return "".join(
            b.decode("utf-8" if c in (None, "unknown-8bit") else c) if isinstance(b, bytes) else b
            for b, c in email.header.decode_header(value))
    try:
        return str(value).encode("ascii", "surrogateescape").decode("utf-8")
    except UnicodeEncodeError:
        return str(value)


parts = msg.get_payload() if msg.is_multipart() else []
report = {
    "type": msg.get_content_type(),
    "report_type": msg.get_param("report-type"),
    "defects": [type(d).__name__ for d in msg.defects],
    "parts": [p.get_content_type() for p in parts],
    "recipients": [],
    "per_message": {},
    "original_subject": None,
}
for part in parts:
    if part.get_content_type() == "message/delivery-status":
        blocks = part.get_payload()
        report["per_message"] = {k: text(v) for k, v in blocks[0].items()}
        for block in blocks[1:]:
            report["recipients"].append({
                "final_recipient": text(block.get("Final-Recipient")),
                "action": text(block.get("Action")),
                "status": text(block.get("Status")),
                "diagnostic": text(block.get("Diagnostic-Code")),
            })
    if part.get_content_type() == "text/rfc822-headers":
        original = email.message_from_string(part.get_payload(), policy=email.policy.compat32)
        report["original_subject"] = original.get("Subject")
print(json.dumps(report))

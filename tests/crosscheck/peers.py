#!/usr/bin/env python3
"""Decode PDUs with the two peer implementations (python-gammu and
python-gsmmodem-new) into one small common shape.

As a program: reads JSON lines `{"pdu": HEX}` on stdin and prints, per line,
`{"gammu": {...}, "gsmmodem": {...}}` — used by smsgate's cross-check test to
check that PDUs smsgate encodes decode correctly elsewhere.
"""
import json
import sys

import gammu
import gsmmodem.pdu as gp


def _number(n):
    return n if n else None


def decode_with_gammu(hexpdu, smsc=True):
    try:
        d = gammu.DecodePDU(bytes.fromhex(hexpdu), smsc)
    except Exception as e:  # the peer's own error, reported as data
        return {"error": str(e)}
    udh = d.get("UDH", {})
    concat = None
    if udh.get("Type") not in (None, "NoUDH") and udh.get("AllParts", 0) > 0:
        ref = udh["ID8bit"] if udh.get("ID8bit", -1) >= 0 else udh.get("ID16bit")
        concat = {"ref": ref, "part": udh["PartNumber"], "total": udh["AllParts"]}
    return {
        "type": {"Deliver": "sms-deliver", "Submit": "sms-submit", "Status_Report": "sms-status-report"}.get(
            d.get("Type"), d.get("Type")
        ),
        "number": _number(d.get("Number")),
        "text": d.get("Text"),
        "concat": concat,
        "message_ref": d.get("MessageReference"),
    }


def decode_with_gsmmodem(hexpdu):
    try:
        d = gp.decodeSmsPdu(hexpdu)
    except Exception as e:
        return {"error": str(e)}
    concat = None
    for ie in d.get("udh", []) or []:
        if isinstance(ie, gp.Concatenation):
            concat = {"ref": ie.reference, "part": ie.number, "total": ie.parts}
    text = d.get("text")
    if text is not None:
        # gsmmodem returns UTF-16 surrogates unjoined; join them.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return {
        "type": {"SMS-DELIVER": "sms-deliver", "SMS-SUBMIT": "sms-submit", "SMS-STATUS-REPORT": "sms-status-report"}.get(
            d.get("type"), d.get("type")
        ),
        "number": _number(d.get("number")),
        "text": text,
        "concat": concat,
        "message_ref": d.get("reference"),
    }


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        out = {"gammu": decode_with_gammu(req["pdu"]), "gsmmodem": decode_with_gsmmodem(req["pdu"])}
        print(json.dumps(out, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()

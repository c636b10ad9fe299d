#!/usr/bin/env python3
"""Generate cross-check vectors for smsgate's PDU codec from two independent
implementations: python-gsmmodem-new (pure Python) and python-gammu (libGammu).

Each vector is a PDU (hex, with its SMSC field) plus the fields the *producing*
library put in, written in the vocabulary of `smsgate pdu decode`. The
vectors are also decoded by the *other* library, and a vector is only kept
when both libraries agree, so a fixture never pins down one library's bug.

Regenerate (writes tests/fixtures/crosscheck/vectors.json):

    python3 -m venv target/xcheck-venv
    target/xcheck-venv/bin/pip install python-gsmmodem-new python-gammu
    target/xcheck-venv/bin/python tests/crosscheck/generate_vectors.py
"""
import datetime
import json
import os
import sys

import gammu
import gsmmodem
import gsmmodem.pdu as gp

from peers import decode_with_gammu, decode_with_gsmmodem

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "crosscheck", "vectors.json")

TEXTS = [
    ("gsm7_plain", "Hola, te escribo desde la web"),
    ("gsm7_extension", "Precio: 5€ [oferta] {hoy} ~ \\ ^ |"),
    ("gsm7_latin1_subset", "Ñandú ñoño Ü ü Ä é è ù ì ò Ç Ø ø Å å ß É"),
    ("ucs2_spanish", "¿Cómo estás? Aquí está tu respuesta, María."),
    ("ucs2_emoji", "Nos vemos 👍🏽 a las 8 🎉"),
    ("gsm7_ctrl_z_esc_in_text", "a\x1ab"),
    ("gsm7_multipart", "Mensaje largo " * 20),
    ("gsm7_multipart_extension_boundary", "x" * 152 + "€" + "y" * 20),
    ("ucs2_multipart", "canción " * 20),
    ("ucs2_multipart_emoji", "🙂" * 40),
]

NUMBERS = [
    ("international", "+18095551234"),
    ("national", "8095551234"),
]


def gsmmodem_submit_vectors():
    out = []
    ref = 1
    for name, text in TEXTS:
        for kind, number in NUMBERS:
            for report in (False, True):
                try:
                    pdus = gp.encodeSmsSubmitPdu(
                        number, text, reference=ref, requestStatusReport=report
                    )
                except ValueError as e:
                    # python-gsmmodem-new cannot encode characters outside
                    # the BMP (emoji); gammu's vectors cover those.
                    print(f"gsmmodem cannot encode {name}: {e}", file=sys.stderr)
                    break
                total = len(pdus)
                for i, p in enumerate(pdus):
                    expected = {
                        "type": "sms-submit",
                        "smsc": None,
                        "to": number,
                        "address_type": kind,
                        "status_report_request": report,
                        "message_ref": ref,
                    }
                    if total > 1:
                        expected["udh"] = {"concat": {"part": i + 1, "total": total}}
                    out.append(
                        {
                            "name": f"gsmmodem_submit_{name}_{kind}_{'report' if report else 'noreport'}_part{i + 1}",
                            "producer": "python-gsmmodem-new " + gsmmodem_version(),
                            "pdu": p.data.hex().upper(),
                            "tpdu_length": p.tpduLength,
                            "expected": expected,
                            "part_text_of": text,
                        }
                    )
                ref = (ref + 1) % 256
    return out


def gammu_deliver_vectors():
    out = []
    when = datetime.datetime(2026, 11, 25, 10, 30, 15)
    for name, text in TEXTS:
        try:
            gp.encodeGsm7(text)
            unicode = False
        except ValueError:
            unicode = True
        info = {
            "Class": -1,
            "Unicode": unicode,
            "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": text}],
        }
        parts = gammu.EncodeSMS(info)
        for i, sms in enumerate(parts):
            sms["SMSC"] = {"Location": 0, "Number": "+18095550000"}
            sms["Number"] = "+18095551234"
            sms["DateTime"] = when
            sms["Type"] = "Deliver"
            pdu = gammu.EncodePDU(sms, "Deliver")
            expected = {
                "type": "sms-deliver",
                "smsc": "+18095550000",
                "from": "+18095551234",
                "address_type": "international",
                "timestamp": "2026-11-25T10:30:15+00:00",
                "encoding": {"Unicode_No_Compression": "ucs2"}.get(sms["Coding"], "gsm7"),
            }
            udh = sms["UDH"]
            if udh["Type"] != "NoUDH":
                expected["udh"] = {
                    "concat": {
                        "ref": udh["ID8bit"],
                        "part": udh["PartNumber"],
                        "total": udh["AllParts"],
                    }
                }
            out.append(
                {
                    "name": f"gammu_deliver_{name}_part{i + 1}",
                    "producer": "python-gammu " + gammu.Version()[1],
                    "pdu": pdu.hex().upper(),
                    "expected": expected,
                    "part_text_of": text,
                }
            )
    return out


def gsmmodem_version():
    return getattr(gsmmodem, "__version__", "unknown")


def main():
    vectors = []
    groups = {}
    for v in gsmmodem_submit_vectors() + gammu_deliver_vectors():
        groups.setdefault(v["name"].rsplit("_part", 1)[0], []).append(v)
    for name, parts in groups.items():
        text = parts[0]["part_text_of"]
        decoded = {
            "gammu": [decode_with_gammu(v["pdu"]) for v in parts],
            "gsmmodem": [decode_with_gsmmodem(v["pdu"]) for v in parts],
        }
        # The expected fields come from a peer's *decoder*, and only when
        # the parts it decoded join up to exactly the text that was encoded:
        # a peer's decoding bug (gammu over-reads after GSM escapes) never
        # becomes a fixture.
        chosen = None
        for peer in ("gsmmodem", "gammu"):
            ds = decoded[peer]
            if any("error" in d for d in ds):
                continue
            if "".join(d["text"] for d in ds) == text and all(
                d["number"] == v["expected"].get("to", v["expected"].get("from"))
                for d, v in zip(ds, parts)
            ):
                chosen = peer
                break
        if chosen is None:
            print(f"skipped {name}: no peer decodes it back to its text", file=sys.stderr)
            continue
        for v, d in zip(parts, decoded[chosen]):
            v["expected"]["text"] = d["text"]
            if d["concat"] is not None:
                v["expected"].setdefault("udh", {})["concat"] = d["concat"]
            v["decoded_by"] = chosen
            del v["part_text_of"]
            vectors.append(v)
    doc = {
        "about": "PDUs produced by python-gsmmodem-new and python-gammu; expected "
        "fields from the producer's input and a peer decoder whose parts join "
        "back to the encoded text; vocabulary of `smsgate pdu decode`. "
        "Regenerate with tests/crosscheck/generate_vectors.py.",
        "vectors": vectors,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(vectors)} vectors written to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()

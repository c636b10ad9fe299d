"""A small SMSC for tests/smpp_peer.rs, on an SMPP implementation nobody
here wrote: every PDU is decoded and encoded by smpp.pdu (PyPI `smpp.pdu3`,
the PDU codec of the Jasmin SMS gateway), and GSM 03.38 text by PyPI
`gsm0338`. smsgate's SMPP client talks to it as to an operator's SMSC.

It binds transceivers that give the right system_id/password, answers
enquire_link, takes submit_sm (the first one answered ESME_RTHROTTLED when
started with --throttle-first), answers each accepted one with a message id
and sends its delivery receipt (esm_class 0x04 with receipted_message_id,
message_state and the Appendix B text), and sends a phone's message as a
deliver_sm when told on stdin.

stdout: one JSON object a line: {"port": N} first, then {"event": ...}.
stdin: one JSON command a line: {"mo": {"from": "+1809...", "to": "2222",
"text": "...", "ucs2": false}}.
"""

import argparse
import asyncio
import io
import json
import struct
import sys

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from smpp.pdu import operations as op
from smpp.pdu.pdu_encoding import PDUEncoder
from smpp.pdu.pdu_types import (AddrNpi, AddrTon, CommandId, CommandStatus,
                                DataCoding, DataCodingDefault, DataCodingScheme,
                                EsmClass, EsmClassGsmFeatures, EsmClassMode,
                                EsmClassType, MessageState, PriorityFlag,
                                RegisteredDelivery, RegisteredDeliveryReceipt,
                                ReplaceIfPresentFlag)

ENC = PDUEncoder()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def text_of(pdu):
    """The text of a submit_sm and its concatenation (ref, total, seq)."""
    sm = pdu.params.get("short_message") or b""
    udh = None
    if EsmClassGsmFeatures.UDHI_INDICATOR_SET in pdu.params["esm_class"].gsmFeatures:
        hl = sm[0]
        header, sm = sm[1:hl + 1], sm[hl + 1:]
        i = 0
        while i < len(header):
            iei, ln = header[i], header[i + 1]
            data = header[i + 2:i + 2 + ln]
            if iei == 0x00:
                udh = [data[0], data[1], data[2]]
            elif iei == 0x08:
                udh = [struct.unpack("!H", data[:2])[0], data[2], data[3]]
            i += 2 + ln
    if pdu.params.get("sar_msg_ref_num") is not None:
        udh = [pdu.params["sar_msg_ref_num"], pdu.params["sar_total_segments"],
               pdu.params["sar_segment_seqnum"]]
    dc = pdu.params["data_coding"]
    scheme = dc.schemeData if dc.scheme == DataCodingScheme.DEFAULT else None
    if scheme == DataCodingDefault.UCS2:
        return "ucs2", sm.decode("utf-16-be"), udh
    if scheme == DataCodingDefault.SMSC_DEFAULT_ALPHABET:
        # GSM 7-bit unpacked, one septet per octet.
        return "gsm", sm.decode("gsm03.38"), udh
    if scheme == DataCodingDefault.LATIN_1:
        return "latin1", sm.decode("latin-1"), udh
    return str(dc), sm.hex(), udh


class Smsc:
    def __init__(self, args):
        self.args = args
        self.seq = 0
        self.next_id = 0
        self.throttle = args.throttle_first
        self.lines = []

    def seq_num(self):
        self.seq += 1
        return self.seq

    async def serve(self, reader, writer):
        bound = False
        self.lines.append(writer)
        try:
            while True:
                head = await reader.readexactly(4)
                (length,) = struct.unpack("!L", head)
                body = await reader.readexactly(length - 4)
                pdu = ENC.decode(io.BytesIO(head + body))
                if pdu.id == CommandId.bind_transceiver:
                    ok = (pdu.params["system_id"] == self.args.system_id.encode()
                          and pdu.params["password"] == self.args.password.encode())
                    status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RINVPASWD
                    bound = ok
                    self.send(writer, op.BindTransceiverResp(seqNum=pdu.seqNum, status=status,
                                                             system_id="pysmsc"))
                    emit({"event": "bind", "ok": ok,
                          "interface_version": pdu.params.get("interface_version")})
                elif pdu.id == CommandId.enquire_link:
                    self.send(writer, op.EnquireLinkResp(seqNum=pdu.seqNum))
                elif pdu.id == CommandId.unbind:
                    self.send(writer, op.UnbindResp(seqNum=pdu.seqNum))
                    emit({"event": "unbind"})
                    break
                elif pdu.id == CommandId.submit_sm and bound:
                    await self.submit(writer, pdu)
                elif pdu.id == CommandId.deliver_sm_resp:
                    emit({"event": "deliver_sm_resp", "seq": pdu.seqNum,
                          "status": pdu.status.name})
                else:
                    emit({"event": "other", "command": pdu.id.name})
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self.lines:
                self.lines.remove(writer)
            writer.close()

    def send(self, writer, pdu):
        writer.write(ENC.encode(pdu))

    async def submit(self, writer, pdu):
        if self.throttle > 0:
            self.throttle -= 1
            self.send(writer, op.SubmitSMResp(seqNum=pdu.seqNum,
                                              status=CommandStatus.ESME_RTHROTTLED))
            emit({"event": "throttled", "seq": pdu.seqNum})
            return
        self.next_id += 1
        # With --receipt-decimal: the id in hexadecimal here and in decimal
        # in the receipt, as some SMSCs do (Kannel's msg-id-type).
        number = 0x5A0000 + self.next_id
        message_id = ("%x" % number) if self.args.receipt_decimal else "py%06d" % self.next_id
        receipt_id = str(number) if self.args.receipt_decimal else message_id
        coding, text, udh = text_of(pdu)
        self.send(writer, op.SubmitSMResp(seqNum=pdu.seqNum, message_id=message_id))
        emit({
            "event": "submit", "message_id": message_id,
            "source_addr": pdu.params["source_addr"].decode(),
            "source_addr_ton": pdu.params["source_addr_ton"].name,
            "destination_addr": pdu.params["destination_addr"].decode(),
            "dest_addr_ton": pdu.params["dest_addr_ton"].name,
            "dest_addr_npi": pdu.params["dest_addr_npi"].name,
            "coding": coding, "text": text, "udh": udh,
            "registered_delivery": pdu.params["registered_delivery"].receipt.name,
            "validity_period": (pdu.params.get("validity_period") or b"").decode()
            if isinstance(pdu.params.get("validity_period"), bytes) else
            str(pdu.params.get("validity_period")),
        })
        if pdu.params["registered_delivery"].receipt != \
                RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED:
            receipt = ("id:%s sub:001 dlvrd:001 submit date:2612011000 done date:2612011000 "
                       "stat:DELIVRD err:000 text:%s" % (receipt_id, text[:20].encode(
                           "ascii", "replace").decode()))
            self.send(writer, op.DeliverSM(
                seqNum=self.seq_num(),
                service_type="",
                source_addr_ton=pdu.params["dest_addr_ton"],
                source_addr_npi=pdu.params["dest_addr_npi"],
                source_addr=pdu.params["destination_addr"],
                dest_addr_ton=pdu.params["source_addr_ton"],
                dest_addr_npi=pdu.params["source_addr_npi"],
                destination_addr=pdu.params["source_addr"],
                esm_class=EsmClass(EsmClassMode.DEFAULT, EsmClassType.SMSC_DELIVERY_RECEIPT),
                protocol_id=0,
                priority_flag=PriorityFlag.LEVEL_0,
                registered_delivery=RegisteredDelivery(
                    RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED),
                replace_if_present_flag=ReplaceIfPresentFlag.DO_NOT_REPLACE,
                data_coding=DataCoding(schemeData=DataCodingDefault.SMSC_DEFAULT_ALPHABET),
                short_message=receipt.encode(),
                receipted_message_id=receipt_id,
                message_state=MessageState.DELIVERED,
            ))
            emit({"event": "receipt", "message_id": message_id})

    def mo(self, cmd):
        if not self.lines:
            emit({"event": "error", "why": "no bound client for the MO"})
            return
        ucs2 = cmd.get("ucs2", False)
        try:
            body = cmd["text"].encode("utf-16-be" if ucs2 else "gsm03.38")
        except UnicodeEncodeError as e:
            emit({"event": "error", "why": "not GSM 03.38: %s" % e})
            return
        scheme = DataCodingDefault.UCS2 if ucs2 else DataCodingDefault.SMSC_DEFAULT_ALPHABET
        seq = self.seq_num()
        self.send(self.lines[-1], op.DeliverSM(
            seqNum=seq,
            service_type="",
            source_addr_ton=AddrTon.INTERNATIONAL,
            source_addr_npi=AddrNpi.ISDN,
            source_addr=cmd["from"].lstrip("+"),
            dest_addr_ton=AddrTon.UNKNOWN,
            dest_addr_npi=AddrNpi.UNKNOWN,
            destination_addr=cmd["to"],
            esm_class=EsmClass(EsmClassMode.DEFAULT, EsmClassType.DEFAULT),
            protocol_id=0,
            priority_flag=PriorityFlag.LEVEL_0,
            registered_delivery=RegisteredDelivery(
                RegisteredDeliveryReceipt.NO_SMSC_DELIVERY_RECEIPT_REQUESTED),
            replace_if_present_flag=ReplaceIfPresentFlag.DO_NOT_REPLACE,
            data_coding=DataCoding(schemeData=scheme),
            short_message=body,
        ))
        emit({"event": "mo", "seq": seq})


async def commands(smsc):
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        if "mo" in cmd:
            smsc.mo(cmd["mo"])


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--system-id", default="smsgate")
    ap.add_argument("--password", default="secret")
    ap.add_argument("--throttle-first", type=int, default=0)
    ap.add_argument("--receipt-decimal", action="store_true")
    ap.add_argument("--seconds", type=float, default=120,
                    help="the SMSC stops by itself after this long")
    args = ap.parse_args()
    smsc = Smsc(args)
    server = await asyncio.start_server(smsc.serve, "127.0.0.1", 0)
    emit({"port": server.sockets[0].getsockname()[1]})
    asyncio.create_task(commands(smsc))
    await asyncio.sleep(args.seconds)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())

#!/usr/bin/env python3
"""kannel (bearerbox with the `at` SMSC + smsbox) on an emulated modem:
outbound msgs/s through smsbox's sendsms HTTP interface, MO latency to an
sms-service get-url on a loopback listener. See README.md."""

import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import peerlib

SMSC = {
    "smsc": "at",
    "modemtype": "smsgate-emulator",
    "speed": 115200,
    # Incoming messages come as +CMT URCs (CNMI mt=2), not by polling the
    # SIM: no sim-buffering, no keepalive polling.
    "sim-buffering": "false",
    "keepalive": 0,
    "max-error-count": 5,
}
MODEM = {
    "id": "smsgate-emulator",
    "name": "smsgate emulated modem",
    "detect-string": "smsgate",
    # Messages straight to the DTE as +CMT (PDU), reports as +CDS.
    "init-string": "AT+CNMI=1,2,0,1,0",
    "speed": 115200,
    # Default 100 ms sleep after every line written to the modem; 0 is the
    # best case.
    "sendline-sleep": 0,
    "need-sleep": "false",
    "no-pin": "false",
    "no-smsc": "false",
    "keepalive-cmd": "AT",
    "message-storage": "SM",
}
SETTINGS = {
    # Set per row: dlr-mask=31 with a dlr-url on every sendsms call (a
    # report requested, matched by bearerbox and posted to the loopback
    # listener), or no dlr-mask (none requested).
    "dlr": None,
    "smsc group": SMSC,
    "modems group": MODEM,
    "sms-service": "keyword=default, get-url to a loopback listener (records time_ns), max-messages=0",
    "sendsms": "smsbox /cgi-bin/sendsms, 8 concurrent HTTP clients",
}
SENDSMS_CLIENTS = 8


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Kannel(peerlib.Peer):
    name = "kannel"
    package = "kannel"

    def settings(self):
        dlr = ("dlr-mask=31, dlr-url to the loopback listener" if self.reports
               else "no dlr-mask")
        return dict(SETTINGS, dlr=dlr)

    def start(self):
        d = self.dir
        self.listener = peerlib.HookListener(self.hook_log)
        self.short_code = self.control.short_code()
        admin, boxc, self.sendsms_port = (peerlib.free_port() for _ in range(3))
        conf = os.path.join(d, "kannel.conf")
        with open(conf, "w") as f:
            f.write(
                "group = core\n"
                f"admin-port = {admin}\nadmin-password = bench\n"
                "admin-allow-ip = \"127.0.0.1\"\n"
                f"smsbox-port = {boxc}\nbox-allow-ip = \"127.0.0.1\"\n"
                f"log-file = \"{d}/bearerbox.log\"\nlog-level = 1\n"
                f"access-log = \"{d}/access.log\"\n"
                "sms-resend-retry = 1\n\n"
                "group = smsc\nsmsc-id = emu\n"
                f"device = {self.device}\n"
            )
            for k, v in SMSC.items():
                f.write(f"{k} = {v}\n")
            f.write("\ngroup = modems\n")
            for k, v in MODEM.items():
                f.write(f"{k} = \"{v}\"\n" if isinstance(v, str) else f"{k} = {v}\n")
            f.write(
                "\ngroup = smsbox\nbearerbox-host = 127.0.0.1\n"
                f"bearerbox-port = {boxc}\nsendsms-port = {self.sendsms_port}\n"
                f"log-file = \"{d}/smsbox.log\"\nlog-level = 1\n"
                f"access-log = \"{d}/smsbox-access.log\"\n\n"
                "group = sendsms-user\nusername = bench\npassword = bench\n"
                "max-messages = 1\n\n"
                "group = sms-service\nkeyword = default\ncatch-all = true\n"
                f"get-url = \"http://127.0.0.1:{self.listener.port}/mo?text=%a&from=%p\"\n"
                "max-messages = 0\naccept-x-kannel-headers = false\n"
            )
        self.spawn(["bearerbox", conf], "bearerbox.out")
        # smsbox gives up at once when bearerbox is not listening yet.
        peerlib.wait_for("bearerbox's smsbox port",
                         lambda: port_open(boxc), 30, self)
        self.spawn(["smsbox", conf], "smsbox.out")

    def _send_one(self, msg):
        phone, text = msg
        params = {"username": "bench", "password": "bench", "from": self.short_code,
                  "to": phone, "text": text}
        if self.reports:
            params["dlr-mask"] = 31
            params["dlr-url"] = f"http://127.0.0.1:{self.listener.port}/dlr?type=%d"
        q = urllib.parse.urlencode(params)
        url = f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms?{q}"
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read().decode(errors="replace")
        if r.status not in (200, 202):
            raise RuntimeError(f"sendsms answered {r.status}: {body}")

    def submit(self, messages):
        # smsbox may not be connected yet at warm-up: retry refused calls.
        for attempt in range(100):
            try:
                self._send_one(messages[0])
                break
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, ConnectionError):
                self.check_alive()
                if attempt == 99:
                    raise
                time.sleep(0.2)
        with ThreadPoolExecutor(SENDSMS_CLIENTS) as pool:
            list(pool.map(self._send_one, messages[1:]))

    def extra(self):
        return {"dlr_callbacks": self.listener.dlr_calls}

    def stop(self):
        super().stop()
        if getattr(self, "listener", None):
            self.listener.stop()


if __name__ == "__main__":
    peerlib.main(Kannel)

#!/usr/bin/env python3
"""gammu-smsd (files backend) on an emulated modem: outbound msgs/s from its
outbox, MO latency to its RunOnReceive hook. See README.md."""

import os
import select
import time
import tty

import peerlib

SETTINGS = {
    # One outbox message is sent per main-loop turn; LoopSleep is whole
    # seconds and 0 turns the sleep off (the loop spins: best case).
    "LoopSleep": 0,
    # Seconds without an outbox hit before the outbox is scanned again.
    "CommTimeout": 0,
    # Seconds between incoming-SMS checks; 0 means every loop turn.
    "ReceiveFrequency": 0,
    "StatusFrequency": 0,
    "CheckSecurity": 0,
    "CheckSignal": 0,
    "CheckBattery": 0,
    "CheckNetwork": 0,
    "HangupCalls": 0,
    # Set per row: "log" (reports requested, each one read and logged) or
    # "no" (none requested).
    "DeliveryReport": None,
    # With reports on, `AT+CNMI=2,0,0,2,0` is written to the port before
    # gammu-smsd starts (it never sets +CNMI itself; ds=0, the default,
    # makes the modem discard reports).
    "CNMI before start (reports on)": "2,0,0,2,0",
    "OutboxFormat": "standard",
    "TransmitFormat": "7bit",
    "RunOnReceive": "hook.sh (appends `date +%s%N` and $SMS_1_TEXT to hook.log)",
}


class GammuSmsd(peerlib.Peer):
    name = "gammu-smsd"
    package = "gammu-smsd"

    def settings(self):
        return dict(SETTINGS, DeliveryReport="log" if self.reports else "no")

    def start(self):
        d = self.dir
        for sub in ("inbox", "outbox", "sent", "error", "stage"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        hook = os.path.join(d, "hook.sh")
        peerlib.write_hook_script(
            hook,
            f't=$(date +%s%N)\nprintf "%s %s\\n" "$t" "$SMS_1_TEXT" >> {self.hook_log}\n',
        )
        s = self.settings()
        self.rc = os.path.join(d, "smsdrc")
        with open(self.rc, "w") as f:
            f.write(
                f"[gammu]\ndevice = {self.device}\nconnection = at\n\n"
                f"[smsd]\nservice = files\n"
                f"inboxpath = {d}/inbox/\noutboxpath = {d}/outbox/\n"
                f"sentsmspath = {d}/sent/\nerrorsmspath = {d}/error/\n"
                f"outboxformat = {s['OutboxFormat']}\ntransmitformat = {s['TransmitFormat']}\n"
                f"logfile = {d}/smsd.log\ndebuglevel = 1\n"
                f"loopsleep = {s['LoopSleep']}\ncommtimeout = {s['CommTimeout']}\n"
                f"receivefrequency = {s['ReceiveFrequency']}\n"
                f"statusfrequency = {s['StatusFrequency']}\n"
                f"checksecurity = {s['CheckSecurity']}\ncheckbattery = {s['CheckBattery']}\n"
                f"checksignal = {s['CheckSignal']}\nchecknetwork = {s['CheckNetwork']}\n"
                f"hangupcalls = {s['HangupCalls']}\ndeliveryreport = {s['DeliveryReport']}\n"
                f"runonreceive = {hook}\n"
            )
        self.serial = 0
        if self.reports:
            self.keep_reports()
        self.spawn(["gammu-smsd", "-c", self.rc], "gammu-smsd.out")

    def keep_reports(self):
        """gammu-smsd never sets +CNMI, and a modem's default (ds=0)
        discards status reports: set ds=2 on the port first (reports kept
        in storage, where gammu-smsd's polling reads them)."""
        fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            os.write(fd, b"AT+CNMI=2,0,0,2,0\r")
            seen, deadline = b"", time.monotonic() + 5
            while b"OK" not in seen and b"ERROR" not in seen and time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.2)
                if r:
                    seen += os.read(fd, 256)
            if b"OK" not in seen:
                raise RuntimeError(f"AT+CNMI=2,0,0,2,0 answered {seen!r}")
        finally:
            os.close(fd)

    def extra(self):
        try:
            with open(os.path.join(self.dir, "smsd.log"), errors="replace") as f:
                n = sum(1 for line in f if "Delivery report: Delivered" in line)
        except OSError:
            n = None
        return {"reports_logged": n}

    def submit(self, messages):
        # Files written aside and renamed in: the daemon never sees half a file.
        for phone, text in messages:
            name = f"OUTA20260101_000000_00_{phone}_b{self.serial:06d}.txt"
            self.serial += 1
            stage = os.path.join(self.dir, "stage", name)
            with open(stage, "w", encoding="ascii") as f:
                f.write(text)
            os.rename(stage, os.path.join(self.dir, "outbox", name))


if __name__ == "__main__":
    peerlib.main(GammuSmsd)

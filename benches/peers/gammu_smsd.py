#!/usr/bin/env python3
"""gammu-smsd (files backend) on an emulated modem: outbound msgs/s from its
outbox, MO latency to its RunOnReceive hook. See README.md."""

import os

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
    "DeliveryReport": "no",
    "OutboxFormat": "standard",
    "TransmitFormat": "7bit",
    "RunOnReceive": "hook.sh (appends `date +%s%N` and $SMS_1_TEXT to hook.log)",
}


class GammuSmsd(peerlib.Peer):
    name = "gammu-smsd"
    package = "gammu-smsd"
    settings = SETTINGS

    def start(self):
        d = self.dir
        for sub in ("inbox", "outbox", "sent", "error", "stage"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        hook = os.path.join(d, "hook.sh")
        peerlib.write_hook_script(
            hook,
            f't=$(date +%s%N)\nprintf "%s %s\\n" "$t" "$SMS_1_TEXT" >> {self.hook_log}\n',
        )
        s = SETTINGS
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
        self.spawn(["gammu-smsd", "-c", self.rc], "gammu-smsd.out")

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

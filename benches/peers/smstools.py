#!/usr/bin/env python3
"""smstools (`smsd`) on an emulated modem: outbound msgs/s from its outgoing
spool, MO latency to its eventhandler. See README.md."""

import os

import peerlib

GLOBAL = {
    # Seconds a modem process sleeps when idle (whole seconds); 0 means no
    # sleep: the modem process polls the SIM back to back (best case).
    "delaytime": 0,
    # Seconds between scans of the outgoing spool by the main process.
    "delaytime_mainprocess": 0,
    # Seconds the main process sleeps when nothing was spooled.
    "sleeptime_mainprocess": 1,
    # Files are renamed into the outgoing dir complete: no settle checks.
    "trust_outgoing": "yes",
    "spool_directory_order": "yes",
    "receive_before_send": "no",
    "max_continuous_sending": 300,
    "check_pid_interval": 0,
    "loglevel": 5,
    "logtime_ms": "yes",
}
MODEM = {
    "incoming": "yes",
    # Spool files are complete when they appear: no one-second settle wait.
    "trust_spool": "yes",
    # Pure CMGL polling: list and read in one command, no CPMS round trip.
    "check_memory_method": 31,
    "cmgl_value": 4,
    # Registration is never checked (the emulated modem is registered).
    "check_network": 0,
    # No 100 ms listen for unexpected input / routed messages before every
    # command.
    "detect_unexpected_input": "no",
    "detect_message_routing": "no",
    "pin": "ignore",
    "status_signal_quality": "no",
    "signal_quality_ber_ignore": "yes",
    "send_delay": 0,
    "communication_delay": 0,
    "sentsleeptime": 0,
    "read_delay": 0,
    # Answer polling: 5 (default) reads the port every 20 ms, 100 every 1 ms.
    "poll_faster": 100,
    "mode": "new",
    "baudrate": 115200,
    "delaytime": 0,
    # Set per row: `report = yes` asks a status report for every message;
    # the init line makes the modem keep reports in its storage (+CDSI,
    # CNMI ds=2), where the CMGL poll reads them (by default the modem
    # discards them: ds=0).
    "report": None,
    "init": None,
}
SETTINGS = {
    "global": GLOBAL,
    "modem": MODEM,
    "eventhandler": "hook.sh (on RECEIVED: appends `date +%s%N` and the body to hook.log)",
}


class Smstools(peerlib.Peer):
    name = "smstools"
    package = "smstools"

    def modem_settings(self):
        m = dict(MODEM, report="yes" if self.reports else "no")
        if self.reports:
            m["init"] = "AT+CNMI=2,0,0,2,0"
        else:
            del m["init"]
        return m

    def settings(self):
        return dict(SETTINGS, modem=self.modem_settings())

    def start(self):
        d = self.dir
        dirs = ("outgoing", "checked", "incoming", "failed", "sent", "stage")
        for sub in dirs:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        hook = os.path.join(d, "hook.sh")
        peerlib.write_hook_script(
            hook,
            't=$(date +%s%N)\n'
            '[ "$1" = RECEIVED ] || exit 0\n'
            f'printf "%s %s\\n" "$t" "$(sed \'1,/^$/d\' "$2")" >> {self.hook_log}\n',
        )
        conf = os.path.join(d, "smsd.conf")
        with open(conf, "w") as f:
            f.write("devices = GSM1\n")
            for sub in dirs[:-1]:
                f.write(f"{sub} = {d}/{sub}\n")
            f.write(f"logfile = {d}/smsd.log\ninfofile = {d}/smsd.working\n"
                    f"pidfile = {d}/smsd.pid\n"
                    f"eventhandler = {hook}\n")
            for k, v in GLOBAL.items():
                f.write(f"{k} = {v}\n")
            f.write(f"\n[GSM1]\ndevice = {self.device}\n")
            for k, v in self.modem_settings().items():
                f.write(f"{k} = {v}\n")
        self.serial = 0
        # -t: stay in the foreground (terminal mode), logging to the log file.
        self.spawn(["smsd", "-t", "-c", conf], "smsd.out")

    def extra(self):
        try:
            with open(os.path.join(self.dir, "smsd.log"), errors="replace") as f:
                n = sum(1 for line in f if "SMS received (report" in line)
        except OSError:
            n = None
        return {"reports_logged": n}

    def submit(self, messages):
        for phone, text in messages:
            name = f"bench{self.serial:06d}"
            self.serial += 1
            stage = os.path.join(self.dir, "stage", name)
            with open(stage, "w", encoding="ascii") as f:
                f.write(f"To: {phone.lstrip('+')}\n\n{text}\n")
            os.rename(stage, os.path.join(self.dir, "outgoing", name))


if __name__ == "__main__":
    peerlib.main(Smstools)

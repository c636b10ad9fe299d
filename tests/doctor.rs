//! `smsgate doctor` from the outside: the real binary against a fake box
//! made in a temporary directory (`SMSGATE_DOCTOR_ROOT`: its /proc, /sys,
//! /dev, /etc/passwd, /etc/group and udev rules) with fake `vcgencmd`,
//! `timedatectl` and `systemctl` as the only programs on `PATH`, and the
//! emulated GSM network on real pseudo-terminals for the `modems` check.
//! Nothing here reads the host's /proc or runs its systemctl.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{eventually, ANSWER_WITHIN};
use serde_json::Value;
use smsgate::doctor::{disk_status, free_space, Status, CHECK_IDS};
use smsgate::emulator::dce::Settings;
use smsgate::emulator::network::PartOrder;
use smsgate::emulator::EmulatorConfig;

const THROTTLED: &str = "sys/devices/platform/soc/soc:firmware/get_throttled";

/// A directory on a filesystem with room enough for the `disk` check to
/// be ok (the temporary directory, else /dev/shm), so that exit codes do
/// not depend on how full the test machine's disk is; `None` when neither
/// has (the tests then allow `disk`'s own verdict in the exit code).
fn roomy_parent() -> Option<PathBuf> {
    [std::env::temp_dir(), PathBuf::from("/dev/shm")]
        .into_iter()
        .find(|dir| {
            free_space(dir).is_ok_and(|(free, total)| disk_status(free, total) == Status::Ok)
        })
}

/// A fake Raspberry Pi with smsgate installed and everything in order.
struct Fake {
    dir: tempfile::TempDir,
    store: tempfile::TempDir,
    /// `[[modem]]` tables of the configuration.
    modems: String,
    extra_config: String,
}

impl Fake {
    fn healthy() -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let store = match roomy_parent() {
            Some(p) => tempfile::tempdir_in(p).unwrap(),
            None => tempfile::tempdir().unwrap(),
        };
        let fake = Fake {
            dir,
            store,
            modems: String::new(),
            extra_config: String::new(),
        };
        std::fs::create_dir_all(fake.root().join("bin")).unwrap();
        fake.write("proc/1/comm", "systemd\n");
        std::fs::create_dir_all(fake.root().join("proc/1/fd")).unwrap();
        fake.write("dev/null", "");
        fake.accounts(999, 20, "smsgate");
        // The package's own udev rule.
        let rule =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("firmware-config/udev/90-smsgate.rules");
        fake.write(
            "lib/udev/rules.d/90-smsgate.rules",
            &std::fs::read_to_string(rule).unwrap(),
        );
        // The kernel's raspberrypi firmware driver prints `%x`.
        fake.write(THROTTLED, "0\n");
        fake.script(
            "timedatectl",
            &["Timezone=America/Santo_Domingo", "NTPSynchronized=yes"],
        );
        fake.service(&[
            "LoadState=loaded",
            "ActiveState=active",
            "SubState=running",
            "NRestarts=0",
            "WatchdogUSec=30s",
            "ExecMainStartTimestamp=Tue 2024-01-02 10:00:00 AST",
        ]);
        fake
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.root().join(rel)).unwrap();
    }

    /// /etc/passwd with `smsgate` as `uid`, /etc/group with `dialout` as
    /// `dialout_gid` listing `members`.
    fn accounts(&self, uid: u32, dialout_gid: u32, members: &str) {
        self.write(
            "etc/passwd",
            &format!("root:x:0:0:root:/root:/bin/bash\nsmsgate:x:{uid}:{uid}::/var/lib/smsgate:/usr/sbin/nologin\n"),
        );
        self.write(
            "etc/group",
            &format!("root:x:0:\ndialout:x:{dialout_gid}:{members}\nsmsgate:x:{uid}:\n"),
        );
    }

    /// A fake command printing `lines` (shell builtins only: `PATH` holds
    /// nothing else).
    fn script(&self, name: &str, lines: &[&str]) {
        let mut body = String::from("#!/bin/sh\n");
        for l in lines {
            body.push_str(&format!("printf '%s\\n' '{}'\n", l.replace('\'', "'\\''")));
        }
        self.raw_script(name, &body);
    }

    fn raw_script(&self, name: &str, body: &str) {
        let p = self.bin().join(name);
        std::fs::create_dir_all(self.bin()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn service(&self, lines: &[&str]) {
        self.script("systemctl", lines);
    }

    /// A fake serial device at `rel` (a plain file: only root may mknod),
    /// group `dialout` of /etc/group, mode 0660.
    fn device(&self, rel: &str) -> PathBuf {
        self.write(rel, "");
        let p = self.root().join(rel);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o660)).unwrap();
        let gid = std::fs::metadata(&p).unwrap().gid();
        self.accounts(999, gid, "smsgate");
        p
    }

    /// A process `pid` named `comm` with descriptor 3 open on `target`.
    fn process(&self, pid: u32, comm: &str, target: Option<&Path>) {
        self.write(&format!("proc/{pid}/comm"), &format!("{comm}\n"));
        let fd = self.root().join(format!("proc/{pid}/fd"));
        std::fs::create_dir_all(&fd).unwrap();
        if let Some(t) = target {
            std::os::unix::fs::symlink(t, fd.join("3")).unwrap();
        }
    }

    fn modem(&mut self, port: &str, short_code: &str, extra: &str) {
        self.modems.push_str(&format!(
            "[[modem]]\nport = \"{port}\"\nshort_code = \"{short_code}\"\n{extra}\n"
        ));
    }

    fn config(&self) -> PathBuf {
        let p = self.dir.path().join("config.toml");
        std::fs::write(
            &p,
            format!(
                "[store]\ndir = \"{}\"\n{}\n{}",
                self.store.path().display(),
                self.extra_config,
                self.modems
            ),
        )
        .unwrap();
        p
    }

    /// `smsgate doctor --config FILE [args]` in a clean environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsgate"));
        cmd.env_clear()
            .env("PATH", self.bin())
            .env("SMSGATE_DOCTOR_ROOT", self.root())
            .arg("doctor")
            .arg("--config")
            .arg(self.config())
            .args(args);
        cmd
    }

    /// `--json`: the exit code and the checks by id.
    fn json(&self) -> Doctor {
        doctor_json(self.command(&["--json"]).output().unwrap())
    }

    fn text(&self) -> (i32, String) {
        let out = self.command(&[]).output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

struct Doctor {
    code: i32,
    json: Value,
}

fn doctor_json(out: std::process::Output) -> Doctor {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.code().is_some(),
        "doctor died: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Doctor {
        code: out.status.code().unwrap(),
        json,
    }
}

impl Doctor {
    fn check(&self, id: &str) -> &Value {
        self.json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id} in {}", self.json))
    }

    fn status(&self, id: &str) -> &str {
        self.check(id)["status"].as_str().unwrap()
    }

    fn message(&self, id: &str) -> &str {
        self.check(id)["message"].as_str().unwrap()
    }

    fn fix(&self, id: &str) -> &str {
        self.check(id)["fix"]
            .as_str()
            .unwrap_or_else(|| panic!("no fix for {id}: {}", self.check(id)))
    }

    /// Asserts the exit code is `want`, or what the host's disk makes it
    /// if that is worse (see [`roomy_parent`]).
    fn assert_code(&self, want: i32) {
        let disk = match self.status("disk") {
            "error" => 2,
            "warn" => 1,
            _ => 0,
        };
        if disk > 0 {
            eprintln!(
                "note: the test machine's disk is nearly full: {}",
                self.message("disk")
            );
        }
        assert_eq!(self.code, want.max(disk), "{:#}", self.json);
    }

    /// Every check but those in `except` is ok or skipped.
    fn assert_fine_but(&self, except: &[&str]) {
        for id in CHECK_IDS {
            if except.contains(&id) || id == "disk" {
                continue;
            }
            assert!(
                matches!(self.status(id), "ok" | "skipped"),
                "{id}: {}",
                self.check(id)
            );
        }
    }
}

#[test]
fn a_healthy_pi_is_all_ok_and_exits_0() {
    let fake = Fake::healthy();
    let d = fake.json();
    d.assert_fine_but(&[]);
    d.assert_code(0);
    assert_eq!(d.status("power"), "ok");
    assert!(d.message("power").contains("0x0"), "{}", d.message("power"));
    assert_eq!(d.status("config"), "ok");
    assert_eq!(d.status("ports"), "skipped");
    assert_eq!(
        d.message("ports"),
        "no modem configured: serve runs the embedded emulated network"
    );
    assert_eq!(d.status("modems"), "skipped");
    assert_eq!(d.status("dialout"), "ok");
    assert_eq!(d.status("clock"), "ok");
    assert!(d.message("clock").contains("America/Santo_Domingo"));
    assert_eq!(d.status("service"), "ok");
    assert!(
        d.message("service")
            .contains("active (running) since Tue 2024-01-02"),
        "{}",
        d.message("service")
    );
    assert_eq!(d.status("store"), "ok");
    assert!(d.message("store").contains("writable"));
}

#[test]
fn an_under_voltage_pi_is_a_power_error_and_exits_2() {
    let fake = Fake::healthy();
    fake.write(THROTTLED, "50005\n");
    let d = fake.json();
    assert_eq!(d.status("power"), "error", "{}", d.check("power"));
    let message = d.message("power");
    assert!(
        message.contains("under-voltage now") && message.contains("0x50005"),
        "{message}"
    );
    let fix = d.fix("power");
    assert!(
        fix.contains("5.1 V 3 A")
            && fix.contains("short, thick USB cables")
            && fix.contains("powered USB hub"),
        "{fix}"
    );
    d.assert_fine_but(&["power"]);
    d.assert_code(2);
}

#[test]
fn power_falls_back_to_vcgencmd_and_is_skipped_off_a_pi() {
    let fake = Fake::healthy();
    fake.remove(THROTTLED);
    fake.script("vcgencmd", &["throttled=0x50005"]);
    let d = fake.json();
    assert_eq!(d.status("power"), "error");
    assert!(d.message("power").contains("vcgencmd get_throttled"));

    fake.script("vcgencmd", &["throttled=0x50000"]);
    let d = fake.json();
    assert_eq!(d.status("power"), "warn", "{}", d.check("power"));
    assert!(d.message("power").contains("under-voltage since boot"));
    d.assert_code(1);

    std::fs::remove_file(fake.bin().join("vcgencmd")).unwrap();
    let d = fake.json();
    assert_eq!(d.status("power"), "skipped");
    assert!(d.message("power").contains("not a Raspberry Pi"));
    d.assert_code(0);
}

#[test]
fn a_port_held_by_another_program_names_it_and_its_pid() {
    let mut fake = Fake::healthy();
    let dev = fake.device("dev/ttyUSB0");
    fake.process(4242, "minicom", Some(&dev));
    fake.modem("/dev/ttyUSB0", "+18095550100", "");
    let d = fake.json();
    assert_eq!(d.status("ports"), "error", "{}", d.check("ports"));
    let message = d.message("ports");
    assert!(
        message.contains("/dev/ttyUSB0") && message.contains("held open by minicom (pid 4242)"),
        "{message}"
    );
    assert!(d.fix("ports").contains("kill 4242"), "{}", d.fix("ports"));
    // The held port is not opened by the probe.
    assert_eq!(d.status("modems"), "error");
    assert!(
        d.message("modems")
            .contains("held open by minicom (pid 4242), not probed"),
        "{}",
        d.message("modems")
    );
    d.assert_fine_but(&["ports", "modems"]);
    d.assert_code(2);

    // As the real /proc shows it: the device's path on the box.
    let mut fake = Fake::healthy();
    fake.device("dev/ttyUSB0");
    fake.process(77, "gammu-smsd", Some(Path::new("/dev/ttyUSB0")));
    fake.modem("/dev/ttyUSB0", "+18095550100", "");
    let d = fake.json();
    assert!(
        d.message("ports")
            .contains("held open by gammu-smsd (pid 77)"),
        "{}",
        d.message("ports")
    );
}

#[test]
fn a_port_held_by_the_running_service_is_left_to_it() {
    let mut fake = Fake::healthy();
    let dev = fake.device("dev/ttyUSB0");
    fake.process(812, "smsgate", Some(&dev));
    fake.modem("/dev/ttyUSB0", "+18095550100", "");
    let d = fake.json();
    assert_eq!(d.status("ports"), "ok", "{}", d.check("ports"));
    assert!(d
        .message("ports")
        .contains("in use by the running smsgate (pid 812)"));
    assert_eq!(d.status("modems"), "skipped");
    assert!(
        d.message("modems")
            .contains("held by the running service; see /admin"),
        "{}",
        d.message("modems")
    );
    d.assert_code(0);
}

#[test]
fn a_missing_or_forbidden_port_is_an_error() {
    let mut fake = Fake::healthy();
    fake.modem("/dev/ttyUSB3", "+18095550100", "");
    let d = fake.json();
    assert_eq!(d.status("ports"), "error");
    assert!(d.message("ports").contains("/dev/ttyUSB3: does not exist"));
    assert!(d.fix("ports").contains("/dev/serial/by-id"));
    assert!(d.message("modems").contains("does not exist, not probed"));

    let mut fake = Fake::healthy();
    let dev = fake.device("dev/ttyUSB0");
    std::fs::set_permissions(&dev, std::fs::Permissions::from_mode(0o600)).unwrap();
    fake.modem("/dev/ttyUSB0", "+18095550100", "");
    let d = fake.json();
    assert_eq!(d.status("ports"), "error");
    assert!(
        d.message("ports")
            .contains("user smsgate may not read and write it"),
        "{}",
        d.message("ports")
    );

    // port = "auto" with no USB serial port at all.
    let mut fake = Fake::healthy();
    fake.modem("auto", "+18095550100", "imei = \"350000000000001\"");
    let d = fake.json();
    assert_eq!(d.status("ports"), "error");
    assert!(
        d.message("ports").contains("no USB serial port"),
        "{}",
        d.message("ports")
    );
}

#[test]
fn modemmanager_without_the_udev_rule_is_flagged_with_the_fix() {
    let mut fake = Fake::healthy();
    fake.process(600, "ModemManager", None);
    // With the package's rule: fine.
    let d = fake.json();
    assert_eq!(d.status("modemmanager"), "ok");
    assert!(d
        .message("modemmanager")
        .contains("/lib/udev/rules.d/90-smsgate.rules"));

    // Without it, on the emulated network: a warning.
    fake.remove("lib/udev/rules.d/90-smsgate.rules");
    let d = fake.json();
    assert_eq!(d.status("modemmanager"), "warn");
    assert!(d.message("modemmanager").contains("pid 600"));
    let fix = d.fix("modemmanager");
    assert!(
        fix.contains("ID_MM_DEVICE_IGNORE") && fix.contains("systemctl disable --now ModemManager"),
        "{fix}"
    );
    d.assert_code(1);

    // With a modem configured: an error.
    fake.device("dev/ttyUSB0");
    fake.modem("/dev/ttyUSB0", "+18095550100", "");
    let d = fake.json();
    assert_eq!(d.status("modemmanager"), "error");

    // Not running at all: ok.
    let fake = Fake::healthy();
    fake.remove("lib/udev/rules.d/90-smsgate.rules");
    let d = fake.json();
    assert_eq!(d.status("modemmanager"), "ok");
    assert_eq!(d.message("modemmanager"), "ModemManager is not running");
}

#[test]
fn smsgate_not_in_dialout_is_an_error_and_a_missing_user_a_warning() {
    let fake = Fake::healthy();
    fake.accounts(999, 20, "pi");
    let d = fake.json();
    assert_eq!(d.status("dialout"), "error");
    assert!(d.fix("dialout").contains("adduser smsgate dialout"));
    d.assert_code(2);

    fake.write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    let d = fake.json();
    assert_eq!(d.status("dialout"), "warn");
    assert!(d
        .fix("dialout")
        .contains("adduser --system --group smsgate"));
}

#[test]
fn an_unsynchronised_clock_warns_and_names_the_time_zone() {
    let fake = Fake::healthy();
    fake.script(
        "timedatectl",
        &["Timezone=America/Santo_Domingo", "NTPSynchronized=no"],
    );
    let d = fake.json();
    assert_eq!(d.status("clock"), "warn");
    assert!(d.message("clock").contains("not synchronised"));
    assert!(d.message("clock").contains("America/Santo_Domingo"));
    assert!(d.fix("clock").contains("timedatectl set-ntp true"));
    d.assert_fine_but(&["clock"]);
    d.assert_code(1);
}

#[test]
fn service_restarts_stops_and_a_missing_watchdog_warn() {
    let fake = Fake::healthy();
    fake.service(&[
        "ActiveState=active",
        "SubState=running",
        "NRestarts=3",
        "WatchdogUSec=30s",
    ]);
    let d = fake.json();
    assert_eq!(d.status("service"), "warn");
    assert!(
        d.message("service").contains("restarted 3 time"),
        "{}",
        d.message("service")
    );
    assert!(d.fix("service").contains("journalctl -u smsgate"));
    d.assert_code(1);

    fake.service(&[
        "ActiveState=inactive",
        "SubState=dead",
        "NRestarts=0",
        "WatchdogUSec=0",
    ]);
    let d = fake.json();
    assert_eq!(d.status("service"), "warn");
    assert!(d.message("service").contains("inactive (dead)"));
    assert!(d.message("service").contains("no watchdog"));
    assert!(d.fix("service").contains("systemctl enable --now smsgate"));

    // Not a systemd system, and no systemctl at all: skipped.
    fake.raw_script(
        "systemctl",
        "#!/bin/sh\necho 'System has not been booted with systemd as init system (PID 1). Can'\\''t operate.' >&2\nexit 1\n",
    );
    let d = fake.json();
    assert_eq!(d.status("service"), "skipped");
    std::fs::remove_file(fake.bin().join("systemctl")).unwrap();
    let d = fake.json();
    assert_eq!(d.status("service"), "skipped");
    d.assert_code(0);
}

#[test]
fn an_invalid_config_names_key_and_problem_and_skips_what_needs_it() {
    let mut fake = Fake::healthy();
    fake.extra_config = "[http]\nbind = \"not an address\"\n".into();
    let d = fake.json();
    assert_eq!(d.status("config"), "error");
    let message = d.message("config");
    assert!(
        message.contains("http.bind") && message.contains("not an address:port"),
        "{message}"
    );
    assert!(d.fix("config").contains("smsgate config check"));
    for id in ["ports", "modems", "store", "disk"] {
        assert_eq!(d.status(id), "skipped", "{id}");
    }
    assert_eq!(d.code, 2);
}

#[test]
fn json_is_one_object_with_every_check_in_order() {
    let fake = Fake::healthy();
    fake.write(THROTTLED, "50005\n");
    let out = fake.command(&["--json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim_end().lines().count(), 1, "{stdout}");
    let d = doctor_json(out);
    let checks = d.json["checks"].as_array().unwrap();
    assert_eq!(d.json.as_object().unwrap().len(), 1);
    let ids: Vec<&str> = checks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, CHECK_IDS);
    for c in checks {
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{c}");
        assert!(c["message"].is_string(), "{c}");
        match c["status"].as_str().unwrap() {
            "ok" | "skipped" => assert!(c["fix"].is_null(), "{c}"),
            "warn" | "error" => assert!(c["fix"].is_string(), "{c}"),
            other => panic!("status {other}"),
        }
    }
}

#[test]
fn text_is_a_line_per_check_with_the_fix_indented_under_it() {
    let fake = Fake::healthy();
    fake.write(THROTTLED, "50005\n");
    let (code, text) = fake.text();
    assert_eq!(code, 2);
    let lines: Vec<&str> = text.lines().collect();
    let checks: Vec<&&str> = lines.iter().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(checks.len(), CHECK_IDS.len(), "{text}");
    for (line, id) in checks.iter().zip(CHECK_IDS) {
        assert_eq!(line.split_whitespace().nth(1), Some(id), "{text}");
    }
    let power = lines
        .iter()
        .position(|l| l.starts_with("ERROR  power"))
        .unwrap();
    assert!(lines[power + 1].trim_start().starts_with("fix: "), "{text}");
}

#[test]
fn bad_input_never_panics() {
    let fake = Fake::healthy();
    fake.write(THROTTLED, "garbage\n");
    fake.write("etc/passwd", "::::\nnot a passwd line\n");
    fake.write("etc/group", "\u{0}\u{1}");
    fake.write("proc/123/comm", "");
    fake.write("proc/124/fd", "not a directory");
    fake.script("timedatectl", &["what"]);
    fake.script("systemctl", &["=", "ActiveState"]);
    fake.script(
        "vcgencmd",
        &["error=1 error_msg=\"Command not registered\""],
    );
    let d = fake.json();
    assert!((0..=2).contains(&d.code));
    assert_eq!(d.status("power"), "skipped", "{}", d.check("power"));
    assert_eq!(d.status("service"), "skipped", "{}", d.check("service"));

    // A root with nothing in it at all.
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .env_clear()
        .env("PATH", empty.path())
        .env("SMSGATE_DOCTOR_ROOT", empty.path())
        .env("SMSGATE_STORE__DIR", empty.path().join("store"))
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let d = doctor_json(out);
    assert_eq!(d.status("dialout"), "skipped");
    assert_eq!(d.status("modemmanager"), "skipped");
    assert_eq!(d.status("config"), "ok");
}

/// The `modems` check on the emulated network: a real pseudo-terminal
/// under the fake root's /dev (the emulator's link), probed by the binary.
#[tokio::test]
async fn modems_on_the_emulated_network_are_probed_ok() {
    let mut fake = Fake::healthy();
    let emu = common::emulator_with(EmulatorConfig {
        modems: 2,
        link_dir: Some(fake.root().join("dev")),
        ..EmulatorConfig::default()
    })
    .await;
    let modems = emu.modems();
    // The service user owns the pseudo-terminals here, as dialout would
    // give them on a Pi.
    let meta = std::fs::metadata(&modems[0].path).unwrap();
    fake.write(
        "etc/passwd",
        &format!(
            "smsgate:x:{}:{}::/var/lib/smsgate:/usr/sbin/nologin\n",
            meta.uid(),
            meta.gid()
        ),
    );
    fake.write("etc/group", &format!("dialout:x:{}:smsgate\n", meta.gid()));
    // modem 1 as the only USB serial port, found by IMEI (port = "auto").
    std::os::unix::fs::symlink(&modems[1].path, fake.root().join("dev/ttyUSB0")).unwrap();
    fake.modem("/dev/modem0", &modems[0].number, "");
    fake.modem(
        "auto",
        &modems[1].number,
        &format!("imei = \"{}\"", modems[1].imei),
    );

    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .env_clear()
        .env("PATH", fake.bin())
        .env("SMSGATE_DOCTOR_ROOT", fake.root())
        .args(["doctor", "--json", "--config"])
        .arg(fake.config())
        .output();
    let out = tokio::time::timeout(ANSWER_WITHIN * 3, run)
        .await
        .expect("doctor finishes")
        .unwrap();
    let d = doctor_json(out);
    assert_eq!(d.status("ports"), "ok", "{}", d.check("ports"));
    assert_eq!(d.status("modems"), "ok", "{}", d.check("modems"));
    let message = d.message("modems");
    for want in [
        format!("modem[0] {} on /dev/modem0: smsgate Emulated GSM modem answers, SIM READY, registered home (Claro DO)", modems[0].number),
        format!("modem[1] {} (auto, IMEI {}) on /dev/ttyUSB0: smsgate Emulated GSM modem answers", modems[1].number, modems[1].imei),
        "SMS storage SM 0/30".to_string(),
    ] {
        assert!(message.contains(&want), "{want:?} in {message}");
    }
    d.assert_fine_but(&[]);
    d.assert_code(0);
    emu.shutdown();
}

/// A SIM whose SMS storage is full warns (new messages wait in the
/// network until it is emptied).
#[tokio::test]
async fn a_full_sim_storage_warns() {
    let mut fake = Fake::healthy();
    let emu = common::emulator_with(EmulatorConfig {
        modems: 1,
        link_dir: Some(fake.root().join("dev")),
        settings: Settings {
            sm_capacity: 2,
            ..Settings::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let modem = emu.modems()[0].clone();
    for text in ["uno", "dos"] {
        emu.phone_send("+18095551234", &modem.number, text, PartOrder::InOrder)
            .expect("phone sends");
    }
    eventually("the SIM storage fills", ANSWER_WITHIN, || {
        (emu.storage(0).unwrap().0 == 2).then_some(())
    });
    let meta = std::fs::metadata(&modem.path).unwrap();
    fake.accounts(meta.uid(), meta.gid(), "smsgate");
    fake.modem("/dev/modem0", &modem.number, "");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_smsgate"))
        .env_clear()
        .env("PATH", fake.bin())
        .env("SMSGATE_DOCTOR_ROOT", fake.root())
        .args(["doctor", "--json", "--config"])
        .arg(fake.config())
        .output();
    let out = tokio::time::timeout(ANSWER_WITHIN * 3, run)
        .await
        .expect("doctor finishes")
        .unwrap();
    let d = doctor_json(out);
    assert_eq!(d.status("modems"), "warn", "{}", d.check("modems"));
    assert!(
        d.message("modems").contains("SM 2/2"),
        "{}",
        d.message("modems")
    );
    assert!(d.fix("modems").contains("full"));
    d.assert_code(1);
    emu.shutdown();
}

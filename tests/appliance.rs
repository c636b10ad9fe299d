//! The appliance: the systemd unit (verify, security score), `smsgate
//! serve` under a fake systemd (READY=1, STATUS=, WATCHDOG=1 over a
//! NOTIFY_SOCKET of our own), SIGHUP, `smsgate store export|import`, the
//! udev rules' syntax, and the Debian package installed, upgraded and
//! purged in a throw-away root with `dpkg --root`, and the arm64 build
//! under qemu-user. One module per subject in `tests/appliance/`.
//!
//! Tools: `systemd-analyze` (Debian `systemd`), `dpkg`, `dpkg-deb` and
//! `cargo-deb` (scripts/build-deb installs it). Missing tools skip a test
//! with a note, except under CI (`CI` set to `true`, `1` or `yes`), where
//! they fail it (`common::require_tool`).

use std::path::{Path, PathBuf};

mod common;

#[path = "appliance/arm64.rs"]
mod arm64;
#[path = "appliance/deb.rs"]
mod deb;
#[path = "appliance/store.rs"]
mod store;
#[path = "appliance/systemd.rs"]
mod systemd;
#[path = "appliance/udev.rs"]
mod udev;

const BIN: &str = env!("CARGO_BIN_EXE_smsgate");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `Some(path)` of `tool` on the `PATH`, or `None` (skip) outside CI;
/// panics under CI.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    common::require_tool(&format!("`{name}`"), found, "scripts/test installs it")
}

fn repo(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

/// The package's generated files (manual pages, completions) in
/// target/gen, made once by scripts/package-files with the binary under
/// test (the amd64 and arm64 package tests share them).
fn package_files() {
    static MADE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if *made {
        return;
    }
    let out = std::process::Command::new(repo("scripts/package-files"))
        .arg(BIN)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/package-files: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    *made = true;
}

/// lintian's errors and warnings on `deb` (none is the goal; deliberate
/// choices carry an override with their reason in
/// debian/smsgate.lintian-overrides).
fn lintian(deb: &Path) -> Vec<String> {
    let Some(lintian) = tool("lintian") else {
        return Vec::new();
    };
    let out = std::process::Command::new(lintian)
        .args(["--tag-display-limit", "0", "--fail-on", "none"])
        .arg(deb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lintian failed to run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .map(str::to_string)
        .collect()
}

//! The arm64 (Raspberry Pi OS 64-bit) build under qemu-user.

use std::path::Path;
use std::process::Command;

use crate::common::require_tool;
use crate::{lintian, package_files, tool, BIN, ROOT};

/// The aarch64 (Raspberry Pi OS 64-bit) binary, cross-built with Debian's
/// gcc-aarch64-linux-gnu, runs under Debian's qemu-user: `--version` and a
/// PDU decode. A debug build in its own target directory (the outer `cargo
/// test` holds the lock of the shared one); scripts/build-arm64 makes the
/// release package the same way.
#[test]
fn arm64_binary_runs_under_qemu_user() {
    let (Some(_gcc), Some(qemu)) = (tool("aarch64-linux-gnu-gcc"), tool("qemu-aarch64")) else {
        return;
    };
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("aarch64-unknown-linux-gnu"))
        .unwrap_or(false);
    if require_tool(
        "the Rust target aarch64-unknown-linux-gnu",
        installed.then_some(()),
        "scripts/test adds it with rustup",
    )
    .is_none()
    {
        return;
    }
    let target_dir = Path::new(BIN)
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("cross-arm64");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--locked",
            "--bin",
            "smsgate",
            "--target",
            "aarch64-unknown-linux-gnu",
        ])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .current_dir(ROOT)
        .status()
        .unwrap();
    assert!(status.success(), "cross build failed");
    let bin = target_dir.join("aarch64-unknown-linux-gnu/debug/smsgate");
    let header = std::fs::read(&bin).unwrap();
    // ELF, 64-bit, machine EM_AARCH64 (183).
    assert_eq!(&header[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([header[18], header[19]]), 183);

    let run = |args: &[&str]| {
        let out = Command::new(&qemu)
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(&bin)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?} under qemu: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(&["--version"]).starts_with("smsgate "));
    let decoded = run(&[
        "pdu",
        "decode",
        "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07",
    ]);
    assert!(decoded.contains("\"text\":\"How are you?\""), "{decoded}");
    assert!(decoded.contains("\"from\":\"+31641600986\""), "{decoded}");

    // Its Debian package (from this debug build, as the amd64 test does;
    // scripts/build-arm64 makes the release one) is lintian-clean too.
    package_files();
    let dir = tempfile::tempdir().unwrap();
    let deb = dir.path().join("smsgate_arm64.deb");
    let version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "deb",
            "--no-build",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--profile",
            "dev",
            "--fast",
            "--deb-version",
            &version,
            "-o",
        ])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(ROOT)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "cargo deb for arm64 failed");
    let arch = Command::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .arg("Architecture")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&arch.stdout).trim(), "arm64");
    let hints = lintian(&deb);
    assert!(hints.is_empty(), "lintian on arm64:\n{}", hints.join("\n"));
}

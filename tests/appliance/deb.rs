//! The Debian package: built with cargo-deb, installed, reinstalled,
//! upgraded and purged with `dpkg --root` in a throw-away root.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::require_tool;
use crate::{lintian, package_files, tool, BIN, ROOT};

/// Builds the .deb of the binary under test (the debug build: a release
/// build with LTO takes too long for the suite; scripts/build-deb makes the
/// release package) with version `version`.
fn build_deb(out: &Path, version: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let deb = out.join(format!("smsgate_{version}.deb"));
    // The binary under test lives in <target>/debug; cargo-deb looks in
    // <target>/<profile>.
    let target_dir = Path::new(BIN).parent().unwrap().parent().unwrap();
    package_files();
    let status = Command::new(cargo)
        .args([
            "deb",
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "--deb-version",
            version,
        ])
        .arg("-o")
        .arg(&deb)
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(ROOT)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "cargo deb failed");
    deb
}

fn dpkg(root: &Path, args: &[&str]) -> String {
    let out = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        // Maintainer scripts run on the host with DPKG_ROOT set, and touch
        // nothing outside the root; the root has no libc6/adduser packages.
        .args([
            "--force-script-chrootless",
            "--force-depends",
            "--log=/dev/null",
        ])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "dpkg {args:?}: {all}");
    all
}

fn installed_version(root: &Path) -> Option<String> {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let mut in_pkg = false;
    for line in status.lines() {
        if line == "Package: smsgate" {
            in_pkg = true;
        } else if line.starts_with("Package: ") {
            in_pkg = false;
        } else if in_pkg {
            if let Some(v) = line.strip_prefix("Version: ") {
                return Some(v.to_string());
            }
        }
    }
    None
}

#[test]
fn deb_installs_upgrades_and_purges_in_a_throwaway_root() {
    if tool("dpkg").is_none() || tool("dpkg-deb").is_none() {
        return;
    }
    let has_cargo_deb = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["deb", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if require_tool(
        "cargo-deb",
        has_cargo_deb.then_some(()),
        "scripts/test and scripts/build-deb install it",
    )
    .is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The package's version is the crate's, with the revision of
    // debian/changelog's first entry.
    let changelog = std::fs::read_to_string(Path::new(ROOT).join("debian/changelog")).unwrap();
    let first = changelog.lines().next().unwrap();
    let version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        first,
        format!("smsgate ({version}) unstable; urgency=medium")
    );
    let v1 = build_deb(dir.path(), &version);
    let v2 = build_deb(dir.path(), &format!("{}-2", env!("CARGO_PKG_VERSION")));
    let hints = lintian(&v1);
    assert!(hints.is_empty(), "lintian:\n{}", hints.join("\n"));

    // What is in it.
    let out = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&v1)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    for path in [
        "./usr/bin/smsgate",
        "./lib/systemd/system/smsgate.service",
        "./etc/smsgate/config.toml",
        "./lib/udev/rules.d/90-smsgate.rules",
        "./usr/share/smsgate/profiles/huawei.toml",
        "./usr/share/doc/smsgate/operations.md",
        "./usr/share/doc/smsgate/copyright",
        "./usr/share/doc/smsgate/changelog.Debian.gz",
        "./usr/share/man/man1/smsgate.1.gz",
        "./usr/share/man/man1/smsgate-serve.1.gz",
        "./usr/share/man/man5/smsgate.toml.5.gz",
        "./usr/share/bash-completion/completions/smsgate",
        "./usr/share/zsh/vendor-completions/_smsgate",
        "./usr/share/fish/vendor_completions.d/smsgate.fish",
        "./usr/share/lintian/overrides/smsgate",
    ] {
        assert!(
            listing.contains(path),
            "{path} not in the package:\n{listing}"
        );
    }
    let out = Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&v1)
        .arg("Depends")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("adduser"));
    let out = Command::new("dpkg-deb")
        .args(["-I"])
        .arg(&v1)
        .arg("conffiles")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "/etc/smsgate/config.toml"
    );

    // A throw-away root with an empty dpkg database.
    let root = dir.path().join("root");
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "var/log",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::write(root.join("var/lib/dpkg/available"), "").unwrap();

    // Install.
    dpkg(&root, &["-i", v1.to_str().unwrap()]);
    assert_eq!(installed_version(&root).as_deref(), Some("0.1.0-1"));
    let config = root.join("etc/smsgate/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("dir = \"/var/lib/smsgate\""));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "config.toml holds the admin token");
    assert!(
        root.join("var/lib/smsgate").is_dir(),
        "postinst makes the state dir"
    );
    // The installed default config is valid.
    let out = Command::new(root.join("usr/bin/smsgate"))
        .args(["config", "check"])
        .arg(&config)
        .env_remove("SMSGATE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // `man smsgate` and `man smsgate.toml` find the installed pages.
    if let Some(man) = tool("man") {
        let manpath = root.join("usr/share/man");
        for (section, page, says) in [
            ("1", "smsgate", "SUBCOMMANDS"),
            ("5", "smsgate.toml", "http.body_timeout"),
        ] {
            let out = Command::new(&man)
                .arg("--manpath")
                .arg(&manpath)
                .args([section, page])
                .env("MANPAGER", "cat")
                .env("MANWIDTH", "100")
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains(says),
                "man {section} {page}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // Tab completion: bash completes `smsgate se` to `serve` with the
    // installed script.
    if let Some(bash) = tool("bash") {
        let script = root.join("usr/share/bash-completion/completions/smsgate");
        let out = Command::new(bash)
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=(smsgate se); COMP_CWORD=1; COMP_LINE='smsgate se'; COMP_POINT=10; _smsgate smsgate se smsgate; echo \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .unwrap();
        let words = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            words.trim(),
            "serve",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The same version again, then an upgrade: a local edit of the conffile
    // survives both.
    std::fs::write(&config, format!("{text}\n# local edit\n")).unwrap();
    dpkg(&root, &["-i", v1.to_str().unwrap()]);
    dpkg(&root, &["-i", v2.to_str().unwrap()]);
    assert_eq!(installed_version(&root).as_deref(), Some("0.1.0-2"));
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("# local edit"));
    std::fs::write(root.join("var/lib/smsgate/db"), "data").unwrap();

    // Purge: files, conffile, state and config dirs go.
    dpkg(&root, &["--purge", "smsgate"]);
    assert_eq!(installed_version(&root), None);
    for gone in [
        "usr/bin/smsgate",
        "lib/systemd/system/smsgate.service",
        "etc/smsgate",
        "var/lib/smsgate",
        "lib/udev/rules.d/90-smsgate.rules",
    ] {
        assert!(!root.join(gone).exists(), "{gone} left after purge");
    }
    let mut status = String::new();
    std::fs::File::open(root.join("var/lib/dpkg/status"))
        .unwrap()
        .read_to_string(&mut status)
        .unwrap();
    assert!(!status.contains("Package: smsgate"), "{status}");
}

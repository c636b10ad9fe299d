//! `smsgate serve` as a child process on a free loopback port.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// A running `smsgate serve`; killed when dropped.
pub struct Serve {
    pub child: Child,
    pub url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `smsgate serve` with `env` overrides (bind 127.0.0.1:0 and the
/// store directory are set here) and waits for its address.
pub fn start(
    store: &std::path::Path,
    config: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> Serve {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smsgate"));
    cmd.arg("serve");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    for (key, _) in std::env::vars() {
        if key.starts_with("SMSGATE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("SMSGATE_HTTP__BIND", "127.0.0.1:0")
        .env("SMSGATE_STORE__DIR", store)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("start smsgate serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("read serve's output");
        if let Some(rest) = line.strip_prefix("smsgate listening on ") {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Serve { child, url }
}

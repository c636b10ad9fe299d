//! Transcripts of a modem's serial line: every byte both ways, with its
//! time, as JSON lines `{"t_ms", "dir": "to_modem"|"from_modem", "data"}`
//! (the emulator's transcript API gives the same). `data` is the bytes as
//! text: `\r`, `\n`, `\\`, printable ASCII as itself, any other byte as
//! `\xNN`; [`unescape`] gives the bytes back exactly.
//!
//! - [`Recorder`]: writes a transcript to a file from a thread of its own
//!   (the serial loop never waits on the disk), rotating it at a size cap.
//! - [`Recorded`]: a port (any `AsyncRead + AsyncWrite`) whose bytes both
//!   ways go to a recorder, or pass untouched when there is none.
//! - [`read`]: a transcript file back as entries, with the line of a bad
//!   entry named.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub mod redact;

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// Written by the host (a command, a PDU after the prompt).
    ToModem,
    /// Written by the modem (echo, answers, prompts, URCs).
    FromModem,
}

/// One entry: bytes one way at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the transcript began.
    pub t_ms: u64,
    pub dir: Dir,
    /// The bytes, escaped (see the module's words).
    pub data: String,
}

impl Entry {
    /// The entry's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        unescape(&self.data)
    }
}

/// Whether a line a modem sent ends a command (`OK`, `ERROR`, `+CME
/// ERROR: …`, a Huawei `COMMAND NOT SUPPORT`...): [`crate::at::FinalResult`].
pub fn is_final(line: &str) -> bool {
    crate::at::FinalResult::parse(line).is_some()
}

/// A line (or token) that may be a PDU in hex: what `+CMGR`, `+CMGL`,
/// `+CMT` and `+CDS` put on the line after their header, and what the
/// host writes after the `> ` prompt.
pub fn looks_like_pdu(line: &str) -> bool {
    line.len() >= 14 && line.len() % 2 == 0 && line.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Bytes as transcript text.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Transcript text back to its bytes; an escape it does not know is an
/// error naming it.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = text
                    .get(i + 2..i + 4)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad \\x escape at byte {i}"))?;
                out.push(hex);
                i += 4;
                continue;
            }
            _ => return Err(format!("unknown escape at byte {i}")),
        }
        i += 2;
    }
    Ok(out)
}

/// Reads a transcript file; a line that is not an entry is an error
/// naming its number.
pub fn read(path: &Path) -> Result<Vec<Entry>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: Entry = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        entry
            .bytes()
            .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
        out.push(entry);
    }
    Ok(out)
}

/// Where a recording goes and how big it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTo {
    pub path: PathBuf,
    /// Past this many bytes the file is rotated (`FILE` → `FILE.1` → ...);
    /// 0: never.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep: usize,
}

impl RecordTo {
    /// One file, never rotated (a probe, a HIL run).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        RecordTo {
            path: path.into(),
            max_bytes: 0,
            keep: 0,
        }
    }
}

/// Writes entries to a file from its own thread.
pub struct Recorder {
    tx: mpsc::Sender<Option<(Dir, Vec<u8>, u64)>>,
    started: Instant,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    /// Opens (appends to) `to.path`; the file's parent must exist.
    pub fn open(to: RecordTo) -> std::io::Result<Arc<Recorder>> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&to.path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let (tx, rx) = mpsc::channel::<Option<(Dir, Vec<u8>, u64)>>();
        let thread = std::thread::Builder::new()
            .name("transcript".into())
            .spawn(move || write_loop(to, file, size, rx))?;
        Ok(Arc::new(Recorder {
            tx,
            started: Instant::now(),
            thread: Some(thread),
        }))
    }

    /// Records `bytes` going `dir`, now.
    pub fn record(&self, dir: Dir, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let t = self.started.elapsed().as_millis() as u64;
        let _ = self.tx.send(Some((dir, bytes.to_vec(), t)));
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.tx.send(None);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn write_loop(
    to: RecordTo,
    mut file: File,
    mut size: u64,
    rx: mpsc::Receiver<Option<(Dir, Vec<u8>, u64)>>,
) {
    let mut failed = false;
    while let Ok(Some((dir, bytes, t_ms))) = rx.recv() {
        let entry = Entry {
            t_ms,
            dir,
            data: escape(&bytes),
        };
        let mut line = serde_json::to_string(&entry).unwrap_or_default();
        line.push('\n');
        if to.max_bytes > 0 && size > 0 && size + line.len() as u64 > to.max_bytes {
            match rotate(&to) {
                Ok(f) => {
                    file = f;
                    size = 0;
                }
                Err(e) => {
                    if !failed {
                        tracing::warn!(path = %to.path.display(), error = %e, "transcript: cannot rotate the recording");
                    }
                    failed = true;
                }
            }
        }
        match file.write_all(line.as_bytes()) {
            Ok(()) => size += line.len() as u64,
            Err(e) => {
                // Recording is a technician's aid: it never stops the modem.
                if !failed {
                    tracing::warn!(path = %to.path.display(), error = %e, "transcript: cannot write the recording");
                }
                failed = true;
            }
        }
    }
    let _ = file.flush();
}

/// `FILE.{keep-1}` → `FILE.{keep}` ... `FILE` → `FILE.1`, then a new
/// `FILE`; the oldest beyond `keep` is removed.
fn rotate(to: &RecordTo) -> std::io::Result<File> {
    let name = |i: usize| {
        let mut p = to.path.clone().into_os_string();
        p.push(format!(".{i}"));
        PathBuf::from(p)
    };
    if to.keep == 0 {
        std::fs::remove_file(&to.path)?;
    } else {
        let _ = std::fs::remove_file(name(to.keep));
        for i in (1..to.keep).rev() {
            if name(i).exists() {
                std::fs::rename(name(i), name(i + 1))?;
            }
        }
        std::fs::rename(&to.path, name(1))?;
    }
    OpenOptions::new().create(true).append(true).open(&to.path)
}

/// A port whose bytes both ways are recorded (or not, without a
/// recorder).
pub struct Recorded<S> {
    inner: S,
    recorder: Option<Arc<Recorder>>,
}

impl<S> Recorded<S> {
    pub fn new(inner: S, recorder: Option<Arc<Recorder>>) -> Self {
        Recorded { inner, recorder }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Recorded<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(rec)) = (&r, &self.recorder) {
            rec.record(Dir::FromModem, &buf.filled()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recorded<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if let (Poll::Ready(Ok(n)), Some(rec)) = (&r, &self.recorder) {
            rec.record(Dir::ToModem, &data[..*n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    proptest! {
        /// Any bytes survive escaping, JSON and unescaping unchanged.
        #[test]
        fn bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300), t in 0u64..1_000_000) {
            let e = Entry { t_ms: t, dir: Dir::FromModem, data: escape(&bytes) };
            let line = serde_json::to_string(&e).unwrap();
            let back: Entry = serde_json::from_str(&line).unwrap();
            prop_assert_eq!(back.bytes().unwrap(), bytes);
        }
    }

    #[test]
    fn the_format_is_the_emulators() {
        let e = Entry {
            t_ms: 12,
            dir: Dir::ToModem,
            data: escape(b"AT+CMGS=23\r"),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"t_ms":12,"dir":"to_modem","data":"AT+CMGS=23\\r"}"#
        );
        assert_eq!(escape(b"> \x1a\xc3\xa9\\"), "> \\x1a\\xc3\\xa9\\\\");
        assert!(unescape("\\q").is_err());
        assert!(unescape("\\x4").is_err());
    }

    #[tokio::test]
    async fn a_recorded_port_writes_both_ways_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        let rec = Recorder::open(RecordTo::file(&path)).unwrap();
        let (host, mut modem) = tokio::io::duplex(256);
        let mut port = Recorded::new(host, Some(rec.clone()));
        port.write_all(b"AT\r").await.unwrap();
        let mut buf = [0u8; 8];
        let n = modem.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"AT\r");
        modem.write_all(b"\r\nOK\r\n").await.unwrap();
        let n = port.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"\r\nOK\r\n");
        drop(port);
        drop(rec);
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].dir, Dir::ToModem);
        assert_eq!(entries[0].bytes().unwrap(), b"AT\r");
        assert_eq!(entries[1].dir, Dir::FromModem);
        assert_eq!(entries[1].data, "\\r\\nOK\\r\\n");
        assert!(entries[0].t_ms <= entries[1].t_ms);
    }

    #[test]
    fn a_recording_rotates_at_its_cap_and_keeps_what_it_should() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("modem.jsonl");
        let rec = Recorder::open(RecordTo {
            path: path.clone(),
            max_bytes: 1_000,
            keep: 2,
        })
        .unwrap();
        for i in 0..200 {
            rec.record(Dir::FromModem, format!("\r\n+CSQ: {i},99\r\n").as_bytes());
        }
        drop(rec);
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(size(&path) <= 1_000, "{}", size(&path));
        assert!(path.with_extension("jsonl.1").exists());
        assert!(path.with_extension("jsonl.2").exists());
        assert!(!path.with_extension("jsonl.3").exists());
        // The newest entries are in the live file, whole.
        let last = read(&path).unwrap();
        assert!(last.last().unwrap().data.contains("+CSQ: 199,99"));
    }
}

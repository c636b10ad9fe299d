//! Pseudo-terminals for emulated modems: the only file of the emulator that
//! touches file descriptors. A [`Pty`] is a master (our side, the modem) and
//! a slave path (`/dev/pts/N`) that serial clients open like a USB modem.
//!
//! We keep a slave descriptor open ourselves so that a client closing the
//! port does not turn the master into end-of-file; bytes written while no
//! client listens are flushed when they would block, as a UART with no DTE
//! loses them.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::pty::openpty;
use nix::sys::termios::{self, FlushArg, SetArg};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// How long a write may wait for a reader before pending input is flushed.
const STALL_FLUSH: Duration = Duration::from_millis(500);

/// One pseudo-terminal pair.
pub struct Pty {
    master: AsyncFd<OwnedFd>,
    slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    /// Opens a new pair in raw mode (no echo, no line editing: a modem's
    /// serial port is a byte pipe).
    pub fn open() -> io::Result<Pty> {
        let pair = openpty(None, None).map_err(io::Error::from)?;
        let mut t = termios::tcgetattr(pair.slave.as_fd()).map_err(io::Error::from)?;
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(pair.slave.as_fd(), SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(pair.slave.as_fd()).map_err(io::Error::from)?;
        let flags = fcntl(pair.master.as_raw_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
        fcntl(
            pair.master.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .map_err(io::Error::from)?;
        // SAFETY: an `OwnedFd` keeps its descriptor open, and the same, until
        // it is dropped, which happens only with the `AsyncFd` that owns it.
        let master = unsafe {
            AsyncFd::register_with_interest(pair.master, Interest::READABLE | Interest::WRITABLE)
        }?;
        Ok(Pty {
            master,
            slave: pair.slave,
            path,
        })
    }

    /// The slave path a serial client opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what the client wrote.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard.try_io(|fd| {
                nix::unistd::read(fd.get_ref().as_raw_fd(), buf).map_err(io::Error::from)
            }) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `bytes` to the client.
    pub async fn write_all(&self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let ready = tokio::time::timeout(STALL_FLUSH, self.master.writable()).await;
            let mut guard = match ready {
                Ok(g) => g?,
                Err(_) => {
                    // Nobody reads the port: drop what waits in it.
                    let _ = termios::tcflush(self.slave.as_fd(), FlushArg::TCIFLUSH);
                    continue;
                }
            };
            match guard
                .try_io(|fd| nix::unistd::write(fd.get_ref(), bytes).map_err(io::Error::from))
            {
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
        Ok(())
    }
}

/// Points `link` at `target`, replacing what was there.
pub fn relink(link: &Path, target: &Path) -> io::Result<()> {
    let tmp = link.with_extension("tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

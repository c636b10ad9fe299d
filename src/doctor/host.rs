//! What `smsgate doctor` reads of the host, each from under the doctor's
//! root (`/`, or a fake tree in tests): accounts (`/etc/passwd`,
//! `/etc/group`), processes and their open files (`/proc`), and the
//! external commands it runs (found through `PATH`), each within a bound.
//!
//! Owns reading and parsing only; the verdicts are in [`super::checks`].

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One line of `/etc/passwd` (passwd(5)): `name:password:uid:gid:...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// One line of `/etc/group` (group(5)): `name:password:gid:member,member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The local accounts. Lines that do not parse are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

pub fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4 && !f[0].is_empty()).then_some(())?;
            Some(User {
                name: f[0].to_string(),
                uid: f[2].trim().parse().ok()?,
                gid: f[3].trim().parse().ok()?,
            })
        })
        .collect()
}

pub fn parse_group(text: &str) -> Vec<Group> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && !f[0].is_empty()).then_some(())?;
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].trim().parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

impl Accounts {
    /// `/etc/passwd` and `/etc/group` under `root`; an error names the file
    /// that could not be read.
    pub fn read(root: &Path) -> Result<Accounts, String> {
        let read = |name: &str| {
            let path = root.join(name);
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read /{name}: {e}"))
        };
        Ok(Accounts {
            users: parse_passwd(&read("etc/passwd")?),
            groups: parse_group(&read("etc/group")?),
        })
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The user's primary group and every group that lists it as a member.
    pub fn gids_of(&self, user: &User) -> Vec<u32> {
        let mut gids = vec![user.gid];
        gids.extend(
            self.groups
                .iter()
                .filter(|g| g.members.contains(&user.name))
                .map(|g| g.gid),
        );
        gids.sort_unstable();
        gids.dedup();
        gids
    }

    /// Whether `user` is in the group called `group` (as primary group or
    /// listed member).
    pub fn in_group(&self, user: &User, group: &str) -> bool {
        self.group(group)
            .is_some_and(|g| g.gid == user.gid || g.members.contains(&user.name))
    }

    pub fn user_name(&self, uid: u32) -> String {
        self.users
            .iter()
            .find(|u| u.uid == uid)
            .map_or_else(|| uid.to_string(), |u| u.name.clone())
    }

    pub fn group_name(&self, gid: u32) -> String {
        self.groups
            .iter()
            .find(|g| g.gid == gid)
            .map_or_else(|| gid.to_string(), |g| g.name.clone())
    }
}

/// Whether a process of `uid` with groups `gids` may read and write a file
/// of `owner`:`group` with permission bits `mode`. The classic Unix rule
/// (POSIX.1 "File Access Permissions"): the owner class alone decides for
/// the owner, the group class for a member, the other class for the rest;
/// uid 0 may always. ACLs are not looked at.
pub fn may_read_write(mode: u32, owner: u32, group: u32, uid: u32, gids: &[u32]) -> bool {
    if uid == 0 {
        return true;
    }
    let bits = if uid == owner {
        (mode >> 6) & 0o7
    } else if gids.contains(&group) {
        (mode >> 3) & 0o7
    } else {
        mode & 0o7
    };
    bits & 0o6 == 0o6
}

/// A process: its id, its name (`/proc/<pid>/comm`, proc(5)) and the
/// targets of its open file descriptors (`/proc/<pid>/fd/*` symlinks), or
/// `None` when those could not be read (another user's process, read
/// without root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub comm: String,
    pub fds: Option<Vec<PathBuf>>,
}

/// Every process under `root/proc`; `Err` when the directory cannot be
/// listed. Processes that vanish while being read are left out.
pub fn scan_processes(root: &Path) -> Result<Vec<Process>, String> {
    let proc_dir = root.join("proc");
    let entries = std::fs::read_dir(&proc_dir).map_err(|e| format!("cannot list /proc: {e}"))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let Ok(comm) = std::fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let fds = std::fs::read_dir(dir.join("fd")).ok().map(|fds| {
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .collect()
        });
        out.push(Process {
            pid,
            comm: comm.trim_end_matches('\n').to_string(),
            fds,
        });
    }
    out.sort_by_key(|p| p.pid);
    Ok(out)
}

/// Processes with a descriptor open on any of `names` (the same file under
/// its several names: as configured, resolved, under the root).
pub fn holders<'a>(procs: &'a [Process], names: &[PathBuf]) -> Vec<&'a Process> {
    procs
        .iter()
        .filter(|p| {
            p.fds
                .as_ref()
                .is_some_and(|fds| fds.iter().any(|t| names.contains(t)))
        })
        .collect()
}

/// `key=value` lines, as `systemctl show` and `timedatectl show` print
/// them (systemctl(1) "show"); other lines are ignored.
pub fn key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// What running an external command gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Not found on `PATH`.
    Absent,
    /// Ran and exited 0: its standard output.
    Output(String),
    /// Ran and failed: the first line of its standard error (or the exit
    /// status).
    Failed(String),
    /// Still running at the bound; killed.
    TimedOut,
}

/// Runs `program` (looked up on `PATH`) with `args` and no input, in the C
/// locale, killing it after `timeout`.
pub fn run_command(program: &str, args: &[&str], timeout: Duration) -> Ran {
    let spawned = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .env("SYSTEMD_PAGER", "")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ran::Absent,
        Err(e) => return Ran::Failed(format!("cannot run {program}: {e}")),
    };
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        if let Some(r) = r {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.take(1 << 20).read_to_end(&mut buf);
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            });
        }
        rx
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Ran::TimedOut;
            }
            Err(e) => return Ran::Failed(format!("{program}: {e}")),
        }
    };
    // A grandchild may keep a pipe open: do not wait for it for long.
    let collect =
        |rx: mpsc::Receiver<String>| rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    let stdout = collect(out);
    let stderr = collect(err);
    if status.success() {
        Ran::Output(stdout)
    } else {
        let first = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("{program} exited with {status}"));
        Ran::Failed(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_parse_and_skip_bad_lines() {
        let users = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nsmsgate:x:999:996::/var/lib/smsgate:/usr/sbin/nologin\nbad:x:no:1::/:/bin/sh\n",
        );
        assert_eq!(
            users,
            vec![
                User {
                    name: "root".into(),
                    uid: 0,
                    gid: 0
                },
                User {
                    name: "smsgate".into(),
                    uid: 999,
                    gid: 996
                }
            ]
        );
        let groups = parse_group("dialout:x:20:pi,smsgate\nsmsgate:x:996:\nempty\n");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members, vec!["pi", "smsgate"]);
        assert!(groups[1].members.is_empty());
        let acc = Accounts { users, groups };
        let smsgate = acc.user("smsgate").unwrap();
        assert!(acc.in_group(smsgate, "dialout"));
        assert!(acc.in_group(smsgate, "smsgate"));
        assert!(!acc.in_group(smsgate, "video"));
        assert_eq!(acc.gids_of(smsgate), vec![20, 996]);
        assert_eq!(acc.group_name(20), "dialout");
        assert_eq!(acc.user_name(4242), "4242");
    }

    #[test]
    fn read_write_follows_the_owner_group_other_classes() {
        // crw-rw---- root:dialout, a member of dialout.
        assert!(may_read_write(0o660, 0, 20, 999, &[20, 996]));
        // Not a member.
        assert!(!may_read_write(0o660, 0, 20, 999, &[996]));
        // The owner class decides for the owner even if the group would allow.
        assert!(!may_read_write(0o460, 999, 20, 999, &[20]));
        // Others.
        assert!(may_read_write(0o666, 0, 20, 999, &[]));
        assert!(!may_read_write(0o664, 0, 20, 999, &[]));
        // Root may.
        assert!(may_read_write(0o000, 5, 5, 0, &[]));
    }

    #[test]
    fn proc_scan_finds_names_and_open_files_under_a_fake_root() {
        let root = tempfile::tempdir().unwrap();
        let proc_dir = root.path().join("proc");
        let dev = root.path().join("dev/ttyUSB0");
        std::fs::create_dir_all(dev.parent().unwrap()).unwrap();
        std::fs::write(&dev, b"").unwrap();
        for (pid, comm) in [(4242, "minicom\n"), (17, "ModemManager\n")] {
            let dir = proc_dir.join(pid.to_string());
            std::fs::create_dir_all(dir.join("fd")).unwrap();
            std::fs::write(dir.join("comm"), comm).unwrap();
        }
        std::os::unix::fs::symlink(&dev, proc_dir.join("4242/fd/3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", proc_dir.join("4242/fd/0")).unwrap();
        // Not processes: a name that is no pid, a pid without comm.
        std::fs::create_dir_all(proc_dir.join("self")).unwrap();
        std::fs::create_dir_all(proc_dir.join("99")).unwrap();

        let procs = scan_processes(root.path()).unwrap();
        assert_eq!(
            procs
                .iter()
                .map(|p| (p.pid, p.comm.as_str()))
                .collect::<Vec<_>>(),
            vec![(17, "ModemManager"), (4242, "minicom")]
        );
        let held = holders(&procs, std::slice::from_ref(&dev));
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].pid, held[0].comm.as_str()), (4242, "minicom"));
        assert!(holders(&procs, &[PathBuf::from("/dev/ttyUSB1")]).is_empty());
        assert!(scan_processes(&root.path().join("nowhere")).is_err());
    }

    #[test]
    fn key_value_lines() {
        let kv = key_values("ActiveState=active\nSubState=running\n\nnoise\nExecMainStartTimestamp=Tue 2024-01-02 10:00:00 UTC\n");
        assert_eq!(kv["ActiveState"], "active");
        assert_eq!(kv["ExecMainStartTimestamp"], "Tue 2024-01-02 10:00:00 UTC");
        assert_eq!(kv.len(), 3);
    }

    #[test]
    fn commands_absent_failing_and_slow() {
        assert_eq!(
            run_command("smsgate-doctor-no-such-tool", &[], Duration::from_secs(1)),
            Ran::Absent
        );
        assert_eq!(
            run_command(
                "sh",
                &["-c", "echo out; echo err >&2"],
                Duration::from_secs(5)
            ),
            Ran::Output("out\n".into())
        );
        assert_eq!(
            run_command(
                "sh",
                &["-c", "echo nope >&2; exit 3"],
                Duration::from_secs(5)
            ),
            Ran::Failed("nope".into())
        );
        assert_eq!(
            run_command("sh", &["-c", "sleep 5"], Duration::from_millis(100)),
            Ran::TimedOut
        );
    }
}

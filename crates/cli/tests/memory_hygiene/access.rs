//! Who may read a process's memory: core-file limits, and attempts to open `/proc/PID/mem` (the
//! kernel's `ptrace` attach check) from other identities, each beside a control process that
//! the same identity may read, so that a refusal is shown to come from the signer's own state.

use std::process::{Child, Command, Stdio};

/// The soft and hard core-file size limits of `pid`, as `/proc/PID/limits` prints them.
pub fn core_limits(pid: i32) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    let mut f = line
        .trim_start_matches("Max core file size")
        .split_whitespace();
    (f.next().unwrap().to_owned(), f.next().unwrap().to_owned())
}

/// Whether this test runs with effective uid 0 (from `/proc/self/status`).
pub fn effective_root() -> bool {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let uids = text.lines().find(|l| l.starts_with("Uid:")).unwrap();
    uids.split_whitespace().nth(2) == Some("0")
}

/// `VmLck` of `pid`: memory locked out of swap.
pub fn locked(pid: i32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find(|l| l.starts_with("VmLck:"))
        .map(|l| l.trim_start_matches("VmLck:").trim().to_owned())
        .unwrap_or_default()
}

/// An identity to try as, through `setpriv` (run as root).
pub struct Identity {
    pub name: &'static str,
    pub setpriv: &'static [&'static str],
}

/// Another user (`nobody`, uid 65534), without supplementary groups.
pub const OTHER_USER: Identity = Identity {
    name: "another user (uid 65534)",
    setpriv: &["--reuid=65534", "--regid=65534", "--clear-groups"],
};

/// The signer's own user with no capabilities at all (in particular no `CAP_SYS_PTRACE`): what
/// a compromised unprivileged process of the same account could do.
pub const SAME_USER_NO_CAPS: Identity = Identity {
    name: "the same user without capabilities",
    setpriv: &[
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all",
    ],
};

/// Whether `who` may open `/proc/PID/mem`; the shell's complaint, if any.
pub fn may_open_mem_as(who: &Identity, pid: i32) -> (bool, String) {
    let out = Command::new("setpriv")
        .args(who.setpriv)
        .args(["--", "sh", "-c", "exec 3< \"$1\"", "sh"])
        .arg(format!("/proc/{pid}/mem"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

/// A dumpable `sleep` running as `who`: the control target.
pub fn control_process(who: &Identity) -> Child {
    Command::new("setpriv")
        .args(who.setpriv)
        .args(["--", "sleep", "120"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// A dumpable `sleep` of the test's own user.
pub fn own_control_process() -> Child {
    Command::new("sleep")
        .arg("120")
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

//! What Linux's `/proc` says about the machine and the cluster's processes during a run. Every
//! function answers `None` where `/proc` is missing or unreadable.

/// Linux's `USER_HZ`, the unit of the CPU times in `/proc/<pid>/stat`.
pub const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// User and system CPU time of process `pid` and all its threads, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which ends with the last `)`: state is field 3, utime 14,
    // stime 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Peak resident set size of process `pid` (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The 1, 5 and 15-minute load averages.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(cpu_ticks(std::process::id()).is_some());
            assert!(peak_rss_kib(std::process::id()).unwrap() > 0);
            assert!(load_average().is_some());
        }
        assert_eq!(cpu_ticks(u32::MAX), None);
    }
}

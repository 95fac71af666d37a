//! Reading another process's memory through `/proc/PID/maps` and `/proc/PID/mem`, and
//! searching files, for known byte strings.
//!
//! Why `/proc/PID/mem` and not a core image from `gcore`: both read the same pages through the
//! same kernel check (`ptrace` attach rights), but `gcore` needs gdb installed and writes the
//! whole image to disk, which is one more copy of any secret it finds. Reading the pages in
//! place needs nothing beyond the kernel and leaves nothing behind.
//!
//! Opening `/proc/PID/mem` runs the kernel's `ptrace` attach check (`PTRACE_MODE_ATTACH`):
//! a non-dumpable process (`prctl(PR_SET_DUMPABLE, 0)`) can be opened only by a caller with
//! `CAP_SYS_PTRACE`, even one of the same user.

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memchr::memmem::Finder;

use super::secrets::Needle;

/// One mapping from `/proc/PID/maps`.
#[derive(Debug)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub perms: String,
    pub name: String,
}

/// Where a needle was found.
#[derive(Debug)]
pub struct Finding {
    pub label: String,
    pub place: String,
}

/// What a memory scan covered and found.
#[derive(Debug, Default)]
pub struct Scan {
    pub regions: usize,
    pub bytes: u64,
    /// Readable mappings the kernel would not let us read, with the reason.
    pub unreadable: Vec<String>,
    pub found: Vec<Finding>,
    /// How many times each control string was seen.
    pub controls: Vec<usize>,
}

/// The mappings of process `pid`.
pub fn regions(pid: i32) -> Vec<Region> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    text.lines()
        .map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next().unwrap();
            let perms = f.next().unwrap().to_owned();
            let name = f.nth(3).unwrap_or("").to_owned();
            let (a, b) = range.split_once('-').unwrap();
            Region {
                start: u64::from_str_radix(a, 16).unwrap(),
                end: u64::from_str_radix(b, 16).unwrap(),
                perms,
                name,
            }
        })
        .collect()
}

/// Opens `/proc/PID/mem` for reading: the kernel's `ptrace` attach check happens here.
pub fn open_mem(pid: i32) -> std::io::Result<File> {
    File::open(format!("/proc/{pid}/mem"))
}

const CHUNK: usize = 8 << 20;

/// Searches every readable mapping of `pid` for `needles`, and counts `controls` (strings the
/// process is known to hold, proving that the scan reaches its heap).
pub fn scan_memory(pid: i32, mem: &File, needles: &[Needle], controls: &[&[u8]]) -> Scan {
    let finders: Vec<(&Needle, Finder<'_>)> =
        needles.iter().map(|n| (n, Finder::new(&n.bytes))).collect();
    let control_finders: Vec<Finder<'_>> = controls.iter().map(Finder::new).collect();
    let overlap = needles
        .iter()
        .map(|n| n.bytes.len())
        .chain(controls.iter().map(|c| c.len()))
        .max()
        .unwrap_or(1)
        - 1;
    let mut scan = Scan {
        controls: vec![0; controls.len()],
        ..Scan::default()
    };
    let mut buf = vec![0u8; CHUNK + overlap];
    for r in regions(pid) {
        // [vvar] and [vsyscall] are kernel pages that /proc/PID/mem does not serve.
        if !r.perms.starts_with('r') || r.name.starts_with("[vvar") || r.name == "[vsyscall]" {
            continue;
        }
        scan.regions += 1;
        let mut at = r.start;
        while at < r.end {
            let len = usize::try_from((r.end - at).min((CHUNK + overlap) as u64)).unwrap();
            let chunk = &mut buf[..len];
            if let Err(e) = read_fully(mem, chunk, at) {
                scan.unreadable.push(format!(
                    "{:x}-{:x} {} {} at {at:x}: {e}",
                    r.start, r.end, r.perms, r.name
                ));
                break;
            }
            scan.bytes += u64::try_from(len.min(CHUNK)).unwrap();
            for (needle, finder) in &finders {
                for off in finder.find_iter(chunk) {
                    // A match starting in the overlap is found again by the next chunk.
                    if off < CHUNK {
                        scan.found.push(Finding {
                            label: needle.label.clone(),
                            place: format!(
                                "address {:x} in {:x}-{:x} {} {}",
                                at + off as u64,
                                r.start,
                                r.end,
                                r.perms,
                                if r.name.is_empty() {
                                    "[anonymous]"
                                } else {
                                    &r.name
                                }
                            ),
                        });
                    }
                }
            }
            for (i, finder) in control_finders.iter().enumerate() {
                scan.controls[i] += finder.find_iter(chunk).filter(|off| *off < CHUNK).count();
            }
            at += CHUNK as u64;
        }
    }
    scan
}

fn read_fully(mem: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match mem.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "short read")),
            Ok(n) => done += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// Searches every file under `dir` for `needles`; the passphrase needle is allowed in
/// `passphrase_file` only.
pub fn scan_files(dir: &Path, needles: &[Needle], passphrase_file: &Path) -> (usize, Vec<Finding>) {
    let files = files_under(dir);
    let mut found = Vec::new();
    for path in &files {
        // A file may vanish between listing and reading (SQLite's journal files).
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        for n in needles {
            if n.passphrase && path == passphrase_file {
                continue;
            }
            if let Some(off) = memchr::memmem::find(&bytes, &n.bytes) {
                found.push(Finding {
                    label: n.label.clone(),
                    place: format!("{} at byte {off}", path.display()),
                });
            }
        }
    }
    (files.len(), found)
}

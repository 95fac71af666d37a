//! Keeping secrets out of core dumps, swap and other processes' reach.
//!
//! Everything here goes through safe wrappers (`nix`); the workspace forbids `unsafe` without
//! exception.

use nix::sys::mman::{MlockAllFlags, mlockall};
use nix::sys::prctl;
use nix::sys::resource::{Resource, setrlimit};

/// What [`harden_process`] achieved. Each field is `Err` with the OS's reason where the OS
/// refused; callers log refusals loudly and go on, as the protections are defence in depth.
#[derive(Debug)]
pub struct Hardening {
    /// The process is not dumpable: no core file, no `ptrace` attach by other users' or
    /// same-user unprivileged processes, `/proc/PID/mem` closed to them.
    pub non_dumpable: Result<(), String>,
    /// The core-file size limit is zero.
    pub no_core_files: Result<(), String>,
    /// All current and future pages are locked in memory: nothing of this process, secrets
    /// included, is written to swap.
    pub memory_locked: Result<(), String>,
}

impl Hardening {
    /// Whether every protection is in place.
    pub fn complete(&self) -> bool {
        self.non_dumpable.is_ok() && self.no_core_files.is_ok() && self.memory_locked.is_ok()
    }
}

/// Marks the process non-dumpable, disables core files and locks its memory out of swap.
///
/// Call once, at the start of any process that will hold a decrypted share or nonce. Memory
/// locking needs `RLIMIT_MEMLOCK` large enough for the whole process (or `CAP_IPC_LOCK`): with
/// `MCL_FUTURE` every later mapping, thread stacks included, is locked and resident.
pub fn harden_process() -> Hardening {
    let non_dumpable = prctl::set_dumpable(false).map_err(|e| e.to_string());
    let no_core_files = setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| e.to_string());
    let memory_locked =
        mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(|e| e.to_string());
    Hardening {
        non_dumpable,
        no_core_files,
        memory_locked,
    }
}

/// Bytes of stack that [`wipe_stack`] overwrites.
pub const STACK_WIPE_BYTES: usize = 128 * 1024;

/// Overwrites the [`STACK_WIPE_BYTES`] of stack just below the caller's frame with zeros.
///
/// Frames that have returned keep whatever they held: the threshold libraries compute with
/// scalars (a share, a nonce, a Lagrange-weighted share) in local variables, and Rust moves
/// values by copying them; `zeroize` reaches none of those copies. Called right after an
/// operation that handled secrets, from a frame no deeper than the one that started the
/// operation, this writes zeros over the dead frames the operation left below it.
///
/// The zeros are the buffer's initialiser, written with `memset` (fast even in unoptimised
/// builds, unlike a loop of volatile writes: 4 to 9 us here); the buffer is then handed to
/// [`std::hint::black_box`], which the compiler must assume reads it, so the writes are not
/// dropped as dead stores.
///
/// It covers the operation's frames only down to [`STACK_WIPE_BYTES`] below the caller (the
/// deepest copy the memory-hygiene test has seen lay about 80 KiB below, in a debug build); it
/// cannot reach registers, or stacks of other threads.
#[inline(never)]
pub fn wipe_stack() {
    let mut area = [0u8; STACK_WIPE_BYTES];
    std::hint::black_box(&mut area);
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

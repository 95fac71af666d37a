//! Memory hygiene of real signer processes (issue 6, point 5), on a `tessera dev` cluster.
//!
//! 1. After wallets of every scheme are created and have signed, no signer's memory holds its
//!    plaintext shares (the secret scalar, either byte order, raw or hex), its key-encryption
//!    key or its passphrase. The test finds these secrets itself from the signer's files and
//!    reads the signer's pages through `/proc/PID/mem` (see `memscan.rs` for why not `gcore`).
//! 2. No file of the cluster's data directory holds a plaintext share or a KEK, and none but
//!    the passphrase file holds the passphrase.
//! 3. Each signer refuses core files and `ptrace` by other users and by its own user without
//!    `CAP_SYS_PTRACE`.
//!
//! Reading a non-dumpable process's memory needs `CAP_SYS_PTRACE`. Run as root (as `.ci/run`
//! does) the test scans; run unprivileged it cannot, checks that the kernel refuses it instead
//! (itself evidence for point 3), and says so. `TESSERA_REQUIRE_MEMORY_SCAN=1` makes the
//! unprivileged branch a failure, so that CI cannot pass without scanning.
//!
//! What the scan proves: at the moment of the scan, no readable page of the signer (heap,
//! stacks, libraries' data, freed-but-unreturned allocator memory included, since all of it is
//! mapped) holds these byte strings. It cannot see secrets held in another encoding (a scalar in
//! Montgomery form or split into limbs of other widths, a key schedule), in CPU registers, in
//! kernel buffers (socket and pipe buffers, the page cache), or in pages the process has
//! returned to the kernel; and it says nothing about the moments while an operation runs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "test code: a failed expectation is a failed test, and the branch taken is printed"
)]

mod access;
#[path = "../common/mod.rs"]
mod common;
mod memscan;
mod secrets;

use std::time::Duration;

use common::{Dev, verify_independently};
use serde_json::{Value, json};

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

const SCHEMES: [&str; 3] = ["frost-secp256k1-tr", "frost-ed25519", "ecdsa-secp256k1"];

fn create(dev: &Dev, scheme: &str) -> Value {
    let (status, w) = dev.call(
        "admin-1",
        "POST",
        "/v1/wallets",
        Some(&json!({"name": format!("hygiene-{scheme}"), "scheme": scheme})),
    );
    assert_eq!(status, 201, "{w}");
    w
}

/// Signs three payloads with `wallet` and checks each signature independently. ECDSA wallets
/// sign messages (EIP-191), checked against the message's hash.
fn sign_three(dev: &Dev, wallet: &Value) {
    let scheme = wallet["scheme"].as_str().unwrap();
    let ecdsa = scheme == "ecdsa-secp256k1";
    for i in 0..3u8 {
        let payload = [i + 1; 32];
        let field = if ecdsa { "message_hex" } else { "payload_hex" };
        let (status, r) = dev.call(
            "trader",
            "POST",
            &format!("/v1/wallets/{}/sign", wallet["id"].as_str().unwrap()),
            Some(&json!({field: hex::encode(payload), "idempotency_key": format!("{scheme}-{i}")})),
        );
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["status"], "signed", "{r}");
        let signed = if ecdsa {
            tessera_eth::personal_message_hash(&payload).0.to_vec()
        } else {
            payload.to_vec()
        };
        let mut sig = hex::decode(r["signature_hex"].as_str().unwrap()).unwrap();
        if let (true, Some(v)) = (ecdsa, sig.last_mut()) {
            // Ethereum's recovery id is 27 or 28.
            *v -= 27;
        }
        verify_independently(
            scheme,
            wallet["public_key"].as_str().unwrap(),
            &signed,
            &hex::encode(sig),
        );
    }
}

/// The scan's own control: a process given a secret's encoding as an argument holds it in its
/// memory, and the scan must find it there under its label.
fn scan_finds_a_planted_secret(needles: &[secrets::Needle], label: &str) {
    use std::os::unix::ffi::OsStrExt;
    let planted = &needles.iter().find(|n| n.label == label).unwrap().bytes;
    // `; :` keeps the shell from replacing itself with `sleep`, so its arguments stay.
    let mut child = std::process::Command::new("sh")
        .args(["-c", "sleep 120; :", "control"])
        .arg(std::ffi::OsStr::from_bytes(planted))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = i32::try_from(child.id()).unwrap();
    let mem = memscan::open_mem(pid).unwrap();
    let scan = memscan::scan_memory(pid, &mem, needles, &[]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        scan.found.iter().any(|f| f.label == label),
        "the scan does not find `{label}` in a process that holds it: {scan:?}"
    );
    println!("memory-hygiene: control: the scan finds `{label}` planted in process {pid}");
}

fn report(what: &str, found: &[memscan::Finding]) {
    for f in found {
        println!("memory-hygiene: FOUND {what}: {} at {}", f.label, f.place);
    }
}

#[test]
fn no_share_kek_or_passphrase_in_signer_memory_or_files_after_signing() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    let wallets: Vec<Value> = SCHEMES.iter().map(|s| create(&dev, s)).collect();
    for w in &wallets {
        sign_three(&dev, w);
    }
    // The coordinator tells the signers a request is complete after answering: let that land.
    std::thread::sleep(Duration::from_secs(1));

    let require_scan = std::env::var_os("TESSERA_REQUIRE_MEMORY_SCAN").is_some();
    let mut failures = Vec::new();
    for n in 1..=3u16 {
        let sdir = tmp.path().join(format!("signer-{n}"));
        let secrets = secrets::signer_secrets(&sdir, n);
        assert_eq!(secrets.party, n);
        assert_eq!(secrets.shares.len(), SCHEMES.len(), "signer {n}'s shares");
        let needles = secrets.needles();
        let pid = dev.signer_pid(n);

        // 1. Memory.
        match memscan::open_mem(pid) {
            Ok(mem) => {
                if n == 1 {
                    scan_finds_a_planted_secret(&needles, "KEK, hex");
                }
                let key_ids: Vec<&[u8]> =
                    secrets.shares.iter().map(|s| s.key_id.as_bytes()).collect();
                let scan = memscan::scan_memory(pid, &mem, &needles, &key_ids);
                println!(
                    "memory-hygiene: signer {n} (pid {pid}): SCAN branch: read {} bytes in {} \
                     mappings through /proc/{pid}/mem; {} needles ({} shares, KEK, \
                     passphrase); {} found; key ids seen {:?} times",
                    scan.bytes,
                    scan.regions,
                    needles.len(),
                    secrets.shares.len(),
                    scan.found.len(),
                    scan.controls,
                );
                for u in &scan.unreadable {
                    println!("memory-hygiene: signer {n}: unreadable mapping {u}");
                }
                // The controls: the key ids are in the signer's heap, so the scan reaches it.
                assert!(
                    scan.controls.iter().all(|c| *c > 0),
                    "signer {n}: the key ids were not found in its memory: the scan is blind"
                );
                assert!(scan.bytes > 1 << 20, "signer {n}: scanned too little");
                report(&format!("in signer {n}'s memory"), &scan.found);
                failures.extend(
                    scan.found
                        .iter()
                        .map(|f| format!("signer {n} memory: {}", f.label)),
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                println!(
                    "memory-hygiene: signer {n} (pid {pid}): REFUSAL branch: this test may not \
                     read /proc/{pid}/mem ({e}): the signer is non-dumpable and the test lacks \
                     CAP_SYS_PTRACE, so no memory scan ran; run as root to scan"
                );
                assert!(
                    !access::effective_root(),
                    "root was refused /proc/{pid}/mem: {e}"
                );
                assert!(
                    !require_scan,
                    "TESSERA_REQUIRE_MEMORY_SCAN is set but signer {n}'s memory cannot be read: {e}"
                );
            }
            Err(e) => panic!("signer {n}: /proc/{pid}/mem: {e}"),
        }

        // 2. Files: the whole data directory, every signer's and the coordinator's files.
        let (count, found) = memscan::scan_files(tmp.path(), &needles, &sdir.join("passphrase"));
        let store_files = ["signer.sqlite", "signer.sqlite-wal"].map(|f| sdir.join(f));
        for s in &secrets.shares {
            // A large blob (an ECDSA share is about 100 KB) continues on SQLite overflow
            // pages: its start is contiguous.
            let start = &s.sealed[..s.sealed.len().min(512)];
            assert!(
                store_files
                    .iter()
                    .any(|f| std::fs::read(f).is_ok_and(|b| contains(&b, start))),
                "signer {n}: the sealed share of `{}` is not in its store files: the file \
                 search is blind",
                s.key_id
            );
            assert!(!s.plaintext.is_empty());
        }
        println!(
            "memory-hygiene: signer {n}: searched {count} files under the data directory; {} found",
            found.len()
        );
        report(&format!("in the files, for signer {n}"), &found);
        failures.extend(
            found
                .iter()
                .map(|f| format!("signer {n} files: {}", f.label)),
        );
    }
    assert!(
        failures.is_empty(),
        "secrets found (details above):\n{}",
        failures.join("\n")
    );
    assert!(dev.stop().success());
}

#[test]
fn signers_refuse_core_files_and_ptrace_by_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Dev::start(tmp.path(), &[]);
    let root = access::effective_root();
    for n in 1..=3u16 {
        let pid = dev.signer_pid(n);
        let (soft, hard) = access::core_limits(pid);
        println!(
            "memory-hygiene: signer {n} (pid {pid}): core file size {soft}/{hard}, VmLck {}",
            access::locked(pid)
        );
        assert_eq!((soft.as_str(), hard.as_str()), ("0", "0"), "signer {n}");

        if root {
            println!("memory-hygiene: signer {n}: ROOT branch: trying other identities");
            for who in [access::OTHER_USER, access::SAME_USER_NO_CAPS] {
                let mut control = access::control_process(&who);
                std::thread::sleep(Duration::from_millis(200));
                let control_pid = i32::try_from(control.id()).unwrap();
                let (allowed, _) = access::may_open_mem_as(&who, control_pid);
                let (signer_allowed, why) = access::may_open_mem_as(&who, pid);
                let _ = control.kill();
                let _ = control.wait();
                println!(
                    "memory-hygiene: signer {n}: as {}: a dumpable process of that identity \
                     {}; the signer {} ({why})",
                    who.name,
                    if allowed { "opens" } else { "is REFUSED" },
                    if signer_allowed {
                        "OPENS"
                    } else {
                        "is refused"
                    },
                );
                assert!(allowed, "control: {} cannot read its own process", who.name);
                assert!(!signer_allowed, "{} reads signer {n}'s memory", who.name);
            }
        } else {
            println!(
                "memory-hygiene: signer {n}: UNPRIVILEGED branch: trying as this test's user \
                 (another user's attempt needs root to set up, not run)"
            );
            let mut control = access::own_control_process();
            let control_pid = i32::try_from(control.id()).unwrap();
            let control_open = memscan::open_mem(control_pid);
            let _ = control.kill();
            let _ = control.wait();
            assert!(control_open.is_ok(), "control: {control_open:?}");
            match memscan::open_mem(pid) {
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
                Ok(_) => panic!("an unprivileged process of the same user reads signer {n}"),
            }
        }
    }
    assert!(dev.stop().success());
}

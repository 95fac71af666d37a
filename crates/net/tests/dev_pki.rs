//! `write_dev_pki`: idempotent, private keys 0600, never overwrites.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tessera_net::NetErrorKind;
use tessera_net::pki::write_dev_pki;
use tessera_net::tls::{TlsFiles, client_config, server_config};

/// Every file in `dir`: name to (contents, mode).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, u32)> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let name = entry.file_name().into_string().unwrap();
            (name, (fs::read(entry.path()).unwrap(), mode))
        })
        .collect()
}

fn files(dir: &Path, node: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{node}.pem")),
        key: dir.join(format!("{node}.key")),
    }
}

#[test]
fn write_dev_pki_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    write_dev_pki(&dir, "tessera dev ca", &["coordinator", "signer-1"]).unwrap();

    let first = snapshot(&dir);
    let names: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "ca.key",
            "ca.pem",
            "coordinator.key",
            "coordinator.pem",
            "signer-1.key",
            "signer-1.pem"
        ]
    );
    for (name, (_, mode)) in &first {
        if name.ends_with(".key") {
            assert_eq!(*mode, 0o600, "{name}");
        }
    }
    let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);

    write_dev_pki(&dir, "tessera dev ca", &["coordinator", "signer-1"]).unwrap();
    assert_eq!(snapshot(&dir), first);
}

#[test]
fn missing_nodes_are_issued_by_the_existing_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_dev_pki(dir, "tessera dev ca", &["coordinator"]).unwrap();
    let first = snapshot(dir);

    write_dev_pki(
        dir,
        "another name",
        &["coordinator", "signer-1", "signer-1"],
    )
    .unwrap();
    let second = snapshot(dir);
    for (name, content) in &first {
        assert_eq!(second.get(name), Some(content), "{name} changed");
    }
    assert_eq!(second.len(), first.len() + 2);
    assert_eq!(second["signer-1.key"].1, 0o600);

    // The new certificate chains to the old CA: the TLS configurations accept it.
    server_config(&files(dir, "signer-1")).unwrap();
    client_config(&files(dir, "signer-1")).unwrap();
}

#[test]
fn half_pairs_and_bad_names_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_dev_pki(dir, "tessera dev ca", &["signer-1"]).unwrap();
    fs::remove_file(dir.join("signer-1.key")).unwrap();
    let cert = fs::read(dir.join("signer-1.pem")).unwrap();

    let e = write_dev_pki(dir, "tessera dev ca", &["signer-1"]).unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Pki, "{e}");
    assert!(e.detail.contains("signer-1.pem"), "{e}");
    assert_eq!(fs::read(dir.join("signer-1.pem")).unwrap(), cert);

    for bad in ["ca", "Signer", "signer_1", ""] {
        let e = write_dev_pki(dir, "tessera dev ca", &[bad]).unwrap_err();
        assert_eq!(e.kind, NetErrorKind::Config, "{bad}: {e}");
    }

    fs::remove_file(dir.join("ca.key")).unwrap();
    let e = write_dev_pki(dir, "tessera dev ca", &[]).unwrap_err();
    assert_eq!(e.kind, NetErrorKind::Pki, "{e}");
}

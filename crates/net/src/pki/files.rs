//! Writing a development PKI to a directory, idempotently.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::{DevCa, validate_node_name};
use crate::NetError;

/// File name stem of the CA: `ca.pem` and `ca.key`.
const CA_STEM: &str = "ca";

/// Creates in `dir` a development CA (`ca.pem`, `ca.key`) named `ca_name` and a certificate
/// (`<node>.pem`, `<node>.key`) for each of `nodes`, skipping whatever already exists.
///
/// Idempotent: an existing CA is loaded and used to issue the missing node certificates; a
/// node whose two files exist is left alone (even if the existing CA was named otherwise).
/// A certificate without its key (or a key without its certificate) is an error: it is
/// never overwritten. `dir` is created with mode 0700 if missing. Private keys are written
/// with mode 0600, certificates with 0644 (less the umask), each file created new and
/// synced before the next one is written.
pub fn write_dev_pki(dir: &Path, ca_name: &str, nodes: &[&str]) -> Result<(), NetError> {
    for node in nodes {
        validate_node_name(node)?;
        if *node == CA_STEM {
            return Err(NetError::config(format!(
                "node name `{CA_STEM}` is reserved for the ca files"
            )));
        }
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| NetError::io(format!("could not create `{}`: {e}", dir.display())))?;

    let ca = load_or_create_ca(dir, ca_name)?;
    for node in nodes {
        let (cert_path, key_path) = pair_paths(dir, node);
        if pair_exists(&cert_path, &key_path)? {
            continue;
        }
        let cert = ca.issue(node)?;
        write_new(&key_path, cert.key_pem.as_bytes(), 0o600)?;
        write_new(&cert_path, cert.cert_pem.as_bytes(), 0o644)?;
        tracing::info!(node = %node, path = %cert_path.display(), "wrote node certificate");
    }
    sync_dir(dir)
}

fn load_or_create_ca(dir: &Path, ca_name: &str) -> Result<DevCa, NetError> {
    let (cert_path, key_path) = pair_paths(dir, CA_STEM);
    if pair_exists(&cert_path, &key_path)? {
        let cert_pem = read_text(&cert_path)?;
        let key_pem = read_text(&key_path)?;
        return DevCa::from_pem(&cert_pem, &key_pem).map_err(|e| {
            NetError::pki(format!(
                "could not load the ca from `{}`: {}",
                dir.display(),
                e.detail
            ))
        });
    }
    let ca = DevCa::generate(ca_name)?;
    write_new(&key_path, ca.key_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, ca.cert_pem().as_bytes(), 0o644)?;
    tracing::info!(path = %cert_path.display(), "wrote development ca");
    Ok(ca)
}

fn pair_paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.pem")),
        dir.join(format!("{stem}.key")),
    )
}

/// Whether both files exist; an error if only one does.
fn pair_exists(cert: &Path, key: &Path) -> Result<bool, NetError> {
    match (exists(cert)?, exists(key)?) {
        (true, true) => Ok(true),
        (false, false) => Ok(false),
        (true, false) => Err(half_pair(cert, key)),
        (false, true) => Err(half_pair(key, cert)),
    }
}

fn half_pair(present: &Path, missing: &Path) -> NetError {
    NetError::pki(format!(
        "`{}` exists but `{}` does not: restore it or remove both",
        present.display(),
        missing.display()
    ))
}

fn exists(path: &Path) -> Result<bool, NetError> {
    path.try_exists()
        .map_err(|e| NetError::io(format!("could not check `{}`: {e}", path.display())))
}

fn read_text(path: &Path) -> Result<Zeroizing<String>, NetError> {
    fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|e| NetError::io(format!("could not read `{}`: {e}", path.display())))
}

/// Creates `path` (failing if it exists) with `mode`, writes `contents` and syncs it. A
/// partly written file is removed.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), NetError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| NetError::io(format!("could not create `{}`: {e}", path.display())))?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        // Best effort: the write error below is what the caller needs to see.
        let _ = fs::remove_file(path);
        return Err(NetError::io(format!(
            "could not write `{}`: {e}",
            path.display()
        )));
    }
    Ok(())
}

/// Syncs `dir` so that the new directory entries survive a crash.
fn sync_dir(dir: &Path) -> Result<(), NetError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| NetError::io(format!("could not sync `{}`: {e}", dir.display())))
}

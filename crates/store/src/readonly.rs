//! Reading a store without changing it: for tools that inspect a signer's history (`tessera
//! policy simulate`) while the signer may be running and holding the same file.
//!
//! The connection is opened read-only and `query_only`: nothing is created, migrated or
//! written, and no boot is started, so every method that writes fails.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, params};

use crate::requests::request_in;
use crate::{RequestRecord, Store, StoreError};

impl Store {
    /// Opens the existing store at `path` for reading only. A missing file is an error (nothing
    /// is created), and so is a schema other than the one this build writes: an older store is
    /// migrated by starting its signer, never by a reader.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(open_err("no such file".into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "query_only", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        if found > crate::schema::VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: crate::schema::VERSION,
            });
        }
        if found < crate::schema::VERSION {
            return Err(open_err(format!(
                "schema version {found} is older than this build's ({}); start its signer once \
                 to bring it up to date",
                crate::schema::VERSION
            )));
        }
        Ok(Self {
            conn,
            boot: None,
            audit: None,
        })
    }

    /// The ids of every registered request, in the order this signer registered them.
    pub fn request_ids(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT request_id FROM requests ORDER BY rowid")?;
        let rows = stmt.query_map(params![], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every registered request, in the order this signer registered them.
    pub fn requests_in_order(&self) -> Result<Vec<RequestRecord>, StoreError> {
        let mut out = Vec::new();
        for id in self.request_ids()? {
            let req = request_in(&self.conn, &id)?
                .ok_or_else(|| StoreError::NoSuchRequest(id.clone()))?;
            out.push(req);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn a_missing_store_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.sqlite");
        let err = Store::open_read_only(&path).unwrap_err();
        assert_eq!(err.code(), "store_open_failed");
        assert!(!path.exists());
    }

    #[test]
    fn a_read_only_store_lists_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(Store::open(&path).unwrap());
        let mut ro = Store::open_read_only(&path).unwrap();
        assert!(ro.request_ids().unwrap().is_empty());
        assert!(ro.requests_in_order().unwrap().is_empty());
        assert!(ro.set_meta("x", b"y").is_err());
        assert!(ro.start_boot().is_err());
    }

    #[test]
    fn an_old_schema_is_refused_not_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(crate::schema::V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let err = Store::open_read_only(&path).unwrap_err();
        assert!(err.to_string().contains("schema version 1"), "{err}");
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 1);
    }
}

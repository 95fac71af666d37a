//! Where a command goes and who sends it: the API's base URL and the client's key, taken from
//! the flags and from the `dev.json` that `tessera dev` writes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hyper::Uri;
use serde::Deserialize;
use tessera_auth::{ClientId, ClientKey};

use super::Connection;
use crate::CliError;

/// The file `tessera dev` writes into its directory.
pub(super) const DEV_FILE: &str = "dev.json";

/// The base URL of the API: `http://host:port`, plain HTTP, without a path, query or user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    /// `host:port` (or `host`), as given.
    authority: String,
}

impl ApiUrl {
    /// The full URL of `path_and_query` (which starts with `/`) on this API.
    pub(super) fn join(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.authority)
    }
}

impl FromStr for ApiUrl {
    type Err = CliError;
    fn from_str(s: &str) -> Result<Self, CliError> {
        let shown = s.escape_debug();
        let uri: Uri = s
            .parse()
            .map_err(|_| CliError::new(format!("api url `{shown}` is not a url")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(CliError::new(format!(
                    "api url `{shown}`: https is not supported, the api serves plain http on loopback; use `http://`"
                )));
            }
            _ => {
                return Err(CliError::new(format!(
                    "api url `{shown}` must start with `http://`"
                )));
            }
        }
        let Some(authority) = uri.authority() else {
            return Err(CliError::new(format!("api url `{shown}` has no host")));
        };
        if authority.as_str().contains('@') {
            return Err(CliError::new(format!(
                "api url `{shown}` must not contain a user name or password"
            )));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(CliError::new(format!(
                "api url `{shown}` must be `http://host:port`, without a path or query"
            )));
        }
        Ok(Self {
            authority: authority.as_str().to_owned(),
        })
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}", self.authority)
    }
}

/// `dev.json` as `tessera dev` writes it. Fields not listed here are ignored, so that a newer
/// `tessera dev` may add some without breaking older clients.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(super) struct DevFile {
    /// The API's base URL.
    pub(super) api_url: String,
    /// The clients the dev cluster registered.
    pub(super) clients: Vec<DevClient>,
}

/// One client of `dev.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(super) struct DevClient {
    /// Its id.
    pub(super) id: ClientId,
    /// Its private key file; a relative path is taken from the dev directory.
    pub(super) key_file: PathBuf,
}

impl DevFile {
    /// Parses the text of `path`; `path` only names the file in messages.
    pub(super) fn parse(text: &str, path: &Path) -> Result<Self, CliError> {
        serde_json::from_str(text).map_err(|e| {
            CliError::new(format!("`{}` is not a valid dev file: {e}", path.display()))
        })
    }

    /// Reads `dir/dev.json`.
    pub(super) fn read(dir: &Path) -> Result<Self, CliError> {
        let path = dir.join(DEV_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                format!("`{}` does not exist", path.display())
            } else {
                format!("cannot read `{}`: {}", path.display(), e.kind())
            };
            CliError::new(format!(
                "{what}; start a dev cluster with `tessera dev`, pass its directory with --dev-dir, or pass --api-url and --key-file"
            ))
        })?;
        Self::parse(&text, &path)
    }
}

/// What the flags and `dev.json` say, before the key file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    /// Where requests go.
    pub(crate) api: ApiUrl,
    /// Who sends them.
    pub(super) client: ClientId,
    /// The client's private key file.
    pub(super) key_file: PathBuf,
}

/// Decides the URL, client and key file: flags first, then `dev` (read from `conn.dev_dir`;
/// `None` when both --api-url and --key-file were given and the file was not read).
pub(super) fn plan(
    conn: &Connection,
    default_client: &str,
    dev: Option<&DevFile>,
) -> Result<Plan, CliError> {
    let client = match &conn.client {
        Some(c) => c.clone(),
        None => ClientId::new(default_client).map_err(|e| CliError::new(e.message()))?,
    };
    let dev_path = conn.dev_dir.join(DEV_FILE);
    let missing = || {
        CliError::new(format!(
            "`{}` was not read; pass --api-url and --key-file",
            dev_path.display()
        ))
    };
    let api = match (&conn.api_url, dev) {
        (Some(url), _) => url.clone(),
        (None, Some(dev)) => dev
            .api_url
            .parse()
            .map_err(|e: CliError| CliError::new(format!("{}: {e}", dev_path.display())))?,
        (None, None) => return Err(missing()),
    };
    let key_file = match (&conn.key_file, dev) {
        (Some(path), _) => path.clone(),
        (None, Some(dev)) => match dev.clients.iter().find(|c| c.id == client) {
            Some(c) => conn.dev_dir.join(&c.key_file),
            None => {
                let known: Vec<&str> = dev.clients.iter().map(|c| c.id.as_str()).collect();
                return Err(CliError::new(format!(
                    "client `{client}` is not in `{}` (it has: {}); pass its key with --key-file, or choose another with --client",
                    dev_path.display(),
                    if known.is_empty() {
                        "no clients".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        },
        (None, None) => return Err(missing()),
    };
    Ok(Plan {
        api,
        client,
        key_file,
    })
}

/// Who sends a command and where: a [`Plan`] with its key read.
#[derive(Debug)]
pub(crate) struct Target {
    /// Where requests go.
    pub(crate) api: ApiUrl,
    /// Who sends them; the `sub` of every token.
    pub(super) client: ClientId,
    /// The client's private key.
    pub(super) key: ClientKey,
}

impl Target {
    /// Resolves `conn`, reading `dev.json` only if a flag leaves something open.
    pub(crate) fn resolve(conn: &Connection, default_client: &str) -> Result<Self, CliError> {
        let dev = if conn.api_url.is_some() && conn.key_file.is_some() {
            None
        } else {
            Some(DevFile::read(&conn.dev_dir)?)
        };
        let plan = plan(conn, default_client, dev.as_ref())?;
        let key = ClientKey::read_pem_file(&plan.key_file)
            .map_err(|e| CliError::new(format!("client `{}`: {e}", plan.client)))?;
        Ok(Self {
            api: plan.api,
            client: plan.client,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(dir: &Path) -> Connection {
        Connection {
            dev_dir: dir.to_owned(),
            api_url: None,
            client: None,
            key_file: None,
            json: false,
        }
    }

    const DEV: &str = r#"{
        "api_url": "http://127.0.0.1:8700",
        "signers": 3,
        "clients": [
            {"id": "trader", "role": "trader", "key_file": "/abs/trader.pem"},
            {"id": "admin-1", "role": "admin", "key_file": "keys/admin-1.pem"}
        ]
    }"#;

    fn dev() -> DevFile {
        DevFile::parse(DEV, Path::new("d/dev.json")).unwrap()
    }

    #[test]
    fn dev_file_parses_and_ignores_unknown_fields() {
        let dev = dev();
        assert_eq!(dev.api_url, "http://127.0.0.1:8700");
        assert_eq!(dev.clients.len(), 2);
        let err = DevFile::parse(r#"{"clients": []}"#, Path::new("d/dev.json")).unwrap_err();
        assert!(
            err.message()
                .starts_with("`d/dev.json` is not a valid dev file")
        );
    }

    #[test]
    fn dev_file_gives_url_and_key_of_the_default_client() {
        let p = plan(&conn(Path::new("d")), "admin-1", Some(&dev())).unwrap();
        assert_eq!(p.api.to_string(), "http://127.0.0.1:8700");
        assert_eq!(p.client.as_str(), "admin-1");
        // Relative key paths are taken from the dev directory, absolute ones as they are.
        assert_eq!(p.key_file, Path::new("d/keys/admin-1.pem"));
        let p = plan(&conn(Path::new("d")), "trader", Some(&dev())).unwrap();
        assert_eq!(p.key_file, Path::new("/abs/trader.pem"));
    }

    #[test]
    fn flags_override_the_dev_file() {
        let mut c = conn(Path::new("d"));
        c.api_url = Some("http://localhost:9000".parse().unwrap());
        c.client = Some(ClientId::new("ops").unwrap());
        c.key_file = Some(PathBuf::from("ops.pem"));
        let p = plan(&c, "trader", Some(&dev())).unwrap();
        assert_eq!(
            p.api.join("/v1/wallets"),
            "http://localhost:9000/v1/wallets"
        );
        assert_eq!(
            (p.client.as_str(), p.key_file.as_path()),
            ("ops", Path::new("ops.pem"))
        );
        // With both flags the dev file is not needed at all.
        assert!(plan(&c, "trader", None).is_ok());
    }

    #[test]
    fn client_missing_from_dev_file_is_a_clear_error() {
        let mut c = conn(Path::new("d"));
        c.client = Some(ClientId::new("approver-9").unwrap());
        let err = plan(&c, "trader", Some(&dev())).unwrap_err();
        assert_eq!(
            err.message(),
            "client `approver-9` is not in `d/dev.json` (it has: trader, admin-1); pass its key with --key-file, or choose another with --client"
        );
    }

    #[test]
    fn missing_dev_file_suggests_tessera_dev() {
        let dir = tempfile::tempdir().unwrap();
        let err = Target::resolve(&conn(dir.path()), "trader").unwrap_err();
        assert!(err.message().contains("dev.json` does not exist"), "{err}");
        assert!(err.message().contains("`tessera dev`"), "{err}");
    }

    #[test]
    fn resolve_reads_the_key_listed_in_the_dev_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = ClientKey::generate();
        key.write_pem_file(dir.path().join("trader.pem")).unwrap();
        let dev = r#"{"api_url":"http://127.0.0.1:1","clients":[{"id":"trader","role":"trader","key_file":"trader.pem"}]}"#;
        std::fs::write(dir.path().join(DEV_FILE), dev).unwrap();
        let t = Target::resolve(&conn(dir.path()), "trader").unwrap();
        assert_eq!(t.key.public_key(), key.public_key());
        let err = Target::resolve(&conn(dir.path()), "admin-1").unwrap_err();
        assert!(
            err.message().starts_with("client `admin-1` is not in"),
            "{err}"
        );
    }

    #[test]
    fn api_url_is_plain_http_without_a_path() {
        let ok: ApiUrl = "http://127.0.0.1:8700/".parse().unwrap();
        assert_eq!(ok.to_string(), "http://127.0.0.1:8700");
        assert_eq!(
            ok.join("/v1/wallets?x=1"),
            "http://127.0.0.1:8700/v1/wallets?x=1"
        );
        for (url, want) in [
            ("https://127.0.0.1:8700", "https is not supported"),
            ("127.0.0.1:8700", "must start with `http://`"),
            ("ftp://h", "must start with `http://`"),
            ("http://h:1/api", "without a path or query"),
            ("http://h:1?a=b", "without a path or query"),
            ("http://u:p@h:1", "user name or password"),
            ("not a url", "is not a url"),
        ] {
            let err = url.parse::<ApiUrl>().unwrap_err();
            assert!(err.message().contains(want), "{url}: {err}");
        }
    }
}

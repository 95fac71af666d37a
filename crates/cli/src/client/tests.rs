//! The commands' arguments, and each command end to end against a one-shot HTTP server that
//! records what it received.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::thread::JoinHandle;

use clap::{Parser, Subcommand};
use tessera_auth::{
    Client, ClientKey, ClientRegistry, Role, TokenPolicy, Verified, bearer_token, verify,
};

use super::target::DEV_FILE;
use super::*;

/// The commands wired as `lib.rs` is expected to wire them.
#[derive(Debug, Parser)]
struct TestCli {
    #[command(subcommand)]
    command: TestCommand,
}

#[derive(Debug, Subcommand)]
enum TestCommand {
    Wallet {
        #[command(flatten)]
        conn: Connection,
        #[command(subcommand)]
        cmd: WalletCommand,
    },
    Sign {
        #[command(flatten)]
        conn: Connection,
        #[command(flatten)]
        args: SignArgs,
    },
    Request {
        #[command(flatten)]
        conn: Connection,
        #[command(subcommand)]
        cmd: RequestCommand,
    },
}

fn parse(args: &[&str]) -> Result<TestCommand, clap::Error> {
    TestCli::try_parse_from(std::iter::once("tessera").chain(args.iter().copied()))
        .map(|c| c.command)
}

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    TestCli::command().debug_assert();
}

#[test]
fn connection_flags_may_follow_the_subcommand() {
    let cmd = parse(&[
        "wallet",
        "create",
        "--name",
        "hot-1",
        "--scheme",
        "frost-ed25519",
        "--json",
        "--client",
        "ops",
        "--api-url",
        "http://127.0.0.1:9",
    ])
    .unwrap();
    let TestCommand::Wallet { conn, cmd } = cmd else {
        panic!("not a wallet command")
    };
    assert!(conn.json);
    assert_eq!(conn.client.unwrap().as_str(), "ops");
    assert_eq!(conn.api_url.unwrap().to_string(), "http://127.0.0.1:9");
    assert_eq!(conn.dev_dir, Path::new(DEFAULT_DEV_DIR));
    assert!(matches!(
        cmd,
        WalletCommand::Create {
            scheme: Scheme::FrostEd25519,
            ..
        }
    ));
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &[
            "wallet",
            "create",
            "--name",
            "a",
            "--scheme",
            "frost-secp256k1",
        ][..],
        &["wallet", "list", "--api-url", "https://127.0.0.1:8700"],
        &["wallet", "list", "--client", "Trader"],
        &["wallet", "show", "../admin"],
        &["request", "show", "r/1"],
        &["sign", "--wallet", "w-1"],
        &[
            "sign",
            "--wallet",
            "w-1",
            "--payload-hex",
            "00",
            "--message",
            "hi",
        ],
        &["sign", "--wallet", "w-1", "--payload-hex", "0g"],
        &[
            "sign",
            "--wallet",
            "w-1",
            "--message",
            "hi",
            "--idempotency-key",
            "a b",
        ],
    ] {
        assert!(parse(args).is_err(), "{args:?} was accepted");
    }
    let ok = parse(&["sign", "--wallet", "w-1", "--payload-hex", "00FF"]).unwrap();
    let TestCommand::Sign { args, .. } = ok else {
        panic!("not sign")
    };
    assert_eq!(args.payload_hex().unwrap(), "00ff");
}

/// What the one-shot server received.
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    /// Verifies the request's token against `key` registered as `client`.
    fn verify(&self, client: &str, key: &ClientKey) -> Verified {
        let registry = ClientRegistry::new(vec![Client {
            id: ClientId::new(client).unwrap(),
            role: Role::Admin,
            key: key.public_key(),
        }])
        .unwrap();
        let token = bearer_token(&self.headers["authorization"]).unwrap();
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let policy = TokenPolicy::default();
        verify(
            token,
            &registry,
            &self.method,
            &self.path,
            &self.body,
            now,
            &policy,
        )
        .unwrap()
    }
}

/// Serves one request with `status` and `body` on a fresh loopback port.
fn serve_once(status: u16, body: &'static str) -> (String, JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap().to_owned();
        let path = parts.next().unwrap().to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else {
                break;
            };
            headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
        }
        let len: usize = headers
            .get("content-length")
            .map_or(0, |l| l.parse().unwrap());
        let mut received = vec![0; len];
        reader.read_exact(&mut received).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        Received {
            method,
            path,
            headers,
            body: received,
        }
    });
    (url, handle)
}

/// A dev directory whose dev.json points at `url` and lists `trader` and `admin-1`.
fn dev_dir(url: &str) -> (tempfile::TempDir, ClientKey, ClientKey) {
    let dir = tempfile::tempdir().unwrap();
    let (trader, admin) = (ClientKey::generate(), ClientKey::generate());
    trader
        .write_pem_file(dir.path().join("trader.pem"))
        .unwrap();
    admin
        .write_pem_file(dir.path().join("admin-1.pem"))
        .unwrap();
    let dev = serde_json::json!({
        "api_url": url,
        "clients": [
            {"id": "trader", "role": "trader", "key_file": dir.path().join("trader.pem")},
            {"id": "admin-1", "role": "admin", "key_file": dir.path().join("admin-1.pem")},
        ]
    });
    std::fs::write(dir.path().join(DEV_FILE), dev.to_string()).unwrap();
    (dir, trader, admin)
}

fn conn(dir: &Path, json: bool) -> Connection {
    Connection {
        dev_dir: dir.to_owned(),
        api_url: None,
        client: None,
        key_file: None,
        json,
    }
}

#[test]
fn sign_sends_a_token_bound_to_the_exact_request() {
    let (url, server) = serve_once(
        200,
        r#"{"request_id":"r-1","status":"signed","signature_hex":"abcd"}"#,
    );
    let (dir, trader, _) = dev_dir(&url);
    let args = SignArgs {
        wallet: "w-1".into(),
        payload_hex: None,
        message: Some("hello".into()),
        idempotency_key: None,
    };
    let mut out = Vec::new();
    run_sign(&conn(dir.path(), false), args, &mut out).unwrap();
    let got = server.join().unwrap();
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("POST", "/v1/wallets/w-1/sign")
    );
    assert_eq!(got.headers["content-type"], "application/json");
    let v = got.verify("trader", &trader);
    assert_eq!(v.claims.path, "/v1/wallets/w-1/sign");
    let sent: SignRequest = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(sent.payload_hex, Some(hex::encode("hello")));
    assert_eq!(sent.idempotency_key.len(), 32);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "request_id: r-1\nstatus: signed\nsignature_hex: abcd\nidempotency_key: {}\n",
            sent.idempotency_key
        )
    );
}

#[test]
fn wallet_create_acts_as_admin_and_json_prints_the_body() {
    let body = r#"{"id":"w-9","name":"hot-1","scheme":"frost-secp256k1-tr","public_key":"02ab","threshold":2,"signers":3}"#;
    let (url, server) = serve_once(201, body);
    let (dir, _, admin) = dev_dir(&url);
    let cmd = WalletCommand::Create {
        name: "hot-1".into(),
        scheme: Scheme::FrostSecp256k1Tr,
    };
    let mut out = Vec::new();
    run_wallet(&conn(dir.path(), true), cmd, &mut out).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), format!("{body}\n"));
    let got = server.join().unwrap();
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("POST", "/v1/wallets")
    );
    assert_eq!(
        got.body,
        br#"{"name":"hot-1","scheme":"frost-secp256k1-tr"}"#
    );
    assert_eq!(got.verify("admin-1", &admin).claims.sub, "admin-1");
}

#[test]
fn request_show_is_a_get_without_a_body() {
    let (url, server) = serve_once(
        200,
        r#"{"request_id":"r-1","kind":"sign","status":"signed"}"#,
    );
    let (dir, trader, _) = dev_dir(&url);
    let mut out = Vec::new();
    let cmd = RequestCommand::Show { id: "r-1".into() };
    run_request(&conn(dir.path(), false), cmd, &mut out).unwrap();
    let got = server.join().unwrap();
    assert_eq!(
        (got.method.as_str(), got.path.as_str()),
        ("GET", "/v1/requests/r-1")
    );
    assert!(got.body.is_empty());
    assert!(!got.headers.contains_key("content-type"));
    assert_eq!(got.verify("trader", &trader).claims.method, "GET");
    assert!(
        String::from_utf8(out)
            .unwrap()
            .starts_with("request_id: r-1\nkind: sign\n")
    );
}

#[test]
fn a_failed_sign_with_a_generated_key_names_the_key() {
    let (url, server) = serve_once(
        503,
        r#"{"error":{"code":"quorum_unavailable","message":"only 1 of 2 signers answered"}}"#,
    );
    let (dir, _, _) = dev_dir(&url);
    let args = SignArgs {
        wallet: "w-1".into(),
        payload_hex: Some("00".into()),
        message: None,
        idempotency_key: None,
    };
    let err = run_sign(&conn(dir.path(), false), args, &mut Vec::new()).unwrap_err();
    let got = server.join().unwrap();
    let sent: SignRequest = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(
        err.message(),
        format!(
            "api error 503 quorum_unavailable: only 1 of 2 signers answered; to retry without signing twice, pass --idempotency-key {}",
            sent.idempotency_key
        )
    );
}

#[test]
fn a_refused_sign_does_not_suggest_a_retry() {
    let (url, server) = serve_once(
        400,
        r#"{"error":{"code":"invalid_payload","message":"payload is too long"}}"#,
    );
    let (dir, _, _) = dev_dir(&url);
    let args = SignArgs {
        wallet: "w-1".into(),
        payload_hex: Some("00".into()),
        message: None,
        idempotency_key: None,
    };
    let err = run_sign(&conn(dir.path(), false), args, &mut Vec::new()).unwrap_err();
    server.join().unwrap();
    assert_eq!(
        err.message(),
        "api error 400 invalid_payload: payload is too long"
    );
}

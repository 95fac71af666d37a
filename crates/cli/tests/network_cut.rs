//! A network cut between the coordinator and one signer, on the real cluster: the coordinator
//! reaches signer 3 through a TCP relay that this test controls. Cut, the relay drops the open
//! connections and lets new ones hang unanswered, as a firewall dropping packets would; signing
//! goes on with the honest quorum left, the coordinator names the signer it cannot reach, and
//! once the cut heals signer 3 signs again.
#![cfg(feature = "byzantine-test-signer")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

mod common;

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{Manual, check, create_wallet as create, sign, signer_addr};

/// A TCP relay to `upstream` that can be cut and healed.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (c, o) = (Arc::clone(&cut), Arc::clone(&open));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if c.load(Ordering::SeqCst) {
                    // Dropped packets: the connection is kept and never answered.
                    o.lock().unwrap().push(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                {
                    let mut open = o.lock().unwrap();
                    open.push(client.try_clone().unwrap());
                    open.push(server.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Write);
                    });
                }
            }
        });
        Relay { addr, cut, open }
    }

    /// Cuts the link: open connections die, new ones hang.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Heals it: new connections go through again.
    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn consumed_nonces(dir: &std::path::Path, n: u16) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join(format!("signer-{n}/signer.sqlite")),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT count(*) FROM nonces WHERE state = 'consumed'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_cut_signer_is_routed_around_and_rejoins_when_the_cut_heals() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Manual::prepare(tmp.path(), 2, 3);
    for n in 1..=3 {
        c.start_signer(n, false);
    }
    // The coordinator reaches signer 3 through the relay.
    let direct = signer_addr(&c.dir, 3);
    let relay = Relay::start(direct);
    let config = c.dir.join("coordinator.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&direct.to_string()), "{text}");
    std::fs::write(
        &config,
        text.replace(&direct.to_string(), &relay.addr.to_string()),
    )
    .unwrap();
    c.start_coordinator();
    let w = create(&c, "ed", "frost-ed25519");
    for i in 0..4u64 {
        let p = format!("before {i}").into_bytes();
        let (s, r) = sign(&c, &w, &p, &format!("a-{i}"));
        assert_eq!((s, r["status"].as_str()), (200, Some("signed")), "{r}");
        check(&w, &p, &r);
    }

    relay.cut();
    let during = consumed_nonces(&c.dir, 3);
    for i in 0..8u64 {
        let p = format!("during {i}").into_bytes();
        let (s, r) = sign(&c, &w, &p, &format!("b-{i}"));
        assert_eq!((s, r["status"].as_str()), (200, Some("signed")), "{r}");
        check(&w, &p, &r);
    }
    assert_eq!(
        consumed_nonces(&c.dir, 3),
        during,
        "signer 3 signed nothing while cut off"
    );
    let named = c.coordinator_log.lock().unwrap().iter().any(|l| {
        l.contains("party 3") && (l.contains("signer_timeout") || l.contains("unreachable"))
    });
    assert!(
        named,
        "the coordinator's log names the signer it cannot reach"
    );

    relay.heal();
    // Back in the pool: sooner or later a quorum picks signer 3 again.
    let mut rejoined = false;
    for i in 0..60u64 {
        let p = format!("after {i}").into_bytes();
        let (s, r) = sign(&c, &w, &p, &format!("c-{i}"));
        assert_eq!((s, r["status"].as_str()), (200, Some("signed")), "{r}");
        check(&w, &p, &r);
        if consumed_nonces(&c.dir, 3) > during {
            rejoined = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(rejoined, "signer 3 never signed again after the cut healed");
}

//! The coordinator's metrics, in the Prometheus text format (`GET /metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tessera_types::PartyId;

/// Counters and gauges.
#[derive(Debug, Default)]
pub struct Metrics {
    signatures: AtomicU64,
    wallets_created: AtomicU64,
    pooled: AtomicU64,
    http: Mutex<BTreeMap<(String, u16), u64>>,
    signer_errors: Mutex<BTreeMap<(u16, String), u64>>,
    bad_shares: Mutex<BTreeMap<u16, u64>>,
    up: Mutex<BTreeMap<u16, bool>>,
}

fn bump<K: Ord>(m: &Mutex<BTreeMap<K, u64>>, k: K) {
    if let Ok(mut m) = m.lock() {
        let v = m.entry(k).or_insert(0);
        *v = v.saturating_add(1);
    }
}

impl Metrics {
    /// A signature was produced.
    pub fn signature(&self) {
        self.signatures.fetch_add(1, Ordering::Relaxed);
    }

    /// A wallet was created.
    pub fn wallet_created(&self) {
        self.wallets_created.fetch_add(1, Ordering::Relaxed);
    }

    /// An API response.
    pub fn http(&self, route: &str, status: u16) {
        bump(&self.http, (route.to_owned(), status));
    }

    /// A signer call failed with `code`.
    pub fn signer_error(&self, party: PartyId, code: &str) {
        bump(&self.signer_errors, (party.get(), code.to_owned()));
    }

    /// A signer sent a signature share that does not verify.
    pub fn bad_share(&self, party: PartyId) {
        bump(&self.bad_shares, party.get());
    }

    /// Whether a signer answered its last call.
    pub fn set_up(&self, party: PartyId, up: bool) {
        if let Ok(mut m) = self.up.lock() {
            m.insert(party.get(), up);
        }
    }

    /// Commitments ready in the pools.
    pub fn set_pooled(&self, n: usize) {
        self.pooled
            .store(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP tessera_signatures_total Signatures aggregated and verified.\n\
             # TYPE tessera_signatures_total counter\n\
             tessera_signatures_total {}",
            self.signatures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP tessera_wallets_created_total Wallet keys generated.\n\
             # TYPE tessera_wallets_created_total counter\n\
             tessera_wallets_created_total {}",
            self.wallets_created.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP tessera_commitments_pooled Nonce commitments ready for signing.\n\
             # TYPE tessera_commitments_pooled gauge\n\
             tessera_commitments_pooled {}",
            self.pooled.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP tessera_http_responses_total API responses by route and status.\n\
             # TYPE tessera_http_responses_total counter\n",
        );
        if let Ok(m) = self.http.lock() {
            for ((route, status), v) in m.iter() {
                let _ = writeln!(
                    out,
                    "tessera_http_responses_total{{route=\"{route}\",status=\"{status}\"}} {v}"
                );
            }
        }
        out.push_str(
            "# HELP tessera_signer_errors_total Failed calls to signers, by party and code.\n\
             # TYPE tessera_signer_errors_total counter\n",
        );
        if let Ok(m) = self.signer_errors.lock() {
            for ((party, code), v) in m.iter() {
                let _ = writeln!(
                    out,
                    "tessera_signer_errors_total{{party=\"{party}\",code=\"{code}\"}} {v}"
                );
            }
        }
        out.push_str(
            "# HELP tessera_bad_signature_shares_total Signature shares that did not verify, by signer.\n\
             # TYPE tessera_bad_signature_shares_total counter\n",
        );
        if let Ok(m) = self.bad_shares.lock() {
            for (party, v) in m.iter() {
                let _ = writeln!(
                    out,
                    "tessera_bad_signature_shares_total{{party=\"{party}\"}} {v}"
                );
            }
        }
        out.push_str(
            "# HELP tessera_signer_up Whether the signer answered its last call.\n\
             # TYPE tessera_signer_up gauge\n",
        );
        if let Ok(m) = self.up.lock() {
            for (party, up) in m.iter() {
                let _ = writeln!(
                    out,
                    "tessera_signer_up{{party=\"{party}\"}} {}",
                    u8::from(*up)
                );
            }
        }
        out
    }
}

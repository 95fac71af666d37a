//! Key generation and signing through Tessera, against the libraries it is built on.
//!
//! Every group carries its baselines, measured in the same run, on the same 32-byte message:
//!
//! - `dkg/<scheme>/<t>-of-<n>`: `frost_bare` (the FROST DKG, every party in this thread, no
//!   storage) and `tessera` (`generate_key` across real signers: each seals its share with the
//!   vault and stores it in its own SQLite file).
//! - `sign/<scheme>/<t>-of-<n>`: `single_key` (one ordinary key), `frost_bare` (round 1, round 2
//!   and aggregation in memory: the library floor), `tessera_online` (`Coordinator::sign` with
//!   commitments cached ahead of time, refilled outside the timed part) and
//!   `tessera_with_commit` (empty cache: each signature fetches fresh commitments first).
//! - `nonce_refill/<scheme>`: 100 nonce pairs, in memory (`frost_bare`) and through
//!   `Signer::commit` (`tessera`: one durable ledger batch).
//! - `sign/ecdsa-secp256k1/2-of-3`: `single_key` (`k256` ECDSA of the 32-byte hash, with its
//!   recovery id), `dkls23_bare` (the library's three rounds and assembly for both signers, in
//!   this thread) and `tessera_crypto` (`EcdsaSign` for both signers in this thread: envelopes,
//!   postcard, sender checks, and the `k256` verification and key recovery of the result). No
//!   signer nodes yet: the service does not drive ECDSA sessions.
//!
//! Stores live in a temporary directory (`$TMPDIR`, else `/tmp`). Run with
//! `cargo bench -p tessera-bench --bench signing`; figures are in `docs/BENCHMARKS.md`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "benchmark code: a failure should stop the run"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rand::RngCore;
use rand::rngs::OsRng;
use tempfile::TempDir;
use tessera_coordinator::{Coordinator, SignerLink, generate_key};
use tessera_crypto::GroupKey;
use tessera_signer::Signer;
use tessera_types::{KeyId, Scheme, Threshold};

#[path = "signing/ecdsa.rs"]
mod ecdsa;

/// The message of every row: the size of a sighash.
const MESSAGE: [u8; 32] = *b"tessera benchmark: 32-byte hash.";

/// The thresholds measured, as `(t, n)`.
const SHAPES: [(u16, u16); 2] = [(2, 3), (3, 5)];

/// Nonces per `nonce_refill` batch.
const REFILL: usize = 100;

/// Most commitments cached per signer at once in `tessera_online`.
const ONLINE_CHUNK: u64 = 1_000;

/// Pool size past which `nonce_refill` restarts its signer (untimed) to stay below
/// `tessera_signer::MAX_POOLED_NONCES`.
const POOL_RESET: usize = tessera_signer::MAX_POOLED_NONCES / 2;

/// FROST straight from the library, every party in this thread: the same code for both
/// ciphersuites through their crates' (identical) type aliases.
macro_rules! bare_frost {
    ($module:ident, $frost:ident) => {
        mod $module {
            use std::collections::BTreeMap;

            use rand::rngs::OsRng;
            use $frost::keys::dkg;
            use $frost::keys::{KeyPackage, PublicKeyPackage};
            use $frost::round1::{SigningCommitments, SigningNonces};
            use $frost::{Identifier, Signature, SigningPackage, round1, round2};

            /// Every party's key package and the public key package.
            pub struct Keys {
                pub packages: BTreeMap<Identifier, KeyPackage>,
                pub public: PublicKeyPackage,
            }

            /// The three-part DKG among parties 1..=n, messages passed in memory.
            pub fn dkg(t: u16, n: u16) -> Keys {
                let mut round1_secrets = BTreeMap::new();
                let mut round1_public = BTreeMap::new();
                for i in 1..=n {
                    let id = Identifier::try_from(i).expect("nonzero identifier");
                    let (secret, public) = dkg::part1(id, n, t, OsRng).expect("dkg part 1");
                    round1_secrets.insert(id, secret);
                    round1_public.insert(id, public);
                }
                let others = |me: Identifier| -> BTreeMap<Identifier, dkg::round1::Package> {
                    round1_public
                        .iter()
                        .filter(|(id, _)| **id != me)
                        .map(|(id, p)| (*id, p.clone()))
                        .collect()
                };
                let mut round2_secrets = BTreeMap::new();
                let mut inboxes: BTreeMap<Identifier, BTreeMap<Identifier, dkg::round2::Package>> =
                    BTreeMap::new();
                for (id, secret) in round1_secrets {
                    let (secret2, outbox) = dkg::part2(secret, &others(id)).expect("dkg part 2");
                    for (to, package) in outbox {
                        inboxes.entry(to).or_default().insert(id, package);
                    }
                    round2_secrets.insert(id, secret2);
                }
                let mut packages = BTreeMap::new();
                let mut public = None;
                for (id, secret2) in &round2_secrets {
                    let (key_package, public_package) =
                        dkg::part3(secret2, &others(*id), &inboxes[id]).expect("dkg part 3");
                    if let Some(p) = &public {
                        assert_eq!(p, &public_package, "parties disagree on the group key");
                    }
                    packages.insert(*id, key_package);
                    public = Some(public_package);
                }
                Keys {
                    packages,
                    public: public.expect("at least one party"),
                }
            }

            /// Signs with the first `t` parties: a fresh commitment each, a share each,
            /// aggregation (which verifies the signature).
            pub fn sign(keys: &Keys, t: usize, message: &[u8]) -> Signature {
                let quorum: Vec<(&Identifier, &KeyPackage)> =
                    keys.packages.iter().take(t).collect();
                let mut nonces: BTreeMap<Identifier, SigningNonces> = BTreeMap::new();
                let mut commitments: BTreeMap<Identifier, SigningCommitments> = BTreeMap::new();
                for (id, key_package) in &quorum {
                    let (n, c) = round1::commit(key_package.signing_share(), &mut OsRng);
                    nonces.insert(**id, n);
                    commitments.insert(**id, c);
                }
                let package = SigningPackage::new(commitments, message);
                let mut shares = BTreeMap::new();
                for (id, key_package) in &quorum {
                    let share =
                        round2::sign(&package, &nonces[*id], key_package).expect("round 2 sign");
                    shares.insert(**id, share);
                }
                $frost::aggregate(&package, &shares, &keys.public).expect("aggregate")
            }

            /// `count` nonce pairs for the first party, kept in memory.
            pub fn commit(keys: &Keys, count: usize) -> Vec<(SigningNonces, SigningCommitments)> {
                let (_, key_package) = keys.packages.iter().next().expect("a party");
                (0..count)
                    .map(|_| round1::commit(key_package.signing_share(), &mut OsRng))
                    .collect()
            }
        }
    };
}

bare_frost!(bare_ed, frost_ed25519);
bare_frost!(bare_tr, frost_secp256k1_tr);

/// Bare-FROST keys of either scheme.
enum Bare {
    Ed(bare_ed::Keys),
    Tr(bare_tr::Keys),
}

impl Bare {
    fn dkg(scheme: Scheme, t: u16, n: u16) -> Self {
        match scheme {
            Scheme::FrostEd25519 => Bare::Ed(bare_ed::dkg(t, n)),
            Scheme::FrostSecp256k1Tr => Bare::Tr(bare_tr::dkg(t, n)),
            Scheme::EcdsaSecp256k1 => unreachable!("FROST schemes only"),
        }
    }

    fn sign(&self, t: usize, message: &[u8]) {
        match self {
            Bare::Ed(k) => {
                black_box(bare_ed::sign(k, t, message));
            }
            Bare::Tr(k) => {
                black_box(bare_tr::sign(k, t, message));
            }
        }
    }

    fn commit(&self, count: usize) {
        match self {
            Bare::Ed(k) => {
                black_box(bare_ed::commit(k, count));
            }
            Bare::Tr(k) => {
                black_box(bare_tr::commit(k, count));
            }
        }
    }
}

/// The single-key baseline of each scheme: Ed25519 and BIP-340 Schnorr.
enum SingleKey {
    Ed(Box<ed25519_dalek::SigningKey>),
    Tr(Box<k256::schnorr::SigningKey>),
}

impl SingleKey {
    fn generate(scheme: Scheme) -> Self {
        match scheme {
            Scheme::FrostEd25519 => {
                SingleKey::Ed(Box::new(ed25519_dalek::SigningKey::generate(&mut OsRng)))
            }
            Scheme::FrostSecp256k1Tr => {
                SingleKey::Tr(Box::new(k256::schnorr::SigningKey::random(&mut OsRng)))
            }
            Scheme::EcdsaSecp256k1 => unreachable!("FROST schemes only"),
        }
    }

    /// One signature, without verification. BIP-340 takes fresh auxiliary randomness, as a
    /// wallet would.
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        match self {
            SingleKey::Ed(k) => ed25519_dalek::Signer::sign(&**k, message).to_bytes(),
            SingleKey::Tr(k) => {
                let mut aux = [0u8; 32];
                OsRng.fill_bytes(&mut aux);
                k.sign_raw(message, &aux).expect("BIP-340 sign").to_bytes()
            }
        }
    }
}

/// Real signers, each with its own SQLite store and vault, in one temporary directory.
struct Cluster {
    signers: Vec<Signer>,
    scheme: Scheme,
    threshold: Threshold,
    next_key: u64,
    dir: TempDir,
}

impl Cluster {
    fn new(scheme: Scheme, t: u16, n: u16) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let signers = tessera_testkit::signers(dir.path(), n).expect("create signers");
        Self {
            signers,
            scheme,
            threshold: Threshold::new(t, n).expect("threshold"),
            next_key: 0,
            dir,
        }
    }

    /// A DKG across every signer, for a key id never used before.
    fn generate_key(&mut self) -> (KeyId, GroupKey) {
        let key_id = KeyId::new(&format!("bench-{}", self.next_key)).expect("key id");
        self.next_key += 1;
        let mut links = tessera_testkit::links(&mut self.signers);
        let group = generate_key(&mut links, &key_id, self.scheme, self.threshold, None)
            .expect("generate key");
        (key_id, group)
    }

    /// Links to parties 1..=t.
    fn quorum(&mut self) -> Vec<&mut dyn SignerLink> {
        let parties: Vec<u16> = (1..=self.threshold.t()).collect();
        tessera_testkit::quorum(&mut self.signers, &parties)
    }

    /// Restarts signer `index` from its store: its nonce pool starts empty.
    fn restart(&mut self, index: usize) {
        let party = self.signers[index].party().get();
        let path = tessera_testkit::store_path(self.dir.path(), party);
        self.signers[index] =
            Signer::open(&path, &tessera_testkit::passphrase()).expect("reopen signer");
    }
}

fn group_name(kind: &str, scheme: Scheme, t: u16, n: u16) -> String {
    format!("{kind}/{}/{t}-of-{n}", scheme.name())
}

fn dkg(c: &mut Criterion) {
    for scheme in Scheme::FROST {
        for (t, n) in SHAPES {
            let mut group = c.benchmark_group(group_name("dkg", scheme, t, n));
            group.bench_function("frost_bare", |b| {
                b.iter(|| black_box(Bare::dkg(scheme, t, n)));
            });
            let mut cluster = Cluster::new(scheme, t, n);
            group.bench_function("tessera", |b| {
                b.iter(|| black_box(cluster.generate_key()));
            });
            group.finish();
        }
    }
}

fn sign(c: &mut Criterion) {
    for scheme in Scheme::FROST {
        for (t, n) in SHAPES {
            let mut group = c.benchmark_group(group_name("sign", scheme, t, n));

            let single = SingleKey::generate(scheme);
            group.bench_function("single_key", |b| {
                b.iter(|| single.sign(black_box(&MESSAGE)));
            });

            let bare = Bare::dkg(scheme, t, n);
            group.bench_function("frost_bare", |b| {
                b.iter(|| bare.sign(usize::from(t), black_box(&MESSAGE)));
            });

            let mut cluster = Cluster::new(scheme, t, n);
            let (key_id, group_key) = cluster.generate_key();
            // Check once, with a verifier independent of the signing library, that the rows
            // below time a correct signature.
            {
                let mut coordinator = Coordinator::new();
                let mut links = cluster.quorum();
                let signature = coordinator
                    .sign(&mut links, &key_id, &group_key, &MESSAGE)
                    .expect("sign");
                assert!(tessera_testkit::independent_verify(
                    scheme,
                    &group_key.public_key(),
                    &MESSAGE,
                    signature.to_bytes(),
                ));
            }

            group.bench_function("tessera_online", |b| {
                let mut coordinator = Coordinator::new();
                b.iter_custom(|iters| {
                    let mut links = cluster.quorum();
                    let mut timed = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let chunk = left.min(ONLINE_CHUNK);
                        let count = usize::try_from(chunk).expect("chunk fits usize");
                        for link in links.iter_mut() {
                            coordinator
                                .refill(&mut **link, &key_id, count)
                                .expect("refill");
                        }
                        let start = Instant::now();
                        for _ in 0..chunk {
                            let signature = coordinator
                                .sign(&mut links, &key_id, &group_key, black_box(&MESSAGE))
                                .expect("sign");
                            black_box(signature);
                        }
                        timed += start.elapsed();
                        left -= chunk;
                    }
                    timed
                });
            });

            group.bench_function("tessera_with_commit", |b| {
                let mut coordinator = Coordinator::new();
                let mut links = cluster.quorum();
                b.iter(|| {
                    coordinator
                        .sign(&mut links, &key_id, &group_key, black_box(&MESSAGE))
                        .expect("sign")
                });
            });
            group.finish();
        }
    }
}

fn nonce_refill(c: &mut Criterion) {
    for scheme in Scheme::FROST {
        let mut group = c.benchmark_group(format!("nonce_refill/{}", scheme.name()));

        let bare = Bare::dkg(scheme, 2, 3);
        group.bench_function("frost_bare", |b| {
            b.iter(|| bare.commit(REFILL));
        });

        let mut cluster = Cluster::new(scheme, 2, 3);
        let (key_id, _) = cluster.generate_key();
        group.bench_function("tessera", |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    if cluster.signers[0].pooled_nonces() + REFILL > POOL_RESET {
                        cluster.restart(0);
                    }
                    let start = Instant::now();
                    let commitments = cluster.signers[0].commit(&key_id, REFILL).expect("commit");
                    timed += start.elapsed();
                    black_box(commitments);
                }
                timed
            });
        });
        group.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = dkg, sign, ecdsa::sign_ecdsa, nonce_refill
}
criterion_main!(benches);

//! `sign/ecdsa-secp256k1/2-of-3`: threshold ECDSA from `dkls23` bare and through
//! `tessera_crypto::EcdsaSign`, beside single-key `k256` ECDSA (see `signing.rs`). The drivers
//! live in `tessera_bench::ecdsa`, shared with the service benchmark.

use std::hint::black_box;

use criterion::Criterion;
use rand::rngs::OsRng;
use tessera_bench::ecdsa::{bare, tessera_key, tessera_sign};
use tessera_types::Scheme;

use crate::{MESSAGE, group_name};

pub fn sign_ecdsa(c: &mut Criterion) {
    let scheme = Scheme::EcdsaSecp256k1;
    let mut group = c.benchmark_group(group_name("sign", scheme, 2, 3));

    let single = k256::ecdsa::SigningKey::random(&mut OsRng);
    group.bench_function("single_key", |b| {
        b.iter(|| {
            single
                .sign_prehash_recoverable(black_box(&MESSAGE))
                .expect("ECDSA sign")
        });
    });

    let parties = bare::dkg(2, 3);
    let mut sign_id = 0u64;
    group.bench_function("dkls23_bare", |b| {
        b.iter(|| {
            sign_id += 1;
            bare::sign(
                &[&parties[0], &parties[1]],
                black_box(MESSAGE),
                &sign_id.to_be_bytes(),
            )
        });
    });

    let keys = tessera_key();
    let shares = [&keys[0].share, &keys[1].share];
    // Check once, with a verifier independent of the signing library, that the rows time a
    // correct signature.
    let signature = tessera_sign(&shares, MESSAGE, 0);
    assert!(tessera_testkit::independent_verify(
        scheme,
        &keys[0].group.public_key(),
        &MESSAGE,
        &signature.to_bytes(),
    ));
    let mut id = 0u64;
    group.bench_function("tessera_crypto", |b| {
        b.iter(|| {
            id += 1;
            tessera_sign(&shares, black_box(MESSAGE), id)
        });
    });
    group.finish();
}

//! `tessera demo`: key generation by DKG, signing, verification and proactive refresh across
//! real signers (own SQLite store and passphrase vault each), driven in one process by the
//! coordinator.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_coordinator::{Coordinator, SessionError, SignerLink, generate_key, refresh_key};
use tessera_crypto::GroupKey;
use tessera_signer::Signer;
use tessera_types::{KeyId, PartyId, Scheme, Threshold};
use tessera_vault::KdfParams;

use crate::error::CliError;
use crate::verify::{independent_verifier, independent_verify};

mod setup;

pub(crate) use setup::checked_threshold;
use setup::{ms, passphrase, prepare_data_dir, report_hardening, store_path};

/// Which schemes the demo runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeChoice {
    /// Every FROST scheme, one key each, on the same signers (the demo signs from nonce pools;
    /// threshold ECDSA signs in online sessions it does not drive).
    All,
    /// One scheme.
    One(Scheme),
}

impl SchemeChoice {
    fn schemes(self) -> Vec<Scheme> {
        match self {
            SchemeChoice::All => Scheme::FROST.to_vec(),
            SchemeChoice::One(s) => vec![s],
        }
    }
}

/// What `tessera demo` was asked to do, before validation.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Schemes to run.
    pub scheme: SchemeChoice,
    /// Signers needed for a signature.
    pub threshold: u16,
    /// Signers holding a share.
    pub signers: u16,
    /// Where the signer stores go; `None` for a temporary directory removed at the end.
    pub data_dir: Option<PathBuf>,
    /// What is signed.
    pub message: String,
    /// Minimal Argon2id costs (insecure for real shares).
    pub fast_kdf: bool,
}

/// Commitments the coordinator fetches from each signer ahead of a signing round.
const COMMITMENTS_PER_SIGNER: usize = 1;

/// Runs the demo, writing its report to `out`; warnings go to stderr.
pub fn run(options: &DemoOptions, out: &mut dyn Write) -> Result<(), CliError> {
    let threshold = checked_threshold(options.threshold, options.signers)?;
    // Before any secret exists in this process.
    let hardening = tessera_crypto::harden_process();
    report_hardening(out, &hardening)?;
    execute(options, threshold, out)
}

/// Everything after process hardening (which tests skip: it locks the test runner's memory).
fn execute(
    options: &DemoOptions,
    threshold: Threshold,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    if let Some(s) = options
        .scheme
        .schemes()
        .iter()
        .find(|s| !s.uses_nonce_pool())
    {
        return Err(CliError::new(format!(
            "the demo runs the FROST schemes (frost-ed25519, frost-secp256k1-tr); `{s}` signs \
             in online sessions that it does not drive"
        )));
    }
    let (dir, temp) = match &options.data_dir {
        Some(dir) => {
            prepare_data_dir(dir)?;
            writeln!(out, "data dir: {} (kept)", dir.display())?;
            (dir.clone(), None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("tessera-demo-")
                .tempdir()
                .map_err(|e| CliError::new(format!("cannot create a temporary directory: {e}")))?;
            writeln!(
                out,
                "data dir: {} (temporary, removed at the end)",
                temp.path().display()
            )?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    // The signers, and their open stores, are gone when `demo` returns.
    let result = demo(options, threshold, &dir, out);
    if let Some(temp) = temp
        && let Err(e) = temp.close()
    {
        eprintln!(
            "warning: cannot remove the temporary data dir `{}`: {e}",
            dir.display()
        );
    }
    result
}

fn demo(
    options: &DemoOptions,
    threshold: Threshold,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let (passphrase, source) = passphrase()?;
    writeln!(out, "vault passphrase: {source}")?;
    let params = if options.fast_kdf {
        writeln!(
            out,
            "vault kdf: argon2id 64 KiB, 1 pass (--fast-kdf: insecure, for demos and tests only)"
        )?;
        KdfParams::INSECURE_FAST_FOR_TESTS
    } else {
        let p = KdfParams::DEFAULT;
        writeln!(
            out,
            "vault kdf: argon2id {} MiB, {} passes, {} lane(s)",
            p.m_kib / 1024,
            p.t_cost,
            p.p_cost
        )?;
        p
    };

    let started = Instant::now();
    let mut signers = Vec::with_capacity(usize::from(threshold.n()));
    for p in 1..=threshold.n() {
        let party = PartyId::new(p).map_err(|e| CliError::new(e.to_string()))?;
        let path = store_path(dir, p);
        let signer = Signer::create(&path, party, &passphrase, params).map_err(|e| {
            CliError::new(format!(
                "cannot create the store of {party} at `{}`: {e}",
                path.display()
            ))
        })?;
        signers.push(signer);
    }
    drop(passphrase);
    writeln!(
        out,
        "signers: {} created, each with its own store and vault, in {}",
        signers.len(),
        ms(started.elapsed())
    )?;

    let schemes = options.scheme.schemes();
    let message = options.message.as_bytes();
    let mut all = Vec::with_capacity(schemes.len());
    for scheme in &schemes {
        all.push(run_scheme(
            out,
            &mut signers,
            dir,
            *scheme,
            threshold,
            message,
        )?);
    }

    writeln!(out)?;
    writeln!(out, "== summary ==")?;
    for (scheme, t) in schemes.iter().zip(&all) {
        let refresh = t.refresh.map_or_else(|| "skipped".to_owned(), ms);
        writeln!(
            out,
            "{scheme}: dkg {}, sign {}, refresh {refresh}, sign after refresh {}",
            ms(t.dkg),
            ms(t.sign),
            ms(t.sign_again)
        )?;
    }
    writeln!(
        out,
        "demo passed: {} scheme(s), {threshold}, every signature verified by tessera and by an \
         independent library",
        schemes.len()
    )?;
    Ok(())
}

struct Timings {
    dkg: Duration,
    sign: Duration,
    refresh: Option<Duration>,
    sign_again: Duration,
}

fn run_scheme(
    out: &mut dyn Write,
    signers: &mut [Signer],
    dir: &Path,
    scheme: Scheme,
    threshold: Threshold,
    message: &[u8],
) -> Result<Timings, CliError> {
    writeln!(out)?;
    writeln!(out, "== {scheme}, {threshold} ==")?;
    let key_id =
        KeyId::new(&format!("demo-{}", scheme.name())).map_err(|e| CliError::new(e.to_string()))?;

    let started = Instant::now();
    let group = generate_key(&mut links(signers), &key_id, scheme, threshold, None)
        .map_err(|e| session_error("key generation", &e))?;
    let dkg = started.elapsed();
    writeln!(
        out,
        "dkg: key `{key_id}` generated by {} parties, no dealer, in {}",
        threshold.n(),
        ms(dkg)
    )?;
    writeln!(out, "group public key: {}", hex::encode(group.public_key()))?;
    for signer in signers.iter_mut() {
        report_party(out, signer, dir, &key_id, &group)?;
    }

    let mut coordinator = Coordinator::new();
    refill(out, &mut coordinator, signers, &key_id)?;
    let t = usize::from(threshold.t());
    let sign = sign_round(
        out,
        &mut coordinator,
        &mut signers.iter_mut().take(t).map(link).collect::<Vec<_>>(),
        &key_id,
        &group,
        message,
    )?;

    let (group, refresh) = if threshold.t() == 1 {
        writeln!(
            out,
            "refresh: skipped: with t = 1 each share is the whole key, so there is nothing to \
             re-share"
        )?;
        (group, None)
    } else {
        let started = Instant::now();
        let refreshed = refresh_key(&mut links(signers), &key_id, None)
            .map_err(|e| session_error("refresh", &e))?;
        let took = started.elapsed();
        if refreshed.public_key() != group.public_key() {
            return Err(CliError::new(format!(
                "refresh changed the group public key of `{key_id}`"
            )));
        }
        let replaced = group
            .parties()
            .iter()
            .filter(|p| refreshed.verifying_share(**p) != group.verifying_share(**p))
            .count();
        writeln!(
            out,
            "refresh: {}; group public key unchanged, {replaced} of {} verifying shares replaced",
            ms(took),
            threshold.n()
        )?;
        // The signers dropped the nonces of the old shares; so does the coordinator.
        for p in group.parties() {
            coordinator.forget(*p);
        }
        refill(out, &mut coordinator, signers, &key_id)?;
        (refreshed, Some(took))
    };

    let skip = signers.len().saturating_sub(t);
    let sign_again = sign_round(
        out,
        &mut coordinator,
        &mut signers.iter_mut().skip(skip).map(link).collect::<Vec<_>>(),
        &key_id,
        &group,
        message,
    )?;
    Ok(Timings {
        dkg,
        sign,
        refresh,
        sign_again,
    })
}

fn link(s: &mut Signer) -> &mut dyn SignerLink {
    s
}

fn links(signers: &mut [Signer]) -> Vec<&mut dyn SignerLink> {
    signers.iter_mut().map(link).collect()
}

fn report_party(
    out: &mut dyn Write,
    signer: &mut Signer,
    dir: &Path,
    key_id: &KeyId,
    group: &GroupKey,
) -> Result<(), CliError> {
    let party = signer.party();
    let stored = signer
        .group_key(key_id)
        .map_err(|e| CliError::new(format!("{party} cannot read key `{key_id}`: {e}")))?;
    if stored != *group {
        return Err(CliError::new(format!(
            "{party} stored another group key for `{key_id}`"
        )));
    }
    let share = group
        .verifying_share(party)
        .map(hex::encode)
        .unwrap_or_else(|| "none".to_owned());
    let keys = signer
        .key_ids()
        .map_err(|e| CliError::new(format!("{party} cannot list its keys: {e}")))?
        .len();
    writeln!(
        out,
        "  {party}: store {}, {keys} key(s) sealed, verifying share {share}",
        store_path(dir, party.get()).display()
    )?;
    Ok(())
}

fn refill(
    out: &mut dyn Write,
    coordinator: &mut Coordinator,
    signers: &mut [Signer],
    key_id: &KeyId,
) -> Result<(), CliError> {
    let mut cached = 0usize;
    for signer in signers.iter_mut() {
        coordinator
            .refill(signer, key_id, COMMITMENTS_PER_SIGNER)
            .map_err(|e| CliError::new(format!("commitment refill failed: {e}")))?;
        cached = cached.saturating_add(coordinator.cached(key_id, signer.party()));
    }
    writeln!(
        out,
        "commitments: {cached} cached by the coordinator, {COMMITMENTS_PER_SIGNER} per signer \
         (each secret nonce stays in its signer's memory, recorded as issued in its ledger)"
    )?;
    Ok(())
}

/// Signs `message` with `quorum`, then verifies the signature twice: with the service's own
/// verifier and with an independent library. Prints both results; fails if either rejects.
fn sign_round(
    out: &mut dyn Write,
    coordinator: &mut Coordinator,
    quorum: &mut [&mut dyn SignerLink],
    key_id: &KeyId,
    group: &GroupKey,
    message: &[u8],
) -> Result<Duration, CliError> {
    let names: Vec<String> = quorum.iter().map(|l| l.party().get().to_string()).collect();
    let started = Instant::now();
    let signature = coordinator
        .sign(quorum, key_id, group, message)
        .map_err(|e| session_error("signing", &e))?;
    let took = started.elapsed();
    writeln!(
        out,
        "sign: parties {} signed {} bytes in {}",
        names.join(", "),
        message.len(),
        ms(took)
    )?;
    writeln!(out, "  signature: {}", hex::encode(signature.to_bytes()))?;

    let scheme = group.scheme();
    let ours = group.verify(message, &signature).map_err(|e| e.to_string());
    let theirs = independent_verify(scheme, &group.public_key(), message, signature.to_bytes());
    writeln!(out, "  verify tessera GroupKey::verify: {}", verdict(&ours))?;
    writeln!(
        out,
        "  verify {}: {}",
        independent_verifier(scheme),
        verdict(&theirs)
    )?;
    match (ours, theirs) {
        (Ok(()), Ok(())) => Ok(took),
        (Err(e), _) => Err(CliError::new(format!(
            "the {scheme} signature does not verify: {e}"
        ))),
        (_, Err(e)) => Err(CliError::new(format!(
            "{} rejects the {scheme} signature: {e}",
            independent_verifier(scheme)
        ))),
    }
}

fn verdict(result: &Result<(), String>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("FAILED ({e})"),
    }
}

fn session_error(what: &str, e: &SessionError) -> CliError {
    let culprits = e.culprits();
    if culprits.is_empty() {
        CliError::new(format!("{what} failed: {e}"))
    } else {
        let names: Vec<String> = culprits.iter().map(ToString::to_string).collect();
        CliError::new(format!("{what} failed: {e} (blamed: {})", names.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: Option<PathBuf>, scheme: SchemeChoice, t: u16, n: u16) -> DemoOptions {
        DemoOptions {
            scheme,
            threshold: t,
            signers: n,
            data_dir: dir,
            message: "unit test".to_owned(),
            fast_kdf: true,
        }
    }

    #[test]
    fn thresholds_are_checked_with_the_majority_rule() {
        assert!(checked_threshold(2, 3).is_ok());
        assert!(checked_threshold(1, 1).is_ok());
        let e = checked_threshold(1, 3).unwrap_err();
        assert!(e.message().contains("must be a majority"), "{e}");
        assert!(e.message().contains("at least 2"), "{e}");
        let e = checked_threshold(2, 4).unwrap_err();
        assert!(e.message().contains("at least 3"), "{e}");
        let e = checked_threshold(3, 2).unwrap_err();
        assert!(e.message().contains("between 1 and 2"), "{e}");
        let e = checked_threshold(0, 2).unwrap_err();
        assert!(e.message().contains("impossible"), "{e}");
        assert!(checked_threshold(0, 0).is_err());
        assert!(checked_threshold(200, 300).is_err());
    }

    #[test]
    fn keeps_the_given_data_dir_and_refuses_to_reuse_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("new");
        let opts = options(
            Some(dir.clone()),
            SchemeChoice::One(Scheme::FrostEd25519),
            2,
            3,
        );
        let th = checked_threshold(2, 3).unwrap();
        let mut out = Vec::new();
        execute(&opts, th, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("demo passed"), "{text}");
        for p in 1..=3 {
            assert!(store_path(&dir, p).is_file());
        }

        let mut out = Vec::new();
        let e = execute(&opts, th, &mut out).unwrap_err();
        assert!(e.message().contains("already holds signer stores"), "{e}");
        assert!(e.message().contains("signer-1.sqlite"), "{e}");
    }

    #[test]
    fn all_means_the_frost_schemes_and_ecdsa_is_refused() {
        assert_eq!(SchemeChoice::All.schemes(), Scheme::FROST.to_vec());
        let opts = options(None, SchemeChoice::One(Scheme::EcdsaSecp256k1), 2, 3);
        let mut out = Vec::new();
        let e = execute(&opts, checked_threshold(2, 3).unwrap(), &mut out).unwrap_err();
        assert!(e.message().contains("`ecdsa-secp256k1`"), "{e}");
        assert!(out.is_empty(), "nothing ran");
    }

    #[test]
    fn refuses_a_file_as_data_dir() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let e = prepare_data_dir(&file).unwrap_err();
        assert!(e.message().contains("not a directory"), "{e}");
    }

    #[test]
    fn one_of_one_skips_the_refresh() {
        let opts = options(None, SchemeChoice::One(Scheme::FrostSecp256k1Tr), 1, 1);
        let mut out = Vec::new();
        execute(&opts, checked_threshold(1, 1).unwrap(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("refresh: skipped"), "{text}");
        assert!(text.contains("refresh skipped"), "{text}");
        assert_eq!(
            text.matches("k256 schnorr verify_raw: ok").count(),
            2,
            "{text}"
        );
    }
}

//! Protocol messages from other signers: a FROST key generation, 2-of-3, as party 1 sees it, in
//! which one message from party 2 or 3, of one round, is replaced by the input.
//!
//! The other parties' honest messages are computed once, with fixed random number generators,
//! so that party 1 (whose generator is fixed too) runs the same protocol every time and only
//! the replaced message differs. The first input byte picks the scheme (bit 0), the sender
//! (bit 1, party 2 or 3) and the round (the rest); the remaining bytes are the message.
//!
//! Checks: no panic, and a failure blames no one but the sender of the replaced message (a
//! Byzantine signer must not be able to get an honest one named as the culprit).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tessera_crypto::protocol::{Inbox, Session, SessionId, Step};
use tessera_crypto::{Dkg, KeyOutput};
use tessera_types::{PartyId, Scheme, Threshold};

use crate::split::first_byte;

/// The schemes whose key generation is fuzzed. Threshold ECDSA (`dkls23`) is left out: one run
/// takes over a second, and its library draws its own randomness, so runs cannot be repeated.
pub const SCHEMES: [Scheme; 2] = [Scheme::FrostEd25519, Scheme::FrostSecp256k1Tr];

fn party(n: u16) -> PartyId {
    PartyId::new(n).expect("a valid party")
}

fn session(scheme: Scheme, me: u16) -> Session {
    let parties: BTreeSet<PartyId> = (1..=3).map(party).collect();
    let threshold = Threshold::new(2, 3).expect("2-of-3");
    Session::new(SessionId([0x5a; 16]), scheme, threshold, parties, party(me))
        .expect("a valid session")
}

fn start(scheme: Scheme, me: u16) -> Step<Dkg, KeyOutput> {
    let mut rng = StdRng::seed_from_u64(u64::from(me));
    Dkg::start(session(scheme, me), &mut rng).expect("starts")
}

/// What each party sends party 1 in one round.
type Round = BTreeMap<PartyId, Vec<u8>>;

/// For each round, the messages parties 2 and 3 send party 1 in an honest run.
fn honest(scheme: Scheme) -> &'static [Round] {
    static RUNS: [OnceLock<Vec<Round>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = if scheme == Scheme::FrostEd25519 { 0 } else { 1 };
    RUNS.get(slot).expect("two slots").get_or_init(|| {
        let mut states = BTreeMap::new();
        let mut outboxes = BTreeMap::new();
        for me in 1..=3 {
            let Step::Send(state, out) = start(scheme, me) else {
                panic!("a 3-party key generation sends messages");
            };
            states.insert(party(me), state);
            outboxes.insert(party(me), out);
        }
        let mut rounds = Vec::new();
        while !states.is_empty() {
            let mut inboxes: BTreeMap<PartyId, Inbox> = BTreeMap::new();
            for (from, out) in std::mem::take(&mut outboxes) {
                for (to, payload) in out.0 {
                    inboxes.entry(to).or_default().0.insert(from, payload);
                }
            }
            let to_one = inboxes
                .get(&party(1))
                .map(|i| i.0.clone())
                .unwrap_or_default();
            rounds.push(to_one);
            for (p, state) in std::mem::take(&mut states) {
                let inbox = inboxes.remove(&p).unwrap_or_default();
                if let Step::Send(state, out) = state.advance(&inbox).expect("honest run") {
                    states.insert(p, state);
                    outboxes.insert(p, out);
                }
            }
        }
        rounds
    })
}

/// The scheme, sender and round that `selector` picks, and the number of rounds.
fn pick(selector: u8) -> (Scheme, PartyId, usize) {
    let scheme = SCHEMES[usize::from(selector & 1)];
    let sender = party(2 + u16::from((selector >> 1) & 1));
    let rounds = honest(scheme).len().max(1);
    (scheme, sender, usize::from(selector >> 2) % rounds)
}

/// The target.
pub fn frost_dkg(data: &[u8]) {
    let (selector, payload) = first_byte(data);
    let (scheme, sender, round) = pick(selector);
    let mut step = start(scheme, 1);
    for (r, honest_inbox) in honest(scheme).iter().enumerate() {
        let Step::Send(state, _) = step else {
            return;
        };
        let mut inbox = Inbox(honest_inbox.clone());
        if r == round {
            inbox.0.insert(sender, payload.to_vec());
        }
        step = match state.advance(&inbox) {
            Ok(next) => next,
            Err(e) => {
                assert!(
                    e.culprits.iter().all(|c| *c == sender),
                    "{sender} sent the bad message, {e} blames {:?}",
                    e.culprits
                );
                return;
            }
        };
    }
}

/// Seeds: every honest message, with the selector that puts it back in its place.
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (s, scheme) in SCHEMES.iter().enumerate() {
        for (r, round) in honest(*scheme).iter().enumerate() {
            for (from, payload) in round {
                let sender_bit = u8::from(from.get() == 3);
                let selector = u8::try_from(r << 2).unwrap_or(0) | sender_bit << 1 | s as u8;
                out.push([&[selector][..], payload].concat());
            }
        }
    }
    out
}

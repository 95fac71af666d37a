//! Running DKG and refresh across signers: relay each round's messages until all are done,
//! then finish in two phases. Every party stores its result pending; only when every party has
//! finished with the same group key does the coordinator activate it everywhere. If any party
//! fails, every party drops its pending result and the key (or the old shares) stay as they
//! were: a failure one party sees never leaves the others on a different key.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::{OsRng, RngCore};
use tessera_crypto::GroupKey;
use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId};
use tessera_signer::Progress;
use tessera_types::{KeyId, PartyId, Scheme, Threshold};

use crate::link::{LinkError, SignerLink};
use crate::signing::SessionError;

/// Sees (and may alter) every message relayed: `(round, from, to, payload)`. Fault injection
/// for tests; the coordinator itself passes `None`.
pub type Tamper<'a> = dyn FnMut(usize, PartyId, PartyId, &mut Vec<u8>) + 'a;

/// Generates key `key_id` by DKG among all `links` (one per party).
pub fn generate_key(
    links: &mut [&mut dyn SignerLink],
    key_id: &KeyId,
    scheme: Scheme,
    threshold: Threshold,
    tamper: Option<&mut Tamper<'_>>,
) -> Result<GroupKey, SessionError> {
    let parties: BTreeSet<PartyId> = links.iter().map(|l| l.party()).collect();
    let id = new_session_id();
    let mut first = BTreeMap::new();
    for link in links.iter_mut() {
        let session = Session::new(id, scheme, threshold, parties.clone(), link.party())
            .map_err(SessionError::Crypto)?;
        match link.dkg_start(key_id, session) {
            Ok(p) => {
                first.insert(link.party(), p);
            }
            Err(e) => return Err(abort_all(links, key_id, SessionError::Signer(e))),
        }
    }
    drive(links, key_id, first, tamper, |l, k, inbox| {
        l.dkg_advance(k, inbox)
    })
}

/// Refreshes every party's share of `key_id`; the group key stays the same.
pub fn refresh_key(
    links: &mut [&mut dyn SignerLink],
    key_id: &KeyId,
    tamper: Option<&mut Tamper<'_>>,
) -> Result<GroupKey, SessionError> {
    let id = new_session_id();
    let mut first = BTreeMap::new();
    for link in links.iter_mut() {
        match link.refresh_start(key_id, id) {
            Ok(p) => {
                first.insert(link.party(), p);
            }
            Err(e) => return Err(abort_all(links, key_id, SessionError::Signer(e))),
        }
    }
    drive(links, key_id, first, tamper, |l, k, inbox| {
        l.refresh_advance(k, inbox)
    })
}

fn new_session_id() -> SessionId {
    let mut id = [0u8; 16];
    OsRng.fill_bytes(&mut id);
    SessionId(id)
}

/// Drops the session at every party; `cause` is what made it fail. A party that cannot drop its
/// pending result is reported with the cause, since it needs an operator.
fn abort_all(
    links: &mut [&mut dyn SignerLink],
    key_id: &KeyId,
    cause: SessionError,
) -> SessionError {
    let stuck: Vec<LinkError> = links
        .iter_mut()
        .filter_map(|l| l.abort(key_id).err())
        .collect();
    if stuck.is_empty() {
        cause
    } else {
        SessionError::Cleanup {
            cause: Box::new(cause),
            stuck,
        }
    }
}

type Advance = fn(&mut dyn SignerLink, &KeyId, &Inbox) -> Result<Progress, LinkError>;

fn drive(
    links: &mut [&mut dyn SignerLink],
    key_id: &KeyId,
    mut progress: BTreeMap<PartyId, Progress>,
    mut tamper: Option<&mut Tamper<'_>>,
    advance: Advance,
) -> Result<GroupKey, SessionError> {
    let mut round = 1usize;
    loop {
        let mut outboxes: BTreeMap<PartyId, Outbox> = BTreeMap::new();
        let mut done: BTreeMap<PartyId, GroupKey> = BTreeMap::new();
        for (party, p) in progress {
            match p {
                Progress::Send(out) => {
                    outboxes.insert(party, out);
                }
                Progress::Done(g) => {
                    done.insert(party, g);
                }
            }
        }
        if !done.is_empty() {
            if !outboxes.is_empty() {
                let behind: Vec<PartyId> = outboxes.keys().copied().collect();
                return Err(abort_all(links, key_id, SessionError::Diverged(behind)));
            }
            let group = match agree(done) {
                Ok(g) => g,
                Err(e) => return Err(abort_all(links, key_id, e)),
            };
            return activate_all(links, key_id, group);
        }
        let mut inboxes: BTreeMap<PartyId, Inbox> = BTreeMap::new();
        for (from, out) in outboxes {
            for (to, mut payload) in out.0 {
                if let Some(t) = tamper.as_mut() {
                    t(round, from, to, &mut payload);
                }
                inboxes.entry(to).or_default().0.insert(from, payload);
            }
        }
        let mut next = BTreeMap::new();
        let mut failure = None;
        for link in links.iter_mut() {
            let party = link.party();
            let inbox = inboxes.remove(&party).unwrap_or_default();
            match advance(&mut **link, key_id, &inbox) {
                Ok(p) => {
                    next.insert(party, p);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failure {
            return Err(abort_all(links, key_id, SessionError::Signer(e)));
        }
        progress = next;
        round += 1;
    }
}

/// Activates `group` at every party. Nothing can be undone once one party has activated, so a
/// party that fails to activate is reported (its pending result stays, durable, and activating
/// it again completes the session).
fn activate_all(
    links: &mut [&mut dyn SignerLink],
    key_id: &KeyId,
    group: GroupKey,
) -> Result<GroupKey, SessionError> {
    let mut activated = Vec::new();
    for link in links.iter_mut() {
        match link.activate(key_id, &group) {
            Ok(()) => activated.push(link.party()),
            Err(e) => {
                return Err(SessionError::Activation {
                    activated,
                    failed: e,
                });
            }
        }
    }
    Ok(group)
}

/// Every party must end with the same group key.
fn agree(done: BTreeMap<PartyId, GroupKey>) -> Result<GroupKey, SessionError> {
    let mut iter = done.into_iter();
    let Some((_, first)) = iter.next() else {
        return Err(SessionError::Diverged(Vec::new()));
    };
    let differ: Vec<PartyId> = iter.filter(|(_, g)| *g != first).map(|(p, _)| p).collect();
    if !differ.is_empty() {
        return Err(SessionError::Diverged(differ));
    }
    Ok(first)
}

//! A signer as the coordinator reaches it: typed calls over the mutual-TLS transport.

use std::collections::BTreeMap;
use std::time::Duration;

use tessera_coordinator::{LinkError, SignerLink};
use tessera_crypto::protocol::{Inbox, Outbox, Session, SessionId};
use tessera_crypto::{Commitment, GroupKey, SignatureShare, SigningPackage};
use tessera_net::rpc::RpcClient;
use tessera_signer::Progress;
use tessera_types::{KeyId, PartyId};
use tessera_wire::{PartyMessage, Reply, Request, SessionSpec, WireError, WireProgress};

/// One signer, reached over the network.
#[derive(Debug, Clone)]
pub struct RemoteSigner {
    party: PartyId,
    name: String,
    rpc: RpcClient,
    timeout: Duration,
}

/// Transport failures get codes of their own, so the cluster can tell a signer that is down
/// (`unreachable`, `timeout`) from one that refused.
pub const UNREACHABLE: &str = "signer_unreachable";

/// The least time a key-generation round is given: ECDSA key generation takes seconds of CPU
/// on a busy machine, where a signing call takes milliseconds.
pub const KEYGEN_TIMEOUT: Duration = Duration::from_secs(30);

impl RemoteSigner {
    /// A signer at `address`, whose certificate names it `name`.
    pub fn new(
        party: PartyId,
        name: String,
        address: String,
        tls: std::sync::Arc<rustls::ClientConfig>,
        timeout: Duration,
    ) -> Self {
        let rpc = RpcClient::new(address, name.clone(), tls, timeout);
        Self {
            party,
            name,
            rpc,
            timeout,
        }
    }

    /// Its party.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// Its node name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends one message.
    pub async fn call(&self, req: &Request) -> Result<Reply, LinkError> {
        self.call_within(req, None).await
    }

    /// [`RemoteSigner::call`] for a round of key generation: heavy work (threshold ECDSA's
    /// DKG) that may take far longer than a signing call, given at least [`KEYGEN_TIMEOUT`].
    pub async fn call_keygen(&self, req: &Request) -> Result<Reply, LinkError> {
        self.call_within(req, Some(KEYGEN_TIMEOUT)).await
    }

    async fn call_within(
        &self,
        req: &Request,
        at_least: Option<Duration>,
    ) -> Result<Reply, LinkError> {
        let bytes = tessera_wire::encode_request(req);
        let sent = match at_least {
            Some(limit) => self.rpc.call_within(bytes, limit.max(self.timeout)).await,
            None => self.rpc.call(bytes).await,
        };
        let answer = sent.map_err(|e| LinkError {
            party: self.party,
            code: if e.code() == "timeout" {
                "signer_timeout".to_owned()
            } else {
                UNREACHABLE.to_owned()
            },
            message: e.to_string(),
            culprits: Vec::new(),
        })?;
        tessera_wire::decode_reply(&answer).map_err(|e| self.link_err(e))
    }

    fn link_err(&self, e: WireError) -> LinkError {
        LinkError {
            party: self.party,
            code: e.code,
            message: e.message,
            culprits: e
                .culprits
                .into_iter()
                .filter_map(|p| PartyId::new(p).ok())
                .collect(),
        }
    }

    fn unexpected(&self, reply: &Reply) -> LinkError {
        LinkError {
            party: self.party,
            code: "protocol_error".into(),
            message: format!("unexpected reply {reply:?}"),
            culprits: vec![self.party],
        }
    }

    /// Fresh commitments, with the signer's boot.
    pub async fn commit(
        &self,
        key_id: &KeyId,
        count: u32,
    ) -> Result<(i64, Vec<Commitment>), LinkError> {
        let reply = self
            .call(&Request::Commit {
                key_id: key_id.clone(),
                count,
            })
            .await?;
        let Reply::Commitments {
            boot,
            commitments_hex,
        } = reply
        else {
            return Err(self.unexpected(&reply));
        };
        let mut out = Vec::with_capacity(commitments_hex.len());
        for h in commitments_hex {
            let c = hex::decode(&h)
                .ok()
                .and_then(|b| Commitment::from_bytes(&b).ok())
                .filter(|c| c.party() == self.party)
                .ok_or_else(|| self.bad("commitment"))?;
            out.push(c);
        }
        Ok((boot, out))
    }

    /// A signature share for registered request `request_id`.
    pub async fn sign(
        &self,
        request_id: &str,
        key_id: &KeyId,
        package: &SigningPackage,
    ) -> Result<SignatureShare, LinkError> {
        let package_hex = hex::encode(package.to_bytes().map_err(|e| LinkError {
            party: self.party,
            code: e.kind.code().to_owned(),
            message: e.to_string(),
            culprits: Vec::new(),
        })?);
        let reply = self
            .call(&Request::Sign {
                request_id: request_id.to_owned(),
                key_id: key_id.clone(),
                package_hex,
            })
            .await?;
        let Reply::Share { share_hex } = reply else {
            return Err(self.unexpected(&reply));
        };
        hex::decode(&share_hex)
            .ok()
            .and_then(|b| SignatureShare::from_bytes(&b).ok())
            .ok_or_else(|| self.bad("signature share"))
    }

    /// The group key of `key_id`.
    pub async fn group_key(&self, key_id: &KeyId) -> Result<GroupKey, LinkError> {
        let reply = self
            .call(&Request::GroupKey {
                key_id: key_id.clone(),
            })
            .await?;
        let Reply::GroupKey { group_key_hex } = reply else {
            return Err(self.unexpected(&reply));
        };
        hex::decode(&group_key_hex)
            .ok()
            .and_then(|b| GroupKey::from_bytes(&b).ok())
            .ok_or_else(|| self.bad("group key"))
    }

    fn bad(&self, what: &str) -> LinkError {
        LinkError {
            party: self.party,
            code: "protocol_error".into(),
            message: format!("signer sent a malformed {what}"),
            culprits: vec![self.party],
        }
    }
}

/// A [`RemoteSigner`] driven synchronously by the coordinator's key-generation driver, bound to
/// the client request that asked for the key. Use from a blocking thread only.
#[derive(Debug)]
pub struct KeygenLink {
    remote: RemoteSigner,
    request_id: String,
    runtime: tokio::runtime::Handle,
}

impl KeygenLink {
    /// Binds `remote` to create-wallet request `request_id`.
    pub fn new(remote: RemoteSigner, request_id: String, runtime: tokio::runtime::Handle) -> Self {
        Self {
            remote,
            request_id,
            runtime,
        }
    }

    fn call(&self, req: &Request) -> Result<Reply, LinkError> {
        self.runtime.block_on(self.remote.call_keygen(req))
    }

    fn progress(&self, reply: Reply) -> Result<Progress, LinkError> {
        let Reply::Progress { progress } = reply else {
            return Err(self.remote.unexpected(&reply));
        };
        match progress {
            WireProgress::Signed { .. } => {
                Err(self.remote.bad("a signature during key generation"))
            }
            WireProgress::Send { outbox } => {
                let mut out = BTreeMap::new();
                for m in outbox {
                    let to = PartyId::new(m.party).map_err(|_| self.remote.bad("recipient"))?;
                    let payload =
                        hex::decode(&m.payload_hex).map_err(|_| self.remote.bad("message"))?;
                    if out.insert(to, payload).is_some() {
                        return Err(self.remote.bad("outbox with two messages for one party"));
                    }
                }
                Ok(Progress::Send(Outbox(out)))
            }
            WireProgress::Done { group_key_hex } => hex::decode(&group_key_hex)
                .ok()
                .and_then(|b| GroupKey::from_bytes(&b).ok())
                .map(Progress::Done)
                .ok_or_else(|| self.remote.bad("group key")),
        }
    }

    fn done(&self, reply: Reply) -> Result<(), LinkError> {
        match reply {
            Reply::Done => Ok(()),
            other => Err(self.remote.unexpected(&other)),
        }
    }

    fn unsupported(&self, what: &str) -> LinkError {
        LinkError {
            party: self.remote.party,
            code: "unsupported".into(),
            message: format!("{what} is not offered over the network yet"),
            culprits: Vec::new(),
        }
    }
}

impl SignerLink for KeygenLink {
    fn party(&self) -> PartyId {
        self.remote.party
    }

    fn dkg_start(&mut self, key_id: &KeyId, session: Session) -> Result<Progress, LinkError> {
        let spec = SessionSpec {
            key_id: key_id.clone(),
            session_id_hex: hex::encode(session.id.0),
            scheme: session.scheme,
            t: session.threshold.t(),
            parties: session.parties.iter().map(|p| p.get()).collect(),
            party: session.me.get(),
        };
        let reply = self.call(&Request::DkgStart {
            request_id: self.request_id.clone(),
            session: spec,
        })?;
        self.progress(reply)
    }

    fn dkg_advance(&mut self, key_id: &KeyId, inbox: &Inbox) -> Result<Progress, LinkError> {
        let inbox = inbox
            .0
            .iter()
            .map(|(from, m)| PartyMessage {
                party: from.get(),
                payload_hex: hex::encode(m),
            })
            .collect();
        let reply = self.call(&Request::DkgAdvance {
            key_id: key_id.clone(),
            inbox,
        })?;
        self.progress(reply)
    }

    fn refresh_start(&mut self, _: &KeyId, _: SessionId) -> Result<Progress, LinkError> {
        Err(self.unsupported("share refresh"))
    }

    fn refresh_advance(&mut self, _: &KeyId, _: &Inbox) -> Result<Progress, LinkError> {
        Err(self.unsupported("share refresh"))
    }

    fn activate(&mut self, key_id: &KeyId, group: &GroupKey) -> Result<(), LinkError> {
        let group_key_hex = hex::encode(group.to_bytes().map_err(|e| LinkError {
            party: self.remote.party,
            code: e.kind.code().to_owned(),
            message: e.to_string(),
            culprits: Vec::new(),
        })?);
        let reply = self.call(&Request::Activate {
            key_id: key_id.clone(),
            group_key_hex,
        })?;
        self.done(reply)
    }

    fn abort(&mut self, key_id: &KeyId) -> Result<(), LinkError> {
        let reply = self.call(&Request::Abort {
            key_id: key_id.clone(),
        })?;
        self.done(reply)
    }

    fn commit(&mut self, key_id: &KeyId, count: usize) -> Result<Vec<Commitment>, LinkError> {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        self.runtime
            .block_on(self.remote.commit(key_id, count))
            .map(|(_, c)| c)
    }

    fn sign(&mut self, _: &KeyId, _: &SigningPackage) -> Result<SignatureShare, LinkError> {
        Err(self.unsupported("signing outside a registered signing request"))
    }
}

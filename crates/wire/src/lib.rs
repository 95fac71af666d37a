//! What travels between Tessera's parts: the public API's request bodies, and the versioned
//! messages between the coordinator and the signers.
//!
//! The API bodies live here, and not in the HTTP layer, because every signer reads them too:
//! a signer decodes the client's original request ([`Intent::parse`]) and signs only what it
//! asks for, whatever the coordinator claims.

mod api;
mod audit;
mod breaker;
mod msg;
mod proposal;
mod rpc;
mod verdict;

pub use api::{
    AddAsset, Chain, CreateWallet, Intent, IntentError, MAX_DECIMALS, MAX_PAYLOAD, NATIVE_DECIMALS,
    NATIVE_SYMBOL, SignRequest, TransferRequest, parse_amount, wallet_id_for,
};
pub use audit::AuditPage;
pub use breaker::{GuardCommand, MAX_REASON, ResetBody, RiskBody, TripBody, WireBreaker, WireRisk};
pub use msg::{
    PartyMessage, Reply, Request, SessionSpec, WIRE_VERSION, WireError, WireProgress, WireRuling,
    decode_reply, decode_request, encode_reply, encode_request,
};
pub use proposal::{MAX_POLICY_TEXT, PolicyChange, ProposeBody, WireProposal};
pub use rpc::{JSONRPC_VERSION, RpcCall, RpcMethod};
pub use verdict::{MAX_COMMENT, Verdict, VerdictBody};

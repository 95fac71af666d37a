//! Tessera's domain types: identifiers, thresholds, amounts and schemes.
//!
//! Every type here has one checked way in, so the rest of the code can rely on its invariant.
//! No I/O, no async, no cryptography.

mod amount;
mod id;
mod scheme;
mod threshold;

pub use amount::{Amount, AmountError};
pub use id::{IdError, KeyId, PartyId, WalletId};
pub use scheme::{Scheme, SchemeError};
pub use threshold::{MAX_PARTIES, Threshold, ThresholdError};

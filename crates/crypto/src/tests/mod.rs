//! Unit tests that need crate-private constructors (known-answer vectors) or message types
//! (tampering with threshold ECDSA rounds).

mod bip340;
mod ecdsa;
mod ecdsa_keys;
mod kat;
mod net;

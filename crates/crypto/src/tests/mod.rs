//! Unit tests that need crate-private constructors (known-answer vectors).

mod bip340;
mod kat;

//! Keys kept shielded in memory between uses.

use std::fmt;

use rand_core::{CryptoRngCore, OsRng};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of random pre-key whose hash masks a [`Shielded`] key. OpenSSH uses 16 KiB; 4 KiB
/// keeps unshielding, which every share decryption pays, to a few microseconds.
pub const PREKEY_LEN: usize = 4 * 1024;

/// Length of a shielded key.
pub const SHIELDED_KEY_LEN: usize = 32;

/// A 32-byte key kept shielded in memory while it is not in use, after OpenSSH's shielded
/// private keys: what is stored is the key XORed with SHA-256 of a 4 KiB random pre-key.
/// [`Shielded::unshield`] recomputes the mask and returns the key in a buffer that is zeroized
/// on drop, so the key in the clear exists only for the operation that needs it.
///
/// What this protects against: a copy of the key lingering in memory for a scan, a partial
/// read, a swapped-out page or a core image to find. Recovering the key from memory takes the
/// stored value and all 4 KiB of the pre-key, read without error: attacks that read memory
/// a few bits at a time, noisily (speculative-execution and Rowhammer-style leaks), are slowed
/// down by the size of the pre-key. What it does not protect against: an attacker who reads
/// the whole of the process's memory, or runs code inside it, unshields the key as this code
/// does. It is defence in depth, not a secret store.
pub struct Shielded {
    prekey: Zeroizing<Vec<u8>>,
    masked: [u8; SHIELDED_KEY_LEN],
}

impl Shielded {
    /// Shields `key` under a fresh pre-key from the operating system's generator.
    pub fn new(key: &[u8; SHIELDED_KEY_LEN]) -> Result<Self, rand_core::Error> {
        Self::new_with(key, &mut OsRng)
    }

    /// Shields `key` under a fresh pre-key from `rng`.
    pub fn new_with(
        key: &[u8; SHIELDED_KEY_LEN],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Self, rand_core::Error> {
        let mut prekey = Zeroizing::new(vec![0u8; PREKEY_LEN]);
        rng.try_fill_bytes(&mut prekey)?;
        let mut shielded = Self {
            prekey,
            masked: *key,
        };
        shielded.apply_mask();
        Ok(shielded)
    }

    /// The key, in a buffer that is zeroized when dropped. Keep it only for one operation.
    pub fn unshield(&self) -> Zeroizing<[u8; SHIELDED_KEY_LEN]> {
        let mut key = Zeroizing::new(self.masked);
        xor_mask(&self.prekey, &mut key);
        key
    }

    fn apply_mask(&mut self) {
        xor_mask(&self.prekey, &mut self.masked);
    }
}

/// XORs SHA-256(domain tag, pre-key) into `out`.
fn xor_mask(prekey: &[u8], out: &mut [u8; SHIELDED_KEY_LEN]) {
    let mut mask: [u8; SHIELDED_KEY_LEN] = Sha256::new()
        .chain_update(b"tessera/shield/v1")
        .chain_update(prekey)
        .finalize()
        .into();
    for (o, m) in out.iter_mut().zip(mask.iter()) {
        *o ^= m;
    }
    mask.zeroize();
}

impl Drop for Shielded {
    fn drop(&mut self) {
        self.masked.zeroize();
    }
}

impl fmt::Debug for Shielded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shielded(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshields_to_the_key_and_stores_something_else() {
        let key = [0x5au8; SHIELDED_KEY_LEN];
        let s = Shielded::new(&key).unwrap();
        assert_eq!(*s.unshield(), key);
        assert_ne!(s.masked, key);
        assert!(!s.prekey.windows(key.len()).any(|w| w == key));
        // Another pre-key, another stored value.
        let t = Shielded::new(&key).unwrap();
        assert_ne!(s.masked, t.masked);
        assert_eq!(*t.unshield(), key);
    }

    #[test]
    fn debug_prints_nothing_of_the_key() {
        let s = Shielded::new(&[7u8; SHIELDED_KEY_LEN]).unwrap();
        assert_eq!(format!("{s:?}"), "Shielded(<redacted>)");
    }
}

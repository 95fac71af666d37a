//! A small, deterministic input mutator for the short CI run: no coverage feedback, only
//! seeded random edits of the seeds (bit flips, byte and token insertions, deletions,
//! duplications, splices with another seed). It finds shallow crashes on the stable toolchain;
//! the long runs are libFuzzer's.

/// splitmix64: a tiny, good-enough generator whose whole state is one seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that always yields the same sequence for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }
}

/// Bytes and words that decoders treat specially: JSON and TOML punctuation, numbers at the
/// edges of integer types, hex prefixes, RLP list and string headers.
const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"=",
    b"\n",
    b" ",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"null",
    b"true",
    b"-",
    b"0",
    b"-1",
    b"1e999",
    b"0.0",
    b"18446744073709551616",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"340282366920938463463374607431768211456",
    b"0x",
    b"0x0",
    b"/",
    b"..",
    b"%",
    b"\xff",
    b"\x00",
    b"\x80",
    b"\xb8",
    b"\xc0",
    b"\xf8",
    b"\xf9\xff\xff",
    b"[[rules]]",
    b"uint256",
    b"[]",
    b"bytes",
    b"string",
];

/// Makes new inputs from a set of seeds.
#[derive(Debug)]
pub struct Mutator {
    rng: Rng,
    seeds: Vec<Vec<u8>>,
    max_len: usize,
}

impl Mutator {
    /// A mutator of `seeds` (at least one) with a fixed `seed` for its generator.
    pub fn new(seeds: Vec<Vec<u8>>, seed: u64) -> Self {
        let longest = seeds.iter().map(Vec::len).max().unwrap_or(0);
        Self {
            rng: Rng::new(seed),
            seeds: if seeds.is_empty() {
                vec![Vec::new()]
            } else {
                seeds
            },
            max_len: longest.saturating_mul(2).max(256),
        }
    }

    /// The next input: a random seed with one to four random edits.
    pub fn next_input(&mut self) -> Vec<u8> {
        let pick = self.rng.below(self.seeds.len());
        let mut data = self.seeds.get(pick).cloned().unwrap_or_default();
        for _ in 0..=self.rng.below(4) {
            self.edit(&mut data);
        }
        data.truncate(self.max_len);
        data
    }

    fn edit(&mut self, data: &mut Vec<u8>) {
        let len = data.len();
        let at = self.rng.below(len + 1);
        match self.rng.below(8) {
            0 if len > 0 => {
                let i = self.rng.below(len);
                let bit = 1u8 << self.rng.below(8);
                if let Some(b) = data.get_mut(i) {
                    *b ^= bit;
                }
            }
            1 if len > 0 => {
                let i = self.rng.below(len);
                let byte = (self.rng.next_u64() & 0xff) as u8;
                if let Some(b) = data.get_mut(i) {
                    *b = byte;
                }
            }
            2 => {
                let token = TOKENS
                    .get(self.rng.below(TOKENS.len()))
                    .copied()
                    .unwrap_or_default();
                data.splice(at..at, token.iter().copied());
            }
            3 if len > 0 => {
                let n = 1 + self.rng.below(len.min(16));
                let end = (at + n).min(len);
                data.drain(at.min(end)..end);
            }
            4 if len > 0 => {
                let start = self.rng.below(len);
                let end = (start + 1 + self.rng.below(32)).min(len);
                let chunk = data.get(start..end).unwrap_or_default().to_vec();
                data.splice(at..at, chunk);
            }
            5 => {
                // Splice: this input's head, another seed's tail.
                let other = self.rng.below(self.seeds.len());
                let other = self.seeds.get(other).cloned().unwrap_or_default();
                let from = self.rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(other.get(from..).unwrap_or_default());
            }
            6 if len > 0 => {
                // A digit changed: numbers are where range checks live.
                let digits: Vec<usize> = (0..len)
                    .filter(|&i| data.get(i).is_some_and(u8::is_ascii_digit))
                    .collect();
                if let Some(&i) = digits.get(self.rng.below(digits.len())) {
                    let d = b'0' + (self.rng.below(10) as u8);
                    if let Some(b) = data.get_mut(i) {
                        *b = d;
                    }
                }
            }
            _ => data.truncate(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let seeds = vec![b"{\"a\":1}".to_vec(), b"[1,2]".to_vec()];
        let mut a = Mutator::new(seeds.clone(), 7);
        let mut b = Mutator::new(seeds, 7);
        for _ in 0..1000 {
            assert_eq!(a.next_input(), b.next_input());
        }
    }
}

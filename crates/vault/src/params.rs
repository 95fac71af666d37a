//! Argon2id cost parameters, checked before every key derivation.

use crate::VaultError;

/// Argon2id cost parameters. Stored in every blob header, so a vault opens with the parameters
/// it was created with even after [`KdfParams::DEFAULT`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism (lanes).
    pub p_cost: u32,
}

impl KdfParams {
    /// Parameters for real shares: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Minimum-cost parameters so tests and the in-process demo unlock fast: 64 KiB, 1 pass,
    /// 1 lane. A passphrase behind these falls to a cheap guessing attack: never use them for
    /// real shares. They are also the floor: anything cheaper is refused.
    pub const INSECURE_FAST_FOR_TESTS: KdfParams = KdfParams {
        m_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    /// Largest accepted memory cost: 4 GiB, in KiB.
    pub const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    /// Largest accepted number of passes.
    pub const MAX_T_COST: u32 = 64;
    /// Largest accepted number of lanes.
    pub const MAX_P_COST: u32 = 64;

    /// Checks that the parameters are neither below [`KdfParams::INSECURE_FAST_FOR_TESTS`]
    /// nor so large that reading a hostile blob header could exhaust memory or time.
    pub fn check(&self) -> Result<(), VaultError> {
        let min = Self::INSECURE_FAST_FOR_TESTS;
        let in_range = (min.m_kib..=Self::MAX_M_KIB).contains(&self.m_kib)
            && (min.t_cost..=Self::MAX_T_COST).contains(&self.t_cost)
            && (min.p_cost..=Self::MAX_P_COST).contains(&self.p_cost);
        if in_range {
            Ok(())
        } else {
            Err(VaultError::WeakParams)
        }
    }

    /// The checked argon2 parameters for a 32-byte output.
    pub(crate) fn to_argon2(self) -> Result<argon2::Params, VaultError> {
        self.check()?;
        // Also rejects a memory cost below argon2's floor of 8 KiB per lane.
        argon2::Params::new(
            self.m_kib,
            self.t_cost,
            self.p_cost,
            Some(crate::blob::KEY_LEN),
        )
        .map_err(|_| VaultError::WeakParams)
    }
}

#[cfg(test)]
mod tests {
    use super::KdfParams;
    use crate::VaultError;

    #[test]
    fn named_params_pass() {
        assert!(KdfParams::DEFAULT.to_argon2().is_ok());
        assert!(KdfParams::INSECURE_FAST_FOR_TESTS.to_argon2().is_ok());
    }

    #[test]
    fn out_of_range_params_are_refused() {
        let base = KdfParams::INSECURE_FAST_FOR_TESTS;
        let bad = [
            KdfParams { m_kib: 63, ..base },
            KdfParams {
                m_kib: KdfParams::MAX_M_KIB + 1,
                ..base
            },
            KdfParams {
                m_kib: u32::MAX,
                ..base
            },
            KdfParams { t_cost: 0, ..base },
            KdfParams {
                t_cost: KdfParams::MAX_T_COST + 1,
                ..base
            },
            KdfParams { p_cost: 0, ..base },
            KdfParams {
                p_cost: KdfParams::MAX_P_COST + 1,
                ..base
            },
            // argon2 needs 8 KiB per lane.
            KdfParams {
                m_kib: 64,
                t_cost: 1,
                p_cost: 9,
            },
        ];
        for p in bad {
            assert_eq!(p.to_argon2().err(), Some(VaultError::WeakParams), "{p:?}");
        }
        let top = KdfParams {
            m_kib: KdfParams::MAX_M_KIB,
            ..base
        };
        assert_eq!(top.check(), Ok(()));
    }
}

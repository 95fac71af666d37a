//! The policy's sections that guard the deployment rather than rule one request: the circuit
//! breakers' triggers (`[breakers]`), the cold storage addresses that sweeps may still reach
//! while a breaker is tripped (`[cold_storage]`), and how the policy itself changes
//! (`[changes]`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{PolicyError, err};
use crate::time::Window;

/// `[breakers] window` when not set: bursts are counted over ten minutes.
pub const DEFAULT_BURST_WINDOW: u64 = 600;
// The automatic triggers that depend on how a deployment moves money are off unless the policy
// sets them: a threshold right for one desk trips another's normal day, and a breaker that trips
// on ordinary traffic gets switched off. Each is one line of `[breakers]` (docs/POLICY.md).
/// `[breakers] wallet_denials` when not set: off.
pub const DEFAULT_WALLET_DENIALS: u32 = 0;
/// `[breakers] deployment_denials` when not set: off.
pub const DEFAULT_DEPLOYMENT_DENIALS: u32 = 0;
/// `[breakers] new_destinations` when not set: off.
pub const DEFAULT_NEW_DESTINATIONS: u32 = 0;
/// `[breakers] outflow_percent` when not set: off.
pub const DEFAULT_OUTFLOW_PERCENT: u8 = 0;
/// `[breakers] outflow_window` when not set: one hour.
pub const DEFAULT_OUTFLOW_WINDOW: u64 = 3_600;
/// `[breakers] reset_quorum` when not set: two distinct admins.
pub const DEFAULT_RESET_QUORUM: u32 = 2;
/// `[changes] quorum` when not set: two distinct admins.
pub const DEFAULT_CHANGE_QUORUM: u32 = 2;
/// `[changes] time_lock` when not set: one day.
pub const DEFAULT_TIME_LOCK: u64 = 24 * 3_600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakersFile {
    pub window: Option<String>,
    pub wallet_denials: Option<i64>,
    pub deployment_denials: Option<i64>,
    pub new_destinations: Option<i64>,
    pub outflow_percent: Option<i64>,
    pub outflow_window: Option<String>,
    pub reset_quorum: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangesFile {
    pub quorum: Option<i64>,
    pub time_lock: Option<String>,
}

/// When the circuit breakers trip by themselves, and what resets them. A count of 0 turns that
/// trigger off; the triggers are off unless the policy sets them. A misbehaving signer and a
/// wallet that sent a transaction Tessera never signed trip a breaker under every policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breakers {
    pub(crate) window: u64,
    pub(crate) wallet_denials: u32,
    pub(crate) deployment_denials: u32,
    pub(crate) new_destinations: u32,
    pub(crate) outflow_percent: u8,
    pub(crate) outflow_window: u64,
    pub(crate) reset_quorum: u32,
}

impl Default for Breakers {
    fn default() -> Self {
        Breakers {
            window: DEFAULT_BURST_WINDOW,
            wallet_denials: DEFAULT_WALLET_DENIALS,
            deployment_denials: DEFAULT_DEPLOYMENT_DENIALS,
            new_destinations: DEFAULT_NEW_DESTINATIONS,
            outflow_percent: DEFAULT_OUTFLOW_PERCENT,
            outflow_window: DEFAULT_OUTFLOW_WINDOW,
            reset_quorum: DEFAULT_RESET_QUORUM,
        }
    }
}

impl Breakers {
    /// The window over which bursts of denials and of new destinations are counted, in seconds.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Denials of one wallet's requests within the window that trip the wallet's breaker.
    pub fn wallet_denials(&self) -> u32 {
        self.wallet_denials
    }

    /// Denials over the whole deployment within the window that trip the deployment's breaker.
    pub fn deployment_denials(&self) -> u32 {
        self.deployment_denials
    }

    /// Destinations a wallet pays for the first time within the window that trip its breaker.
    pub fn new_destinations(&self) -> u32 {
        self.new_destinations
    }

    /// The share of a wallet's hot balance, in percent, that may leave within
    /// [`Breakers::outflow_window`] before its breaker trips.
    pub fn outflow_percent(&self) -> u8 {
        self.outflow_percent
    }

    /// The window of the outflow share, in seconds.
    pub fn outflow_window(&self) -> u64 {
        self.outflow_window
    }

    /// Distinct admins who must ask for a reset before a tripped breaker closes.
    pub fn reset_quorum(&self) -> u32 {
        self.reset_quorum
    }
}

/// How a new version of the policy comes into force: approved by `quorum` distinct admins, and
/// not before `time_lock` seconds after it was proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub(crate) quorum: u32,
    pub(crate) time_lock: u64,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            quorum: DEFAULT_CHANGE_QUORUM,
            time_lock: DEFAULT_TIME_LOCK,
        }
    }
}

impl Changes {
    /// Distinct admins who must approve a proposed policy.
    pub fn quorum(&self) -> u32 {
        self.quorum
    }

    /// Seconds between a proposal and the earliest moment it can come into force.
    pub fn time_lock(&self) -> u64 {
        self.time_lock
    }
}

pub(crate) fn check_breakers(file: Option<BreakersFile>) -> Result<Breakers, PolicyError> {
    let Some(file) = file else {
        return Ok(Breakers::default());
    };
    let d = Breakers::default();
    Ok(Breakers {
        window: window("[breakers] window", file.window, d.window)?,
        wallet_denials: count(
            "[breakers] wallet_denials",
            file.wallet_denials,
            d.wallet_denials,
            0,
        )?,
        deployment_denials: count(
            "[breakers] deployment_denials",
            file.deployment_denials,
            d.deployment_denials,
            0,
        )?,
        new_destinations: count(
            "[breakers] new_destinations",
            file.new_destinations,
            d.new_destinations,
            0,
        )?,
        outflow_percent: match file.outflow_percent {
            None => d.outflow_percent,
            Some(v) => u8::try_from(v).ok().filter(|p| *p <= 100).ok_or_else(|| {
                err(
                    "invalid_breakers",
                    format!("`[breakers] outflow_percent` is a percentage from 0 to 100, not {v}"),
                )
            })?,
        },
        outflow_window: window(
            "[breakers] outflow_window",
            file.outflow_window,
            d.outflow_window,
        )?,
        reset_quorum: count(
            "[breakers] reset_quorum",
            file.reset_quorum,
            d.reset_quorum,
            1,
        )?,
    })
}

pub(crate) fn check_changes(file: Option<ChangesFile>) -> Result<Changes, PolicyError> {
    let Some(file) = file else {
        return Ok(Changes::default());
    };
    let d = Changes::default();
    let quorum = count("[changes] quorum", file.quorum, d.quorum, 1)
        .map_err(|e| err("invalid_changes", e.message))?;
    let time_lock = match file.time_lock.as_deref() {
        None => d.time_lock,
        Some("0") | Some("0s") => 0,
        Some(text) => Window::parse(text).map(|w| w.secs()).map_err(|why| {
            err(
                "invalid_changes",
                format!("`[changes] time_lock` {why}, or \"0s\""),
            )
        })?,
    };
    Ok(Changes { quorum, time_lock })
}

/// `[cold_storage]`: a chain's name to the address sweeps go to, lowercase for Ethereum.
pub(crate) fn check_cold_storage(
    file: BTreeMap<String, String>,
    check_address: impl Fn(&str, &str) -> Result<String, PolicyError>,
) -> Result<BTreeMap<String, String>, PolicyError> {
    file.into_iter()
        .map(|(chain, address)| {
            let owner = format!("`[cold_storage] {chain}`");
            match chain.as_str() {
                "ethereum" => Ok((chain.clone(), check_address(&owner, &address)?)),
                _ => Err(err(
                    "invalid_cold_storage",
                    format!("{owner}: cold storage is supported on `ethereum` only"),
                )),
            }
        })
        .collect()
}

fn window(field: &str, text: Option<String>, default: u64) -> Result<u64, PolicyError> {
    match text {
        None => Ok(default),
        Some(text) => Window::parse(&text)
            .map(|w| w.secs())
            .map_err(|why| err("invalid_window", format!("`{field}` {why}"))),
    }
}

fn count(field: &str, value: Option<i64>, default: u32, least: u32) -> Result<u32, PolicyError> {
    match value {
        None => Ok(default),
        Some(v) => u32::try_from(v)
            .ok()
            .filter(|c| *c >= least && *c <= 1_000_000)
            .ok_or_else(|| {
                err(
                    "invalid_breakers",
                    format!("`{field}` is a count from {least} to 1000000, not {v}"),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use crate::Policy;

    fn parse(extra: &str) -> Result<Policy, crate::PolicyError> {
        Policy::parse(&format!("version = 1\n{extra}"))
    }

    #[test]
    fn defaults_apply_without_the_sections() {
        let p = parse("").unwrap();
        let b = p.breakers();
        assert_eq!(
            (
                b.wallet_denials(),
                b.deployment_denials(),
                b.new_destinations()
            ),
            (0, 0, 0),
            "off unless set"
        );
        assert_eq!(b.outflow_percent(), 0);
        assert_eq!(p.breakers().reset_quorum(), 2);
        assert_eq!(p.changes().quorum(), 2);
        assert_eq!(p.changes().time_lock(), 86_400);
        assert_eq!(p.cold_storage("ethereum"), None);
    }

    #[test]
    fn sections_are_read() {
        let p = parse(
            "[breakers]\nwindow = \"5m\"\nwallet_denials = 3\ndeployment_denials = 0\n\
             new_destinations = 4\noutflow_percent = 25\noutflow_window = \"2h\"\nreset_quorum = 3\n\
             [cold_storage]\nethereum = \"0x00000000000000000000000000000000000000AB\"\n\
             [changes]\nquorum = 1\ntime_lock = \"0s\"\n",
        )
        .unwrap();
        let b = p.breakers();
        assert_eq!(
            (b.window(), b.wallet_denials(), b.deployment_denials()),
            (300, 3, 0)
        );
        assert_eq!(
            (
                b.new_destinations(),
                b.outflow_percent(),
                b.outflow_window()
            ),
            (4, 25, 7_200)
        );
        assert_eq!(b.reset_quorum(), 3);
        assert_eq!(
            p.cold_storage("ethereum"),
            Some("0x00000000000000000000000000000000000000ab")
        );
        assert_eq!((p.changes().quorum(), p.changes().time_lock()), (1, 0));
    }

    #[test]
    fn bad_values_are_refused_with_their_codes() {
        for (text, code) in [
            ("[breakers]\nreset_quorum = 0\n", "invalid_breakers"),
            ("[breakers]\noutflow_percent = 101\n", "invalid_breakers"),
            ("[breakers]\nwallet_denials = -1\n", "invalid_breakers"),
            ("[breakers]\nwindow = \"soon\"\n", "invalid_window"),
            ("[breakers]\nsomething = 1\n", "unknown_field"),
            ("[changes]\nquorum = 0\n", "invalid_changes"),
            ("[changes]\ntime_lock = \"later\"\n", "invalid_changes"),
            ("[cold_storage]\nethereum = \"0x12\"\n", "invalid_address"),
            (
                "[cold_storage]\nbitcoin = \"bc1q\"\n",
                "invalid_cold_storage",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.code, code, "{text}: {}", e.message);
        }
    }
}

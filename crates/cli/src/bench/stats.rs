//! Latency percentiles and throughput of one benchmark row.

use std::time::Duration;

/// What one row measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Operations timed.
    pub count: usize,
    /// Median latency (nearest rank).
    pub p50: Duration,
    /// 99th-percentile latency (nearest rank).
    pub p99: Duration,
    /// Wall-clock time from the first operation's start to the last one's end.
    pub wall: Duration,
}

impl Summary {
    /// Summarises `latencies` (in any order) of operations that took `wall` in all. `None` when
    /// there are none.
    pub fn new(mut latencies: Vec<Duration>, wall: Duration) -> Option<Summary> {
        latencies.sort_unstable();
        Some(Summary {
            count: latencies.len(),
            p50: nearest_rank(&latencies, 50)?,
            p99: nearest_rank(&latencies, 99)?,
            wall,
        })
    }

    /// Operations per second of wall-clock time.
    pub fn throughput(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.count as f64 / secs
        } else {
            0.0
        }
    }
}

/// The smallest value at or above `percent`% of `sorted`: rank `ceil(percent / 100 * len)`.
fn nearest_rank(sorted: &[Duration], percent: usize) -> Option<Duration> {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// A duration for a table, in µs below 1 ms and in ms above, to three significant figures.
pub fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 100_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.0} ms", us / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let s = Summary::new((1..=200).rev().map(ms).collect(), ms(1_000)).unwrap();
        assert_eq!((s.count, s.p50, s.p99), (200, ms(100), ms(198)));
        assert_eq!(s.throughput(), 200.0);
        let one = Summary::new(vec![ms(7)], ms(7)).unwrap();
        assert_eq!((one.p50, one.p99), (ms(7), ms(7)));
        assert_eq!(Summary::new(Vec::new(), ms(1)), None);
    }

    #[test]
    fn shows_units() {
        assert_eq!(show(Duration::from_nanos(82_840)), "82.8 µs");
        assert_eq!(show(Duration::from_micros(9_420)), "9.42 ms");
        assert_eq!(show(ms(123)), "123 ms");
    }
}

//! Time in a policy: lengths of time (`1h`) and UTC hours of the day (`08:00-18:00`).

use std::fmt;

/// Seconds in a day.
const DAY: u32 = 86_400;

/// Longest length of time accepted: 366 days, in seconds.
const MAX_DURATION_SECS: u64 = 366 * 86_400;

/// A length of time written `<n>s`, `<n>m`, `<n>h` or `<n>d` (seconds, minutes, hours, days), from
/// one second to 366 days, such as a limit's `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    text: String,
    secs: u64,
}

impl Window {
    /// Reads `<n><unit>`; the error is the reason, for the caller to place.
    pub(crate) fn parse(text: &str) -> Result<Window, String> {
        let bad = || format!("`{text}` is not a length of time such as `30s`, `15m`, `1h` or `7d`");
        let split = text.len().checked_sub(1).ok_or_else(bad)?;
        let (number, unit) = (text.get(..split), text.get(split..));
        let unit_secs: u64 = match unit {
            Some("s") => 1,
            Some("m") => 60,
            Some("h") => 3_600,
            Some("d") => 86_400,
            _ => return Err(bad()),
        };
        let number = number.ok_or_else(bad)?;
        let digits_only = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        if !digits_only || number.starts_with('0') {
            return Err(bad());
        }
        let secs = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_secs))
            .filter(|secs| *secs <= MAX_DURATION_SECS)
            .ok_or_else(|| format!("`{text}` is longer than 366 days"))?;
        Ok(Window {
            text: text.to_owned(),
            secs,
        })
    }

    /// The length in seconds, at least 1.
    pub fn secs(&self) -> u64 {
        self.secs
    }

    /// The length as written in the file.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Hours of the day in UTC, written `HH:MM-HH:MM`: the start is inside, the end is not. The end
/// may be `24:00`; a start later than the end wraps past midnight (`22:00-06:00`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    text: String,
    /// Seconds after midnight.
    start: u32,
    /// Seconds after midnight, up to a whole day.
    end: u32,
}

impl Hours {
    /// Reads `HH:MM-HH:MM`; the error is the reason, for the caller to place.
    pub(crate) fn parse(text: &str) -> Result<Hours, String> {
        let bad = || format!("`{text}` is not hours of the day such as `08:00-18:00` (UTC)");
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start = time_of_day(start).filter(|s| *s < DAY).ok_or_else(bad)?;
        let end = time_of_day(end).ok_or_else(bad)?;
        if start == end {
            return Err(format!(
                "`{text}` starts where it ends: write the hours of a whole day as `00:00-24:00`"
            ));
        }
        Ok(Hours {
            text: text.to_owned(),
            start,
            end,
        })
    }

    /// Whether the unix time `at` falls inside these hours.
    pub fn contains(&self, at: i64) -> bool {
        let second = at.rem_euclid(i64::from(DAY));
        let (start, end) = (i64::from(self.start), i64::from(self.end));
        if start < end {
            start <= second && second < end
        } else {
            start <= second || second < end
        }
    }

    /// The hours as written in the file.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `HH:MM` as seconds after midnight, from `00:00` to `24:00`.
fn time_of_day(text: &str) -> Option<u32> {
    let (hours, minutes) = text.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    let fits = (hours < 24 && minutes < 60) || (hours == 24 && minutes == 0);
    fits.then_some(hours * 3_600 + minutes * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_in_every_unit() {
        for (text, secs) in [
            ("1s", 1),
            ("90s", 90),
            ("15m", 900),
            ("1h", 3_600),
            ("7d", 604_800),
            ("366d", 31_622_400),
            ("8784h", 31_622_400),
        ] {
            let window = Window::parse(text).unwrap();
            assert_eq!(window.secs(), secs, "{text}");
            assert_eq!(window.text(), text);
        }
    }

    #[test]
    fn refuses_bad_windows() {
        for bad in [
            "",
            "s",
            "0s",
            "01h",
            "1",
            "1 h",
            "1H",
            "-1h",
            "+1h",
            "1.5h",
            "h1",
            "367d",
            "8785h",
            "99999999999999999999d",
            "1w",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad:?}");
        }
    }

    const H: i64 = 3_600;

    #[test]
    fn hours_include_the_start_and_exclude_the_end() {
        let office = Hours::parse("08:00-18:00").unwrap();
        assert!(!office.contains(8 * H - 1));
        assert!(office.contains(8 * H));
        assert!(office.contains(18 * H - 1));
        assert!(!office.contains(18 * H));
        // Another day, and a time before 1970.
        assert!(office.contains(86_400 * 365 + 12 * H));
        assert!(office.contains(-86_400 + 12 * H));
        assert!(!office.contains(-1));
    }

    #[test]
    fn hours_wrap_past_midnight() {
        let night = Hours::parse("22:00-06:00").unwrap();
        assert!(night.contains(22 * H));
        assert!(night.contains(23 * H + 59 * 60));
        assert!(night.contains(0));
        assert!(night.contains(6 * H - 1));
        assert!(!night.contains(6 * H));
        assert!(!night.contains(22 * H - 1));
        assert!(!night.contains(12 * H));
    }

    #[test]
    fn a_whole_day_and_the_last_minute() {
        let all = Hours::parse("00:00-24:00").unwrap();
        assert!(all.contains(0) && all.contains(86_399) && all.contains(12 * H));
        let last = Hours::parse("23:59-24:00").unwrap();
        assert!(last.contains(86_399) && !last.contains(0) && !last.contains(86_340 - 1));
    }

    #[test]
    fn refuses_bad_hours() {
        for bad in [
            "",
            "08:00",
            "8:00-18:00",
            "08:00-18:60",
            "24:00-06:00",
            "08:00-24:01",
            "25:00-06:00",
            "08:00-08:00",
            "00:00-00:00",
            "00:00-24:00-01:00",
            "08:00 - 18:00",
            "08h-18h",
        ] {
            assert!(Hours::parse(bad).is_err(), "{bad:?}");
        }
    }
}

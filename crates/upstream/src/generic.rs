//! The `generic` adapter: any HTTP API billed or throttled per key, described by configuration
//! (SPEC §8) — where the key travels, which statuses mean "quota" and "invalid key", how long a
//! throttled key rests, and what a key looks like.

use kunci_domain::apikeys::{KeyFormat, KeyShape, Verdict};

/// How an upstream's answers are read.
#[derive(Debug, Clone)]
pub struct Rules {
    pub quota_statuses: Vec<u16>,
    pub invalid_statuses: Vec<u16>,
    pub reset: Reset,
}

/// When a key that hit its quota may be used again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reset {
    /// `Retry-After` when the answer has it, else this many seconds.
    RetryAfter { default_secs: i64 },
    /// A fixed rest.
    Cooldown { secs: i64 },
    /// The next time the clock in `zone` shows `hour`:00 (a daily quota). Days follow the
    /// zone's calendar: 23 or 25 hours long when daylight saving starts or ends, and an hour
    /// the clock skips that day resets at the first moment after it.
    Daily { zone: jiff::tz::TimeZone, hour: u8 },
}

impl Reset {
    /// A daily reset at `hour` in the IANA time zone `zone` (`Europe/Berlin`, `UTC`); `None`
    /// for a name the time-zone database does not know, or an hour past 23.
    pub fn daily(zone: &str, hour: u8) -> Option<Self> {
        if hour > 23 {
            return None;
        }
        let zone = jiff::tz::TimeZone::get(zone).ok()?;
        Some(Self::Daily { zone, hour })
    }

    pub fn until(&self, now: i64, retry_after: Option<i64>) -> i64 {
        match self {
            Self::RetryAfter { default_secs } => {
                now + retry_after.unwrap_or(*default_secs).clamp(1, 86_400)
            }
            Self::Cooldown { secs } => now + secs,
            Self::Daily { zone, hour } => resets(zone, *hour, now).1,
        }
    }

    /// Days for budgets: they start at the reset for a daily reset, at midnight UTC otherwise.
    pub fn day(&self, now: i64) -> kunci_domain::apikeys::Day {
        let (number, next_starts_at) = match self {
            Self::Daily { zone, hour } => {
                let (started, next) = resets(zone, *hour, now);
                // Numbered by the local date the day started on: consecutive, whatever its length.
                (
                    local_day_number(zone, started).unwrap_or(started.div_euclid(86_400)),
                    next,
                )
            }
            _ => {
                let number = now.div_euclid(86_400);
                (number, (number + 1) * 86_400)
            }
        };
        kunci_domain::apikeys::Day {
            number,
            next_starts_at,
        }
    }
}

/// The last reset at or before `now` and the next one after it, in Unix seconds. Should the
/// calendar arithmetic ever fail (dates beyond year 9999), days of 24 hours from UTC midnight.
fn resets(zone: &jiff::tz::TimeZone, hour: u8, now: i64) -> (i64, i64) {
    let at = |date: jiff::civil::Date| {
        date.at(i8::try_from(hour).unwrap_or(0), 0, 0, 0)
            .to_zoned(zone.clone())
            .map(|zoned| zoned.timestamp().as_second())
    };
    let computed = (|| {
        let today = jiff::Timestamp::from_second(now)?
            .to_zoned(zone.clone())
            .date();
        let reset_today = at(today)?;
        Ok::<_, jiff::Error>(if reset_today <= now {
            (reset_today, at(today.tomorrow()?)?)
        } else {
            (at(today.yesterday()?)?, reset_today)
        })
    })();
    computed.unwrap_or_else(|_| {
        let start = now.div_euclid(86_400) * 86_400;
        (start, start + 86_400)
    })
}

/// Days since 1970-01-01 of the local date in `zone` at `second`.
fn local_day_number(zone: &jiff::tz::TimeZone, second: i64) -> Option<i64> {
    let date = jiff::Timestamp::from_second(second)
        .ok()?
        .to_zoned(zone.clone())
        .date();
    let midnight = date.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    Some(midnight.timestamp().as_second().div_euclid(86_400))
}

impl Rules {
    /// What an answer means for the key.
    pub fn classify(&self, status: u16, retry_after: Option<i64>, now: i64) -> (Verdict, String) {
        let summary = status.to_string();
        if (200..300).contains(&status) {
            (Verdict::Served, String::new())
        } else if self.invalid_statuses.contains(&status) {
            (Verdict::Invalid, summary)
        } else if self.quota_statuses.contains(&status) {
            let until = self.reset.until(now, retry_after);
            let verdict = match self.reset {
                Reset::Daily { .. } => Verdict::QuotaExceeded { until, group: None },
                _ => Verdict::Cooling { until },
            };
            (verdict, summary)
        } else if status >= 500 {
            (Verdict::Cooling { until: now + 30 }, summary)
        } else {
            (Verdict::ClientError, summary)
        }
    }
}

/// A key format given as a regular expression (the whole key must match).
#[derive(Debug, Clone)]
pub struct PatternFormat {
    pattern: regex_lite::Regex,
    source: String,
}

impl PatternFormat {
    /// `None` when the expression does not compile.
    pub fn new(pattern: &str) -> Option<Self> {
        let anchored = format!("^(?:{pattern})$");
        Some(Self {
            pattern: regex_lite::Regex::new(&anchored).ok()?,
            source: pattern.to_owned(),
        })
    }
}

impl KeyFormat for PatternFormat {
    fn accepts(&self, key: &str) -> bool {
        key.len() <= 512 && self.pattern.is_match(key)
    }

    fn shape(&self) -> KeyShape {
        KeyShape::Pattern(self.source.clone())
    }
}

/// Any key of 8 to 512 printable characters, when no pattern is configured.
#[derive(Debug, Clone, Copy)]
pub struct AnyKeyFormat;

impl KeyFormat for AnyKeyFormat {
    fn accepts(&self, key: &str) -> bool {
        (8..=512).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
    }

    fn shape(&self) -> KeyShape {
        KeyShape::Printable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_424_400; // 2026-11-23 09:00 UTC

    fn rules(reset: Reset) -> Rules {
        Rules {
            quota_statuses: vec![429],
            invalid_statuses: vec![401, 403],
            reset,
        }
    }

    #[test]
    fn answers_are_read_by_the_configured_statuses() {
        let r = rules(Reset::RetryAfter { default_secs: 60 });
        assert_eq!(r.classify(200, None, NOW).0, Verdict::Served);
        assert_eq!(r.classify(401, None, NOW).0, Verdict::Invalid);
        assert_eq!(
            r.classify(429, Some(7), NOW).0,
            Verdict::Cooling { until: NOW + 7 }
        );
        assert_eq!(
            r.classify(429, None, NOW).0,
            Verdict::Cooling { until: NOW + 60 }
        );
        assert_eq!(
            r.classify(502, None, NOW).0,
            Verdict::Cooling { until: NOW + 30 }
        );
        assert_eq!(r.classify(400, None, NOW).0, Verdict::ClientError);
        let daily = rules(Reset::daily("UTC", 0).unwrap());
        assert_eq!(
            daily.classify(429, None, NOW).0,
            Verdict::QuotaExceeded {
                until: 1_795_478_400,
                group: None
            }
        );
        assert_eq!(
            rules(Reset::Cooldown { secs: 300 })
                .classify(429, Some(5), NOW)
                .0,
            Verdict::Cooling { until: NOW + 300 }
        );
    }

    #[test]
    fn daily_resets_and_days_follow_the_reset_hour() {
        let at_ten = Reset::daily("UTC", 10).unwrap();
        assert_eq!(at_ten.until(NOW, None), NOW + 3600);
        assert_eq!(at_ten.until(NOW + 3600, None), NOW + 3600 + 86_400);
        let day = at_ten.day(NOW);
        assert_eq!(day.next_starts_at, NOW + 3600);
        assert_eq!(at_ten.day(NOW + 3600).number, day.number + 1);
        assert_eq!(at_ten.day(NOW + 3599).number, day.number);
    }

    /// Unix seconds of a UTC date and time.
    fn utc(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        jiff::civil::date(y, mo, d)
            .at(h, mi, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_second()
    }

    #[test]
    fn a_named_zone_resets_at_its_own_hour_across_daylight_saving() {
        // Midnight in Berlin: 23:00 UTC in winter, 22:00 UTC in summer.
        let berlin = Reset::daily("Europe/Berlin", 0).unwrap();
        assert_eq!(
            berlin.until(utc(2026, 11, 23, 9, 0), None),
            utc(2026, 11, 23, 23, 0)
        );
        assert_eq!(
            berlin.until(utc(2026, 7, 1, 9, 0), None),
            utc(2026, 7, 1, 22, 0)
        );
        // Summer time ends on 2026-10-25: that day lasts 25 hours, and is one day.
        let before = berlin.day(utc(2026, 10, 24, 23, 30));
        assert_eq!(before.next_starts_at, utc(2026, 10, 25, 23, 0));
        let after = berlin.day(utc(2026, 10, 25, 23, 0));
        assert_eq!(after.number, before.number + 1);
        // New York at 09:00 local, on the day summer time starts (2026-03-08).
        let new_york = Reset::daily("America/New_York", 9).unwrap();
        assert_eq!(
            new_york.until(utc(2026, 3, 8, 10, 0), None),
            utc(2026, 3, 8, 13, 0)
        );
        assert_eq!(
            new_york.until(utc(2026, 3, 7, 10, 0), None),
            utc(2026, 3, 7, 14, 0)
        );
    }

    #[test]
    fn an_hour_the_clock_skips_resets_just_after_it() {
        // 02:00 does not exist in Berlin on 2026-03-29 (01:00 UTC jumps to 03:00 local).
        let two = Reset::daily("Europe/Berlin", 2).unwrap();
        let reset = two.until(utc(2026, 3, 28, 12, 0), None);
        assert_eq!(reset, utc(2026, 3, 29, 1, 0));
        assert!(two.until(reset, None) > reset, "always forward");
    }

    #[test]
    fn unknown_zones_and_hours_are_refused() {
        assert!(Reset::daily("Mars/Olympus_Mons", 0).is_none());
        assert!(Reset::daily("../../etc/passwd", 0).is_none());
        assert!(Reset::daily("", 0).is_none());
        assert!(Reset::daily("UTC", 24).is_none());
    }

    #[test]
    fn key_patterns_match_whole_keys() {
        let openai = PatternFormat::new("sk-[A-Za-z0-9_-]{20,}").unwrap();
        assert!(openai.accepts("sk-abcdefghijklmnopqrstuvwxyz"));
        assert!(
            !openai.accepts("xsk-abcdefghijklmnopqrstuvwxyz"),
            "anchored"
        );
        assert!(!openai.accepts("sk-short"));
        assert!(PatternFormat::new("(unclosed").is_none());
        assert!(AnyKeyFormat.accepts("BSA_0123456789abcdef"));
        assert!(!AnyKeyFormat.accepts("has space in it"));
    }
}

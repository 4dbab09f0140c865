//! The `generic` adapter: any HTTP API billed or throttled per key, described by configuration
//! (SPEC §8) — where the key travels, which statuses mean "quota" and "invalid key", how long a
//! throttled key rests, and what a key looks like.

use kunci_domain::apikeys::{KeyFormat, Verdict};

/// How an upstream's answers are read.
#[derive(Debug, Clone)]
pub struct Rules {
    pub quota_statuses: Vec<u16>,
    pub invalid_statuses: Vec<u16>,
    pub reset: Reset,
}

/// When a key that hit its quota may be used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// `Retry-After` when the answer has it, else this many seconds.
    RetryAfter { default_secs: i64 },
    /// A fixed rest.
    Cooldown { secs: i64 },
    /// The next time the clock shows this hour in UTC (a daily quota).
    DailyUtc { hour: u8 },
}

impl Reset {
    pub fn until(self, now: i64, retry_after: Option<i64>) -> i64 {
        match self {
            Self::RetryAfter { default_secs } => {
                now + retry_after.unwrap_or(default_secs).clamp(1, 86_400)
            }
            Self::Cooldown { secs } => now + secs,
            Self::DailyUtc { hour } => {
                let day_start = now.div_euclid(86_400) * 86_400;
                let today = day_start + i64::from(hour) * 3600;
                if today > now { today } else { today + 86_400 }
            }
        }
    }

    /// Days for budgets: they start at the reset hour for a daily reset, at midnight UTC otherwise.
    pub fn day(self, now: i64) -> kunci_domain::apikeys::Day {
        let shift = match self {
            Self::DailyUtc { hour } => i64::from(hour) * 3600,
            _ => 0,
        };
        let number = (now - shift).div_euclid(86_400);
        kunci_domain::apikeys::Day {
            number,
            next_starts_at: (number + 1) * 86_400 + shift,
        }
    }
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
                Reset::DailyUtc { .. } => Verdict::QuotaExceeded { until, group: None },
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

    fn describe(&self) -> String {
        format!("a key matching `{}`", self.source)
    }
}

/// Any key of 8 to 512 printable characters, when no pattern is configured.
#[derive(Debug, Clone, Copy)]
pub struct AnyKeyFormat;

impl KeyFormat for AnyKeyFormat {
    fn accepts(&self, key: &str) -> bool {
        (8..=512).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
    }

    fn describe(&self) -> String {
        "8 to 512 printable characters without spaces".to_owned()
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
        let daily = rules(Reset::DailyUtc { hour: 0 });
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
        let at_ten = Reset::DailyUtc { hour: 10 };
        assert_eq!(at_ten.until(NOW, None), NOW + 3600);
        assert_eq!(at_ten.until(NOW + 3600, None), NOW + 3600 + 86_400);
        let day = at_ten.day(NOW);
        assert_eq!(day.next_starts_at, NOW + 3600);
        assert_eq!(at_ten.day(NOW + 3600).number, day.number + 1);
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

//! Google Custom Search JSON API (`google_cse`): the key format, how its answers bear on the
//! key, and when a daily quota resets (midnight in America/Los_Angeles).
//!
//! Classification (research note B.3, SPEC §8):
//!
//! | answer | verdict |
//! |---|---|
//! | 2xx | served |
//! | 429 `RESOURCE_EXHAUSTED`/`rateLimitExceeded` "… per day …", legacy 403 `dailyLimitExceeded`/`quotaExceeded` | the quota group (project, from `consumer 'project_number:N'`) until LA midnight |
//! | the same "… per minute …" / `userRateLimitExceeded` / any other 429 | cooling for `Retry-After` or 60 s |
//! | 400 `API_KEY_INVALID`, 403 `API_KEY_*_BLOCKED` / `SERVICE_DISABLED` | invalid |
//! | 400 `badRequest` and other 4xx | the request's fault: no key blamed |
//! | 5xx | transient: cooling 30 s, retried elsewhere |

use kunci_domain::apikeys::{KeyFormat, KeyShape, Verdict};
use serde_json::Value;

/// The Custom Search endpoint.
pub const ENDPOINT: &str = "https://customsearch.googleapis.com/customsearch/v1";

/// `AIza` then 35 of `[0-9A-Za-z_-]`.
#[derive(Debug, Clone, Copy)]
pub struct GoogleKeyFormat;

impl KeyFormat for GoogleKeyFormat {
    fn accepts(&self, key: &str) -> bool {
        key.len() == 39
            && key.starts_with("AIza")
            && key[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    fn shape(&self) -> KeyShape {
        KeyShape::Prefixed {
            prefix: "AIza",
            total: 39,
        }
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// The day number of the `n`th Sunday of a month.
fn nth_sunday(y: i64, m: i64, n: i64) -> i64 {
    let first = days_from_civil(y, m, 1);
    // 1970-01-01 was a Thursday: weekday 0 = Sunday.
    let weekday = (first + 4).rem_euclid(7);
    first + (7 - weekday) % 7 + 7 * (n - 1)
}

/// The UTC offset of Los Angeles, in hours, at a Unix time: daylight saving (−7) from the
/// second Sunday of March 02:00 PST to the first Sunday of November 02:00 PDT, else −8 (US rules
/// since 2007).
pub fn la_offset_hours(unix: i64) -> i64 {
    let (year, _, _) = civil_from_days((unix - 8 * 3600).div_euclid(86_400));
    let starts = nth_sunday(year, 3, 2) * 86_400 + (2 + 8) * 3600;
    let ends = nth_sunday(year, 11, 1) * 86_400 + (2 + 7) * 3600;
    if (starts..ends).contains(&unix) {
        -7
    } else {
        -8
    }
}

/// The next midnight in Los Angeles after `unix`, as a Unix time: when Google resets daily
/// quotas.
pub fn next_la_midnight(unix: i64) -> i64 {
    let local = unix + la_offset_hours(unix) * 3600;
    let tomorrow = local.div_euclid(86_400) + 1;
    let midnight_local = tomorrow * 86_400;
    // Midnight is never inside a transition (those happen at 02:00), so the offset at that
    // instant is well defined; take it from just after midnight.
    let guess = midnight_local + 8 * 3600;
    midnight_local - la_offset_hours(guess) * 3600
}

/// Google's quota day at `unix`: days count in Los Angeles time.
pub fn day(unix: i64) -> kunci_domain::apikeys::Day {
    kunci_domain::apikeys::Day {
        number: (unix + la_offset_hours(unix) * 3600).div_euclid(86_400),
        next_starts_at: next_la_midnight(unix),
    }
}

/// The reasons and message of a Google error body.
struct GoogleError {
    status: String,
    message: String,
    reasons: Vec<String>,
}

fn parse_error(body: &[u8]) -> GoogleError {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let error = &json["error"];
    let mut reasons: Vec<String> = error["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str().map(str::to_owned))
        .collect();
    reasons.extend(
        error["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["reason"].as_str().map(str::to_owned)),
    );
    GoogleError {
        status: error["status"].as_str().unwrap_or_default().to_owned(),
        message: error["message"].as_str().unwrap_or_default().to_owned(),
        reasons,
    }
}

/// `N` of `consumer 'project_number:N'` in a quota message.
fn project_of(message: &str) -> Option<String> {
    let start = message.find("project_number:")? + "project_number:".len();
    let digits: String = message[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("project_number:{digits}"))
}

/// What an answer means for the key, and a short description for `last_error` (never the key,
/// never the whole body).
pub fn classify(status: u16, body: &[u8], retry_after: Option<i64>, now: i64) -> (Verdict, String) {
    if (200..300).contains(&status) {
        return (Verdict::Served, String::new());
    }
    let error = parse_error(body);
    let has = |reason: &str| error.reasons.iter().any(|r| r == reason);
    let message = error.message.to_ascii_lowercase();
    let summary = format!(
        "{status} {}",
        error
            .reasons
            .first()
            .map_or(error.status.as_str(), String::as_str)
    );
    let cooling = || Verdict::Cooling {
        until: now + retry_after.unwrap_or(60).clamp(1, 3600),
    };
    let daily = message.contains("per day")
        || has("dailyLimitExceeded")
        || (status == 403 && has("quotaExceeded"));
    match status {
        400 if has("API_KEY_INVALID") || message.contains("api key not valid") => {
            (Verdict::Invalid, summary)
        }
        403 if error.reasons.iter().any(|r| {
            r == "SERVICE_DISABLED" || (r.starts_with("API_KEY_") && r.ends_with("_BLOCKED"))
        }) =>
        {
            (Verdict::Invalid, summary)
        }
        429 | 403 if daily => (
            Verdict::QuotaExceeded {
                until: next_la_midnight(now),
                group: project_of(&error.message),
            },
            summary,
        ),
        429 => (cooling(), summary),
        403 if has("userRateLimitExceeded") || has("rateLimitExceeded") => (cooling(), summary),
        500..=599 => (Verdict::Cooling { until: now + 30 }, summary),
        _ => (Verdict::ClientError, summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn at(dt: time::OffsetDateTime) -> i64 {
        dt.unix_timestamp()
    }

    #[test]
    fn midnight_in_los_angeles_follows_daylight_saving() {
        // Winter: PST, UTC−8.
        assert_eq!(
            next_la_midnight(at(datetime!(2026-01-15 12:00 UTC))),
            at(datetime!(2026-01-16 08:00 UTC))
        );
        // Summer: PDT, UTC−7.
        assert_eq!(
            next_la_midnight(at(datetime!(2026-07-04 20:00 UTC))),
            at(datetime!(2026-07-05 07:00 UTC))
        );
        // The night DST starts (Sunday 2026-03-08 02:00 local): the next midnight is PDT.
        assert_eq!(
            next_la_midnight(at(datetime!(2026-03-08 09:00 UTC))),
            at(datetime!(2026-03-09 07:00 UTC))
        );
        // The evening before it: the midnight that starts 03-08 is still PST.
        assert_eq!(
            next_la_midnight(at(datetime!(2026-03-08 07:30 UTC))),
            at(datetime!(2026-03-08 08:00 UTC))
        );
        // The night DST ends (Sunday 2026-11-01 02:00 local): the next midnight is PST again.
        assert_eq!(
            next_la_midnight(at(datetime!(2026-11-01 10:00 UTC))),
            at(datetime!(2026-11-02 08:00 UTC))
        );
        assert_eq!(
            next_la_midnight(at(datetime!(2026-10-31 20:00 UTC))),
            at(datetime!(2026-11-01 07:00 UTC))
        );
        // Exactly at midnight: the next one.
        assert_eq!(
            next_la_midnight(at(datetime!(2026-11-23 08:00 UTC))),
            at(datetime!(2026-11-24 08:00 UTC))
        );
    }

    #[test]
    fn the_offset_changes_at_two_in_the_morning_local() {
        assert_eq!(la_offset_hours(at(datetime!(2026-03-08 09:59 UTC))), -8);
        assert_eq!(la_offset_hours(at(datetime!(2026-03-08 10:00 UTC))), -7);
        assert_eq!(la_offset_hours(at(datetime!(2026-11-01 08:59 UTC))), -7);
        assert_eq!(la_offset_hours(at(datetime!(2026-11-01 09:00 UTC))), -8);
    }

    fn body(status: &str, reason: &str, message: &str) -> Vec<u8> {
        serde_json::json!({"error": {"code": 0, "status": status, "message": message,
            "errors": [{"reason": reason, "domain": "usageLimits", "message": message}]}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn google_answers_are_classified() {
        let now = at(datetime!(2026-11-23 09:00 UTC));
        let per_day = body(
            "RESOURCE_EXHAUSTED",
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service 'customsearch.googleapis.com' for consumer 'project_number:123456'.",
        );
        assert_eq!(
            classify(429, &per_day, None, now).0,
            Verdict::QuotaExceeded {
                until: at(datetime!(2026-11-24 08:00 UTC)),
                group: Some("project_number:123456".into())
            }
        );
        let per_minute = body(
            "RESOURCE_EXHAUSTED",
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'customsearch.googleapis.com' for consumer 'project_number:1'.",
        );
        assert_eq!(
            classify(429, &per_minute, Some(20), now).0,
            Verdict::Cooling { until: now + 20 }
        );
        assert_eq!(
            classify(429, &per_minute, None, now).0,
            Verdict::Cooling { until: now + 60 }
        );
        let legacy = body("", "dailyLimitExceeded", "Daily Limit Exceeded");
        assert!(matches!(
            classify(403, &legacy, None, now).0,
            Verdict::QuotaExceeded { group: None, .. }
        ));
        let invalid = serde_json::json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}});
        assert_eq!(
            classify(400, invalid.to_string().as_bytes(), None, now).0,
            Verdict::Invalid
        );
        let blocked = body("PERMISSION_DENIED", "API_KEY_SERVICE_BLOCKED", "blocked");
        assert_eq!(classify(403, &blocked, None, now).0, Verdict::Invalid);
        let bad_cx = body(
            "INVALID_ARGUMENT",
            "badRequest",
            "Request contains an invalid argument.",
        );
        assert_eq!(classify(400, &bad_cx, None, now).0, Verdict::ClientError);
        assert_eq!(
            classify(503, b"<html>", None, now).0,
            Verdict::Cooling { until: now + 30 }
        );
        assert_eq!(classify(200, b"{}", None, now).0, Verdict::Served);
        assert_eq!(
            classify(418, b"not json at all", None, now).0,
            Verdict::ClientError
        );
    }

    #[test]
    fn the_google_format_is_checked() {
        let f = GoogleKeyFormat;
        assert!(f.accepts("AIzaSyA-1234567890abcdefghijklmnopqrstu"));
        assert!(!f.accepts("AIzaSyA-1234567890abcdefghijklmnopqrst"));
        assert!(!f.accepts("BIzaSyA-1234567890abcdefghijklmnopqrstu"));
        assert!(!f.accepts("AIzaSyA-1234567890abcdefghijklmnopqrs!u"));
    }
}

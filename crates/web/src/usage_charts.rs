//! The API keys' use over the last 30 days (UTC), per quota group on the keys page and per key
//! on a key's page, from the pool's daily counts.

use std::collections::BTreeMap;

use kunci_domain::apikeys::ApiKey;
use kunci_domain::tally::Tally;
use serde::Serialize;

use crate::chart::{Chart, Series};
use crate::i18n::{Lang, catalogs};
use crate::state::AppState;

/// The days a chart shows, today last.
const DAYS: i64 = 30;

/// One chart: what it is of, and the bars.
#[derive(Serialize)]
pub(crate) struct UsageChart {
    /// The quota group, or the upstream of keys without one.
    pub(crate) title: String,
    /// `true`: `title` is an upstream whose keys have no group.
    pub(crate) ungrouped: bool,
    pub(crate) chart: Chart,
}

/// The first day shown (days since 1970, UTC).
fn first_day(now: i64) -> i64 {
    now.div_euclid(86_400) - (DAYS - 1)
}

/// The counts of the last 30 days; none when the pool keeps no daily counts or they cannot be
/// read (logged: the page still shows everything else).
pub(crate) async fn recent(state: &AppState) -> Vec<Tally> {
    let Some(daily) = state.pool().daily() else {
        return Vec::new();
    };
    match daily.since(first_day(state.clock().now_unix())).await {
        Ok(uses) => uses,
        Err(err) => {
            tracing::error!(error = %err, "daily key uses unavailable for the charts");
            Vec::new()
        }
    }
}

/// `3 Dec` for each day shown, in `lang`.
fn labels(lang: Lang, now: i64) -> Vec<String> {
    let first = first_day(now);
    (0..DAYS)
        .map(|n| {
            let at = time::OffsetDateTime::from_unix_timestamp((first + n) * 86_400)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let month = catalogs().text(lang, &format!("month-{}", u8::from(at.month())), None);
            format!("{} {month}", at.day())
        })
        .collect()
}

/// One bar chart of the uses of the keys `which` picks.
fn chart(uses: &[Tally], which: impl Fn(&str) -> bool, labels: &[String], now: i64) -> Chart {
    let first = first_day(now);
    let mut values = vec![0_u64; labels.len()];
    for u in uses.iter().filter(|u| which(&u.name)) {
        if let Some(slot) = usize::try_from(u.bucket - first)
            .ok()
            .and_then(|i| values.get_mut(i))
        {
            *slot += u64::try_from(u.count).unwrap_or(0);
        }
    }
    Chart::stacked(
        labels,
        &[Series {
            label: "usage-uses",
            values,
        }],
        5,
    )
}

/// A chart per quota group, and one per upstream for its keys without a group.
pub(crate) fn by_group(keys: &[ApiKey], uses: &[Tally], lang: Lang, now: i64) -> Vec<UsageChart> {
    let labels = labels(lang, now);
    let mut groups: BTreeMap<(bool, String), Vec<&str>> = BTreeMap::new();
    for key in keys {
        let group = match &key.quota_group {
            Some(group) => (false, group.clone()),
            None => (true, key.upstream.clone()),
        };
        groups.entry(group).or_default().push(&key.id);
    }
    groups
        .into_iter()
        .map(|((ungrouped, title), ids)| UsageChart {
            title,
            ungrouped,
            chart: chart(uses, |id| ids.contains(&id), &labels, now),
        })
        .collect()
}

/// The chart of one key.
pub(crate) fn of_key(key: &ApiKey, uses: &[Tally], lang: Lang, now: i64) -> Chart {
    chart(uses, |id| id == key.id, &labels(lang, now), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_fall_in_their_bar_and_others_are_left_out() {
        let now = 86_400 * 100 + 3600;
        let uses = [
            Tally {
                name: "a".into(),
                bucket: 100,
                count: 4,
            },
            Tally {
                name: "a".into(),
                bucket: 71,
                count: 2,
            },
            Tally {
                name: "a".into(),
                bucket: 70,
                count: 9,
            },
            Tally {
                name: "b".into(),
                bucket: 100,
                count: 1,
            },
        ];
        let labels = labels(Lang::En, now);
        assert_eq!(labels.len(), 30);
        assert_eq!(labels[29], "11 Apr", "day 100 is 1970-04-11");
        let only_a = chart(&uses, |id| id == "a", &labels, now);
        let json = serde_json::to_value(&only_a).unwrap();
        assert_eq!(json["total"], 6, "day 70 is before the window; b is not a");
        assert_eq!(json["rows"][0]["values"][0], 2);
        assert_eq!(json["rows"][29]["values"][0], 4);
    }
}

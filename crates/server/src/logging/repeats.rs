//! Repeated warnings and errors, logged once per interval with a count (docs/operations.md,
//! "Logging"). During an outage every refused request meets the same failure; one line per
//! request would bury everything else (and fill the disk). The first WARN or ERROR of a kind
//! in each interval is written; the same line again in that interval is only counted, and when
//! the interval ends one summary line says how many were left out.
//!
//! "The same line" is the same call site with the same field values (the same error text),
//! so two different failures are never merged. The filter reads no clock: an interval is the
//! time between two calls of [`Repeats::flush`], which the server makes on a timer.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The target of the summary lines; they are never throttled themselves.
const TARGET: &str = "kunci::log_repeats";
/// Distinct lines remembered per interval; past it, new kinds are written unthrottled (a
/// client that makes many distinct lines must not hide the others).
const KINDS: usize = 256;
/// The longest text kept as a kind's key (and shown in its summary).
const KEY_BYTES: usize = 512;

#[derive(Debug, Default)]
struct Window {
    /// Kind → its level and the lines left out since the last flush.
    kinds: HashMap<String, (Level, u64)>,
}

/// The layer and its handle: clones share one window.
#[derive(Debug, Clone, Default)]
pub struct Repeats {
    window: Arc<Mutex<Window>>,
}

impl Repeats {
    /// Ends the interval: writes one summary per kind that repeated, and forgets them all.
    /// Must be called outside any logging call (from a timer task).
    pub fn flush(&self) {
        let window =
            std::mem::take(&mut *self.window.lock().unwrap_or_else(PoisonError::into_inner));
        let mut repeated: Vec<_> = window
            .kinds
            .into_iter()
            .filter(|(_, (_, n))| *n > 0)
            .collect();
        repeated.sort_by(|a, b| a.0.cmp(&b.0));
        // At the level of the lines left out, so a log kept to errors still gets their count.
        for (line, (level, count)) in repeated {
            if level == Level::ERROR {
                tracing::error!(target: TARGET, repeated = count, line = %line, "the same line was logged again and left out");
            } else {
                tracing::warn!(target: TARGET, repeated = count, line = %line, "the same line was logged again and left out");
            }
        }
    }

    /// Whether `event` is written: always below WARN; for WARN and ERROR, the first of its
    /// kind in the interval.
    fn admits(&self, event: &Event<'_>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() > Level::WARN || metadata.target() == TARGET {
            return true;
        }
        let mut key = Key(format!("{} {}:", metadata.level(), metadata.target()));
        if let Some(line) = metadata.line() {
            let _ = write!(key.0, "{line}:");
        }
        event.record(&mut key);
        let mut key = key.0;
        if key.len() > KEY_BYTES {
            let mut end = KEY_BYTES;
            while !key.is_char_boundary(end) {
                end -= 1;
            }
            key.truncate(end);
        }
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, count)) = window.kinds.get_mut(&key) {
            *count += 1;
            return false;
        }
        if window.kinds.len() < KINDS {
            window.kinds.insert(key, (*metadata.level(), 0));
        }
        true
    }
}

impl<S: Subscriber> Layer<S> for Repeats {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        self.admits(event)
    }

    /// It only holds back WARN and ERROR; without a hint the log's level would become TRACE.
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::WARN)
    }
}

/// An event's fields as text: `name=value` pairs.
struct Key(String);

impl Visit for Key {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Counts what reaches the writers, and keeps the summaries' `repeated` fields.
    #[derive(Clone, Default)]
    struct Written {
        lines: Arc<AtomicUsize>,
        repeated: Arc<Mutex<Vec<String>>>,
    }

    impl<S: Subscriber> Layer<S> for Written {
        /// Like the log's writers, it states its level (they hold an `EnvFilter`).
        fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
            Some(tracing::level_filters::LevelFilter::TRACE)
        }

        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            self.lines.fetch_add(1, Ordering::SeqCst);
            if event.metadata().target() == TARGET {
                let mut fields = Key(String::new());
                event.record(&mut fields);
                self.repeated.lock().unwrap().push(fields.0);
            }
        }
    }

    fn fail(error: &str) {
        tracing::error!(error, "store unavailable");
    }

    #[test]
    fn the_same_error_is_written_once_per_interval_with_a_count() {
        let repeats = Repeats::default();
        let written = Written::default();
        let subscriber = tracing_subscriber::registry()
            .with(repeats.clone())
            .with(written.clone());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..100 {
                fail("broken pipe");
            }
            fail("connection refused");
            for _ in 0..50 {
                tracing::info!("request served");
            }
            assert_eq!(written.lines.load(Ordering::SeqCst), 1 + 1 + 50);

            repeats.flush();
            let summaries = written.repeated.lock().unwrap().clone();
            assert_eq!(
                summaries.len(),
                1,
                "only the line that repeated: {summaries:?}"
            );
            assert!(summaries[0].contains("repeated=99"), "{summaries:?}");
            assert!(summaries[0].contains("broken pipe"), "{summaries:?}");

            // A new interval writes the line again.
            fail("broken pipe");
            assert_eq!(written.lines.load(Ordering::SeqCst), 52 + 1 + 1);
            repeats.flush();
            assert_eq!(
                written.repeated.lock().unwrap().len(),
                1,
                "nothing repeated since"
            );
        });
    }

    #[test]
    fn kinds_past_the_bound_are_written_not_hidden() {
        let repeats = Repeats::default();
        let written = Written::default();
        let subscriber = tracing_subscriber::registry()
            .with(repeats.clone())
            .with(written.clone());
        tracing::subscriber::with_default(subscriber, || {
            for n in 0..KINDS + 10 {
                fail(&format!("failure {n}"));
            }
            // Past the bound, a line that matters is still written.
            fail("the audit log cannot be written");
            fail("the audit log cannot be written");
            assert_eq!(written.lines.load(Ordering::SeqCst), KINDS + 10 + 2);
            // A kind remembered before the bound is still held back.
            fail("failure 0");
            assert_eq!(written.lines.load(Ordering::SeqCst), KINDS + 12);
            repeats.flush();
            let summaries = written.repeated.lock().unwrap().clone();
            assert_eq!(summaries.len(), 1, "{summaries:?}");
            assert!(summaries[0].contains("repeated=1"), "{summaries:?}");
        });
    }
}

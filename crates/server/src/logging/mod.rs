//! Logging set-up from `[logger]`: console (pretty or JSON), per-module levels, and an
//! optional rolling file. The first section to initialise, so everything after it can log.
//! Repeated warnings and errors are written once per [`REPEATS_INTERVAL`] with a count
//! ([`repeats`]).

mod repeats;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Level, LogColor, LogFormat, LoggerConfig, Rotation};
use repeats::Repeats;

/// How often the count of repeated lines is written (and the same line may be written again).
pub const REPEATS_INTERVAL: Duration = Duration::from_secs(10);

/// Keeps the file writer's buffer alive and the repeat counts flushed; dropping it writes the
/// last counts and flushes the file. Hold it for the whole process.
#[derive(Debug)]
pub struct LogGuard {
    repeats: Repeats,
    timer: Option<tokio::task::JoinHandle<()>>,
    _file: Option<WorkerGuard>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
        self.repeats.flush();
    }
}

/// Dependencies whose DEBUG lines are their own plumbing (handshakes, frames, pool
/// bookkeeping): held at `info` when the level is `debug` or `trace`, unless
/// `[logger.modules]` names them.
const NOISY: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "reqwest",
    "rustls",
    "tokio_rustls",
];

/// The filter directives: the global level, the quiet dependencies, then one per module.
pub fn directives(config: &LoggerConfig) -> String {
    let mut directives = vec![config.level.as_str().to_owned()];
    if matches!(config.level, Level::Debug | Level::Trace) {
        directives.extend(
            NOISY
                .iter()
                .filter(|m| !config.modules.contains_key(**m))
                .map(|m| format!("{m}=info")),
        );
    }
    directives.extend(
        config
            .modules
            .iter()
            .map(|(module, level)| format!("{module}={}", level.as_str())),
    );
    directives.join(",")
}

/// Installs the global subscriber. `root` anchors a relative log folder.
pub fn init(config: &LoggerConfig, root: &Path) -> anyhow::Result<LogGuard> {
    let filter = || {
        EnvFilter::builder()
            .parse(directives(config))
            .context("`logger.modules` holds a module name that is not a valid filter target")
    };
    let ansi = match config.color {
        LogColor::Auto => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        LogColor::Always => true,
        LogColor::Never => false,
    };
    let console = match config.format {
        LogFormat::Pretty => fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .with_filter_boxed(filter()?),
        LogFormat::Json => fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter_boxed(filter()?),
    };
    let (file, guard) = match &config.file.dir {
        Some(dir) => {
            let dir = root.join(dir);
            kunci_store::fs::create_private_dir_all(&dir)
                .with_context(|| format!("cannot create the log folder {}", dir.display()))?;
            let appender = rolling::Builder::new()
                .rotation(match config.file.rotation {
                    Rotation::Daily => rolling::Rotation::DAILY,
                    Rotation::Hourly => rolling::Rotation::HOURLY,
                })
                .filename_prefix("kunci")
                .filename_suffix("log")
                .max_log_files(config.file.keep)
                .build(&dir)
                .with_context(|| format!("cannot open a log file in {}", dir.display()))?;
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = fmt::layer().json().with_ansi(false).with_writer(writer);
            (Some(layer.with_filter_boxed(filter()?)), Some(guard))
        }
        None => (None, None),
    };
    let repeats = Repeats::default();
    tracing_subscriber::registry()
        .with(repeats.clone())
        .with(console)
        .with(file)
        .try_init()
        .context("a logger is already installed")?;
    let timer = tokio::runtime::Handle::try_current().ok().map(|runtime| {
        let repeats = repeats.clone();
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval(REPEATS_INTERVAL);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                repeats.flush();
            }
        })
    });
    Ok(LogGuard {
        repeats,
        timer,
        _file: guard,
    })
}

/// `Layer::with_filter`, boxed so both console formats have one type.
trait BoxedFilter<S> {
    fn with_filter_boxed(
        self,
        filter: EnvFilter,
    ) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync + 'static>;
}

impl<S, L> BoxedFilter<S> for L
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    L: tracing_subscriber::Layer<S> + Send + Sync + 'static,
{
    fn with_filter_boxed(
        self,
        filter: EnvFilter,
    ) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync + 'static> {
        Box::new(self.with_filter(filter))
    }
}

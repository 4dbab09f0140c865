//! The only place that writes to standard output and standard error directly: command
//! results go to stdout (so scripts can read them), diagnostics to stderr.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "this module is the CLI's voice"
)]

/// Writes a command's result to standard output.
pub fn result(text: &str) {
    if text.ends_with('\n') {
        print!("{text}");
    } else {
        println!("{text}");
    }
}

/// Writes one line of a long result (an export) to standard output. False when the reader has
/// gone away (`| head`): the caller stops producing.
pub fn line(text: &str) -> bool {
    use std::io::Write as _;
    writeln!(std::io::stdout().lock(), "{text}").is_ok()
}

/// Writes a message for the person at the terminal to standard error.
pub fn note(text: &str) {
    eprintln!("{text}");
}

/// Writes an error and its causes, one per line.
pub fn error(err: &anyhow::Error) {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Progress of a long command on standard error: a bar on a terminal, a plain line at every
/// tenth otherwise (logs and CI keep a record without control characters), nothing when
/// hidden (scheduled work logs its own result).
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    unit: &'static str,
    shown: Shown,
}

#[derive(Debug)]
enum Shown {
    Bar(indicatif::ProgressBar),
    Lines { last: Option<u64> },
    Hidden,
}

impl Progress {
    /// `what` names the work (`backup`), `unit` what is counted (`bytes`, `rows`).
    pub fn new(what: &'static str, unit: &'static str) -> Self {
        use std::io::IsTerminal as _;
        let shown = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            let template = format!("{what} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}} left)");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            Shown::Bar(bar)
        } else {
            Shown::Lines { last: None }
        };
        Self { what, unit, shown }
    }

    /// Shows nothing.
    pub fn hidden() -> Self {
        Self {
            what: "",
            unit: "",
            shown: Shown::Hidden,
        }
    }

    /// `done` of `total` so far.
    pub fn set(&mut self, done: u64, total: u64) {
        match &mut self.shown {
            Shown::Bar(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            Shown::Lines { last } => {
                let tenth = done.saturating_mul(10).checked_div(total).unwrap_or(10);
                if *last != Some(tenth) {
                    *last = Some(tenth);
                    eprintln!(
                        "{}: {}% ({done} of {total} {})",
                        self.what,
                        tenth * 10,
                        self.unit
                    );
                }
            }
            Shown::Hidden => {}
        }
    }

    /// Clears the bar (the command's result follows on standard output).
    pub fn finish(&self) {
        if let Shown::Bar(bar) = &self.shown {
            bar.finish_and_clear();
        }
    }
}

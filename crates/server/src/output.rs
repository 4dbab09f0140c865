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

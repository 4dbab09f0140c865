//! Driving wrk and reading what it prints.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx/3xx answers plus socket errors: a run with any is not a valid measurement.
    pub errors: u64,
}

/// How wrk is run: one thread and a few connections, so on a small machine the server under
/// test keeps most of the cores.
#[derive(Debug, Clone)]
pub struct Wrk<'a> {
    pub script: &'a Path,
    pub threads: u32,
    pub connections: u32,
}

impl Wrk<'_> {
    /// Loads `url` for `duration` with `headers` carried on every request.
    pub fn run(
        &self,
        url: &str,
        headers: &[(String, String)],
        duration: Duration,
    ) -> anyhow::Result<Load> {
        let carried: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect();
        let output = Command::new("wrk")
            .arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg("--latency")
            .arg("-s")
            .arg(self.script)
            .arg(url)
            .env("KUNCI_BENCH_HEADERS", carried)
            .output()
            .map_err(|e| anyhow::anyhow!("cannot run wrk (bench/run installs it): {e}"))?;
        anyhow::ensure!(
            output.status.success(),
            "wrk failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        parse(&String::from_utf8_lossy(&output.stdout))
    }
}

/// Milliseconds of a wrk duration such as `812.00us`, `1.25ms` or `2.00s`.
fn millis(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    let value: f64 = number.parse().ok()?;
    value.is_finite().then_some(value * factor)
}

/// Reads wrk's report (with `--latency`).
pub fn parse(report: &str) -> anyhow::Result<Load> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0u64;
    for line in report.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            rps = rest
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0);
        } else if let Some(rest) = line.strip_prefix("50%") {
            p50 = millis(rest);
        } else if let Some(rest) = line.strip_prefix("99%") {
            p99 = millis(rest);
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += rest
                .trim()
                .parse::<u64>()
                .map_err(|_| anyhow::anyhow!("unreadable wrk line: {line}"))?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            for part in rest.split(',') {
                let count = part.split_whitespace().last().unwrap_or_default();
                errors += count
                    .parse::<u64>()
                    .map_err(|_| anyhow::anyhow!("unreadable wrk line: {line}"))?;
            }
        }
    }
    match (rps, p50, p99) {
        (Some(requests_per_sec), Some(p50_ms), Some(p99_ms)) => Ok(Load {
            requests_per_sec,
            p50_ms,
            p99_ms,
            errors,
        }),
        _ => anyhow::bail!("wrk printed no complete report:\n{report}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 1s test @ http://127.0.0.1:41234/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   215.31us  102.44us   2.10ms   91.02%
    Req/Sec    70.12k     2.01k   75.00k    80.00%
  Latency Distribution
     50%  198.00us
     75%  240.00us
     90%  301.00us
     99%    1.52ms
  70120 requests in 1.00s, 10.03MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  70120.45
Transfer/sec:     10.03MB
";

    #[test]
    fn a_report_is_read() {
        let load = parse(REPORT).unwrap();
        assert!((load.requests_per_sec - 70_120.45).abs() < 1e-6);
        assert!((load.p50_ms - 0.198).abs() < 1e-9);
        assert!((load.p99_ms - 1.52).abs() < 1e-9);
        assert_eq!(load.errors, 8);
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(millis("812.00us"), Some(0.812));
        assert_eq!(millis("2.00s"), Some(2000.0));
        assert_eq!(millis("1.00m"), Some(60_000.0));
        for bad in ["", "ms", "fast", "1.0h", "NaNms", "infs", "-"] {
            assert_eq!(millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn broken_reports_are_errors_not_numbers() {
        for bad in [
            "",
            "unable to connect to 127.0.0.1:1 Connection refused",
            "Requests/sec: lots\n     50%  1ms\n     99%  2ms",
            "Requests/sec: 10\n     50%  1ms",
            "Requests/sec: -5\n     50%  1.00ms\n     99%  2.00ms",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let garbled = REPORT.replace(
            "Non-2xx or 3xx responses: 5",
            "Non-2xx or 3xx responses: many",
        );
        assert!(parse(&garbled).is_err());
    }
}

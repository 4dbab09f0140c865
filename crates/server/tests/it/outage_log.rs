//! An outage does not flood the log: the same error, met by every refused request, is written
//! once per interval, with a count of the lines left out (docs/operations.md, "Logging").

use crate::helpers::Kunci;

#[test]
fn an_outage_writes_its_error_once_with_a_count() {
    let kunci = Kunci::new()
        .var("KUNCI__DATA__SESSION_STORE", "redis")
        .var("KUNCI__DATA__REDIS_URL", "redis://127.0.0.1:1/0");
    let server = kunci.serve(&[]);
    kunci::install_crypto_provider();
    let client = reqwest::blocking::Client::new();
    let requests: u64 = 40;
    for _ in 0..requests {
        let answer = client
            .get(server.url("/login"))
            .header("accept", "text/html")
            .send()
            .unwrap();
        assert_eq!(
            answer.status(),
            503,
            "sessions are in the Redis that is down"
        );
    }
    let (code, after) = server.terminate();
    assert_eq!(code, Some(0));
    let written = after
        .iter()
        .filter(|l| !l.contains("kunci::log_repeats"))
        .filter(|l| l.contains("ERROR") && l.contains("session store unavailable"))
        .count();
    // One per 10-second interval: the run may straddle one boundary.
    assert!(
        (1..=2).contains(&written),
        "{written} lines for {requests} refusals:\n{}",
        after.join("\n")
    );
    let left_out: u64 = after
        .iter()
        .filter(|l| l.contains("kunci::log_repeats") && l.contains("session store unavailable"))
        .filter_map(|l| {
            l.split("repeated=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(
        left_out + u64::try_from(written).unwrap(),
        requests,
        "every refusal is written or counted:\n{}",
        after.join("\n")
    );
}

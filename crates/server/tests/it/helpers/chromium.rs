//! A real browser: Debian's Chromium, headless, loading a page of the running application and
//! printing the DOM after its scripts ran. `scripts/services.sh` installs it.

use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM of `url` after load, or `None` (after saying so) when Chromium is not installed
/// outside CI.
pub async fn dump_dom(url: &str) -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        assert!(
            !kunci_store::testing::in_ci(),
            "{CHROMIUM} is missing, but CI=true: scripts/services.sh installs it"
        );
        kunci_store::testing::skip("Chromium is not installed (scripts/services.sh installs it)");
        return None;
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

//! Accessibility checks with axe-core (the npm package of `tests/peers`, installed by
//! `scripts/services.sh`), injected into the page the browser shows. SPEC §11: no violation of
//! impact serious or critical.

use serde_json::Value;

use super::webdriver::WebDriver;

/// The rules axe-core checks: the WCAG 2.x A and AA ones and its best practices.
const RUN: &str = r"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } })
  .then(r => done(r.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))))
  .catch(e => done([{ id: 'axe-failed', help: String(e) }]));
";

/// axe-core's script, or `None` (with a message; a failure in CI) when it is not installed.
pub fn source() -> Option<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/node_modules/axe-core/axe.min.js"
    );
    match std::fs::read_to_string(path) {
        Ok(source) => Some(source),
        Err(err) if kunci_store::testing::in_ci() => {
            panic!("axe-core is not installed at {path} ({err}): run scripts/services.sh")
        }
        Err(_) => {
            kunci_store::testing::skip("axe-core is not installed: run scripts/services.sh");
            None
        }
    }
}

/// The serious and critical violations on the page the browser shows now.
pub async fn violations(browser: &WebDriver, axe: &str) -> Vec<Value> {
    browser.script(&format!("{axe}\nreturn typeof axe;")).await;
    let found = browser.script_async(RUN).await;
    found.as_array().cloned().unwrap_or_default()
}

//! What every page of the console shares: the values of the frame (`base.html`: the CSP nonce,
//! who is signed in, the CSRF token of the forms) and the notice a redirect asks for.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::auth::AuthContext;
use crate::headers::CspNonce;

/// The frame's values; a page's context struct flattens it in (`#[serde(flatten)]`).
#[derive(Serialize)]
pub(crate) struct Frame<'a> {
    csp_nonce: &'a str,
    who: &'a str,
    csrf_token: &'a str,
}

impl<'a> Frame<'a> {
    pub(crate) fn new(nonce: &'a CspNonce, auth: &'a AuthContext) -> Self {
        Self {
            csp_nonce: &nonce.0,
            who: display_name(auth),
            csrf_token: &auth.csrf_token,
        }
    }
}

/// The account name of a signed-in session ("" for a visitor).
pub(crate) fn display_name(auth: &AuthContext) -> &str {
    auth.session
        .data
        .get(kunci_domain::session::USERNAME)
        .map_or("", String::as_str)
}

/// The catalog message `<prefix><code>` of `query[key]` when that code is one of `known`:
/// a redirect carries fixed codes only, so no text of a request is ever shown back.
pub(crate) fn pick(
    query: &BTreeMap<String, String>,
    key: &str,
    known: &[&str],
    prefix: &str,
) -> Option<String> {
    query
        .get(key)
        .filter(|code| known.contains(&code.as_str()))
        .map(|code| format!("{prefix}{code}"))
}

/// The form of a destructive action: it goes ahead only with the confirmation ticked
/// (`confirm=yes`).
#[derive(Deserialize)]
pub(crate) struct Confirmation {
    #[serde(default)]
    confirm: String,
}

impl Confirmation {
    pub(crate) fn given(&self) -> bool {
        self.confirm == "yes"
    }
}

/// `text` percent-encoded for a query or a path segment: everything but letters, digits and
/// `-._~`.
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_codes_become_messages() {
        let query: BTreeMap<String, String> = [
            ("notice".to_owned(), "added".to_owned()),
            ("other".to_owned(), "<b>".to_owned()),
        ]
        .into();
        assert_eq!(
            pick(&query, "notice", &["added"], "x-notice-").as_deref(),
            Some("x-notice-added")
        );
        assert_eq!(pick(&query, "other", &["added"], "x-"), None);
        assert_eq!(pick(&query, "missing", &["added"], "x-"), None);
    }
}

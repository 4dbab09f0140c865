//! The compiled templates, embedded in the binary: minijinja with strict undefined values,
//! auto-escaping every `.html` template. Pages hand typed context structs to [`Templates::render`];
//! HTML is never assembled with `format!`.
//!
//! Every visible string comes from the catalogs through `t("message-id", name=value, …)`, in
//! the language of the page ([`PageLang`]); the frame gets `lang`, `other_lang` and `here`.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use fluent_bundle::FluentArgs;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};
use serde::Serialize;

use crate::error::ApiError;
use crate::i18n::{Catalogs, Lang, PageLang};

/// Every template, by name, as compiled into the binary.
pub(crate) const TEMPLATES: [(&str, &str); 17] = [
    ("base.html", include_str!("templates/base.html")),
    ("home.html", include_str!("templates/home.html")),
    ("forbidden.html", include_str!("templates/forbidden.html")),
    ("login.html", include_str!("templates/login.html")),
    ("keys.html", include_str!("templates/keys.html")),
    ("account.html", include_str!("templates/account.html")),
    ("key.html", include_str!("templates/key.html")),
    ("accounts.html", include_str!("templates/accounts.html")),
    (
        "signing_keys.html",
        include_str!("templates/signing_keys.html"),
    ),
    ("clients.html", include_str!("templates/clients.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("chart.html", include_str!("templates/chart.html")),
    ("overview.html", include_str!("templates/overview.html")),
    (
        "admin_account.html",
        include_str!("templates/admin_account.html"),
    ),
    ("key_import.html", include_str!("templates/key_import.html")),
    ("reset.html", include_str!("templates/reset.html")),
    ("lockouts.html", include_str!("templates/lockouts.html")),
];

/// The compiled templates, embedded in the binary.
#[derive(Debug)]
pub struct Templates {
    pub(crate) env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_function("t", |state: &State, id: &str, kwargs: Kwargs| {
            translate(crate::i18n::catalogs(), state, id, &kwargs)
        });
        env.add_filter("when", |state: &State, unix: i64| {
            Value::from_safe_string(when(crate::i18n::catalogs(), lang_of(state), unix))
        });
        for (name, source) in TEMPLATES {
            // The templates are part of the binary and covered by tests; a syntax error is a
            // bug caught before release.
            if let Err(err) = env.add_template(name, source) {
                tracing::error!(template = name, error = %err, "template does not compile");
            }
        }
        Self { env }
    }

    /// Renders `name` with `context` in `page`'s language as an HTML response.
    pub(crate) fn render<C: Serialize>(
        &self,
        name: &str,
        page: &PageLang,
        context: &C,
    ) -> Response {
        let other = Lang::ALL
            .into_iter()
            .find(|l| *l != page.lang)
            .unwrap_or_default();
        let context = minijinja::context! {
            lang => page.lang.code(),
            other_lang => other.code(),
            here => page.here.as_str(),
            is_admin => page.admin,
            asset_css => crate::assets::CSS_NAME,
            asset_js => crate::assets::JS_NAME,
            ..Value::from(minijinja::value::Serde(context))
        };
        match self.env.get_template(name).and_then(|t| t.render(context)) {
            Ok(html) => {
                let mut response = Html(html).into_response();
                response.headers_mut().insert(
                    header::CONTENT_LANGUAGE,
                    HeaderValue::from_static(page.lang.code()),
                );
                response
            }
            Err(err) => ApiError::Internal(Box::new(err)).into_response(),
        }
    }
}

/// The page's language (`lang` of the context).
fn lang_of(state: &State) -> Lang {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default()
}

/// `{{ unix | when }}`: `<time datetime="…Z">3 Dec 2026, 14:05 UTC</time>` in the page's
/// language (the page's script turns it into the reader's local time where it runs).
fn when(catalogs: &Catalogs, lang: Lang, unix: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return catalogs.text(lang, "date-never", None);
    };
    let shown = catalogs.date_time(lang, unix);
    let machine = t.format(&Rfc3339).unwrap_or_default();
    // Both parts are digits, letters of our own catalogs and punctuation; escaped anyway.
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
    };
    format!(
        "<time datetime=\"{}\">{}</time>",
        escape(&machine),
        escape(&shown)
    )
}

/// `t(id, name=value, …)`: message `id` in the page's language.
fn translate(
    catalogs: &Catalogs,
    state: &State,
    id: &str,
    kwargs: &Kwargs,
) -> Result<String, minijinja::Error> {
    let lang = lang_of(state);
    let mut args = FluentArgs::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        match value.as_i64() {
            Some(number) => args.set(name, number),
            None => args.set(name, value.to_string()),
        }
    }
    Ok(catalogs.text(lang, id, Some(&args)))
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message ids a template names literally: `t("id"` or `t('id'`.
    fn literal_ids(source: &str) -> Vec<String> {
        let mut ids = Vec::new();
        for quote in ['"', '\''] {
            let opening = format!("t({quote}");
            let mut rest = source;
            while let Some(at) = rest.find(&opening) {
                rest = &rest[at + opening.len()..];
                // `t("keys-status-" ~ status)` composes its id: the test lists those itself.
                if let Some(end) = rest.find(quote).filter(|end| !rest[..*end].ends_with('-')) {
                    ids.push(rest[..end].to_owned());
                }
            }
        }
        ids
    }

    #[test]
    fn every_message_a_page_asks_for_is_in_both_catalogs() {
        let catalogs = Catalogs::new();
        let mut wanted: Vec<String> = TEMPLATES
            .iter()
            .flat_map(|(_, source)| literal_ids(source))
            .collect();
        assert!(wanted.len() > 40, "the scan found the templates' messages");
        // The ids pages compose: a status badge, a notice, a sign-in refusal.
        wanted.extend(
            [
                "active",
                "cooling",
                "quota_exceeded",
                "probing",
                "invalid",
                "disabled",
            ]
            .map(|s| format!("keys-status-{s}")),
        );
        wanted.extend(crate::keys_page::NOTICES.map(|n| format!("notice-{n}")));
        wanted.extend(crate::key_page::NOTICES.map(|n| format!("notice-{n}")));
        wanted.extend(crate::admin_accounts::NOTICES.map(|n| format!("accounts-notice-{n}")));
        wanted.extend(crate::admin_accounts::PROBLEMS.map(|p| format!("accounts-error-{p}")));
        wanted.extend(crate::pages::LoginProblem::ALL.map(|p| p.message().to_owned()));
        wanted.extend(crate::account_page::NOTICES.map(|n| format!("account-notice-{n}")));
        wanted.extend(
            crate::account_page::PASSWORD_PROBLEMS.map(|p| format!("account-password-{p}")),
        );
        wanted.extend(crate::lockouts_page::NOTICES.map(|n| format!("lockouts-notice-{n}")));
        wanted.extend(crate::reset_page::PROBLEMS.map(|p| format!("reset-error-{p}")));
        wanted.extend(crate::key_import::PROBLEMS.map(|p| format!("import-error-{p}")));
        wanted.extend(
            ["added", "duplicate", "invalid", "failed"].map(|r| format!("import-result-{r}")),
        );
        wanted.extend(crate::keys_page::ERROR_KINDS.map(|k| format!("key-error-{k}")));
        wanted.extend(crate::admin_account::NOTICES.map(|n| format!("account-admin-notice-{n}")));
        wanted.extend(crate::signing_keys_page::NOTICES.map(|n| format!("signing-notice-{n}")));
        for purpose in ["cookie", "jwt"] {
            wanted.extend(
                ["signing-purpose-", "signing-retire-", "signing-rotate-"]
                    .map(|m| format!("{m}{purpose}")),
            );
        }
        wanted.extend(["active", "verify", "retired"].map(|s| format!("signing-state-{s}")));
        wanted.extend(crate::clients_page::NOTICES.map(|n| format!("clients-notice-{n}")));
        wanted.extend(crate::clients_page::PROBLEMS.map(|p| format!("clients-error-{p}")));
        wanted.extend(crate::audit_page::PROBLEMS.map(|p| format!("audit-error-{p}")));
        wanted.extend(kunci_domain::audit::OUTCOMES.map(|o| format!("audit-outcome-{o}")));
        wanted.extend(
            [
                "edited",
                "ip_edited",
                "missing",
                "out_of_place",
                "truncated",
                "beyond_head",
                "head_edited",
            ]
            .map(|b| format!("audit-broken-{b}")),
        );
        wanted.extend(
            [
                "console-overview",
                "console-signing-keys",
                "console-clients",
                "console-audit",
                "console-lockouts",
                "usage-uses",
                "overview-logins-ok",
                "overview-logins-refused",
                "overview-requests-answered",
                "overview-requests-failed",
                "overview-upstream-served",
                "overview-upstream-limited",
                "overview-upstream-refused",
                "key-format-prefixed",
                "key-format-pattern",
                "key-format-printable",
            ]
            .map(String::from),
        );
        for lang in Lang::ALL {
            let missing: Vec<&String> =
                wanted.iter().filter(|id| !catalogs.has(lang, id)).collect();
            assert!(missing.is_empty(), "not in the {lang} catalog: {missing:?}");
        }
    }

    #[test]
    fn every_template_compiles() {
        let templates = Templates::new();
        for (name, _) in TEMPLATES {
            assert!(
                templates.env.get_template(name).is_ok(),
                "{name} does not compile"
            );
        }
    }

    #[tokio::test]
    async fn a_page_is_in_its_language_with_the_switch_to_the_other() {
        let templates = Templates::new();
        let page = |lang| PageLang {
            lang,
            here: "/login?next=/a b".to_owned(),
            admin: false,
        };
        let context = serde_json::json!({
            "csp_nonce": "n", "who": "", "csrf_token": "t", "next": "/",
            "username": "", "expired": true, "reset": false, "error": null,
        });
        for (lang, title, switch) in [
            (
                Lang::En,
                "<h1>Sign in</h1>",
                "/lang/id?next=&#x2f;login%3Fnext%3D&#x2f;a%20b",
            ),
            (
                Lang::Id,
                "<h1>Masuk</h1>",
                "/lang/en?next=&#x2f;login%3Fnext%3D&#x2f;a%20b",
            ),
        ] {
            let response = templates.render("login.html", &page(lang), &context);
            assert_eq!(response.headers()[header::CONTENT_LANGUAGE], lang.code());
            let html = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let html = String::from_utf8(html.to_vec()).unwrap();
            assert!(html.contains(&format!("<html lang=\"{lang}\">")), "{html}");
            assert!(html.contains(title), "{html}");
            assert!(html.contains(switch), "{html}");
        }
    }

    #[test]
    fn numbers_and_names_fill_a_message() {
        let templates = Templates::new();
        let mut env = templates.env.clone();
        env.add_template("x.html", "{{ t('keys-uses-today', used=k.used, budget=k.budget) }}|{{ t('signed-in-as', name=who) }}")
            .unwrap();
        let html = env
            .get_template("x.html")
            .unwrap()
            .render(minijinja::context! { lang => "en", k => minijinja::context! { used => 0, budget => 50 }, who => "<b>al</b>" })
            .unwrap();
        assert_eq!(
            html,
            "0&#x2f;50 today|Signed in as &lt;b&gt;al&lt;&#x2f;b&gt;"
        );
    }

    #[test]
    fn times_are_written_in_the_pages_language_with_a_machine_form() {
        let catalogs = Catalogs::new();
        // 2026-12-03 14:05:09 UTC
        let unix = 1_796_306_709;
        assert_eq!(
            when(&catalogs, Lang::En, unix),
            "<time datetime=\"2026-12-03T14:05:09Z\">3 Dec 2026, 14:05 UTC</time>"
        );
        assert_eq!(
            when(&catalogs, Lang::Id, unix),
            "<time datetime=\"2026-12-03T14:05:09Z\">3 Des 2026 pukul 14.05 UTC</time>"
        );
        assert_eq!(when(&catalogs, Lang::Id, i64::MAX), "—");
    }
}

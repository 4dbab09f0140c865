//! The compiled templates, embedded in the binary: minijinja with strict undefined values,
//! auto-escaping every `.html` template. Pages hand typed context structs to [`Templates::render`];
//! HTML is never assembled with `format!`.

use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use crate::error::ApiError;

/// The compiled templates, embedded in the binary.
#[derive(Debug)]
pub struct Templates {
    pub(crate) env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("home.html", include_str!("templates/home.html")),
            ("forbidden.html", include_str!("templates/forbidden.html")),
            ("login.html", include_str!("templates/login.html")),
            ("keys.html", include_str!("templates/keys.html")),
        ] {
            // The templates are part of the binary and covered by tests; a syntax error is a
            // bug caught before release.
            if let Err(err) = env.add_template(name, source) {
                tracing::error!(template = name, error = %err, "template does not compile");
            }
        }
        Self { env }
    }

    /// Renders `name` with `context` as an HTML response.
    pub fn render<C: Serialize>(&self, name: &str, context: &C) -> Response {
        match self
            .env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(context)))
        {
            Ok(html) => Html(html).into_response(),
            Err(err) => ApiError::Internal(Box::new(err)).into_response(),
        }
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

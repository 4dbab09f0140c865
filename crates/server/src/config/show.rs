//! `kunci config show`: the effective configuration, every secret masked, each value with
//! where it came from.

use std::fmt::Write as _;

use kunci_crypto::{mask, mask_url_password};

use super::Loaded;
use super::load::{Entry, Source};
use super::schema::{self, Kind};

/// Renders the configuration as commented TOML.
pub fn render(loaded: &Loaded) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# environment: {}", loaded.environment);
    let _ = writeln!(out, "# project root: {}", loaded.root.display());
    for section in schema::SECTIONS {
        let _ = writeln!(out, "\n[{}]", section.name);
        let prefix = format!("{}.", section.name);
        for key in schema::KEYS.iter().filter(|k| k.path.starts_with(&prefix)) {
            let matching: Vec<(&String, &Entry)> = loaded
                .layers
                .entries
                .iter()
                .filter(|(_, e)| e.key.path == key.path)
                .collect();
            if matching.is_empty() && !key.path.contains('*') {
                let name = &key.path[prefix.len()..];
                let _ = writeln!(out, "# {name} is unset");
            }
            for (dotted, entry) in matching {
                let name = &dotted[prefix.len()..];
                let value = shown_value(entry);
                let _ = writeln!(out, "{name} = {value}  # {}", entry.source);
            }
        }
    }
    out
}

fn shown_value(entry: &Entry) -> String {
    // Everything from the encrypted file is secret, whatever the key.
    let masked = entry.key.secret || matches!(entry.source, Source::Encrypted { .. });
    match (&entry.value, masked) {
        (toml::Value::String(s), true) => {
            let shown = match entry.key.kind {
                Kind::DatabaseUrl | Kind::RedisUrl | Kind::SmtpUrl => mask_url_password(s),
                _ => mask(s),
            };
            toml::Value::String(shown).to_string()
        }
        (value, _) => value.to_string(),
    }
}

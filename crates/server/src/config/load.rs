//! Reading the layers: defaults, `config/base.toml`, `config/<env>.toml`, then `KUNCI__…`
//! variables, each on top of the one before. Every problem in every layer is collected, so one
//! run of `kunci config check` shows them all.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use kunci_domain::environment::Environment;

use super::schema::{self, Key, Kind};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    /// A config file, shown relative to the project root.
    File(String),
    /// A process environment variable.
    Variable(String),
    /// An entry of the encrypted env file (`.env.<environment>.enc`); always shown masked.
    Encrypted {
        file: String,
        name: String,
    },
}

impl Source {
    /// Where a problem was found, as an error names it: the built-in default is called so,
    /// for a reader who never wrote the value.
    pub fn origin(&self) -> String {
        match self {
            Self::Default => "built-in default".to_owned(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(name) => f.write_str(name),
            Self::Variable(name) => write!(f, "variable {name}"),
            Self::Encrypted { file, name } => write!(f, "encrypted {file} ({name})"),
        }
    }
}

/// One configuration problem. It names where (file or variable) and which key, and says what
/// was expected, but never repeats the value: it may be a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub origin: String,
    pub key: Option<String>,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: `{key}`: {}", self.origin, self.problem),
            None => write!(f, "{}: {}", self.origin, self.problem),
        }
    }
}

/// All the problems found, in the order of the layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "the configuration has {n} problem{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for err in &self.0 {
            writeln!(f, "  - {err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: &'static Key,
    pub value: toml::Value,
    pub source: Source,
}

/// The merged layers: dotted path → entry.
#[derive(Debug, Default)]
pub struct Layers {
    pub entries: BTreeMap<String, Entry>,
    errors: Vec<ConfigError>,
}

/// What the loader reads besides the files.
#[derive(Debug, Clone)]
pub struct LoadInput {
    pub root: PathBuf,
    pub environment: Environment,
    /// The process environment's `KUNCI__…` variables (others are ignored).
    pub variables: Vec<(String, String)>,
    /// The decrypted entries of `.env.<environment>.enc`, if it was read.
    pub encrypted: Option<EncryptedLayer>,
}

/// The entries of the encrypted env file, layered between the config files and the variables.
#[derive(Debug, Clone)]
pub struct EncryptedLayer {
    /// The file name, for provenance (`.env.production.enc`).
    pub file: String,
    pub entries: Vec<(String, kunci_crypto::SecretString)>,
}

impl Layers {
    pub fn read(input: &LoadInput) -> Result<Self, ConfigErrors> {
        let (layers, errors) = Self::read_all(input);
        if errors.is_empty() {
            Ok(layers)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Every layer, and every problem found on the way (for callers that need only a few keys
    /// and judge the problems themselves).
    pub fn read_all(input: &LoadInput) -> (Self, Vec<ConfigError>) {
        let mut layers = Self::default();
        layers.defaults();
        for name in ["base".to_owned(), input.environment.name().to_owned()] {
            let relative = format!("config/{name}.toml");
            layers.file(&input.root.join(&relative), &relative);
        }
        if let Some(encrypted) = &input.encrypted {
            layers.encrypted(encrypted);
        }
        layers.variables(&input.variables);
        let errors = std::mem::take(&mut layers.errors);
        (layers, errors)
    }

    pub(super) fn push_error(&mut self, origin: &str, key: Option<&str>, problem: String) {
        self.errors.push(ConfigError {
            origin: origin.to_owned(),
            key: key.map(str::to_owned),
            problem,
        });
    }

    pub(super) fn take_errors(&mut self) -> Vec<ConfigError> {
        std::mem::take(&mut self.errors)
    }

    fn defaults(&mut self) {
        for key in schema::KEYS {
            if let Some(value) = key.default.and_then(parse_literal) {
                let entry = Entry {
                    key,
                    value,
                    source: Source::Default,
                };
                self.entries.insert(key.path.to_owned(), entry);
            }
        }
    }

    fn file(&mut self, path: &Path, shown: &str) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
            Err(err) => {
                self.push_error(shown, None, format!("cannot be read: {err}"));
                return;
            }
        };
        match text.parse::<toml::Table>() {
            Ok(table) => self.table(&table, &mut Vec::new(), shown),
            Err(err) => {
                // Only the position and toml's message: its snippet of the line could show a
                // secret.
                let position = err.span().map(|span| line_column(&text, span.start));
                let problem = match position {
                    Some((line, column)) => {
                        format!(
                            "line {line}, column {column}: invalid TOML: {}",
                            err.message()
                        )
                    }
                    None => format!("invalid TOML: {}", err.message()),
                };
                self.push_error(shown, None, problem);
            }
        }
    }

    fn table(&mut self, table: &toml::Table, path: &mut Vec<String>, origin: &str) {
        for (name, value) in table {
            path.push(name.clone());
            let dotted = path.join(".");
            if let Some(key) = schema::key_for(path) {
                if value.is_table() {
                    let problem = format!("expected {}, found a table", key.kind.expectation());
                    self.push_error(origin, Some(&dotted), problem);
                } else {
                    self.set(key, dotted, value.clone(), Source::File(origin.to_owned()));
                }
            } else if schema::is_table(path) {
                match value {
                    toml::Value::Table(inner) => self.table(inner, path, origin),
                    other => {
                        let problem = format!("expected a table, found {}", type_name(other));
                        self.push_error(origin, Some(&dotted), problem);
                    }
                }
            } else {
                self.push_error(origin, Some(&dotted), unknown_key(&dotted));
            }
            path.pop();
        }
    }

    fn encrypted(&mut self, layer: &EncryptedLayer) {
        for (name, value) in &layer.entries {
            let origin = format!("{}: {name}", layer.file);
            if !name.starts_with("KUNCI__") {
                let problem = "unknown name: kunci reads KUNCI__SECTION__KEY names".to_owned();
                self.push_error(&origin, None, problem);
                continue;
            }
            let source = Source::Encrypted {
                file: layer.file.clone(),
                name: name.clone(),
            };
            self.named(name, value.expose(), &origin, source);
        }
    }

    fn variables(&mut self, variables: &[(String, String)]) {
        let mut sorted: Vec<&(String, String)> = variables
            .iter()
            .filter(|(name, _)| name.starts_with("KUNCI__"))
            .collect();
        sorted.sort();
        for (name, raw) in sorted {
            self.named(name, raw, name, Source::Variable(name.clone()));
        }
    }

    /// One `KUNCI__SECTION__KEY=value` setting, from a variable or the encrypted file.
    fn named(&mut self, name: &str, raw: &str, origin: &str, source: Source) {
        let path: Vec<String> = name["KUNCI__".len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        let dotted = path.join(".");
        if path.iter().any(String::is_empty) {
            let problem = "malformed name: sections and keys are separated by `__`".to_owned();
            self.push_error(origin, None, problem);
            return;
        }
        let Some(key) = schema::key_for(&path) else {
            self.push_error(origin, Some(&dotted), unknown_key(&dotted));
            return;
        };
        match coerce(key.kind, raw) {
            Some(value) => self.set(key, dotted, value, source),
            None => {
                let problem = format!("expected {}", key.kind.expectation());
                self.push_error(origin, Some(&dotted), problem);
            }
        }
    }

    fn set(&mut self, key: &'static Key, dotted: String, value: toml::Value, source: Source) {
        let origin = match &source {
            Source::Variable(name) | Source::File(name) => name.clone(),
            Source::Encrypted { file, name } => format!("{file}: {name}"),
            Source::Default => "built-in default".to_owned(),
        };
        if let Err(problem) = check_type(key.kind, &value).and_then(|()| key.kind.check(&value)) {
            self.push_error(&origin, Some(&dotted), problem);
            return;
        }
        self.entries.insert(dotted, Entry { key, value, source });
    }
}

/// A type mismatch, worded by TOML types ("expected a string, found an integer").
fn check_type(kind: Kind, value: &toml::Value) -> Result<(), String> {
    let found = type_name(value);
    let expected = kind.toml_type();
    if found.ends_with(expected) {
        Ok(())
    } else {
        Err(format!(
            "expected {} ({}), found {found}",
            article(expected),
            kind.expectation()
        ))
    }
}

fn article(type_name: &str) -> String {
    if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {type_name}")
    } else {
        format!("a {type_name}")
    }
}

fn type_name(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

/// A variable's text as a value of the key's type: integers parse, lists are either TOML
/// arrays (`["a", "b"]`) or comma-separated, everything else is a string.
fn coerce(kind: Kind, raw: &str) -> Option<toml::Value> {
    match kind {
        Kind::Integer { .. } => raw.trim().parse::<i64>().ok().map(toml::Value::Integer),
        Kind::List(_) if raw.trim_start().starts_with('[') => parse_literal(raw),
        Kind::List(_) => Some(toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        )),
        _ => Some(toml::Value::String(raw.to_owned())),
    }
}

fn parse_literal(literal: &str) -> Option<toml::Value> {
    let mut table: toml::Table = format!("v = {literal}").parse().ok()?;
    table.remove("v")
}

fn unknown_key(dotted: &str) -> String {
    // A misspelt section first (`securty.lockout_hours`, `[securty]`): name the section.
    let section = dotted.split('.').next().unwrap_or(dotted);
    let known = |s: &str| {
        schema::KEYS
            .iter()
            .any(|k| k.path.split('.').next() == Some(s))
    };
    if !known(section) {
        let closest = schema::KEYS
            .iter()
            .filter_map(|k| k.path.split('.').next())
            .map(|s| (edit_distance(section, s), s))
            .min();
        if let Some((distance, name)) = closest
            && distance <= 2
        {
            return format!("unknown key; did you mean section `{name}`?");
        }
    }
    let closest = schema::KEYS
        .iter()
        .filter(|k| !k.path.contains('*'))
        .map(|k| (edit_distance(dotted, k.path), k.path))
        .min();
    match closest {
        Some((distance, path)) if distance <= 3 => format!("unknown key; did you mean `{path}`?"),
        _ => "unknown key (docs/configuration.md lists every key)".to_owned(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("logger.levl", "logger.level"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        assert_eq!(line_column("a\nbc\nd", 3), (2, 2));
        assert_eq!(line_column("", 0), (1, 1));
    }

    #[test]
    fn variables_coerce_by_kind() {
        assert_eq!(
            coerce(Kind::Integer { min: 0, max: 9 }, " 7 "),
            Some(toml::Value::Integer(7))
        );
        assert_eq!(coerce(Kind::Integer { min: 0, max: 9 }, "seven"), None);
        let list = coerce(Kind::List(schema::Item::Cidr), "10.0.0.0/8, ::1").unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(2));
        let list = coerce(Kind::List(schema::Item::Cidr), "[\"10.0.0.0/8\"]").unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(1));
    }
}

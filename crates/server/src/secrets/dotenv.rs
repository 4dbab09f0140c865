//! The dotenv syntax of `.env.<environment>` files, parsed strictly.
//!
//! ```text
//! # a comment
//! KUNCI__DATA__DATABASE_URL=postgres://kunci:pw@db/kunci
//! export KUNCI__DATA__REDIS_URL = "redis://:pw@cache:6379/0"   # `export` and spaces allowed
//! KUNCI__UPSTREAM__GOOGLE__CX='literal, no escapes'
//! ```
//!
//! - names are `[A-Za-z_][A-Za-z0-9_]*`; a name given twice is an error (not "last wins");
//! - unquoted values end at ` #` (a comment) and are trimmed;
//! - double-quoted values understand `\\`, `\"`, `\n`, `\r`, `\t` and `\$`; single-quoted values
//!   are taken literally; a quoted value closes on its own line;
//! - errors give the line and the problem, never the value.

use std::fmt;

use kunci_crypto::SecretString;

/// A syntax error, with the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub problem: &'static str,
}

impl fmt::Display for DotenvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for DotenvError {}

/// One `NAME=value` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub value: SecretString,
    pub line: usize,
}

/// Parses a whole file. Every entry or the first error.
pub fn parse(text: &str) -> Result<Vec<Entry>, DotenvError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let rest = trimmed
            .strip_prefix("export ")
            .map_or(trimmed, str::trim_start);
        let error = |problem| DotenvError { line, problem };
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let (name, after) = rest.split_at(name_len);
        if name.is_empty() || name.as_bytes()[0].is_ascii_digit() {
            return Err(error(
                "expected NAME=value, with a name of letters, digits and _",
            ));
        }
        let Some(value_text) = after.trim_start().strip_prefix('=') else {
            return Err(error("expected `=` after the name"));
        };
        let value = parse_value(value_text.trim_start()).map_err(error)?;
        if entries.iter().any(|e| e.name == name) {
            return Err(error("this name is already set on an earlier line"));
        }
        entries.push(Entry {
            name: name.to_owned(),
            value: SecretString::new(value),
            line,
        });
    }
    Ok(entries)
}

fn parse_value(text: &str) -> Result<String, &'static str> {
    match text.chars().next() {
        Some('"') => {
            let mut value = String::new();
            let mut chars = text[1..].char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => return trailing(&text[1 + i + 1..]).map(|()| value),
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some('r') => value.push('\r'),
                        Some('t') => value.push('\t'),
                        Some(c @ ('\\' | '"' | '$')) => value.push(c),
                        _ => return Err("unknown escape in a double-quoted value"),
                    },
                    c => value.push(c),
                }
            }
            Err("the double-quoted value is not closed on this line")
        }
        Some('\'') => match text[1..].find('\'') {
            Some(end) => trailing(&text[1 + end + 1..]).map(|()| text[1..=end].to_owned()),
            None => Err("the single-quoted value is not closed on this line"),
        },
        _ => {
            let end = text
                .find(" #")
                .or_else(|| text.find("\t#"))
                .unwrap_or(text.len());
            let value = text[..end].trim_end();
            if value.contains(['"', '\'']) {
                return Err("quotes inside an unquoted value: quote the whole value");
            }
            Ok(value.to_owned())
        }
    }
}

/// After a closing quote only white space or a comment may follow.
fn trailing(rest: &str) -> Result<(), &'static str> {
    let rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err("unexpected text after the closing quote")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn values(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.value.expose().to_owned()))
            .collect()
    }

    #[test]
    fn the_documented_forms_parse() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC=\"x\\ny \\\"q\\\" \\$HOME\" # c\r\nD='lit\\n' \nE=\nF=a#b\n";
        assert_eq!(
            values(text),
            [
                ("A", "1"),
                ("B", "two words"),
                ("C", "x\ny \"q\" $HOME"),
                ("D", "lit\\n"),
                ("E", ""),
                ("F", "a#b"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn hostile_lines_are_refused_with_their_line_and_never_their_value() {
        let cases = [
            ("CANARY", "expected `=`"),
            ("=CANARY", "expected NAME=value"),
            ("1A=CANARY", "expected NAME=value"),
            ("A-B=CANARY", "expected `=`"),
            ("A=\"CANARY", "not closed"),
            ("A='CANARY", "not closed"),
            ("A=\"CANARY\\q\"", "unknown escape"),
            ("A=\"CANARY\" junk", "after the closing quote"),
            ("A=CAN\"ARY", "quotes inside"),
            ("A=1\nA=CANARY", "already set"),
            ("ü=CANARY", "expected NAME=value"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains(expected), "{text:?}: {err}");
            assert!(!err.to_string().contains("CANARY"));
        }
        assert_eq!(parse("A=1\nA=2").unwrap_err().line, 2);
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(text in "(?s).{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn quoted_values_round_trip(value in "[^\"\\\\\n\r]{0,40}") {
            let parsed = values(&format!("NAME=\"{value}\"\n"));
            prop_assert_eq!(&parsed[0].1, &value);
        }
    }
}

//! The docs can never show a configuration key that does not exist: every TOML snippet of a
//! kunci configuration in README.md and docs/ goes through the configuration validator, and
//! every `KUNCI__…` variable they name must address a key of the registry.

use std::path::PathBuf;

use kunci::config::{self, LoadInput};
use kunci_domain::environment::Environment;

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README.md and every page of docs/, with their names.
fn pages() -> Vec<(String, String)> {
    let root = project();
    let mut pages = vec![(
        "README.md".to_owned(),
        std::fs::read_to_string(root.join("README.md")).unwrap(),
    )];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for path in docs {
        let name = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
        pages.push((name, std::fs::read_to_string(path).unwrap()));
    }
    pages
}

/// The ```toml blocks of a page.
fn toml_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```toml") => current = Some(String::new()),
            Some(block) if fence.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Whether a TOML table is a kunci configuration (and not, say, a cargo-audit one).
fn is_kunci_config(table: &toml::Table) -> bool {
    table
        .keys()
        .any(|k| config::schema::is_table(std::slice::from_ref(k)))
}

#[test]
fn every_toml_snippet_of_the_docs_is_a_valid_configuration() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for (page, text) in pages() {
        for (n, block) in toml_blocks(&text).into_iter().enumerate() {
            let table: toml::Table = match block.parse() {
                Ok(table) => table,
                Err(err) => {
                    problems.push(format!("{page}, TOML block {}: not TOML: {err}", n + 1));
                    continue;
                }
            };
            if !is_kunci_config(&table) {
                continue;
            }
            checked += 1;
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("config")).unwrap();
            std::fs::write(dir.path().join("config/base.toml"), &block).unwrap();
            let input = LoadInput {
                root: dir.path().to_path_buf(),
                environment: Environment::Development,
                variables: Vec::new(),
                encrypted: None,
            };
            if let Err(errors) = config::load(&input) {
                // A snippet may leave out what another key needs (a Redis URL, say); it may
                // not name a key that does not exist or give one a value of the wrong kind.
                for err in errors.0 {
                    if err.problem.starts_with("unknown") || err.problem.starts_with("expected") {
                        problems.push(format!("{page}, TOML block {}: {err}", n + 1));
                    }
                }
            }
        }
    }
    assert!(
        checked >= 5,
        "only {checked} snippets found: the reader is broken"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_variable_the_docs_name_addresses_a_key() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for (page, text) in pages() {
        for (at, _) in text.match_indices("KUNCI__") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // Placeholders (`KUNCI__SECTION__KEY`, `KUNCI__UPSTREAM__<NAME>__CX`) and the bare
            // prefix are not variables.
            let after = text[at + name.len()..].chars().next();
            if name.ends_with('_') || after == Some('<') || name.contains("SECTION__KEY") {
                continue;
            }
            checked += 1;
            let path: Vec<String> = name["KUNCI__".len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            if config::schema::key_for(&path).is_none() {
                problems.push(format!("{page}: {name} addresses no configuration key"));
            }
        }
    }
    assert!(
        checked >= 20,
        "only {checked} variables found: the reader is broken"
    );
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

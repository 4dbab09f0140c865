//! Parsing `data.database_url` into what to connect to.

use std::fmt;
use std::path::{Path, PathBuf};

/// What a database URL points at. Parsed once, at start-up.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// A SQLite file (relative paths are resolved against the project root), or an in-memory
    /// database (`sqlite::memory:`, for tests).
    Sqlite { path: Option<PathBuf> },
    /// A PostgreSQL server. The URL is kept whole for sqlx; it may hold a password, so this
    /// type's `Debug` masks it.
    Postgres { url: String },
    /// A MariaDB or MySQL server (`mysql://` or `mariadb://`). Kept whole, masked like
    /// PostgreSQL's; a `mariadb://` URL is handed to the driver as `mysql://`.
    MySql { url: String },
}

/// Why a database URL was refused. Never contains the URL itself, which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "unsupported database scheme `{0}`: expected sqlite://, postgres://, postgresql://, mysql:// or mariadb://"
    )]
    UnsupportedScheme(String),
    #[error("the sqlite URL names no file: expected sqlite://PATH or sqlite::memory:")]
    EmptySqlitePath,
    #[error("not a URL: expected sqlite://PATH or postgres://USER@HOST/DATABASE")]
    NotAUrl,
}

impl DatabaseTarget {
    /// Parses a database URL; relative SQLite paths are resolved against `root`.
    pub fn parse(url: &str, root: &Path) -> Result<Self, TargetError> {
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(TargetError::NotAUrl);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => {
                if rest == ":memory:" {
                    return Ok(Self::Sqlite { path: None });
                }
                let rest = rest.strip_prefix("//").unwrap_or(rest);
                // Options in a query string are not ours to interpret; kunci sets its own.
                let path = rest.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(TargetError::EmptySqlitePath);
                }
                Ok(Self::Sqlite {
                    path: Some(root.join(path)),
                })
            }
            "postgres" | "postgresql" => Ok(Self::Postgres {
                url: url.to_owned(),
            }),
            "mysql" => Ok(Self::MySql {
                url: url.to_owned(),
            }),
            "mariadb" => Ok(Self::MySql {
                url: format!("mysql:{rest}"),
            }),
            other => {
                // A scheme is short and never secret; anything long is probably not a scheme.
                let shown: String = other.chars().take(16).collect();
                Err(TargetError::UnsupportedScheme(shown))
            }
        }
    }

    pub fn backend(&self) -> super::Backend {
        match self {
            Self::Sqlite { .. } => super::Backend::Sqlite,
            Self::Postgres { .. } => super::Backend::Postgres,
            Self::MySql { .. } => super::Backend::MySql,
        }
    }
}

impl fmt::Debug for DatabaseTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            Self::Postgres { .. } => f.debug_struct("Postgres").finish_non_exhaustive(),
            Self::MySql { .. } => f.debug_struct("MySql").finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_resolve_against_the_root() {
        let target = DatabaseTarget::parse("sqlite://instance/kunci.db", Path::new("/srv/app"));
        assert_eq!(
            target,
            Ok(DatabaseTarget::Sqlite {
                path: Some(PathBuf::from("/srv/app/instance/kunci.db"))
            })
        );
        let absolute =
            DatabaseTarget::parse("sqlite:///var/lib/kunci.db?mode=rwc", Path::new("/x"));
        assert_eq!(
            absolute,
            Ok(DatabaseTarget::Sqlite {
                path: Some(PathBuf::from("/var/lib/kunci.db"))
            })
        );
    }

    #[test]
    fn sqlite_memory_is_understood() {
        assert_eq!(
            DatabaseTarget::parse("sqlite::memory:", Path::new("/")),
            Ok(DatabaseTarget::Sqlite { path: None })
        );
    }

    #[test]
    fn hostile_urls_are_refused_without_echoing_them() {
        for url in [
            "",
            "nocolon",
            "sqlite://",
            "sqlite:",
            "mongodb-but-secret-password://x",
        ] {
            let err = DatabaseTarget::parse(url, Path::new("/")).unwrap_err();
            assert!(!err.to_string().contains("secret-password"), "{err}");
        }
    }

    #[test]
    fn postgres_debug_never_shows_the_url() {
        let target =
            DatabaseTarget::parse("postgres://u:hunter2@db/kunci", Path::new("/")).unwrap();
        assert!(!format!("{target:?}").contains("hunter2"));
        assert_eq!(target.backend(), crate::Backend::Postgres);
    }

    #[test]
    fn mysql_and_mariadb_urls_are_one_backend_and_masked() {
        let mysql = DatabaseTarget::parse("mysql://u:hunter2@db/kunci", Path::new("/")).unwrap();
        assert_eq!(mysql.backend(), crate::Backend::MySql);
        assert!(!format!("{mysql:?}").contains("hunter2"));
        let mariadb =
            DatabaseTarget::parse("MariaDB://u:hunter2@db:3306/kunci", Path::new("/")).unwrap();
        assert_eq!(
            mariadb,
            DatabaseTarget::MySql {
                url: "mysql://u:hunter2@db:3306/kunci".to_owned()
            }
        );
    }
}

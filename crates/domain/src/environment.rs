//! The deployment environments and their aliases.

use std::fmt;
use std::str::FromStr;

/// Where kunci runs. The environment decides which config file and encrypted env file load,
/// whether HTTPS and `__Host-` cookies are required, and whether development conveniences (a
/// master key on disk, automatic migrations) are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Environment {
    #[default]
    Development,
    Staging,
    Production,
    Test,
}

impl Environment {
    pub const ALL: [Environment; 4] = [
        Self::Development,
        Self::Staging,
        Self::Production,
        Self::Test,
    ];

    /// The canonical name, used in file names (`config/production.toml`, `.env.production.enc`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
            Self::Test => "test",
        }
    }

    /// Staging and production: HTTPS, `__Host-` cookies, the master key only at run time,
    /// migrations only when an operator runs them.
    pub fn is_deployed(self) -> bool {
        matches!(self, Self::Staging | Self::Production)
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name given is not an environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown environment `{0}`: expected development (dev), staging (stag), production (prod) or test"
)]
pub struct UnknownEnvironment(pub String);

impl FromStr for Environment {
    type Err = UnknownEnvironment;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "staging" | "stag" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            "test" => Ok(Self::Test),
            _ => Err(UnknownEnvironment(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case_are_accepted() {
        for (given, expected) in [
            ("dev", Environment::Development),
            ("Development", Environment::Development),
            ("stag", Environment::Staging),
            ("staging", Environment::Staging),
            ("PROD", Environment::Production),
            ("production", Environment::Production),
            ("test", Environment::Test),
        ] {
            assert_eq!(given.parse::<Environment>(), Ok(expected), "{given}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        let err = "prd".parse::<Environment>().unwrap_err();
        assert!(err.to_string().contains("production (prod)"));
    }

    #[test]
    fn names_round_trip() {
        for env in Environment::ALL {
            assert_eq!(env.name().parse::<Environment>(), Ok(env));
        }
    }
}

//! The command line: global options, subcommands, exit codes.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kunci_domain::environment::Environment;

/// Exit codes, documented in docs/operations.md.
pub mod exit {
    /// The command failed at run time (database down, port taken, …).
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (clap's own code).
    pub const USAGE: u8 = 2;
    /// The configuration is invalid.
    pub const CONFIG: u8 = 3;
}

/// kunci: sessions, secrets and API keys for a web application, in one binary.
#[derive(Debug, Parser)]
#[command(name = "kunci", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Environment: development (dev), staging (stag), production (prod) or test.
    #[arg(long, global = true, env = "KUNCI_ENV", default_value = "development",
          value_parser = parse_environment)]
    pub env: Environment,
    /// Project folder holding config/, instance/ and the .env.*.enc files.
    #[arg(long, global = true, default_value = ".", value_name = "DIR")]
    pub root: PathBuf,
}

fn parse_environment(s: &str) -> Result<Environment, String> {
    s.parse()
        .map_err(|e: kunci_domain::environment::UnknownEnvironment| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server until SIGTERM or Ctrl-C.
    Serve,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the database schema.
    #[command(subcommand)]
    Db(DbCommand),
    /// Create master keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Encrypted per-environment secrets (.env.<env>.enc).
    #[command(subcommand)]
    Env(EnvCommand),
    /// The signing-key pool (cookie and JWT keys).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log: verify its chain, export it.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Service clients that sign their requests (X-Kunci-Signature).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Accounts that log in.
    #[command(subcommand)]
    User(UserCommand),
    /// The pool of third-party API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
    /// Encrypted backups of the database (SQLite for now).
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Check the security posture of this deployment and say what to fix (exit 1 on a failure).
    Doctor {
        /// Where the deployment answers, for the HTTPS, HSTS and cookie checks (default:
        /// `environment.public_url`).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Add a key to an upstream's pool; the key is read from standard input (one line) or a
    /// no-echo prompt, never from the command line (it would land in the shell's history).
    Add {
        /// The upstream, as named under `[upstream]`.
        upstream: String,
        #[arg(long, default_value_t = 0)]
        priority: i64,
        /// The quota group (for Google: the Cloud project, `project_number:N`).
        #[arg(long)]
        quota_group: Option<String>,
        /// Stop handing the key out after this many uses a day.
        #[arg(long)]
        daily_budget: Option<i64>,
    },
    /// List keys, masked.
    List,
    /// Add every key of a file (one per line; `#` comments and blank lines skipped).
    Import {
        upstream: String,
        file: PathBuf,
        #[arg(long, default_value_t = 0)]
        priority: i64,
    },
    /// Stop using a key.
    Disable { id: String },
    /// Use a key again (also after `invalid`, once it was fixed).
    Enable { id: String },
    /// Remove a key for good.
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password comes from standard input (one line) or, at a terminal,
    /// from a prompt that does not echo.
    Add {
        name: String,
        /// `admin` adds the admin scope.
        #[arg(long, value_enum, default_value = "user")]
        scope: ScopeArg,
    },
    /// List accounts, with their scopes, state and any lock on their name.
    List,
    /// Give or take a scope: `kunci user scope alice --add admin`. Taking one away ends the
    /// account's sessions and app logins, so none keeps it.
    Scope {
        name: String,
        /// The scope to give.
        #[arg(
            long,
            value_enum,
            conflicts_with = "remove",
            required_unless_present = "remove"
        )]
        add: Option<ScopeArg>,
        /// The scope to take away (`user` stays: every account has it).
        #[arg(long, value_enum)]
        remove: Option<ScopeArg>,
    },
    /// Refuse every login of an account (its password is kept).
    Disable { name: String },
    /// Allow a disabled account to log in again.
    Enable { name: String },
    /// Set an account's password (read as for `add`).
    Passwd { name: String },
    /// Lift the lock that failed logins put on a name. A name without a lock is not an error
    /// (scripts may unlock blindly): it says so and exits 0.
    Unlock { name: String },
    /// Remove an account's second factors (its authenticator app and recovery codes), for
    /// someone who lost them: audited. The account enrols again at its next sign-in.
    MfaReset { name: String },
}

/// `--scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    User,
    Admin,
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Take a consistent snapshot and write it encrypted under the master key (mode 0600).
    Create {
        /// Where to write it (default: instance/backups/kunci-<time>.kbk). Never overwritten.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check a backup's integrity and completeness without restoring it.
    Verify { file: PathBuf },
    /// Replace the database with a backup's (stop kunci first). An existing database that holds
    /// data is only replaced with --force, and is kept beside it.
    Restore {
        file: PathBuf,
        #[arg(long)]
        force: bool,
        /// Restore although `kunci serve` runs on this project (it would keep serving from the
        /// database being replaced).
        #[arg(long)]
        i_know_the_server_is_running: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the whole chain; name the first edited, inserted, moved or deleted entry (exit 1).
    Verify,
    /// Print entries as JSON lines, oldest first.
    Export {
        /// Only entries from this time on: `2026-11-01` (UTC) or `2026-11-01T12:00:00Z`.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Create a client and print its secret, once: it cannot be shown again.
    Add {
        /// Lowercase letters, digits, `-` and `_`.
        name: String,
        /// `admin` lets the client drive the admin API (a deploy job importing API keys).
        #[arg(long, value_enum, default_value = "user")]
        scope: ScopeArg,
    },
    /// List clients with their scopes and state.
    List,
    /// Revoke a client: its requests are refused from now on (the name stays taken).
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List every key with its state, dates and verification count.
    List,
    /// Make a new active key; the old one keeps verifying what it signed.
    Rotate {
        /// Rotate only this purpose (default: both).
        #[arg(long, value_enum)]
        purpose: Option<PurposeArg>,
    },
    /// Retire a key in state verify now, before its window ends.
    Retire {
        /// The key id, as `keys list` shows it.
        kid: String,
    },
}

/// `--purpose`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PurposeArg {
    Cookie,
    Jwt,
}

impl From<PurposeArg> for kunci_crypto::keyring::KeyPurpose {
    fn from(value: PurposeArg) -> Self {
        match value {
            PurposeArg::Cookie => Self::Cookie,
            PurposeArg::Jwt => Self::Jwt,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print a new master key, or write it to a new private file.
    Generate {
        /// Write the key to this file (created with mode 0600; never overwritten).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Encrypt .env.<ENV> into .env.<ENV>.enc.
    Encrypt {
        #[arg(value_parser = parse_environment)]
        environment: Environment,
    },
    /// Print the decrypted .env.<ENV>.enc to standard output.
    Decrypt {
        #[arg(value_parser = parse_environment)]
        environment: Environment,
        /// Write the plaintext to this new file (mode 0600) instead.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Edit .env.<ENV>.enc in $VISUAL or $EDITOR through a private temporary copy.
    Edit {
        #[arg(value_parser = parse_environment)]
        environment: Environment,
    },
    /// Re-encrypt .env.<ENV>.enc under a new master key, keeping .enc.bak until it is used.
    Rekey {
        #[arg(value_parser = parse_environment)]
        environment: Environment,
        /// The new master key, from this file; without it a new key is generated.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
        /// Where to write a generated new key (mode 0600); without it the key is printed.
        #[arg(long, value_name = "FILE", conflicts_with = "new_key_file")]
        out: Option<PathBuf>,
    },
    /// Show an encrypted file as names and value digests: a git textconv driver.
    Diff {
        /// The encrypted file (git passes a temporary copy).
        file: PathBuf,
        /// Show the values themselves instead of digests.
        #[arg(long)]
        show_values: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with secrets masked and the source of each value.
    Show,
    /// Validate the configuration; exit 3 and list every problem if it is invalid.
    Check,
    /// Print the configuration reference (docs/configuration.md).
    #[command(hide = true)]
    Docs,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply every pending migration.
    Migrate,
    /// Revert the most recent migrations.
    Rollback {
        /// How many migrations to revert.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        steps: u32,
        /// Roll back although `kunci serve` runs on this project (it expects the newer schema).
        #[arg(long)]
        i_know_the_server_is_running: bool,
    },
    /// List the migrations and whether each is applied.
    Status,
}

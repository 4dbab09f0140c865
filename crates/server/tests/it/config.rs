//! Configuration: layering, every error at once, secrets never shown, docs in step.

use kunci::config::{self, CacheKind, ConfigErrors, Level, LoadInput, LogFormat};
use kunci_domain::environment::Environment;

const CANARY: &str = "CANARY7f3a9";

struct Project {
    dir: tempfile::TempDir,
    environment: Environment,
    variables: Vec<(String, String)>,
}

impl Project {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            environment: Environment::Development,
            variables: Vec::new(),
        }
    }

    fn file(self, name: &str, content: &str) -> Self {
        let path = self.dir.path().join("config").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    fn env(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    fn var(mut self, name: &str, value: &str) -> Self {
        self.variables.push((name.to_owned(), value.to_owned()));
        self
    }

    fn input(&self) -> LoadInput {
        LoadInput {
            root: self.dir.path().to_path_buf(),
            environment: self.environment,
            variables: self.variables.clone(),
            encrypted: None,
        }
    }

    fn load(&self) -> config::Loaded {
        config::load(&self.input()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(&self) -> ConfigErrors {
        config::load(&self.input()).expect_err("the configuration should be refused")
    }
}

#[test]
fn with_no_files_the_embedded_defaults_apply() {
    let loaded = Project::new().load();
    let c = &loaded.config;
    assert_eq!(c.logger.level, Level::Info);
    assert_eq!(c.logger.format, LogFormat::Pretty);
    assert_eq!(c.environment.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data.database_url.expose(), "sqlite://instance/kunci.db");
    assert!(c.data.redis_url.is_none());
}

#[test]
fn environment_file_overrides_base_and_variables_override_both() {
    let loaded = Project::new()
        .file(
            "base.toml",
            "[logger]\nlevel = \"warn\"\nformat = \"json\"\n[data]\nmax_connections = 3\n",
        )
        .file(
            "development.toml",
            "[logger]\nlevel = \"debug\"\n[data]\nmax_connections = 4\n",
        )
        .file("production.toml", "[logger]\nlevel = \"error\"\n")
        .var("KUNCI__DATA__MAX_CONNECTIONS", "5")
        .var("UNRELATED__DATA__MAX_CONNECTIONS", "6")
        .load();
    let c = &loaded.config;
    assert_eq!(c.logger.format, LogFormat::Json, "from base.toml");
    assert_eq!(
        c.logger.level,
        Level::Debug,
        "development.toml beats base.toml"
    );
    assert_eq!(c.data.max_connections, 5, "the variable beats both files");
    let shown = config::show::render(&loaded);
    assert!(
        shown.contains("format = \"json\"  # config/base.toml"),
        "{shown}"
    );
    assert!(
        shown.contains("level = \"debug\"  # config/development.toml"),
        "{shown}"
    );
    assert!(
        shown.contains("max_connections = 5  # variable KUNCI__DATA__MAX_CONNECTIONS"),
        "{shown}"
    );
    assert!(
        shown.contains("bind = \"127.0.0.1:8080\"  # default"),
        "{shown}"
    );
}

#[test]
fn the_environment_chooses_its_own_file() {
    let project = Project::new()
        .file("staging.toml", "[logger]\nlevel = \"trace\"\n[environment]\npublic_url = \"https://staging.example.com\"\n")
        .env(Environment::Staging);
    assert_eq!(project.load().config.logger.level, Level::Trace);
}

#[test]
fn nested_tables_and_per_module_levels_load() {
    let loaded = Project::new()
        .file("base.toml", "[logger.modules]\nsqlx = \"warn\"\n\"kunci_web::health\" = \"trace\"\n[logger.file]\ndir = \"logs\"\nkeep = 3\n")
        .var("KUNCI__LOGGER__MODULES__HYPER", "error")
        .load();
    let logger = &loaded.config.logger;
    assert_eq!(logger.modules.get("sqlx"), Some(&Level::Warn));
    assert_eq!(logger.modules.get("kunci_web::health"), Some(&Level::Trace));
    assert_eq!(logger.modules.get("hyper"), Some(&Level::Error));
    assert_eq!(logger.file.keep, 3);
    assert_eq!(
        kunci::logging::directives(logger),
        "info,hyper=error,kunci_web::health=trace,sqlx=warn"
    );
    // At debug the dependencies' plumbing stays at info, unless a module entry names it.
    let debug = Project::new()
        .file(
            "base.toml",
            "[logger]\nlevel = \"debug\"\n[logger.modules]\nhyper = \"trace\"\n",
        )
        .load();
    let directives = kunci::logging::directives(&debug.config.logger);
    assert!(directives.contains("rustls=info"), "{directives}");
    assert!(
        directives.contains("hyper=trace") && !directives.contains("hyper=info"),
        "{directives}"
    );
}

#[test]
fn a_misspelt_section_is_named_in_files_and_variables() {
    let errors = Project::new()
        .file("base.toml", "[securty]\nlockout_hours = 2\n")
        .errors();
    let text = errors.to_string();
    assert!(
        text.contains("`securty`: unknown key; did you mean section `security`?"),
        "{text}"
    );
}

#[test]
fn unknown_key_wrong_type_and_bad_value_are_all_reported_at_once() {
    let errors = Project::new()
        .file(
            "base.toml",
            &format!(
                "[logger]\nlevle = \"{CANARY}\"\nformat = \"{CANARY}\"\n[data]\nmax_connections = \"{CANARY}\"\n"
            ),
        )
        .errors();
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 3, "{text}");
    assert!(
        text.contains(
            "config/base.toml: `logger.levle`: unknown key; did you mean `logger.level`?"
        ),
        "{text}"
    );
    assert!(
        text.contains("config/base.toml: `logger.format`: expected one of pretty, json"),
        "{text}"
    );
    assert!(
        text.contains("config/base.toml: `data.max_connections`: expected an integer"),
        "{text}"
    );
    assert!(!text.contains(CANARY), "a value was echoed: {text}");
}

#[test]
fn errors_from_several_layers_are_collected_together() {
    let errors = Project::new()
        .file("base.toml", "[logger]\nlevel = 3\n")
        .file("development.toml", "[nope]\nx = 1\n")
        .var("KUNCI__ENVIRONMENT__BIND", "not-an-address")
        .var("KUNCI__DATA__NOPE", "1")
        .errors();
    let origins: Vec<&str> = errors.0.iter().map(|e| e.origin.as_str()).collect();
    assert_eq!(
        origins,
        [
            "config/base.toml",
            "config/development.toml",
            "KUNCI__DATA__NOPE",
            "KUNCI__ENVIRONMENT__BIND"
        ],
        "{errors}"
    );
}

#[test]
fn secrets_in_bad_values_never_reach_the_message() {
    let secret_url = format!("mongodb://kunci:{CANARY}@db/kunci");
    let errors = Project::new()
        .file(
            "base.toml",
            &format!("[data]\ndatabase_url = \"{secret_url}\"\n"),
        )
        .var("KUNCI__DATA__REDIS_URL", &format!("http://:{CANARY}@cache"))
        .errors();
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 2, "{text}");
    assert!(
        text.contains("`data.database_url`: expected a sqlite://, postgres://"),
        "{text}"
    );
    assert!(
        text.contains("KUNCI__DATA__REDIS_URL: `data.redis_url`"),
        "{text}"
    );
    assert!(!text.contains(CANARY), "{text}");
}

#[test]
fn toml_syntax_errors_give_the_position_but_not_the_line() {
    let errors = Project::new()
        .file(
            "base.toml",
            &format!("[data]\ndatabase_url = \"postgres://u:{CANARY}@h/db\n"),
        )
        .errors();
    let text = errors.to_string();
    assert!(text.contains("config/base.toml: line 2, column"), "{text}");
    assert!(text.contains("invalid TOML"), "{text}");
    assert!(!text.contains(CANARY), "{text}");
}

#[test]
fn tables_and_values_in_the_wrong_place_are_refused() {
    let errors = Project::new()
        .file("base.toml", "logger = 1\n[environment.bind]\nport = 1\n")
        .errors();
    let text = errors.to_string();
    assert!(
        text.contains("`logger`: expected a table, found an integer"),
        "{text}"
    );
    assert!(
        text.contains("`environment.bind`: expected an address and port"),
        "{text}"
    );
}

#[test]
fn malformed_and_unknown_variables_are_refused() {
    let errors = Project::new()
        .var("KUNCI__LOGGER____LEVEL", "info")
        .var("KUNCI__LOGGER__LEVEL__X", "info")
        .var("KUNCI__DATA__MAX_CONNECTIONS", "0")
        .errors();
    let text = errors.to_string();
    assert!(
        text.contains("KUNCI__LOGGER____LEVEL: malformed name"),
        "{text}"
    );
    assert!(
        text.contains("KUNCI__LOGGER__LEVEL__X: `logger.level.x`: unknown key"),
        "{text}"
    );
    assert!(
        text.contains(
            "KUNCI__DATA__MAX_CONNECTIONS: `data.max_connections`: expected a whole number from 1"
        ),
        "{text}"
    );
}

#[test]
fn list_variables_take_commas_or_toml_arrays() {
    let loaded = Project::new()
        .var("KUNCI__ENVIRONMENT__TRUSTED_PROXIES", "10.0.0.0/8, ::1")
        .var(
            "KUNCI__ENVIRONMENT__CORS_ORIGINS",
            "[\"https://app.example.com\"]",
        )
        .load();
    assert_eq!(
        loaded.config.environment.trusted_proxies,
        ["10.0.0.0/8", "::1"]
    );
    assert_eq!(
        loaded.config.environment.cors_origins,
        ["https://app.example.com"]
    );
    let errors = Project::new()
        .var("KUNCI__ENVIRONMENT__CORS_ORIGINS", "*")
        .errors();
    assert!(
        errors.to_string().contains("element 1 is not valid"),
        "{errors}"
    );
}

#[test]
fn staging_and_production_require_an_https_public_url() {
    for env in [Environment::Staging, Environment::Production] {
        let errors = Project::new().env(env).errors();
        assert!(
            errors.to_string().contains("`environment.public_url`: "),
            "{errors}"
        );
        assert!(
            errors.to_string().contains("requires an https:// URL"),
            "{errors}"
        );
        Project::new()
            .env(env)
            .var("KUNCI__ENVIRONMENT__PUBLIC_URL", "https://example.com")
            .load();
    }
}

#[test]
fn show_masks_secrets_and_says_where_each_value_came_from() {
    let loaded = Project::new()
        .file(
            "base.toml",
            &format!("[data]\ndatabase_url = \"postgres://kunci:{CANARY}@db.internal/kunci\"\n"),
        )
        .var(
            "KUNCI__DATA__REDIS_URL",
            &format!("redis://:{CANARY}@cache:6379/0"),
        )
        .load();
    let shown = config::show::render(&loaded);
    assert!(!shown.contains(CANARY), "{shown}");
    assert!(
        shown.contains(
            "database_url = \"postgres://kunci:…@db.internal/kunci\"  # config/base.toml"
        ),
        "{shown}"
    );
    assert!(
        shown
            .contains("redis_url = \"redis://:…@cache:6379/0\"  # variable KUNCI__DATA__REDIS_URL"),
        "{shown}"
    );
    assert!(shown.contains("# file.dir is unset"), "{shown}");
    // Sections in the order the server initialises them.
    let order: Vec<usize> = ["[logger]", "[environment]", "[data]"]
        .iter()
        .map(|s| shown.find(s).unwrap())
        .collect();
    assert!(order.is_sorted(), "{shown}");
}

#[test]
fn debug_output_of_the_config_masks_secrets() {
    let loaded = Project::new()
        .var(
            "KUNCI__DATA__DATABASE_URL",
            &format!("postgres://kunci:{CANARY}@db/kunci"),
        )
        .load();
    let debug = format!("{:?}", loaded.config);
    assert!(!debug.contains(CANARY), "{debug}");
}

#[test]
fn the_configuration_reference_is_in_step_with_the_registry() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap_or_default();
    assert!(
        committed == config::docs::markdown(),
        "docs/configuration.md is stale: run `cargo run -- config docs > docs/configuration.md`"
    );
}

#[test]
fn the_shipped_config_files_are_valid() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for env in Environment::ALL {
        let mut variables = Vec::new();
        if env.is_deployed() {
            variables.push((
                "KUNCI__ENVIRONMENT__PUBLIC_URL".to_owned(),
                "https://example.com".to_owned(),
            ));
        }
        let input = LoadInput {
            root: shipped.into(),
            environment: env,
            variables,
            encrypted: None,
        };
        config::load(&input).unwrap_or_else(|e| panic!("{env}: {e}"));
    }
}

#[test]
fn upstreams_and_the_cache_use_the_spec_names() {
    let loaded = Project::new()
        .file(
            "base.toml",
            "[upstream]\ndefault_search = \"brave\"\n\n[upstream.brave]\nadapter = \"generic\"\n\
             base_url = \"https://api.search.brave.com/res/v1\"\n",
        )
        .var("KUNCI__UPSTREAM__GOOGLE__ADAPTER", "google_cse")
        .var("KUNCI__UPSTREAM__GOOGLE__CX", "engine-id")
        .load();
    let upstream = &loaded.config.upstream;
    assert_eq!(upstream.default_search, "brave");
    assert_eq!(
        upstream.by_name.keys().collect::<Vec<_>>(),
        ["brave", "google"],
        "default_search names no upstream"
    );
    assert_eq!(loaded.config.data.cache, CacheKind::Memory);
    assert_eq!(
        Project::new().load().config.upstream.default_search,
        "google"
    );

    let errors = Project::new()
        .var("KUNCI__DATA__CACHE", "redis")
        .var(
            "KUNCI__UPSTREAM__OPENAI__BASE_URL",
            "https://api.openai.com/v1",
        )
        .errors();
    let text = errors.to_string();
    assert!(
        text.contains("`data.cache`: `redis` needs `data.redis_url`"),
        "{text}"
    );
    assert!(
        text.contains("`upstream.openai`: needs an `adapter`"),
        "{text}"
    );
}

#[test]
fn a_single_underscore_variable_is_named_with_what_it_probably_meant() {
    let kunci = crate::helpers::Kunci::new().var("KUNCI_SECURITY_LOCKOUT_HOURS", "2");
    let outcome = kunci.run(&["config", "check"]);
    outcome.success();
    assert!(
        outcome
            .stderr()
            .contains("KUNCI_SECURITY_LOCKOUT_HOURS is not read: configuration variables use double underscores (KUNCI__SECURITY__LOCKOUT_HOURS?)"),
        "{}",
        outcome.stderr()
    );
}

#[test]
fn a_secret_in_a_plain_file_of_a_deployed_environment_is_worth_a_warning() {
    let key = kunci_crypto::MasterKey::generate().unwrap();
    let kunci = crate::helpers::Kunci::new().var("KUNCI_MASTER_KEY", key.encode().expose());
    kunci.write(
        "config/production.toml",
        "[environment]\npublic_url = \"https://example.com\"\n[data]\ndatabase_url = \"postgres://kunci:hunter2hunter2@db/kunci\"\n",
    );
    let outcome = kunci.run(&["--env", "production", "config", "check"]);
    outcome.success();
    let said = outcome.stderr();
    assert!(
        said.contains("`data.database_url` is a secret written in config/production.toml")
            && said.contains(".env.production.enc"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "never the value: {said}");
    // Without a password the URL holds no secret; development is not judged.
    kunci.write(
        "config/production.toml",
        "[environment]\npublic_url = \"https://example.com\"\n[data]\ndatabase_url = \"postgres://kunci@db/kunci\"\n",
    );
    let outcome = kunci.run(&["--env", "production", "config", "check"]);
    assert!(
        !outcome.stderr().contains("is a secret written"),
        "{}",
        outcome.stderr()
    );
}

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

fn env(pairs: &[(&str, &str)]) -> config::Map<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn yaml(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[test]
fn defaults_serve_memory_on_loopback_with_bundled_schema() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(settings.listen, "127.0.0.1:8000");
    assert_eq!(settings.store.kind, StoreKind::Memory);
    assert!(settings.schema.paths.is_empty());
    assert_eq!(settings.sse.heartbeat, Duration::from_secs(30));
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    let file = yaml(
        "listen: 127.0.0.1:9000\nstore:\n  kind: jetstream\n  jetstream:\n    url: nats://127.0.0.1:4333\nsse:\n  heartbeat: 5s\n",
    );
    let settings = Settings::load_from(
        Some(file.path()),
        env(&[("TIDINGS__LISTEN", "127.0.0.1:9100")]),
    )
    .unwrap();
    assert_eq!(settings.listen, "127.0.0.1:9100");
    assert_eq!(settings.store.kind, StoreKind::Jetstream);
    assert_eq!(settings.store.jetstream.url, "nats://127.0.0.1:4333");
    assert_eq!(settings.sse.heartbeat, Duration::from_secs(5));
}

#[test]
fn env_sets_every_fixed_key() {
    let settings = Settings::load_from(
        None,
        env(&[
            ("TIDINGS__BASE_URL", "https://tidings.example"),
            ("TIDINGS__SCHEMA__PATHS", "a.yaml,b"),
            ("TIDINGS__STORE__KIND", "jetstream"),
            (
                "TIDINGS__STORE__JETSTREAM__URL",
                "nats://127.0.0.1:1,nats://127.0.0.1:2",
            ),
            ("TIDINGS_CONFIG_UNRELATED", "ignored"),
        ]),
    )
    .unwrap();
    assert_eq!(settings.base_url, "https://tidings.example");
    assert_eq!(
        settings.schema.paths,
        vec![PathBuf::from("a.yaml"), PathBuf::from("b")]
    );
    assert_eq!(settings.store.kind, StoreKind::Jetstream);
    assert_eq!(settings.store.jetstream.urls().len(), 2);
}

#[test]
fn an_empty_schema_setting_means_the_bundled_schema_and_an_empty_entry_is_named() {
    let settings = Settings::load_from(None, env(&[("TIDINGS__SCHEMA__PATHS", "")])).unwrap();
    assert!(settings.schema.paths.is_empty());
    let error = Settings::load_from(None, env(&[("TIDINGS__SCHEMA__PATHS", "a.yaml,,b.yaml")]))
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("schema.paths has an empty entry"),
        "{error}"
    );
}

#[test]
fn rejects_unknown_keys() {
    let file = yaml("listen: 127.0.0.1:9000\nlisten_port: 3\n");
    let error = Settings::load_from(Some(file.path()), env(&[])).unwrap_err();
    assert!(error.to_string().contains("listen_port"), "{error}");
    let file = yaml("store:\n  kind: memory\n  memroy: {}\n");
    assert!(Settings::load_from(Some(file.path()), env(&[])).is_err());
}

#[test]
fn rejects_unknown_store_kind() {
    assert!(Settings::load_from(None, env(&[("TIDINGS__STORE__KIND", "redis")])).is_err());
}

#[test]
fn rejects_bad_listen_address() {
    let error = Settings::load_from(None, env(&[("TIDINGS__LISTEN", "nowhere")])).unwrap_err();
    assert!(error.to_string().contains("host:port"));
}

#[test]
fn rejects_missing_config_file() {
    let error = Settings::load_from(Some(Path::new("/no/such/file.yaml")), env(&[])).unwrap_err();
    assert!(matches!(error, SettingsError::MissingFile(_)));
}

#[test]
fn secrets_are_not_printed() {
    let file = yaml("store:\n  jetstream:\n    token: hunter2\n");
    let settings = Settings::load_from(Some(file.path()), env(&[])).unwrap();
    assert_eq!(
        settings
            .store
            .jetstream
            .token
            .as_ref()
            .unwrap()
            .expose_secret(),
        "hunter2"
    );
    assert!(!format!("{settings:?}").contains("hunter2"));
}

#[test]
fn loads_every_shipped_config_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in [
        "deploy/config.yaml",
        "deploy/config.jetstream.yaml",
        "deploy/config.auth.yaml",
    ] {
        Settings::load_from(Some(&root.join(name)), env(&[]))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

fn with_auth(secret: &str) -> Vec<(&str, &str)> {
    vec![
        ("TIDINGS__AUTH__ENABLED", "true"),
        ("TIDINGS__AUTH__JWT_SECRET", secret),
    ]
}

fn auth_file() -> tempfile::NamedTempFile {
    yaml("auth:\n  admin_roles:\n    localrealm: [admin]\n")
}

#[test]
fn rejects_an_empty_jwt_secret_with_auth_on() {
    let file = auth_file();
    let error = Settings::load_from(Some(file.path()), env(&with_auth(""))).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("auth.jwt_secret must be at least 32 bytes (HS256), got 0"),
        "{error}"
    );
}

#[test]
fn rejects_a_jwt_secret_shorter_than_32_bytes() {
    let file = auth_file();
    let short = "x".repeat(MIN_JWT_SECRET_BYTES - 1);
    let error = Settings::load_from(Some(file.path()), env(&with_auth(&short))).unwrap_err();
    assert!(error.to_string().contains("got 31"), "{error}");
    assert!(
        !error.to_string().contains(&short),
        "the secret is not printed"
    );
    let long = "x".repeat(MIN_JWT_SECRET_BYTES);
    Settings::load_from(Some(file.path()), env(&with_auth(&long))).unwrap();
}

#[test]
fn a_short_jwt_secret_is_ignored_while_auth_is_off() {
    Settings::load_from(None, env(&[("TIDINGS__AUTH__JWT_SECRET", "short")])).unwrap();
}

#[test]
fn rejects_a_zero_jwks_refresh_interval_with_auth_on() {
    let file = auth_file();
    let long = "x".repeat(MIN_JWT_SECRET_BYTES);
    let mut pairs = with_auth(&long);
    pairs.push(("TIDINGS__AUTH__JWKS_REFRESH_INTERVAL", "0s"));
    let error = Settings::load_from(Some(file.path()), env(&pairs)).unwrap_err();
    assert!(
        error.to_string().contains("jwks_refresh_interval"),
        "{error}"
    );
}

#[test]
fn audit_retention_defaults_to_ninety_days_and_256_mib_and_takes_overrides() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(
        settings.store.audit.max_age,
        Duration::from_secs(90 * 86_400)
    );
    assert_eq!(settings.store.audit.max_bytes.get(), 256 * 1024 * 1024);
    let file = yaml("store:\n  audit:\n    max_age: 30days\n");
    let settings = Settings::load_from(
        Some(file.path()),
        env(&[("TIDINGS__STORE__AUDIT__MAX_BYTES", "1048576")]),
    )
    .unwrap();
    assert_eq!(
        settings.store.audit.max_age,
        Duration::from_secs(30 * 86_400)
    );
    assert_eq!(settings.store.audit.max_bytes.get(), 1024 * 1024);
    let file = yaml("store:\n  audit:\n    max_messages: 5\n");
    assert!(Settings::load_from(Some(file.path()), env(&[])).is_err());
}

#[test]
fn rejects_an_audit_trail_without_age_limit() {
    let error =
        Settings::load_from(None, env(&[("TIDINGS__STORE__AUDIT__MAX_AGE", "0s")])).unwrap_err();
    assert!(error.to_string().contains("store.audit.max_age"), "{error}");
}

#[test]
fn rejects_an_audit_trail_too_small_for_a_record() {
    let error = Settings::load_from(None, env(&[("TIDINGS__STORE__AUDIT__MAX_BYTES", "1000")]))
        .unwrap_err();
    assert!(
        error.to_string().contains("store.audit.max_bytes"),
        "{error}"
    );
    assert!(Settings::load_from(None, env(&[("TIDINGS__STORE__AUDIT__MAX_BYTES", "0")])).is_err());
}

#[test]
fn connection_timeouts_have_defaults_and_must_not_cut_healthy_streams() {
    let settings = Settings::load_from(None, env(&[])).unwrap();
    assert_eq!(settings.http.header_read_timeout, Duration::from_secs(30));
    assert_eq!(settings.http.body_read_timeout, Duration::from_secs(10));
    assert_eq!(settings.http.idle_timeout, Duration::from_secs(75));
    let error =
        Settings::load_from(None, env(&[("TIDINGS__HTTP__IDLE_TIMEOUT", "20s")])).unwrap_err();
    assert!(error.to_string().contains("http.idle_timeout"), "{error}");
    let error = Settings::load_from(None, env(&[("TIDINGS__HTTP__HEADER_READ_TIMEOUT", "0s")]))
        .unwrap_err();
    assert!(error.to_string().contains("header_read_timeout"), "{error}");
}

#[test]
fn admin_cors_origins_must_be_listed_not_starred() {
    let error =
        Settings::load_from(None, env(&[("TIDINGS__HTTP__CORS_ADMIN_ORIGINS", "*")])).unwrap_err();
    assert!(error.to_string().contains("cors_admin_origins"), "{error}");
    let settings = Settings::load_from(
        None,
        env(&[(
            "TIDINGS__HTTP__CORS_ADMIN_ORIGINS",
            "https://a.example,https://b.example",
        )]),
    )
    .unwrap();
    assert_eq!(settings.http.cors_admin_origins.len(), 2);
}

//! `tidings check` and `tidings --version`, run as the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn tidings(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TIDINGS_CONFIG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("tidings binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_lists_every_event_type_of_the_shipped_config() {
    for args in [
        vec!["check"],
        vec!["check", "--config", "deploy/config.yaml"],
        vec!["check", "--config", "deploy/config.jetstream.yaml"],
    ] {
        let output = tidings(&args, &[]);
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            stdout.contains("mars: stream MARS subjects mars.>"),
            "{stdout}"
        );
        assert!(stdout.contains("dissemination: stream DISS"), "{stdout}");
        assert!(stdout.contains("test_polygon: stream POLYGON"), "{stdout}");
    }
}

#[test]
fn check_fails_listing_every_problem_of_broken_schema_files() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let output = tidings(
        &["check"],
        &[("TIDINGS__SCHEMA__PATHS", fixtures.to_str().unwrap())],
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    let expected = [
        "Schema 'empty_order' topic.key_order must not be empty",
        "Schema 'empty_order' topic.key_order must include identifier 'class'",
        "Schema 'duplicated' topic.key_order contains duplicate identifier 'class'",
        "Schema 'uncovered' topic.key_order must include identifier 'step'",
        "Schema 'unknown_handler' identifier 'class': unknown handler type 'ClassHandler'",
        "Schema 'unknown_option' identifier 'step'",
        "Schemas 'first_base' and 'second_base' both define topic base 'SHARED'",
        "Schema 'bad_policy' storage_policy is invalid: invalid duration '3 days'",
        "Schema 'bad_size' storage_policy is invalid: invalid size '5 GB'",
    ];
    for message in expected {
        assert!(
            stderr.contains(message),
            "missing {message:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("9 problem(s)"), "{stderr}");
}

#[test]
fn check_refuses_schemas_that_claim_names_tidings_uses() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reserved");
    let output = tidings(
        &["check"],
        &[("TIDINGS__SCHEMA__PATHS", fixture.to_str().unwrap())],
    );
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    for message in [
        "Schema 'forged_retractions' topic base 'tidings' is reserved",
        "Schema 'forged_audit' topic base 'TIDINGS_AUDIT' is reserved",
    ] {
        assert!(
            stderr.contains(message),
            "missing {message:?} in:\n{stderr}"
        );
    }
}

#[test]
fn check_fails_on_unknown_settings_keys() {
    let output = tidings(&["check"], &[("TIDINGS__STORE__KIND", "postgres")]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("postgres"));
}

#[test]
fn check_refuses_an_empty_or_short_jwt_secret_with_auth_on() {
    let config = ["check", "--config", "deploy/config.auth.yaml"];
    let shipped = tidings(&config, &[]);
    assert!(shipped.status.success(), "{}", text(&shipped.stderr));
    // An unset Kubernetes secret reaches the process as an empty variable.
    for (secret, length) in [("", 0), ("change-me", 9)] {
        let output = tidings(&config, &[("TIDINGS__AUTH__JWT_SECRET", secret)]);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{secret:?} accepted");
        assert!(
            stderr.contains(&format!(
                "auth.jwt_secret must be at least 32 bytes (HS256), got {length}"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    let output = tidings(&["--version"], &[]);
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout).trim(),
        format!("tidings {}", env!("CARGO_PKG_VERSION"))
    );
}

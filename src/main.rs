//! The `tidings` command: `serve` (the default) and `check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tidings::app::App;
use tidings::schema::Catalog;
use tidings::settings::Settings;
use tidings::telemetry;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version,
    about = "Notification gateway for NATS JetStream, aviso-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default when no command is given).
    Serve {
        /// YAML settings file (else TIDINGS_CONFIG, else built-in defaults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Load settings and schema, print every event type, exit non-zero on any problem.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print an HS256 token for trying auth (the secret must match `auth.jwt_secret`).
    Token {
        /// Shared secret; read from TIDINGS_JWT_SECRET when not given.
        #[arg(long, env = "TIDINGS_JWT_SECRET", hide_env_values = true)]
        secret: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        realm: String,
        /// Comma-separated roles.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Lifetime, e.g. 1h or 15m.
        #[arg(long, default_value = "1h")]
        ttl: humantime::Duration,
    },
}

fn token(
    secret: &str,
    username: &str,
    realm: &str,
    roles: &[String],
    ttl: std::time::Duration,
) -> ExitCode {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |now| now.as_secs())
        + ttl.as_secs();
    let claims =
        serde_json::json!({"username": username, "realm": realm, "roles": roles, "exp": expires});
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    match jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn check(config: Option<PathBuf>) -> ExitCode {
    let settings = match Settings::load(config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match Catalog::load(&settings.schema.paths) {
        Ok(catalog) => {
            println!(
                "settings: ok (store: {:?}, listen: {})",
                settings.store.kind, settings.listen
            );
            for schema in catalog.event_types() {
                let keys: Vec<String> = schema
                    .keys
                    .iter()
                    .map(|(key, rule)| {
                        let required = if rule.required { ", required" } else { "" };
                        format!("{key} ({}{required})", rule.type_name())
                    })
                    .collect();
                println!(
                    "{}: stream {} subjects {}.> keys [{}] key_order [{}]",
                    schema.event_type,
                    schema.stream.stream_name(),
                    schema.stream.base(),
                    keys.join(", "),
                    schema.key_order.join(", ")
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {} problem(s) in the schema:", error.problems.len());
            for problem in &error.problems {
                eprintln!("  - {problem}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
    token.cancel();
}

async fn serve(config: Option<PathBuf>) -> ExitCode {
    telemetry::init();
    let settings = match Settings::load(config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let app = match App::build(settings, shutdown.clone()).await {
        Ok(app) => app,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    tokio::spawn(cancel_on_signal(shutdown));
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Check { config } => check(config),
        Command::Token {
            secret,
            username,
            realm,
            roles,
            ttl,
        } => token(&secret, &username, &realm, &roles, ttl.into()),
        Command::Serve { config } => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(serve(config)),
            Err(error) => {
                eprintln!("error: cannot start the async runtime: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

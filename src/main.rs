//! The `tidings` command: `serve` (the default) and `check`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tidings::schema::Catalog;
use tidings::settings::Settings;

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve { config: None }) {
        Command::Check { config } => check(config),
        Command::Serve { config } => {
            let _ = config;
            eprintln!("serve: not yet implemented");
            ExitCode::FAILURE
        }
    }
}

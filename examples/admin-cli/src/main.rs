//! `sessionward-admin`: the operator's command line for a sessionward store.
//!
//! It works on the same store as the app, without the app: list and show
//! sessions across users, end one user's sessions or every session that
//! matches a filter (with a dry run first), purge ended sessions, export a
//! user's data. Every result is JSON on standard output (for `jq`); each
//! ended session is also a security event on standard error. See
//! `docs/operations.md` for incidents walked through with it.

mod cli;
mod commands;
mod store;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sessionward=info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sessionward-admin: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sessionward-admin: {message}");
            ExitCode::FAILURE
        }
    }
}

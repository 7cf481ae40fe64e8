//! The sessionward example app on axum.
//!
//! `cargo run -p sessionward-example-axum` starts it on
//! <http://127.0.0.1:3000> with a SQLite file store; `--help` lists the
//! options (store URL, bearer or cookie transport, demo mode).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod routes;

use std::net::SocketAddr;
use std::process::ExitCode;

use sessionward_example_common::config::{Parsed, USAGE};
use sessionward_example_common::{Config, DemoApp, setup};

const DEFAULT_SQLITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo.sqlite");

#[tokio::main]
async fn main() -> ExitCode {
    setup::init_tracing();
    let config = match Config::from_env(3000, DEFAULT_SQLITE) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Help) => {
            println!("sessionward-example-axum\n\n{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let app = DemoApp::build(&config).await?;
    let addr = SocketAddr::new(config.host, config.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("{}", setup::banner(&config, "axum"));
    let router = routes::router(app);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| format!("server error: {e}"))
}

//! The sessionward example app on actix-web.
//!
//! `cargo run -p sessionward-example-actix` starts it on
//! <http://127.0.0.1:3001> with a SQLite file store; `--help` lists the
//! options (store URL, bearer or cookie transport, demo mode).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::process::ExitCode;

use actix_web::{App, HttpServer};
use sessionward_actix::SessionMiddleware;
use sessionward_example_common::config::{Parsed, USAGE};
use sessionward_example_common::{Config, DemoApp, setup};

const DEFAULT_SQLITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/demo.sqlite");

#[actix_web::main]
async fn main() -> ExitCode {
    setup::init_tracing();
    let config = match Config::from_env(3001, DEFAULT_SQLITE) {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Help) => {
            println!("sessionward-example-actix\n\n{USAGE}");
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
    let addr = (config.host, config.port);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(SessionMiddleware::from_api(app.api.clone()))
            .configure(sessionward_example_actix::configure(app.clone()))
    })
    .workers(2)
    .bind(addr)
    .map_err(|e| format!("cannot listen on {}:{}: {e}", addr.0, addr.1))?;
    println!("{}", setup::banner(&config, "actix-web"));
    server.run().await.map_err(|e| format!("server error: {e}"))
}

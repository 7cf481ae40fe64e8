//! Shared, framework-neutral parts of the sessionward example apps
//! (`sessionward-example-axum`, `sessionward-example-actix`).
//!
//! Each app only maps HTTP routes to the functions here and turns the
//! returned [`WebResponse`](sessionward_core::web::WebResponse)s into its
//! framework's responses, so both apps serve exactly the same API and the
//! same static front-end ([`ui`]).
//!
//! | module | what |
//! |---|---|
//! | [`config`] | command-line flags and environment variables |
//! | [`keys`] | token signing and refresh keys (random or from the environment) |
//! | [`store`] | choosing the session store from a URL |
//! | [`users`] | the demo users and their (constant-time) password check |
//! | [`setup`] | policy, risk engine, notifier and event sinks: the [`setup::DemoApp`] |
//! | [`pages`] | the app's own JSON routes (login, me, notifications, events, policy) |
//! | [`demo`] | the demo-only "simulate a login from another device" route |
//! | [`plans`] | per-user demo plans (a limit resolver) and the plan routes |
//! | [`ui`] | the embedded HTML, JavaScript and CSS |
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod demo;
pub mod keys;
pub mod pages;
pub mod plans;
pub mod setup;
pub mod store;
pub mod ui;
pub mod users;

pub use config::Config;
pub use setup::DemoApp;

//! The minimal axum app over real TCP, and its source as the quick start
//! shows it.

use std::net::SocketAddr;

use sessionward_core::testing::http::minimal_app_story;
use sessionward_core::testing::quick_start_shows;
use sessionward_example_minimal_axum::{PASSWORD, USER, app, manager};

#[tokio::test]
async fn login_protected_route_sessions_and_logout_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = app(manager().unwrap()).into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    minimal_app_story(addr, USER, PASSWORD).await;
    server.abort();
}

#[test]
fn the_quick_start_is_this_code() {
    quick_start_shows(
        include_str!("../../../adapter-axum/src/lib.rs"),
        include_str!("../src/app.rs"),
    );
    quick_start_shows(
        include_str!("../../../README.md"),
        include_str!("../src/app.rs"),
    );
}

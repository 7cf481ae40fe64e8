//! The minimal actix-web app over real TCP, and its source as the quick
//! start shows it.

use sessionward_core::testing::http::minimal_app_story;
use sessionward_core::testing::quick_start_shows;
use sessionward_example_minimal_actix::{PASSWORD, USER, manager, server};

#[actix_web::test]
async fn login_protected_route_sessions_and_logout_over_tcp() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = server(manager().unwrap(), listener).unwrap();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    minimal_app_story(addr, USER, PASSWORD).await;
    handle.stop(false).await;
}

#[test]
fn the_quick_start_is_this_code() {
    quick_start_shows(
        include_str!("../../../adapter-actix/src/lib.rs"),
        include_str!("../src/app.rs"),
    );
}

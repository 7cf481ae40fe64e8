//! Serves the minimal axum app on <http://127.0.0.1:3000>.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = sessionward_example_minimal_axum::app(sessionward_example_minimal_axum::manager()?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("minimal-axum on http://127.0.0.1:3000 (user alice)");
    // `ConnectInfo` carries the client address into the sessions.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}

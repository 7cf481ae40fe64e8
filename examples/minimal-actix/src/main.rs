//! Serves the minimal actix-web app on <http://127.0.0.1:3000>.

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manager = sessionward_example_minimal_actix::manager()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:3000")?;
    println!("minimal-actix on http://127.0.0.1:3000 (user alice)");
    sessionward_example_minimal_actix::server(manager, listener)?.await?;
    Ok(())
}

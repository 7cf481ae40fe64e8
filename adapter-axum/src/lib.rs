//! sessionward-axum: placeholder until its issue lands.

//! sessionward-sqlx: placeholder until its issue lands.

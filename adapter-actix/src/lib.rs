//! sessionward-actix: placeholder until its issue lands.

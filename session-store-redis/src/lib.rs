//! sessionward-redis: placeholder until its issue lands.

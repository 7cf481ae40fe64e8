//! The demo users. **Demo only**: a real app checks a password hash
//! (argon2id) from its user database.

use sessionward_core::UserId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `(user name, password)` of the demo accounts.
pub const DEMO_USERS: &[(&str, &str)] = &[("alice", "alice-password"), ("bob", "bob-password")];

/// Checks a user name and password against [`DEMO_USERS`] in constant time
/// (every account is compared; digests of equal length are compared with
/// `subtle`). Returns the user on success.
pub fn check_password(user: &str, password: &str) -> Option<UserId> {
    let given_user = Sha256::digest(user.as_bytes());
    let given_pass = Sha256::digest(password.as_bytes());
    let mut found: Option<&str> = None;
    for (name, pass) in DEMO_USERS {
        let name_ok = Sha256::digest(name.as_bytes()).ct_eq(&given_user);
        let pass_ok = Sha256::digest(pass.as_bytes()).ct_eq(&given_pass);
        if bool::from(name_ok & pass_ok) {
            found = Some(name);
        }
    }
    found.and_then(|n| UserId::new(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert_eq!(
            check_password("alice", "alice-password").unwrap().as_str(),
            "alice"
        );
        assert!(check_password("alice", "bob-password").is_none());
        assert!(check_password("mallory", "").is_none());
    }
}

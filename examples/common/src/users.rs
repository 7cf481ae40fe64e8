//! The demo users. **Demo only**: a real app checks a password hash
//! (argon2id) from its user database.

use sessionward_core::UserId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `(user name, password)` of the demo accounts.
pub const DEMO_USERS: &[(&str, &str)] = &[("alice", "alice-password"), ("bob", "bob-password")];

/// Where a real app plugs in its user store: this function.
pub const PLUG_IN_USERS: &str =
    "replace `check_password` in examples/common/src/users.rs with your user store";

/// Checks a user name and password against [`DEMO_USERS`] in constant time
/// (every account is compared; digests of equal length are compared with
/// `subtle`) when `demo` is on; without it there are no users at all (see
/// [`PLUG_IN_USERS`]). Returns the user on success.
pub fn check_password(demo: bool, user: &str, password: &str) -> Option<UserId> {
    if !demo {
        return None;
    }
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
            check_password(true, "alice", "alice-password")
                .unwrap()
                .as_str(),
            "alice"
        );
        assert!(check_password(true, "alice", "bob-password").is_none());
        assert!(check_password(true, "mallory", "").is_none());
    }

    #[test]
    fn without_the_demo_there_are_no_users() {
        for (user, password) in DEMO_USERS {
            assert!(check_password(false, user, password).is_none());
        }
    }
}

//! Every key of one user maps to one Redis Cluster hash slot, for any user id.
#![allow(clippy::unwrap_used)]

use redis::cluster_routing::Slot;
use sessionward_core::UserId;
use sessionward_redis::{CLUSTER_SLOTS, DEFAULT_KEY_PREFIX, key_slot, keys_for_user, user_tag};

fn users() -> Vec<UserId> {
    [
        "alice",
        "bob@example.com",
        "{bob}",
        "}{",
        "{",
        "}",
        "a{b}c{d}",
        "user:{42}:x",
        "Ünïcødé 🦀",
        "  spaced  ",
    ]
    .into_iter()
    .map(|s| UserId::new(s).unwrap())
    .chain((0..200).map(|i| UserId::new(format!("user-{i}")).unwrap()))
    .collect()
}

#[test]
fn all_keys_of_a_user_share_one_slot() {
    let mut slots = std::collections::BTreeSet::new();
    for prefix in [DEFAULT_KEY_PREFIX, "", "app:sw:", "x"] {
        for user in users() {
            let keys = keys_for_user(prefix, &user);
            assert!(!keys.is_empty());
            let slot = key_slot(keys[0].as_bytes());
            assert!(slot < CLUSTER_SLOTS);
            for key in &keys {
                assert_eq!(key_slot(key.as_bytes()), slot, "{key} of {user:?}");
                // Cross-check with redis-rs' own slot routing.
                assert_eq!(Slot::for_key(key.as_bytes()), Slot::new(slot).unwrap());
                // The hash tag is exactly the user tag, whatever the id contains.
                let tag = format!("{{{}}}", user_tag(&user));
                assert!(key.contains(&tag), "{key}");
                assert_eq!(key.matches('{').count(), 1, "{key}");
                assert_eq!(key.matches('}').count(), 1, "{key}");
            }
            slots.insert(slot);
        }
    }
    assert!(slots.len() > 100, "users spread over many slots");
}

#[test]
fn tag_is_independent_of_prefix_and_distinct_per_user() {
    let a = UserId::new("{a}").unwrap();
    let b = UserId::new("a").unwrap();
    assert_ne!(user_tag(&a), user_tag(&b));
    assert_eq!(
        key_slot(keys_for_user("p1:", &a)[0].as_bytes()),
        key_slot(keys_for_user("p2:", &a)[0].as_bytes()),
        "the slot depends on the user only"
    );
}

#[test]
fn login_history_and_indexes_share_the_session_slot() {
    for prefix in [DEFAULT_KEY_PREFIX, "", "app:sw:"] {
        for user in users() {
            let keys = keys_for_user(prefix, &user);
            assert_eq!(
                keys.len(),
                6,
                "session hash, login history, two indexes, mark, owner"
            );
            let tag = user_tag(&user);
            assert_eq!(keys[0], format!("{prefix}{{{tag}}}:s"));
            assert_eq!(keys[1], format!("{prefix}{{{tag}}}:h"));
            assert_eq!(keys[2], format!("{prefix}{{{tag}}}:a"));
            assert_eq!(keys[3], format!("{prefix}{{{tag}}}:r"));
            assert_eq!(keys[4], format!("{prefix}{{{tag}}}:nb"));
            assert_eq!(keys[5], format!("{prefix}{{{tag}}}:u"));
            assert_eq!(
                key_slot(keys[1].as_bytes()),
                key_slot(keys[0].as_bytes()),
                "{user:?}"
            );
            assert_eq!(
                Slot::for_key(keys[1].as_bytes()),
                Slot::for_key(keys[0].as_bytes())
            );
        }
    }
}

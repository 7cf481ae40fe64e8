//! Writes the seed corpus of every fuzz target into `fuzz/seeds/<target>/`.
//!
//! Run from `fuzz/`: `cargo run --example seed_corpus`. The seeds are
//! committed; rerun this only when the token formats or the fixture change.
//! Each file starts with the mode byte its target expects (see the target's
//! module docs), except for the targets that take plain text.

use std::fs;
use std::path::Path;

use sessionward_core::tokens::ACCESS_TOKEN_TYP;
use sessionward_core::{ACTION_TOKEN_TYP, Timestamp};
use sessionward_fuzz::{AUDIENCE, ISSUER, KID, NOW_MS, build_fixture};

fn write(target: &str, name: &str, mode: Option<u8>, body: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir).expect("create seed dir");
    let mut bytes = Vec::from_iter(mode);
    bytes.extend_from_slice(body);
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn main() {
    let fx = build_fixture();
    let now = Timestamp::from_unix_millis(NOW_MS).unix_seconds();
    let access = fx.login.tokens.access_token.expose_secret();
    let refresh = fx.login.tokens.refresh_token.expose_secret();

    // A claims document the fuzzer edits in the "signed claims" modes;
    // `$SUB`/`$SID` are replaced with the live user and session.
    let claims = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"$SUB","sid":"$SID","jti":"j1","iat":{now},"nbf":{now},"exp":{},"auth_time":{now}}}"#,
        now + 900
    );
    let not_me_claims = format!(
        r#"{{"iss":"{ISSUER}","aud":"{AUDIENCE}","sub":"$SUB","sid":"$SID","jti":"n1","iat":{now},"exp":{},"act":"not_me"}}"#,
        now + 7200
    );

    // access_token
    write(
        "access_token",
        "genuine_other_process",
        Some(0),
        access.as_bytes(),
    );
    write("access_token", "genuine_unedited", Some(1), b"");
    write(
        "access_token",
        "genuine_flip_sig",
        Some(1),
        &[0x01, 0x40, 0x01],
    );
    write("access_token", "genuine_truncated", Some(1), &[0xf0]);
    write("access_token", "signed_claims", Some(2), claims.as_bytes());
    write(
        "access_token",
        "signed_exp_string",
        Some(2),
        claims
            .replace(&format!("\"exp\":{}", now + 900), "\"exp\":\"9999999999\"")
            .as_bytes(),
    );
    write(
        "access_token",
        "typ_at_jwt",
        Some(3),
        format!("{ACCESS_TOKEN_TYP}\n{claims}").as_bytes(),
    );
    write(
        "access_token",
        "typ_action",
        Some(3),
        format!("{ACTION_TOKEN_TYP}\n{claims}").as_bytes(),
    );
    write(
        "access_token",
        "alg_none",
        Some(0),
        b"eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.",
    );
    write("access_token", "garbage", Some(0), b"a.b.c");
    // Mode 4: raw header and claims, signed as they are (#13: arrays and
    // duplicate members behind a valid signature are refused).
    let header = format!(r#"{{"alg":"HS256","typ":"{ACCESS_TOKEN_TYP}","kid":"{KID}"}}"#);
    let claims_array = format!(
        r#"["{ISSUER}","{AUDIENCE}","$SUB","$SID","j1",{now},{now},{},{now}]"#,
        now + 900
    );
    for (name, header, claims) in [
        ("raw_object", header.clone(), claims.clone()),
        (
            "raw_header_array",
            format!(r#"["HS256","{ACCESS_TOKEN_TYP}","{KID}"]"#),
            claims.clone(),
        ),
        ("raw_claims_array", header.clone(), claims_array),
        (
            "raw_header_dup_alg",
            header.replacen(r#""alg":"HS256","#, r#""alg":"HS256","alg":"none","#, 1),
            claims.clone(),
        ),
        (
            "raw_claims_dup_sub",
            header.clone(),
            claims.replacen('{', r#"{"sub":"mallory","#, 1),
        ),
        (
            "raw_claims_dup_exp",
            header.clone(),
            claims.replacen('{', &format!(r#"{{"exp":{},"#, now + 900), 1),
        ),
        (
            "raw_claims_exp_i64_max",
            header.clone(),
            claims.replace(
                &format!("\"exp\":{}", now + 900),
                &format!("\"exp\":{}", i64::MAX),
            ),
        ),
        (
            "raw_claims_nbf_i64_min",
            header.clone(),
            claims.replace(&format!("\"nbf\":{now}"), &format!("\"nbf\":{}", i64::MIN)),
        ),
    ] {
        write(
            "access_token",
            name,
            Some(4),
            format!("{header}\n{claims}").as_bytes(),
        );
    }

    // refresh_token
    write(
        "refresh_token",
        "genuine_other_process",
        Some(0),
        refresh.as_bytes(),
    );
    write("refresh_token", "genuine_unedited", Some(1), b"");
    write(
        "refresh_token",
        "genuine_flip_secret",
        Some(1),
        &[0x00, 0x60, 0x02],
    );
    write("refresh_token", "genuine_truncated", Some(1), &[0x30]);
    write(
        "refresh_token",
        "shape_only",
        Some(0),
        b"swrt1.fuzz-user.AAAAAAAAAAAAAAAAAAAAAA.18446744073709551615.AAAA",
    );
    // Well-formed but for the generation (#13): the parser gets as far as
    // the number, u64::MAX has no successor, the others overflow a u64.
    let fields: Vec<&str> = refresh.split('.').collect();
    for (name, generation) in [
        ("generation_u64_max", u64::MAX.to_string()),
        ("generation_u64_max_minus_1", (u64::MAX - 1).to_string()),
        ("generation_u64_overflow", "18446744073709551616".to_owned()),
        ("generation_30_digits", "9".repeat(30)),
    ] {
        let token = format!(
            "{}.{}.{}.{generation}.{}",
            fields[0], fields[1], fields[2], fields[4]
        );
        write("refresh_token", name, Some(0), token.as_bytes());
    }

    // action_token
    let not_me = fx
        .manager
        .tokens()
        .sign_jwt(
            ACTION_TOKEN_TYP,
            &serde_json::from_str::<serde_json::Value>(
                &not_me_claims
                    .replace("$SUB", fx.user.as_str())
                    .replace("$SID", fx.login.session.id.as_str()),
            )
            .expect("valid json"),
        )
        .expect("signs");
    write(
        "action_token",
        "genuine_other_process",
        Some(0),
        not_me.as_bytes(),
    );
    write(
        "action_token",
        "access_as_action",
        Some(0),
        access.as_bytes(),
    );
    write("action_token", "genuine_unedited", Some(1), b"");
    write("action_token", "genuine_flip", Some(1), &[0x00, 0x90, 0x04]);
    write(
        "action_token",
        "signed_claims",
        Some(2),
        not_me_claims.as_bytes(),
    );
    write(
        "action_token",
        "signed_step_up",
        Some(2),
        not_me_claims.replace("not_me", "step_up").as_bytes(),
    );

    // user_agent
    for (i, ua) in [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:132.0) Gecko/20100101 Firefox/132.0",
        "curl/8.5.0",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "",
    ]
    .iter()
    .enumerate()
    {
        write("user_agent", &format!("ua{i}"), None, ua.as_bytes());
    }

    // forwarded_for: [peer selector, mode, forwarded "\n" x-forwarded-for]
    for (i, (peer, mode, text)) in [
        (0u8, 0u8, "\n203.0.113.7, 10.0.0.2"),
        (
            1,
            1,
            "for=192.0.2.60;proto=http;by=203.0.113.43, for=\"[2001:db8:cafe::17]:4711\"\n",
        ),
        (
            2,
            2,
            "for=unknown, for=_hidden\n198.51.100.1:8080, [2001:db8::1]:443",
        ),
        (3, 0, "\n\"::ffff:198.51.100.2\", 127.0.0.1, ::1"),
        (5, 0, "\n6.6.6.6"),
        (0, 0x30, "for=1.2.3.4\n5.6.7.8"),
    ]
    .iter()
    .enumerate()
    {
        let mut body = vec![*peer, *mode];
        body.extend_from_slice(text.as_bytes());
        write("forwarded_for", &format!("fwd{i}"), None, &body);
    }

    // policy_ids
    for (i, text) in [
        "alice",
        fx.login.session.id.as_str(),
        "../../etc/passwd",
        "2026-01-01T00:00:00Z",
        "2023-11-14T22:13:20.123+05:30",
        "0000-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.999999999-01:00",
        "1969-12-31T23:59:59.9995Z",
    ]
    .iter()
    .enumerate()
    {
        write("policy_ids", &format!("id{i}"), None, text.as_bytes());
    }
}

use proptest::prelude::*;

use super::*;

const KEY_RULE: &str =
    "Keys must use uppercase letters, digits and underscores, and must not start with a digit";

#[test]
fn secret_keys_follow_the_documented_rules() {
    let cases: [(&str, Result<&str, &str>); 12] = [
        ("DISCORD_BOT_TOKEN", Ok("DISCORD_BOT_TOKEN")),
        ("  API_KEY  ", Ok("API_KEY")),
        ("_PRIVATE", Ok("_PRIVATE")),
        ("A1", Ok("A1")),
        ("", Err("Secret key is required")),
        ("   ", Err("Secret key is required")),
        ("api_key", Err(KEY_RULE)),
        ("1PASSWORD", Err(KEY_RULE)),
        ("MY-KEY", Err(KEY_RULE)),
        ("MY KEY", Err(KEY_RULE)),
        ("SEALBOX_URL", Err("Keys starting with SEALBOX_ are reserved")),
        ("ÄPI_KEY", Err(KEY_RULE)),
    ];
    for (input, expected) in cases {
        let got = SecretKey::parse(input);
        match expected {
            Ok(key) => assert_eq!(got.map(String::from).as_deref(), Ok(key), "{input:?}"),
            Err(message) => {
                let error = got.expect_err(input);
                assert_eq!((error.field.as_str(), error.message.as_str()), ("key", message));
            }
        }
    }
}

#[test]
fn keys_of_128_characters_are_accepted_and_longer_ones_refused() {
    assert!(SecretKey::parse(&"K".repeat(128)).is_ok());
    assert_eq!(
        SecretKey::parse(&"K".repeat(129)).expect_err("too long").message,
        "Keys are limited to 128 characters"
    );
}

#[test]
fn secret_values_follow_the_documented_rules() {
    let message = |input: String| SecretValue::new(input).err().map(|e| e.message);
    assert_eq!(message("hunter2".into()), None);
    assert_eq!(message(String::new()).as_deref(), Some("Secret value is required"));
    assert_eq!(
        message("a\0b".into()).as_deref(),
        Some("Binary values are not supported: encode them as base64 first")
    );
    assert_eq!(message("x".repeat(65_536)), None);
    assert_eq!(message("x".repeat(65_537)).as_deref(), Some("Secret values are limited to 64 KiB"));
    assert_eq!(
        SecretValue::from_bytes(vec![0xff, 0xfe]).err().map(|e| e.message).as_deref(),
        Some("Binary values are not supported: encode them as base64 first")
    );
}

#[test]
fn a_secret_value_never_prints_itself() {
    let value = SecretValue::new("canary-value".into()).expect("valid");
    assert_eq!(format!("{value:?}"), "SecretValue(***)");
}

#[test]
fn descriptions_are_optional_trimmed_and_limited_to_500_characters() {
    assert_eq!(Description::parse(None).expect("ok").as_deref(), None);
    assert_eq!(Description::parse(Some("  ")).expect("ok").as_deref(), None);
    assert_eq!(Description::parse(Some(" Bot token ")).expect("ok").as_deref(), Some("Bot token"));
    assert!(Description::parse(Some(&"é".repeat(500))).is_ok());
    assert_eq!(
        Description::parse(Some(&"é".repeat(501))).expect_err("too long").message,
        "Descriptions are limited to 500 characters"
    );
}

#[test]
fn the_type_is_suggested_from_the_shape_of_the_value() {
    let cases = [
        ("postgres://app:pw@db/app", SecretType::ConnectionString),
        ("mongodb+srv://cluster0.example.net/db", SecretType::ConnectionString),
        ("https://discord.com/api/webhooks/1/abc", SecretType::WebhookUrl),
        ("https://hooks.slack.com/services/T/B/x", SecretType::WebhookUrl),
        ("-----BEGIN CERTIFICATE-----\nMIIB", SecretType::Certificate),
        ("ghp_0123456789abcdefghijklmnopqrstuvwxyz", SecretType::Token),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature_x", SecretType::Token),
        ("sk_live_0123456789", SecretType::ApiKey),
        ("9f86d081884c7d659a2feaa0c55ad015", SecretType::ApiKey),
        ("correct horse", SecretType::Other),
    ];
    for (value, expected) in cases {
        assert_eq!(SecretType::suggest(value), expected, "{value}");
    }
}

#[test]
fn types_round_trip_through_their_stored_names() {
    for kind in SecretType::ALL {
        assert_eq!(SecretType::parse(kind.as_str()), Ok(kind));
    }
    assert!(SecretType::parse("API key").is_err());
}

proptest! {
    #[test]
    fn every_well_formed_key_parses_to_itself(key in "[A-Z_][A-Z0-9_]{0,127}") {
        prop_assume!(!key.starts_with(RESERVED_PREFIX) && !loads_code(&key));
        prop_assert_eq!(SecretKey::parse(&key).map(String::from), Ok(key));
    }

    #[test]
    fn a_key_with_any_lowercase_letter_is_refused(prefix in "[A-Z_]{0,10}", lower in "[a-z]", rest in "[A-Z0-9_]{0,10}") {
        let key = format!("{prefix}{lower}{rest}");
        prop_assert_eq!(SecretKey::parse(&key).expect_err("refused").message, KEY_RULE);
    }

    #[test]
    fn a_key_starting_with_a_digit_is_refused(digit in "[0-9]", rest in "[A-Z0-9_]{0,20}") {
        prop_assert_eq!(SecretKey::parse(&format!("{digit}{rest}")).expect_err("refused").message, KEY_RULE);
    }

    #[test]
    fn any_text_without_nul_up_to_the_limit_is_a_valid_value(value in "[^\u{0}]{1,200}") {
        prop_assert!(SecretValue::new(value).is_ok());
    }

    #[test]
    fn parsing_never_panics_on_arbitrary_input(input in any::<String>()) {
        let _ = SecretKey::parse(&input);
        let _ = SecretValue::new(input.clone());
        let _ = Description::parse(Some(&input));
        let _ = SecretType::suggest(&input);
    }
}

//! The OpenAPI document states the rules the server enforces, so that a client generated from it
//! never sends what the server refuses: each string schema of the document is evaluated here (a
//! small evaluator of the keywords it uses) and compared with the domain types the server parses
//! with. Changing a rule on one side only fails these tests.
use app::{
    projects::ProjectSlug,
    secrets::domain::{
        Description, LOAD_CODE_NAMES, LOAD_CODE_PREFIXES, MAX_KEY_LEN, RESERVED_PREFIX, SecretKey,
        SecretType, SecretValue,
    },
};
use proptest::prelude::*;
use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(app::api::OPENAPI).expect("the document is JSON")
}

/// Follows a `$ref` within the document.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(document, document.pointer(pointer).expect("the reference exists"))
        }
        None => schema,
    }
}

/// Whether `text` satisfies the string `schema`: type, minLength, maxLength (in characters, as
/// JSON Schema counts), pattern, enum, not and anyOf — every keyword the document's string
/// schemas use. An unknown keyword fails the test, so the evaluator cannot silently ignore one.
fn accepts(document: &Value, schema: &Value, text: &str) -> bool {
    let schema = resolve(document, schema);
    let object = schema.as_object().expect("a schema object");
    let chars = text.chars().count() as u64;
    object.iter().all(|(keyword, rule)| match keyword.as_str() {
        "type" => rule == "string",
        "minLength" => chars >= rule.as_u64().expect("a number"),
        "maxLength" => chars <= rule.as_u64().expect("a number"),
        "pattern" => regex::Regex::new(rule.as_str().expect("a pattern"))
            .expect("the pattern is a regular expression")
            .is_match(text),
        "enum" => rule.as_array().expect("a list").iter().any(|v| v == text),
        "not" => !accepts(document, rule, text),
        "anyOf" => rule.as_array().expect("a list").iter().any(|s| accepts(document, s, text)),
        "description" => true,
        other => panic!("the evaluator does not know the keyword {other}"),
    })
}

fn schema(name: &str) -> Value {
    document()["components"]["schemas"][name].clone()
}

/// Keys: the schema accepts exactly what `SecretKey::parse` accepts.
fn keys_agree(text: &str) {
    let document = document();
    let in_schema = accepts(&document, &schema("Key"), text);
    let on_server = SecretKey::parse(text).is_ok();
    assert_eq!(in_schema, on_server, "the key {text:?}: schema {in_schema}, server {on_server}");
}

#[test]
fn the_key_schema_is_the_servers_key_rule() {
    let mut samples: Vec<String> = [
        "API_KEY",
        "_",
        "A1",
        "X_9_Y",
        "",
        "1ABC",
        "lower",
        "A B",
        "A-B",
        "ÄPI",
        "A\u{0}",
        "SEALBOX_X",
        "LD_PRELOAD",
        "DYLD_X",
        "LDAP_URL",
        "PATHS",
        "MY_PATH",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    samples.push("K".repeat(MAX_KEY_LEN));
    samples.push("K".repeat(MAX_KEY_LEN + 1));
    samples.extend(LOAD_CODE_NAMES.iter().map(|name| name.to_string()));
    samples.extend(LOAD_CODE_PREFIXES.iter().map(|prefix| format!("{prefix}ANYTHING")));
    samples.push(format!("{RESERVED_PREFIX}TOKEN"));
    for sample in samples {
        keys_agree(&sample);
    }
}

proptest! {
    #[test]
    fn random_keys_agree(text in "[A-Z0-9_]{1,140}") {
        keys_agree(&text);
    }

    #[test]
    fn random_reserved_looking_keys_agree(prefix in "(LD_|DYLD_|SEALBOX_|PATH|ENV|NODE_)", rest in "[A-Z_]{0,6}") {
        keys_agree(&format!("{prefix}{rest}"));
    }
}

#[test]
fn every_value_and_description_the_schemas_accept_the_server_accepts() {
    let document = document();
    let values = [
        String::new(),
        "a".into(),
        "a\u{0}b".into(),
        "line one\nline two".into(),
        "x".repeat(16_384),
        "é".repeat(16_384),
        "😀".repeat(16_384),
        "x".repeat(65_536),
        "x".repeat(65_537),
    ];
    let mut accepted = 0;
    for value in values {
        if accepts(&document, &schema("Value"), &value) {
            accepted += 1;
            let preview: String = value.chars().take(12).collect();
            assert!(SecretValue::new(value).is_ok(), "a value of the schema is refused: {preview}");
        }
    }
    assert_eq!(accepted, 5, "the schema is not stricter than it must be for these samples");

    let descriptions = [
        String::new(),
        "What the key is for".into(),
        "d".repeat(500),
        "é".repeat(500),
        "d".repeat(501),
        "two\nlines".into(),
        "nul\u{0}".into(),
        "escape\u{1b}[31m".into(),
    ];
    let mut accepted = 0;
    for description in descriptions {
        if accepts(&document, &schema("Description"), &description) {
            accepted += 1;
            assert!(
                Description::parse(Some(&description)).is_ok(),
                "a description of the schema is refused: {description:?}"
            );
        }
    }
    assert_eq!(accepted, 4);
}

#[test]
fn the_type_schema_lists_exactly_the_servers_types() {
    let listed: Vec<String> = schema("Type")["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect();
    let served: Vec<String> = SecretType::ALL.iter().map(|t| t.as_str().to_string()).collect();
    assert_eq!(listed, served);
}

#[test]
fn every_slug_the_schema_accepts_the_server_accepts() {
    let document = document();
    let slug = document["components"]["parameters"]["slug"]["schema"].clone();
    let samples = [
        "bot".to_string(),
        "my-bot-2".into(),
        "-bot".into(),
        "bot-".into(),
        "my--bot".into(),
        "Bot".into(),
        "b".repeat(64),
        "b".repeat(65),
        String::new(),
    ];
    for sample in samples {
        let in_schema = accepts(&document, &slug, &sample);
        assert_eq!(in_schema, ProjectSlug::parse(&sample).is_ok(), "{sample:?}");
    }
}

#[test]
fn the_write_body_names_its_fields_and_nothing_else() {
    let write = schema("SecretWrite");
    assert_eq!(write["additionalProperties"], false);
    assert_eq!(write["required"], serde_json::json!(["value"]));
    let mut properties: Vec<&String> =
        write["properties"].as_object().expect("properties").keys().collect();
    properties.sort();
    assert_eq!(properties, ["description", "type", "value"]);
}

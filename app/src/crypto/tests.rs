use proptest::prelude::*;

use super::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn open_matches_the_published_aes_256_gcm_vectors() {
    // NIST GCM test cases 13 and 14: zero key, zero nonce.
    let key = [0u8; 32];
    let empty = Sealed { nonce: [0; 12], ciphertext: hex("530f8afbc74536b9a963b4f1c4cb738b") };
    assert_eq!(aead::open(&key, &empty, b"").expect("opens").as_slice(), b"");
    let block = Sealed {
        nonce: [0; 12],
        ciphertext: hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
    };
    assert_eq!(aead::open(&key, &block, b"").expect("opens").as_slice(), &[0u8; 16]);
}

#[test]
fn sealing_the_same_value_twice_gives_different_nonces_and_ciphertexts() {
    let key = DataKey::generate();
    let a = key.seal(b"same", b"aad");
    let b = key.seal(b"same", b"aad");
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[test]
fn a_ciphertext_moved_to_another_project_environment_key_or_version_does_not_open() {
    let key = DataKey::generate();
    let env = EnvironmentId(5);
    let at = SecretAddress::new(ProjectId(1), env, "API_KEY", Version(3));
    let sealed = key.seal_secret(&at, b"hunter2");
    assert_eq!(key.open_secret(&at, &sealed).expect("opens").as_slice(), b"hunter2");
    for other in [
        SecretAddress::new(ProjectId(2), env, "API_KEY", Version(3)),
        SecretAddress::new(ProjectId(1), EnvironmentId(6), "API_KEY", Version(3)),
        SecretAddress::new(ProjectId(1), env, "OTHER", Version(3)),
        SecretAddress::new(ProjectId(1), env, "API_KEY", Version(2)),
        at.with_binding(Binding::Project),
    ] {
        assert_eq!(key.open_secret(&other, &sealed), Err(CryptoError::Open));
    }
    assert_eq!(key.open(&sealed, b""), Err(CryptoError::Open), "not without its address");
}

#[test]
fn a_wrong_key_does_not_open() {
    let sealed = DataKey::generate().seal(b"value", b"aad");
    assert_eq!(DataKey::generate().open(&sealed, b"aad"), Err(CryptoError::Open));
}

#[test]
fn a_wrapped_key_opens_only_with_its_master_key_and_owner() {
    let master = MasterKey::generate();
    let key = DataKey::generate();
    let wrapped = master.wrap_key(&key, &data_key_aad("project:7"));
    let unwrapped = master.unwrap_key(&wrapped, &data_key_aad("project:7")).expect("unwraps");
    assert_eq!(unwrapped.expose(), key.expose());
    assert!(master.unwrap_key(&wrapped, &data_key_aad("project:8")).is_err());
    assert!(MasterKey::generate().unwrap_key(&wrapped, &data_key_aad("project:7")).is_err());
}

#[test]
fn truncated_blobs_are_malformed_not_a_panic() {
    assert_eq!(Sealed::from_bytes(&[0u8; 27]).err(), Some(CryptoError::Malformed));
    let master = MasterKey::generate();
    assert!(master.unwrap_key(&[], b"").is_err());
}

#[test]
fn the_key_check_tells_the_right_master_key_from_a_wrong_one() {
    let master = MasterKey::generate();
    let check = master.key_check();
    assert!(master.made_key_check(&check));
    assert!(!MasterKey::generate().made_key_check(&check));
    assert!(!master.made_key_check(b"garbage"));
}

#[test]
fn fingerprints_are_keyed_and_deterministic() {
    let one = FingerprintKey::from_data_key(&DataKey::generate());
    let other = FingerprintKey::from_data_key(&DataKey::generate());
    assert_eq!(one.fingerprint(b"leaked"), one.fingerprint(b"leaked"));
    assert_ne!(one.fingerprint(b"leaked"), one.fingerprint(b"leaked!"));
    assert_ne!(one.fingerprint(b"leaked"), other.fingerprint(b"leaked"));
    assert_eq!(format!("{:?}", one.fingerprint(b"x")), "Fingerprint(***)");
}

proptest! {
    #[test]
    fn any_value_round_trips(value in proptest::collection::vec(any::<u8>(), 0..4096),
                             project in any::<i64>(), version in 1i64..1000) {
        let key = DataKey::generate();
        let at = SecretAddress::new(ProjectId(project), EnvironmentId(project ^ 1), "KEY", Version(version));
        let sealed = Sealed::from_bytes(&key.seal_secret(&at, &value).to_bytes()).expect("parses");
        let opened = key.open_secret(&at, &sealed).expect("opens");
        prop_assert_eq!(opened.as_slice(), value.as_slice());
    }

    #[test]
    fn flipping_any_bit_of_nonce_ciphertext_or_tag_fails_to_open(
        value in proptest::collection::vec(any::<u8>(), 1..256), bit in any::<usize>()
    ) {
        let key = DataKey::generate();
        let mut bytes = key.seal(&value, b"aad").to_bytes();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let sealed = Sealed::from_bytes(&bytes).expect("same length parses");
        prop_assert_eq!(key.open(&sealed, b"aad"), Err(CryptoError::Open));
    }

    #[test]
    fn flipping_any_bit_of_a_wrapped_key_fails_to_unwrap(bit in 0usize..(12 + 32 + 16) * 8) {
        let master = MasterKey::generate();
        let mut wrapped = master.wrap_key(&DataKey::generate(), b"owner");
        wrapped[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(master.unwrap_key(&wrapped, b"owner").is_err());
    }
}

#[test]
fn derived_keys_differ_by_label_and_root_and_are_stable() {
    let root = DataKey::from_bytes(&[7u8; 32]).expect("32 bytes");
    let a = root.derive(b"sealbox/a/v1");
    assert_eq!(a.expose(), root.derive(b"sealbox/a/v1").expose());
    assert_ne!(a.expose(), root.derive(b"sealbox/b/v1").expose());
    let other_root = DataKey::from_bytes(&[8u8; 32]).expect("32 bytes");
    assert_ne!(a.expose(), other_root.derive(b"sealbox/a/v1").expose());
    assert_ne!(a.expose(), root.expose());
}

#[test]
fn a_secret_address_binds_label_project_environment_version_and_key_in_that_layout() {
    // Stored values were sealed with these bytes: they may never change without a reseal.
    let at = SecretAddress::new(ProjectId(7), EnvironmentId(9), "API_KEY", Version(3));
    let mut v2 = b"sealbox/secret/v2\0".to_vec();
    v2.extend_from_slice(&7i64.to_be_bytes());
    v2.extend_from_slice(&9i64.to_be_bytes());
    v2.extend_from_slice(&3i64.to_be_bytes());
    v2.extend_from_slice(b"API_KEY");
    assert_eq!(at.aad(), v2);
    // What values sealed before environments were bound to, until start-up reseals them.
    let mut v1 = b"sealbox/secret/v1\0".to_vec();
    v1.extend_from_slice(&7i64.to_be_bytes());
    v1.extend_from_slice(&3i64.to_be_bytes());
    v1.extend_from_slice(b"API_KEY");
    assert_eq!(at.with_binding(Binding::Project).aad(), v1);
}

#[test]
fn only_the_current_binding_is_readable() {
    assert_eq!(Binding::CURRENT, Binding::Environment);
    assert_eq!(Binding::readable(Binding::Environment.stored()), Ok(Binding::Environment));
    assert_eq!(Binding::readable(Binding::Project.stored()), Err(CryptoError::OldBinding));
    assert_eq!(Binding::readable(3), Err(CryptoError::Malformed));
}

#[test]
fn a_generated_master_key_round_trips_through_base64() {
    let key = MasterKey::generate();
    let parsed = MasterKey::from_base64(&format!("{}\n", key.to_base64().as_str()))
        .expect("a generated key parses");
    assert_eq!(parsed.to_base64(), key.to_base64());
    assert_eq!(parsed.id(), key.id());
}

#[test]
fn master_keys_of_the_wrong_length_are_refused() {
    let short = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 16]);
    assert_eq!(MasterKey::from_base64(&short).err(), Some(MasterKeyError::WrongLength(16)));
}

#[test]
fn master_key_text_that_is_not_base64_is_refused() {
    assert_eq!(MasterKey::from_base64("not base64 at all!").err(), Some(MasterKeyError::NotBase64));
}

#[test]
fn master_key_ids_are_stable_and_differ_between_keys() {
    let key = MasterKey::generate();
    assert_eq!(key.id(), key.id());
    assert_eq!(key.id().len(), 16);
    assert_ne!(key.id(), MasterKey::generate().id());
}

#[test]
fn debug_output_never_shows_a_key() {
    assert_eq!(format!("{:?}", MasterKey::generate()), "MasterKey(***)");
    assert_eq!(format!("{:?}", DataKey::generate()), "DataKey(***)");
}

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
    assert_eq!(open(&key, &empty, b"").expect("opens").as_slice(), b"");
    let block = Sealed {
        nonce: [0; 12],
        ciphertext: hex("cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
    };
    assert_eq!(open(&key, &block, b"").expect("opens").as_slice(), &[0u8; 16]);
}

#[test]
fn sealing_the_same_value_twice_gives_different_nonces_and_ciphertexts() {
    let key = DataKey::generate();
    let a = seal(key.expose(), b"same", b"aad");
    let b = seal(key.expose(), b"same", b"aad");
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.ciphertext, b.ciphertext);
}

#[test]
fn a_ciphertext_moved_to_another_project_key_or_version_does_not_open() {
    let key = DataKey::generate();
    let sealed = seal(key.expose(), b"hunter2", &secret_aad(1, "API_KEY", 3));
    assert!(open(key.expose(), &sealed, &secret_aad(1, "API_KEY", 3)).is_ok());
    for aad in [secret_aad(2, "API_KEY", 3), secret_aad(1, "OTHER", 3), secret_aad(1, "API_KEY", 2)]
    {
        assert_eq!(open(key.expose(), &sealed, &aad), Err(CryptoError::Open));
    }
}

#[test]
fn a_wrong_key_does_not_open() {
    let sealed = seal(DataKey::generate().expose(), b"value", b"aad");
    assert_eq!(open(DataKey::generate().expose(), &sealed, b"aad"), Err(CryptoError::Open));
}

#[test]
fn a_wrapped_key_opens_only_with_its_master_key_and_owner() {
    let master = MasterKey::generate();
    let key = DataKey::generate();
    let wrapped = wrap_key(&master, &key, &data_key_aad("project:7"));
    let unwrapped = unwrap_key(&master, &wrapped, &data_key_aad("project:7")).expect("unwraps");
    assert_eq!(unwrapped.expose(), key.expose());
    assert!(unwrap_key(&master, &wrapped, &data_key_aad("project:8")).is_err());
    assert!(unwrap_key(&MasterKey::generate(), &wrapped, &data_key_aad("project:7")).is_err());
}

#[test]
fn truncated_blobs_are_malformed_not_a_panic() {
    assert_eq!(Sealed::from_bytes(&[0u8; 27]).err(), Some(CryptoError::Malformed));
    let master = MasterKey::generate();
    assert!(unwrap_key(&master, &[], b"").is_err());
}

#[test]
fn the_key_check_tells_the_right_master_key_from_a_wrong_one() {
    let master = MasterKey::generate();
    let check = key_check(&master);
    assert!(verify_key_check(&master, &check));
    assert!(!verify_key_check(&MasterKey::generate(), &check));
    assert!(!verify_key_check(&master, b"garbage"));
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
        let aad = secret_aad(project, "KEY", version);
        let sealed = Sealed::from_bytes(&seal(key.expose(), &value, &aad).to_bytes()).expect("parses");
        let opened = open(key.expose(), &sealed, &aad).expect("opens");
        prop_assert_eq!(opened.as_slice(), value.as_slice());
    }

    #[test]
    fn flipping_any_bit_of_nonce_ciphertext_or_tag_fails_to_open(
        value in proptest::collection::vec(any::<u8>(), 1..256), bit in any::<usize>()
    ) {
        let key = DataKey::generate();
        let mut bytes = seal(key.expose(), &value, b"aad").to_bytes();
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let sealed = Sealed::from_bytes(&bytes).expect("same length parses");
        prop_assert_eq!(open(key.expose(), &sealed, b"aad"), Err(CryptoError::Open));
    }

    #[test]
    fn flipping_any_bit_of_a_wrapped_key_fails_to_unwrap(bit in 0usize..(12 + 32 + 16) * 8) {
        let master = MasterKey::generate();
        let mut wrapped = wrap_key(&master, &DataKey::generate(), b"owner");
        wrapped[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(unwrap_key(&master, &wrapped, b"owner").is_err());
    }
}

#[test]
fn derived_keys_differ_by_label_and_root_and_are_stable() {
    let root = [7u8; 32];
    let a = super::derive_key(&root, b"sealbox/a/v1");
    assert_eq!(a.expose(), super::derive_key(&root, b"sealbox/a/v1").expose());
    assert_ne!(a.expose(), super::derive_key(&root, b"sealbox/b/v1").expose());
    assert_ne!(a.expose(), super::derive_key(&[8u8; 32], b"sealbox/a/v1").expose());
    assert_ne!(&a.expose()[..], &root[..]);
}

//! Standard Webhooks signing (DELIVERY.md §4): `webhook-signature` carries one
//! `v1,<base64 HMAC-SHA256>` entry per key in force, so receivers keep verifying through a
//! secret rotation. Secret values never leave this module except through `to_secret_string`.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

/// What the `standardwebhooks` and `svix` libraries expect in front of the base64 key.
const SECRET_PREFIX: &str = "whsec_";
/// 256 bits: the HMAC-SHA256 output size, so the key is never the weak link.
const GENERATED_KEY_BYTES: usize = 32;
/// The Standard Webhooks specification asks for keys of 192 to 512 bits.
const KEY_BYTES: RangeInclusive<usize> = 24..=64;
const SECRET_ID_PREFIX: &str = "sec_";
/// 64 random bits: ids only need to be distinct among the few keys of one destination.
const SECRET_ID_BYTES: usize = 8;
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

type HmacSha256 = Hmac<Sha256>;

/// Why a secret or secret id could not be made or read. No variant carries secret material,
/// so these errors are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("a secret starts with `whsec_`")]
    MissingPrefix,
    #[error("the secret after `whsec_` is not standard base64")]
    Base64,
    #[error("the secret key has {0} bytes, not 24 to 64")]
    KeyLength(usize),
    #[error("no randomness available: {0}")]
    Random(getrandom::Error),
    #[error("a secret id is `sec_` and 16 lowercase hex digits")]
    InvalidId,
}

/// A destination's signing key. `Debug` shows no key material and the bytes are zeroed on
/// drop; the `whsec_` form is only rendered on purpose, by `to_secret_string`.
#[derive(Clone)]
pub struct Secret {
    key: SecretSlice<u8>,
    /// Keyed once here, where a failure can still be reported, so that `sign` cannot fail.
    /// Its inner pads derive from the key; hmac offers no zeroizing for them.
    mac: HmacSha256,
}

impl Secret {
    /// A new random 32-byte key from the operating system.
    pub fn generate() -> Result<Self, SecretError> {
        let mut key = SecretSlice::from(vec![0_u8; GENERATED_KEY_BYTES]);
        getrandom::getrandom(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))
            .map_err(SecretError::Random)?;
        Self::from_key(key)
    }

    fn from_key(key: SecretSlice<u8>) -> Result<Self, SecretError> {
        let length = key.expose_secret().len();
        if !KEY_BYTES.contains(&length) {
            return Err(SecretError::KeyLength(length));
        }
        let mac = HmacSha256::new_from_slice(key.expose_secret())
            .map_err(|_| SecretError::KeyLength(length))?;
        Ok(Self { key, mac })
    }

    /// The `whsec_<base64>` form shown to the operator on creation and rotation, and stored.
    pub fn to_secret_string(&self) -> SecretString {
        let encoded = STANDARD.encode(self.key.expose_secret());
        SecretString::from(format!("{SECRET_PREFIX}{encoded}"))
    }

    /// The MAC over `<msg_id>.<timestamp>.<body>`, ready to finalize or verify.
    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl FromStr for Secret {
    type Err = SecretError;

    /// Reads the `whsec_<base64>` form; the key is the decoded bytes, as receivers' libraries
    /// take it.
    fn from_str(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD.decode(encoded).map_err(|_| SecretError::Base64)?;
        Self::from_key(SecretSlice::from(key))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(whsec_[redacted])")
    }
}

/// The public name of a signing key (`sec_` + 16 lowercase hex digits): the API lists these
/// as `secret_ids` so operators can see which keys are in force without seeing the keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretId(String);

impl SecretId {
    /// A new random id.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = [0_u8; SECRET_ID_BYTES];
        getrandom::getrandom(&mut bytes).map_err(SecretError::Random)?;
        let mut id = String::with_capacity(SECRET_ID_PREFIX.len() + 2 * SECRET_ID_BYTES);
        id.push_str(SECRET_ID_PREFIX);
        for byte in bytes {
            id.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            id.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        }
        Ok(Self(id))
    }

    /// The id as the API shows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretId {
    type Err = SecretError;

    fn from_str(text: &str) -> Result<Self, SecretError> {
        let digits = text
            .strip_prefix(SECRET_ID_PREFIX)
            .ok_or(SecretError::InvalidId)?;
        let is_hex = |byte: &u8| HEX_DIGITS.contains(byte);
        if digits.len() != 2 * SECRET_ID_BYTES || !digits.as_bytes().iter().all(is_hex) {
            return Err(SecretError::InvalidId);
        }
        Ok(Self(text.to_owned()))
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SecretId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for SecretId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The `webhook-signature` value: `v1,<base64 HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")>`
/// for each key, space-separated, in the order given (during a rotation grace both keys sign).
pub fn sign(msg_id: &str, timestamp: i64, body: &[u8], keys: &[&Secret]) -> String {
    let entries: Vec<String> = keys
        .iter()
        .map(|key| {
            let tag = key.mac(msg_id, timestamp, body).finalize().into_bytes();
            format!("v1,{}", STANDARD.encode(tag))
        })
        .collect();
    entries.join(" ")
}

/// Whether `header` (a `webhook-signature` value) holds a `v1` entry made with `key`: the
/// receiver's side, for tests. Tags are compared in constant time (`Mac::verify_slice`);
/// the timestamp tolerance a receiver also applies is not checked here.
pub fn verify(msg_id: &str, timestamp: i64, body: &[u8], header: &str, key: &Secret) -> bool {
    header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|tag| STANDARD.decode(tag).ok())
        .any(|tag| key.mac(msg_id, timestamp, body).verify_slice(&tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks specification and libraries.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn vector_secret() -> Secret {
        VECTOR_SECRET.parse().unwrap()
    }

    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        let secret = vector_secret();
        let header = sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &[&secret]);
        assert_eq!(header, VECTOR_SIGNATURE);
        assert!(verify(
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            &header,
            &secret
        ));
    }

    #[test]
    fn two_keys_give_two_entries_that_each_verify() {
        let old = vector_secret();
        let new = Secret::generate().unwrap();
        let header = sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &[&old, &new]);
        let entries: Vec<&str> = header.split(' ').collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0], VECTOR_SIGNATURE);
        assert!(entries[1].starts_with("v1,"));
        for key in [&old, &new] {
            assert!(verify(
                VECTOR_ID,
                VECTOR_TIMESTAMP,
                VECTOR_BODY,
                &header,
                key
            ));
        }
        let other = Secret::generate().unwrap();
        assert!(!verify(
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            &header,
            &other
        ));
    }

    #[test]
    fn verify_refuses_a_changed_id_timestamp_or_body() {
        let secret = vector_secret();
        let header = VECTOR_SIGNATURE;
        assert!(!verify(
            "msg_other",
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            header,
            &secret
        ));
        assert!(!verify(
            VECTOR_ID,
            VECTOR_TIMESTAMP + 1,
            VECTOR_BODY,
            header,
            &secret
        ));
        assert!(!verify(VECTOR_ID, VECTOR_TIMESTAMP, b"{}", header, &secret));
    }

    #[test]
    fn verify_ignores_other_versions_and_malformed_entries() {
        let secret = vector_secret();
        let tag = VECTOR_SIGNATURE.trim_start_matches("v1,");
        let foreign = format!("v1a,{tag} v1,not-base64!");
        assert!(!verify(
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            &foreign,
            &secret
        ));
        let mixed = format!("{foreign} {VECTOR_SIGNATURE}");
        assert!(verify(
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            &mixed,
            &secret
        ));
    }

    #[test]
    fn generated_secrets_are_whsec_and_32_random_bytes() {
        let secret = Secret::generate().unwrap();
        let text = secret.to_secret_string();
        let encoded = text.expose_secret().strip_prefix("whsec_").unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap().len(), 32);
        let other = Secret::generate().unwrap();
        assert_ne!(
            text.expose_secret(),
            other.to_secret_string().expose_secret()
        );
    }

    #[test]
    fn a_secret_survives_its_whsec_round_trip() {
        let secret = Secret::generate().unwrap();
        let again: Secret = secret.to_secret_string().expose_secret().parse().unwrap();
        let body = b"payload";
        assert_eq!(
            sign("msg", 1, body, &[&secret]),
            sign("msg", 1, body, &[&again])
        );
        assert_eq!(
            vector_secret().to_secret_string().expose_secret(),
            VECTOR_SECRET
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let shown = format!("{:?}", vector_secret());
        assert!(
            !shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "{shown}"
        );
        assert_eq!(shown, "Secret(whsec_[redacted])");
    }

    #[test]
    fn parsing_refuses_missing_prefix_bad_base64_and_bad_lengths() {
        let parse = |text: &str| text.parse::<Secret>().unwrap_err();
        assert!(matches!(
            parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            SecretError::MissingPrefix
        ));
        assert!(matches!(parse("whsec_not base64!"), SecretError::Base64));
        let short = format!("whsec_{}", STANDARD.encode([7_u8; 16]));
        assert!(matches!(parse(&short), SecretError::KeyLength(16)));
        let long = format!("whsec_{}", STANDARD.encode([7_u8; 65]));
        assert!(matches!(parse(&long), SecretError::KeyLength(65)));
        assert!(matches!(parse("whsec_"), SecretError::KeyLength(0)));
    }

    #[test]
    fn secret_ids_are_sec_and_16_lowercase_hex_digits() {
        let id = SecretId::generate().unwrap();
        let digits = id.as_str().strip_prefix("sec_").unwrap();
        assert_eq!(digits.len(), 16);
        assert!(
            digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(id, SecretId::generate().unwrap());
        assert_eq!(id.to_string().parse::<SecretId>().unwrap(), id);
    }

    #[test]
    fn secret_id_parsing_refuses_other_shapes() {
        for text in [
            "sec_0123456789ABCDEF",
            "sec_0123456789abcde",
            "sec_0123456789abcdef0",
            "key_0123456789abcdef",
            "0123456789abcdef",
        ] {
            assert!(text.parse::<SecretId>().is_err(), "{text}");
        }
    }

    #[test]
    fn secret_ids_serialize_as_strings() {
        let id: SecretId = "sec_0123456789abcdef".parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""sec_0123456789abcdef""#);
        assert_eq!(serde_json::from_str::<SecretId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<SecretId>(r#""sec_nothex""#).is_err());
    }
}

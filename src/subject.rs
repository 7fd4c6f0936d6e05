//! Identifier ⇄ NATS subject. Each value becomes one token; `.`, `*`, `>`, `%` and every
//! character NATS forbids in a subject (whitespace, control characters) are percent-encoded
//! with upper-case hex, so no value can split, widen or break a subject. For values aviso can
//! encode at all, the result is byte-identical to aviso's.

use std::fmt;

/// Why a token could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    #[error("subject tokens cannot be empty")]
    EmptyToken,
    #[error("malformed percent-encoding in subject token '{0}'")]
    MalformedEscape(String),
    #[error("subject '{subject}' does not have {expected} tokens")]
    WrongTokenCount { subject: String, expected: usize },
    #[error("subject '{0}' is not under this stream's base")]
    ForeignBase(String),
}

fn needs_escape(c: char) -> bool {
    matches!(c, '.' | '*' | '>' | '%') || c.is_ascii_whitespace() || c.is_control()
}

/// Encodes one identifier value as a subject token.
pub fn encode_token(value: &str) -> Result<String, SubjectError> {
    if value.is_empty() {
        return Err(SubjectError::EmptyToken);
    }
    let mut token = String::with_capacity(value.len());
    for c in value.chars() {
        if needs_escape(c) {
            let mut utf8 = [0u8; 4];
            for byte in c.encode_utf8(&mut utf8).bytes() {
                token.push('%');
                token.push_str(&format!("{byte:02X}"));
            }
        } else {
            token.push(c);
        }
    }
    Ok(token)
}

/// [`decode_token`] without a copy when the token holds no escape (most do not).
pub fn decode_token_borrowed(token: &str) -> Result<std::borrow::Cow<'_, str>, SubjectError> {
    if token.contains('%') {
        decode_token(token).map(std::borrow::Cow::Owned)
    } else {
        Ok(std::borrow::Cow::Borrowed(token))
    }
}

/// Decodes one token, strictly: every `%` must start a two-digit hex escape.
pub fn decode_token(token: &str) -> Result<String, SubjectError> {
    let malformed = || SubjectError::MalformedEscape(token.to_owned());
    let bytes = token.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = bytes.get(index + 1..index + 3).ok_or_else(malformed)?;
            let hex = std::str::from_utf8(hex).map_err(|_| malformed())?;
            decoded.push(u8::from_str_radix(hex, 16).map_err(|_| malformed())?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| malformed())
}

/// A concrete subject a notification is published under: `<base>.<token>...`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject(String);

impl Subject {
    /// Builds the subject from the base and the canonical values in `key_order` order.
    pub fn build<'a>(
        base: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, SubjectError> {
        let mut subject = encode_token(base)?;
        for value in values {
            subject.push('.');
            subject.push_str(&encode_token(value)?);
        }
        Ok(Self(subject))
    }

    /// Wraps a subject read back from the store.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`Self::decode_values`] borrowing every value that holds no escape: what a filter
    /// check per message needs, without a string per value.
    pub fn decode_values_borrowed(
        &self,
        expected: usize,
    ) -> Result<Vec<std::borrow::Cow<'_, str>>, SubjectError> {
        let mut tokens = self.0.split('.');
        tokens
            .next()
            .ok_or_else(|| SubjectError::ForeignBase(self.0.clone()))?;
        let mut values = Vec::with_capacity(expected);
        for token in tokens {
            values.push(decode_token_borrowed(token)?);
        }
        if values.len() != expected {
            return Err(SubjectError::WrongTokenCount {
                subject: self.0.clone(),
                expected,
            });
        }
        Ok(values)
    }

    /// The decoded values after the base; `expected` is the `key_order` length.
    pub fn decode_values(&self, expected: usize) -> Result<Vec<String>, SubjectError> {
        Ok(self
            .decode_values_borrowed(expected)?
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect())
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pattern over the `key_order` positions: a fixed canonical value or any value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPattern {
    Exact(String),
    Any,
}

/// A watch/replay selection expressed in subject terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectFilter {
    base: String,
    tokens: Vec<TokenPattern>,
}

impl SubjectFilter {
    pub fn new(base: impl Into<String>, tokens: Vec<TokenPattern>) -> Self {
        Self {
            base: base.into(),
            tokens,
        }
    }

    /// Everything under the base, whatever the token count.
    pub fn whole_stream(base: impl Into<String>) -> Self {
        Self::new(base, Vec::new())
    }

    /// The most specific NATS filter: every fixed token, `*` per open position
    /// (`<base>.>` when no positions are known).
    pub fn to_nats_filter(&self) -> Result<String, SubjectError> {
        let mut filter = encode_token(&self.base)?;
        if self.tokens.is_empty() {
            filter.push_str(".>");
            return Ok(filter);
        }
        for token in &self.tokens {
            filter.push('.');
            match token {
                TokenPattern::Exact(value) => filter.push_str(&encode_token(value)?),
                TokenPattern::Any => filter.push('*'),
            }
        }
        Ok(filter)
    }

    /// The pattern at key position `position` (`None` past the last).
    pub fn token(&self, position: usize) -> Option<&TokenPattern> {
        self.tokens.get(position)
    }

    /// How many key positions follow the base (0 for a whole-stream filter).
    pub fn positions(&self) -> usize {
        self.tokens.len()
    }

    /// The decoded, human-readable topic aviso shows in control frames (`mars.od.*.g`).
    pub fn logical_topic(&self) -> String {
        let mut topic = self.base.clone();
        for token in &self.tokens {
            topic.push('.');
            match token {
                TokenPattern::Exact(value) => topic.push_str(value),
                TokenPattern::Any => topic.push('*'),
            }
        }
        topic
    }

    /// Whether decoded values match every fixed position (the in-process check, used where
    /// a store cannot apply NATS wildcards itself).
    pub fn matches_values<S: AsRef<str>>(&self, values: &[S]) -> bool {
        if self.tokens.is_empty() {
            return true;
        }
        values.len() == self.tokens.len()
            && self
                .tokens
                .iter()
                .zip(values)
                .all(|(pattern, value)| match pattern {
                    TokenPattern::Exact(expected) => expected == value.as_ref(),
                    TokenPattern::Any => true,
                })
    }
}

/// Whether a concrete subject matches a NATS filter with `*` and trailing `>` wildcards.
pub fn nats_filter_matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for pattern in filter.split('.') {
        match (pattern, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (expected, Some(actual)) if expected == actual => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_like_aviso_for_reserved_characters() {
        let subject = Subject::build(
            "mars",
            ["od", "0001", "g", "20250706", "1200", "a.b*c>d%e", "3"],
        )
        .unwrap();
        assert_eq!(
            subject.as_str(),
            "mars.od.0001.g.20250706.1200.a%2Eb%2Ac%3Ed%25e.3"
        );
        assert_eq!(encode_token("ens.member.X").unwrap(), "ens%2Emember%2EX");
        assert_eq!(encode_token("42.5").unwrap(), "42%2E5");
        assert_eq!(encode_token("1%25").unwrap(), "1%2525");
    }

    #[test]
    fn encodes_characters_nats_forbids() {
        assert_eq!(encode_token("a b\tc\r\nd").unwrap(), "a%20b%09c%0D%0Ad");
        assert_eq!(encode_token("\u{7f}\u{0}").unwrap(), "%7F%00");
    }

    #[test]
    fn leaves_unicode_letters_alone() {
        assert_eq!(encode_token("zürich").unwrap(), "zürich");
    }

    #[test]
    fn refuses_empty_tokens() {
        assert_eq!(encode_token(""), Err(SubjectError::EmptyToken));
    }

    #[test]
    fn decoding_is_strict() {
        assert!(decode_token("a%2").is_err());
        assert!(decode_token("a%zz").is_err());
        assert!(decode_token("%FF").is_err());
        assert_eq!(decode_token("a%2eb").unwrap(), "a.b");
    }

    #[test]
    fn filter_is_as_specific_as_the_identifier() {
        let filter = SubjectFilter::new(
            "diss",
            vec![
                TokenPattern::Exact("FOO".into()),
                TokenPattern::Any,
                TokenPattern::Exact("a.b".into()),
            ],
        );
        assert_eq!(filter.to_nats_filter().unwrap(), "diss.FOO.*.a%2Eb");
        assert_eq!(filter.logical_topic(), "diss.FOO.*.a.b");
        assert_eq!(
            SubjectFilter::whole_stream("mars")
                .to_nats_filter()
                .unwrap(),
            "mars.>"
        );
    }

    #[test]
    fn a_value_cannot_widen_a_filter() {
        let filter = SubjectFilter::new("mars", vec![TokenPattern::Exact("*".into())]);
        assert_eq!(filter.to_nats_filter().unwrap(), "mars.%2A");
        let filter = SubjectFilter::new("mars", vec![TokenPattern::Exact(">".into())]);
        assert_eq!(filter.to_nats_filter().unwrap(), "mars.%3E");
    }

    #[test]
    fn nats_wildcards_match_like_nats() {
        assert!(nats_filter_matches("mars.>", "mars.a.b"));
        assert!(!nats_filter_matches("mars.>", "mars"));
        assert!(nats_filter_matches("mars.*.b", "mars.a.b"));
        assert!(!nats_filter_matches("mars.*.b", "mars.a.c"));
        assert!(!nats_filter_matches("mars.*", "mars.a.b"));
        assert!(!nats_filter_matches("mars.a.b", "mars.a"));
    }

    #[test]
    fn decodes_values_back() {
        let subject = Subject::build("mars", ["a.b", "c d"]).unwrap();
        assert_eq!(subject.decode_values(2).unwrap(), vec!["a.b", "c d"]);
        assert!(subject.decode_values(3).is_err());
    }

    fn is_valid_nats_token(token: &str) -> bool {
        !token.is_empty()
            && token != "*"
            && token != ">"
            && !token
                .chars()
                .any(|c| c == '.' || c.is_ascii_whitespace() || c.is_control())
            && !token.contains('*')
            && !token.contains('>')
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(value in any::<String>().prop_filter("non-empty", |v| !v.is_empty())) {
            let token = encode_token(&value).unwrap();
            prop_assert!(is_valid_nats_token(&token), "{token:?}");
            prop_assert_eq!(decode_token(&token).unwrap(), value);
        }

        #[test]
        fn ascii_heavy_values_round_trip(value in "[ -~\t\r\n]{1,40}") {
            let token = encode_token(&value).unwrap();
            prop_assert!(is_valid_nats_token(&token), "{token:?}");
            prop_assert_eq!(decode_token(&token).unwrap(), value);
        }
    }
}

//! Reading what came back (DELIVERY.md §4, §5, §8): the status judged, `Retry-After` read,
//! a capped slice of the body kept as text, and a failed request put in its error class.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::schedule::MAX_RETRY_AFTER;
use super::{AttemptStatus, ErrorClass};
use crate::delivery::address::{self, AddressError};

/// A response as the record keeps it.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) body: String,
    pub(super) truncated: bool,
    pub(super) retry_after: Option<Duration>,
}

/// Reads `response`: its status and `Retry-After`, and at most `cap` bytes of its body (plus
/// the rest of the chunk that crossed it). The body is streamed and dropped once past the
/// cap, so a receiver answering with gigabytes costs a few kilobytes; a body that breaks off
/// (reset, timeout) keeps what arrived and counts as truncated.
pub(super) async fn receive(mut response: reqwest::Response, cap: usize) -> Answer {
    let status = response.status();
    let retry_after = retry_after(status, response.headers(), Utc::now());
    let mut kept = Vec::new();
    let complete = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                kept.extend_from_slice(&chunk);
                if kept.len() > cap {
                    break false;
                }
            }
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    let (body, cut) = body_text(&kept, cap);
    Answer {
        status,
        body,
        truncated: cut || !complete,
        retry_after,
    }
}

/// §4: any 2xx succeeds; a 3xx is `redirect` (never followed), a 410 `gone`; any other answer
/// fails with no error class, the status code says it all (§8).
pub(super) fn judge(status: StatusCode) -> (AttemptStatus, Option<ErrorClass>) {
    if status.is_success() {
        (AttemptStatus::Success, None)
    } else if status.is_redirection() {
        (AttemptStatus::Failed, Some(ErrorClass::Redirect))
    } else if status == StatusCode::GONE {
        (AttemptStatus::Failed, Some(ErrorClass::Gone))
    } else {
        (AttemptStatus::Failed, None)
    }
}

/// The delay a 429 or 503 asks for, at most [`MAX_RETRY_AFTER`] so that one header cannot
/// park a delivery for days. A date in the past asks for no delay; an unreadable value is
/// ignored (the schedule applies). Other statuses' `Retry-After` is not ours to obey.
pub(super) fn retry_after(
    status: StatusCode,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        // All digits: only overflow fails, and that is more than the cap anyway.
        Duration::from_secs(text.parse().unwrap_or(u64::MAX))
    } else {
        (http_date(text)? - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

/// An HTTP date (RFC 9110 §5.6.7) in any of the three forms a recipient must accept:
/// IMF-fixdate, the obsolete RFC 850 form and asctime.
fn http_date(text: &str) -> Option<DateTime<Utc>> {
    const FORMATS: [&str; 3] = [
        "%a, %d %b %Y %H:%M:%S GMT",
        "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %e %H:%M:%S %Y",
    ];
    FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

/// The first `cap` bytes of `bytes` as text, and whether anything was cut. A character
/// straddling the cut is dropped whole rather than turned into U+FFFD, so truncation never
/// invents an encoding error; invalid UTF-8 within is replaced by U+FFFD.
pub(super) fn body_text(bytes: &[u8], cap: usize) -> (String, bool) {
    if bytes.len() <= cap {
        return (String::from_utf8_lossy(bytes).into_owned(), false);
    }
    let end = char_boundary_at_or_before(bytes, cap);
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), true)
}

/// `cap`, or the start of the character `bytes[cap]` continues (at most three bytes back,
/// the longest UTF-8 continuation). Stray continuation bytes are invalid anyway and are
/// left for the replacement at `cap`.
fn char_boundary_at_or_before(bytes: &[u8], cap: usize) -> usize {
    let continues = |index: usize| bytes.get(index).is_some_and(|byte| byte & 0xc0 == 0x80);
    let mut start = cap;
    while start > 0 && cap - start < 3 && continues(start) {
        start -= 1;
    }
    let leads = bytes.get(start).is_some_and(|byte| *byte >= 0xc0);
    if continues(cap) && leads { start } else { cap }
}

/// The class of a request that got no response, from error kinds and types alone (messages
/// change between versions): the guard's refusal (`blocked_address`, or `dns` when the name
/// did not resolve), reqwest's timeout, a TLS failure (rustls reports through tokio-rustls as
/// an `InvalidData` I/O error while connecting), else `connect`.
pub(super) fn classify(error: &reqwest::Error, https: bool) -> ErrorClass {
    match address::address_error(error) {
        Some(AddressError::Resolve { .. }) => return ErrorClass::Dns,
        Some(_) => return ErrorClass::BlockedAddress,
        None => {}
    }
    if error.is_timeout() {
        ErrorClass::Timeout
    } else if https && error.is_connect() && io_kind_in_chain(error, io::ErrorKind::InvalidData) {
        ErrorClass::Tls
    } else {
        ErrorClass::Connect
    }
}

/// Whether an I/O error of `kind` is among the causes of `error`. An `io::Error`'s `source`
/// skips the error it wraps (it answers that error's own source), so wrapped I/O errors are
/// entered through `get_ref`: reqwest's connector wraps tokio-rustls's error that way.
fn io_kind_in_chain(error: &reqwest::Error, kind: io::ErrorKind) -> bool {
    let mut cause = error.source();
    while let Some(inner) = cause {
        cause = match inner.downcast_ref::<io::Error>() {
            Some(io) if io.kind() == kind => return true,
            Some(io) => match io.get_ref() {
                Some(wrapped) => Some(wrapped as &(dyn std::error::Error + 'static)),
                None => None,
            },
            None => inner.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn asking(status: u16, value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        let now = DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z").unwrap();
        retry_after(StatusCode::from_u16(status).unwrap(), &headers, now.into())
    }

    #[test]
    fn retry_after_reads_seconds_and_every_http_date_form() {
        assert_eq!(asking(429, "120"), Some(Duration::from_secs(120)));
        assert_eq!(asking(503, " 0 "), Some(Duration::ZERO));
        let ten_minutes = Some(Duration::from_secs(600));
        assert_eq!(asking(503, "Sun, 06 Nov 1994 08:59:37 GMT"), ten_minutes);
        assert_eq!(asking(429, "Sunday, 06-Nov-94 08:59:37 GMT"), ten_minutes);
        assert_eq!(asking(429, "Sun Nov  6 08:59:37 1994"), ten_minutes);
        assert_eq!(
            asking(429, "Sun, 06 Nov 1994 08:00:00 GMT"),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_is_capped_and_ignored_where_it_does_not_apply() {
        assert_eq!(asking(429, "7200"), Some(MAX_RETRY_AFTER));
        assert_eq!(
            asking(429, "99999999999999999999999"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            asking(503, "Mon, 07 Nov 1994 08:49:37 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(asking(500, "120"), None);
        assert_eq!(asking(302, "120"), None);
        for unreadable in ["-5", "1.5", "soon", "", "+3"] {
            assert_eq!(asking(429, unreadable), None, "{unreadable:?}");
        }
    }

    #[test]
    fn statuses_are_judged_as_the_contract_says() {
        use AttemptStatus::{Failed, Success};
        let judged = |code: u16| judge(StatusCode::from_u16(code).unwrap());
        assert_eq!(judged(200), (Success, None));
        assert_eq!(judged(204), (Success, None));
        assert_eq!(judged(299), (Success, None));
        assert_eq!(judged(301), (Failed, Some(ErrorClass::Redirect)));
        assert_eq!(judged(304), (Failed, Some(ErrorClass::Redirect)));
        assert_eq!(judged(410), (Failed, Some(ErrorClass::Gone)));
        for code in [400, 404, 429, 500, 503] {
            assert_eq!(judged(code), (Failed, None), "{code}");
        }
    }

    #[test]
    fn short_bodies_are_kept_whole_with_invalid_utf8_replaced() {
        assert_eq!(body_text(b"ok", 4), ("ok".to_owned(), false));
        assert_eq!(body_text(b"", 4), (String::new(), false));
        assert_eq!(
            body_text(b"a\xffb\xc3", 8),
            ("a\u{fffd}b\u{fffd}".to_owned(), false)
        );
    }

    #[test]
    fn long_bodies_are_cut_at_a_character_boundary() {
        assert_eq!(body_text(b"abcdef", 4), ("abcd".to_owned(), true));
        // "é" is c3 a9: a cut between its bytes drops it whole.
        assert_eq!(body_text("abcé".as_bytes(), 4), ("abc".to_owned(), true));
        assert_eq!(body_text("abcdé".as_bytes(), 4), ("abcd".to_owned(), true));
        // A four-byte character across the cut at every offset.
        let emoji = "ab😀cd".as_bytes();
        for cap in 2..6 {
            assert_eq!(body_text(emoji, cap), ("ab".to_owned(), true), "cap {cap}");
        }
        assert_eq!(body_text(emoji, 6), ("ab😀".to_owned(), true));
        // Stray continuation bytes are invalid wherever the cut falls.
        assert_eq!(
            body_text(b"a\x80\x80\x80\x80\x80", 4),
            ("a\u{fffd}\u{fffd}\u{fffd}".to_owned(), true)
        );
        let (text, cut) = body_text(&[b'x'; 100], 16);
        assert_eq!((text.len(), cut), (16, true));
    }
}

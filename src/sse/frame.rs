//! Typed SSE frames and their exact wire form: `event: <name>`, an `id:` line on
//! notification frames, one `data:` line of compact JSON with sorted keys, a blank line.

use std::io::Write as _;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// Why the server ends a stream; the only three reasons aviso clients accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    EndOfStream,
    MaxDurationReached,
    ServerShutdown,
}

impl CloseReason {
    fn wire(self) -> (&'static str, &'static str) {
        match self {
            CloseReason::EndOfStream => ("end_of_stream", "Stream completed"),
            CloseReason::MaxDurationReached => (
                "max_duration_reached",
                "Connection reached maximum duration",
            ),
            CloseReason::ServerShutdown => {
                ("server_shutdown", "Server is shutting down gracefully")
            }
        }
    }
}

/// Which notification frame name a CloudEvent travels under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Replay,
    Live,
    /// A live delivery outcome (`GET /api/v1/deliveries/events`), history or live alike.
    Outcome,
}

#[derive(Debug, Clone)]
pub enum Frame {
    ConnectionEstablished {
        closes_in_seconds: u64,
    },
    ReplayStarted {
        from_sequence: Option<u64>,
        from_date: Option<DateTime<Utc>>,
        end_sequence: Option<u64>,
        to_date: Option<DateTime<Utc>>,
        resume: Option<Resume>,
    },
    ReplayCompleted,
    LimitReached {
        max_allowed: usize,
    },
    /// A notification's CloudEvent, or with [`Phase::Outcome`] a delivery outcome.
    Notification {
        phase: Phase,
        id: String,
        cloudevent: Bytes,
    },
    /// A frame encoded once and shared by many streams: a live notification, the same for
    /// all its watchers.
    Encoded(Bytes),
    Heartbeat,
    Error {
        error: &'static str,
        message: String,
    },
    Closing(CloseReason),
    /// A comment line; every SSE parser ignores it, proxies see traffic.
    KeepAlive,
    /// How long an `EventSource` waits before reconnecting.
    Retry(std::time::Duration),
    /// A notification the watcher may have seen was deleted (`request_id`: the deletion's).
    Deleted {
        id: String,
        request_id: String,
    },
    /// The watcher's stream was wiped (all of it, or the part an identifier purge matched).
    Wiped {
        stream: String,
        /// Notifications the wipe removed (0 when there were none).
        count: u64,
        request_id: String,
    },
}

/// A stream resumed after `Last-Event-ID`; `first_available` is set when that id is older
/// than the stream's first retained notification, so some may have been removed unseen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub last_event_id: String,
    pub first_available: Option<u64>,
}

/// What every control frame of one stream shares.
#[derive(Debug, Clone)]
pub struct FrameContext {
    pub request_id: String,
    pub topic: String,
}

/// `2026-12-01T23:00:44Z`: aviso's form. Not through `format`, which parses its pattern
/// on every call (it showed in the notify profile).
pub(crate) fn seconds(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn now() -> String {
    seconds(Utc::now())
}

fn frame(event: &str, data: &Map<String, Value>) -> Bytes {
    let data = Value::Object(data.clone()).to_string();
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Where a replay starts and ends, as `replay_started` announces it.
struct ReplayBounds {
    from_sequence: Option<u64>,
    from_date: Option<DateTime<Utc>>,
    end_sequence: Option<u64>,
    to_date: Option<DateTime<Utc>>,
}

fn replay_started(context: &FrameContext, bounds: &ReplayBounds, resume: Option<&Resume>) -> Bytes {
    let mut data = object(json!({
        "batch_size": 100,
        "end_sequence": bounds.end_sequence,
        "from_date": bounds.from_date.map(seconds),
        "from_sequence": bounds.from_sequence,
        "request_id": context.request_id,
        "timestamp": now(),
        "to_date": bounds.to_date.map(seconds),
        "topic": context.topic,
        "type": "replay_started",
    }));
    if let Some(resume) = resume {
        data.insert("last_event_id".to_owned(), json!(resume.last_event_id));
        if let Some(first) = resume.first_available {
            data.insert("first_available_sequence".to_owned(), json!(first));
            data.insert("notifications_may_be_missing".to_owned(), json!(true));
            data.insert(
                "resume_warning".to_owned(),
                json!(format!(
                    "{} is older than the first retained notification (sequence {first}); notifications in between were removed and may have been missed",
                    resume.last_event_id
                )),
            );
        }
    }
    frame("replay-control", &data)
}

/// A notification frame: its CloudEvent as rendered once, with the `id:` line.
fn notification(phase: Phase, id: &str, cloudevent: &[u8]) -> Bytes {
    let mut bytes = Vec::with_capacity(cloudevent.len() + id.len() + 48);
    write_notification(&mut bytes, phase, id, cloudevent);
    Bytes::from(bytes)
}

/// Appends a notification frame to `out`: how a replay gathers many frames into one chunk
/// without a buffer (and an id string) per frame.
pub(crate) fn write_notification(
    out: &mut Vec<u8>,
    phase: Phase,
    id: impl std::fmt::Display,
    cloudevent: &[u8],
) {
    let event = match phase {
        Phase::Replay => "replay",
        Phase::Live => "live-notification",
        Phase::Outcome => "delivery-outcome",
    };
    // Writing into a Vec cannot fail.
    let _ = write!(out, "event: {event}\nid: {id}\ndata: ");
    out.extend_from_slice(cloudevent);
    out.extend_from_slice(b"\n\n");
}

/// A `live-notification` frame, and the CloudEvent it carries as a slice of the same buffer.
pub(crate) fn live_notification(id: impl std::fmt::Display, cloudevent: &[u8]) -> (Bytes, Bytes) {
    let mut frame = Vec::with_capacity(cloudevent.len() + 96);
    write_notification(&mut frame, Phase::Live, id, cloudevent);
    let frame = Bytes::from(frame);
    // The frame ends with the CloudEvent and a blank line.
    let end = frame.len().saturating_sub(2);
    let within = frame.slice(end.saturating_sub(cloudevent.len())..end);
    (frame, within)
}

fn limit_reached(context: &FrameContext, max_allowed: usize) -> Bytes {
    frame(
        "replay-control",
        &object(json!({
            "max_allowed": max_allowed,
            "message": format!("Historical replay limited to {max_allowed} messages. Additional historical messages may be available but were not retrieved."),
            "timestamp": now(),
            "topic": context.topic,
            "type": "notification_replay_limit_reached",
        })),
    )
}

fn closing(context: &FrameContext, reason: CloseReason) -> Bytes {
    let (reason, message) = reason.wire();
    frame(
        "connection-closing",
        &object(json!({
            "message": message,
            "reason": reason,
            "request_id": context.request_id,
            "timestamp": now(),
            "topic": context.topic,
        })),
    )
}

impl Frame {
    /// Appends the frame to `out` (a chunk of several): a notification frame is written in
    /// place, any other is encoded first.
    pub fn encode_into(&self, context: &FrameContext, out: &mut Vec<u8>) {
        match self {
            Frame::Notification {
                phase,
                id,
                cloudevent,
            } => write_notification(out, *phase, id, cloudevent),
            Frame::Encoded(bytes) => out.extend_from_slice(bytes),
            other => out.extend_from_slice(&other.encode(context)),
        }
    }

    pub fn encode(&self, context: &FrameContext) -> Bytes {
        let request_id = &context.request_id;
        let topic = &context.topic;
        match self {
            Frame::ConnectionEstablished { closes_in_seconds } => frame(
                "live-notification",
                &object(json!({
                    "connection_will_close_in_seconds": closes_in_seconds,
                    "request_id": request_id,
                    "timestamp": now(),
                    "topic": topic,
                    "type": "connection_established",
                })),
            ),
            Frame::ReplayStarted {
                from_sequence,
                from_date,
                end_sequence,
                to_date,
                resume,
            } => {
                let bounds = ReplayBounds {
                    from_sequence: *from_sequence,
                    from_date: *from_date,
                    end_sequence: *end_sequence,
                    to_date: *to_date,
                };
                replay_started(context, &bounds, resume.as_ref())
            }
            Frame::ReplayCompleted => frame(
                "replay-control",
                &object(json!({"timestamp": now(), "topic": topic, "type": "replay_completed"})),
            ),
            Frame::LimitReached { max_allowed } => limit_reached(context, *max_allowed),
            Frame::Notification {
                phase,
                id,
                cloudevent,
            } => notification(*phase, id, cloudevent),
            Frame::Encoded(bytes) => bytes.clone(),
            Frame::Heartbeat => frame(
                "heartbeat",
                &object(json!({"timestamp": now(), "topic": topic})),
            ),
            Frame::Error { error, message } => frame(
                "error",
                &object(
                    json!({"error": error, "message": message, "request_id": request_id, "topic": topic}),
                ),
            ),
            Frame::Closing(reason) => closing(context, *reason),
            Frame::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
            Frame::Retry(delay) => Bytes::from(format!("retry: {}\n\n", delay.as_millis())),
            Frame::Deleted { id, request_id } => frame(
                "notification-deleted",
                &object(
                    json!({"id": id, "request_id": request_id, "type": "notification_deleted"}),
                ),
            ),
            Frame::Wiped {
                stream,
                count,
                request_id,
            } => frame(
                "stream-wiped",
                &object(
                    json!({"count": count, "request_id": request_id, "stream": stream, "type": "stream_wiped"}),
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> FrameContext {
        FrameContext {
            request_id: "r-1".to_owned(),
            topic: "mars.od.*".to_owned(),
        }
    }

    fn text(frame: Frame) -> String {
        String::from_utf8(frame.encode(&context()).to_vec()).unwrap()
    }

    #[test]
    fn timestamps_are_whole_seconds_with_z() {
        let time: DateTime<Utc> = "2026-12-01T23:00:44.987654Z".parse().unwrap();
        assert_eq!(seconds(time), "2026-12-01T23:00:44Z");
        assert_eq!(seconds(time), time.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }

    #[test]
    fn control_frames_have_one_event_and_one_data_line() {
        let closing = text(Frame::Closing(CloseReason::EndOfStream));
        assert!(closing.starts_with("event: connection-closing\ndata: {\"message\":\"Stream completed\",\"reason\":\"end_of_stream\",\"request_id\":\"r-1\",\"timestamp\":\""));
        assert!(closing.ends_with("\"topic\":\"mars.od.*\"}\n\n"));
        let started = text(Frame::ReplayStarted {
            from_sequence: Some(1),
            from_date: None,
            end_sequence: None,
            to_date: None,
            resume: None,
        });
        assert!(started.contains("\"batch_size\":100,\"end_sequence\":null,\"from_date\":null,\"from_sequence\":1,\"request_id\":\"r-1\""));
        assert!(started.contains("\"type\":\"replay_started\""));
    }

    #[test]
    fn notification_frames_carry_an_id_line() {
        let frame = Frame::Notification {
            phase: Phase::Replay,
            id: "mars@1".to_owned(),
            cloudevent: Bytes::from_static(b"{\"id\":\"mars@1\"}"),
        };
        assert_eq!(
            text(frame),
            "event: replay\nid: mars@1\ndata: {\"id\":\"mars@1\"}\n\n"
        );
        assert_eq!(text(Frame::KeepAlive), ": keep-alive\n\n");
    }

    #[test]
    fn frames_appended_to_a_chunk_are_the_frames_encoded_alone() {
        let frames = [
            Frame::Notification {
                phase: Phase::Replay,
                id: "mars@7".to_owned(),
                cloudevent: Bytes::from_static(b"{\"id\":\"mars@7\"}"),
            },
            Frame::KeepAlive,
            Frame::Notification {
                phase: Phase::Live,
                id: "mars@8".to_owned(),
                cloudevent: Bytes::from_static(b"{}"),
            },
        ];
        let mut chunk = Vec::new();
        for frame in &frames {
            frame.encode_into(&context(), &mut chunk);
        }
        let alone: Vec<u8> = frames
            .iter()
            .flat_map(|frame| frame.encode(&context()).to_vec())
            .collect();
        assert_eq!(chunk, alone);
    }

    #[test]
    fn a_live_frame_carries_its_cloudevent_in_the_same_buffer() {
        let (frame, cloudevent) = live_notification("mars@3", b"{\"id\":\"mars@3\"}");
        assert_eq!(
            &frame[..],
            b"event: live-notification\nid: mars@3\ndata: {\"id\":\"mars@3\"}\n\n"
        );
        assert_eq!(&cloudevent[..], b"{\"id\":\"mars@3\"}");
        assert_eq!(
            cloudevent.as_ptr() as usize - frame.as_ptr() as usize,
            "event: live-notification\nid: mars@3\ndata: ".len()
        );
    }

    #[test]
    fn wipe_frames_carry_the_count() {
        let frame = Frame::Wiped {
            stream: "MARS".to_owned(),
            count: 0,
            request_id: "r-2".to_owned(),
        };
        assert_eq!(
            text(frame),
            "event: stream-wiped\ndata: {\"count\":0,\"request_id\":\"r-2\",\"stream\":\"MARS\",\"type\":\"stream_wiped\"}\n\n"
        );
    }
}

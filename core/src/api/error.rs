//! The errors a caller can see: why an event was refused, and why a
//! configuration was refused (every problem at once, as the seed SDK did).

use crate::wire::json::{JsonError, Kind};
use crate::wire::ser::SerError;

/// An event could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The JSON text is not valid JSON.
    #[error(transparent)]
    InvalidJson(JsonError),
    /// The event is valid JSON but neither an object nor a string.
    #[error("an event must be a JSON object or a string, not {0}")]
    NotObjectOrString(Kind),
    /// Caller metadata is not a JSON object.
    #[error("metadata must be a JSON object, not {0}")]
    MetadataNotObject(Kind),
    /// The value has something JSON cannot represent faithfully.
    #[error("cannot encode as JSON: {0}")]
    Unsupported(SerError),
    /// The output is too small (not an error of the event).
    #[error("output full")]
    Full,
}

impl From<SerError> for EncodeError {
    // One copy for every event type on guests and devices.
    #[cfg_attr(any(target_family = "wasm", target_os = "none"), inline(never))]
    fn from(e: SerError) -> Self {
        match e {
            SerError::Full => EncodeError::Full,
            SerError::NotObjectOrString(k) => EncodeError::NotObjectOrString(k),
            SerError::MetadataNotObject(k) => EncodeError::MetadataNotObject(k),
            e => EncodeError::Unsupported(e),
        }
    }
}

impl From<crate::wire::out::Full> for EncodeError {
    fn from(_: crate::wire::out::Full) -> Self {
        EncodeError::Full
    }
}

/// Why `report` refused an event. Nothing of a refused event stays in the
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The JSON text is not valid JSON.
    #[error(transparent)]
    InvalidJson(JsonError),
    /// The event is valid JSON but neither an object nor a string.
    #[error("an event must be a JSON object or a string, not {0}")]
    NotObjectOrString(Kind),
    /// Caller metadata is not a JSON object.
    #[error("metadata must be a JSON object, not {0}")]
    MetadataNotObject(Kind),
    /// The value has something JSON cannot represent faithfully.
    #[error("cannot encode as JSON: {0}")]
    Unsupported(SerError),
    /// The encoded record is larger than the configured maximum.
    #[error("event too large: {size} bytes encoded, at most {max} allowed")]
    TooLarge {
        /// Encoded size in bytes (at least this many).
        size: usize,
        /// The configured maximum record size.
        max: usize,
    },
    /// The buffer has no room and the policy is to drop the new event.
    #[error("buffer full: no room for a {size}-byte record")]
    BufferFull {
        /// Encoded size in bytes of the refused record. Refused before it
        /// was encoded (drop-newest, the buffer still without room for the
        /// last one refused): the size of that one, which still does not fit.
        size: usize,
    },
    /// The SDK was closed; nothing more is accepted.
    #[error("the SDK is closed")]
    Closed,
    /// Waiting for room (a blocking full-buffer policy) timed out.
    #[error("timed out waiting for buffer room")]
    Timeout,
}

impl ReportError {
    /// True when the event itself was bad (as opposed to no room for it).
    pub fn is_invalid_event(&self) -> bool {
        matches!(
            self,
            ReportError::InvalidJson(_)
                | ReportError::NotObjectOrString(_)
                | ReportError::MetadataNotObject(_)
                | ReportError::Unsupported(_)
                | ReportError::TooLarge { .. }
        )
    }
}

impl From<EncodeError> for ReportError {
    fn from(e: EncodeError) -> Self {
        match e {
            EncodeError::InvalidJson(e) => ReportError::InvalidJson(e),
            EncodeError::NotObjectOrString(k) => ReportError::NotObjectOrString(k),
            EncodeError::MetadataNotObject(k) => ReportError::MetadataNotObject(k),
            EncodeError::Unsupported(e) => ReportError::Unsupported(e),
            EncodeError::Full => ReportError::BufferFull { size: 0 },
        }
    }
}

/// Why a `host:port` server string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Nothing before the port.
    #[error("empty host")]
    EmptyHost,
    /// Host longer than 253 bytes, or with spaces or control characters.
    #[error("invalid host name")]
    BadHost,
    /// Port is not a number from 1 to 65535.
    #[error("port must be a number from 1 to 65535")]
    BadPort,
}

/// One problem in a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// The token is empty.
    #[error("token is empty")]
    EmptyToken,
    /// The token has control characters or is longer than 1024 bytes.
    #[error("token is malformed (control characters, or longer than 1024 bytes)")]
    BadToken,
    /// No servers were given.
    #[error("no servers given")]
    NoServers,
    /// More servers than supported.
    #[error("too many servers ({0}; at most 64)")]
    TooManyServers(usize),
    /// A server string is malformed.
    #[error("server #{index}: {error}")]
    BadServer {
        /// Position in the server list.
        index: usize,
        /// What is wrong with it.
        error: ServerError,
    },
    /// The input label is empty.
    #[error("input label is empty")]
    EmptyInputLabel,
    /// An event-type field path is empty or has an empty segment.
    #[error("event type field path is empty or has an empty segment")]
    BadEventTypeField,
    /// A dotted event-type path or `EventType::With` without the core's
    /// `read-back` feature (only a top-level field is noted while writing).
    #[error("event type from a dotted path or a function needs the SDK's `read-back` feature (alooma-core's; alooma-wasm forwards it)")]
    EventTypeNeedsReadBack,
    /// The buffer is too small to hold even a small record.
    #[error("buffer of {0} bytes is too small (at least 256)")]
    BufferTooSmall(usize),
    /// The replay window the confirmation rule needs would take more than
    /// half the buffer (`peer_buffer`, or `replay_limit` where the transport
    /// cannot see acknowledgements): too little room would be left for new
    /// events.
    #[error("the replay window ({window} bytes: peer_buffer or replay_limit) needs a buffer of at least twice that, not {buffer}")]
    WindowTooLarge {
        /// Bytes the window may hold.
        window: usize,
        /// The buffer size.
        buffer: usize,
    },
    /// The maximum record size is zero or larger than the buffer.
    #[error("max event size {max} must be from 64 to the buffer size {buffer}")]
    BadMaxEvent {
        /// The maximum given.
        max: usize,
        /// The buffer size.
        buffer: usize,
    },
    /// Batch size zero.
    #[error("batch size must be at least 1 byte")]
    ZeroBatch,
    /// Backoff initial delay zero or above the maximum.
    #[error("backoff: initial delay must be non-zero and at most the maximum")]
    BadBackoff,
    /// Jitter over 100 percent.
    #[error("backoff jitter must be at most 100 percent")]
    BadJitter,
    /// Connect timeout zero.
    #[error("connect timeout must be non-zero")]
    ZeroConnectTimeout,
    /// `Protocol::Relp` asked of a build without the `relp` feature.
    #[error("Protocol::Relp needs the SDK built with its `relp` feature")]
    RelpNotBuilt,
    /// With RELP, `batch_bytes` below [`MIN_BUFFER`](crate::protocol::relp::MIN_BUFFER).
    #[error("with RELP, batch_bytes must be at least 128, not {0}")]
    BatchTooSmallForRelp(usize),
    /// RELP window zero.
    #[error("the RELP window must allow at least one unanswered frame")]
    ZeroRelpWindow,
    /// RELP acknowledgement timeout zero.
    #[error("the acknowledgement timeout must be non-zero")]
    ZeroAckTimeout,
}

/// Maximum number of problems a [`ConfigError`] lists.
pub const MAX_PROBLEMS: usize = 16;

/// A configuration was refused: every problem found, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigError {
    problems: heapless::Vec<ConfigProblem, MAX_PROBLEMS>,
    more: usize,
}

impl ConfigError {
    pub(crate) fn push(&mut self, p: ConfigProblem) {
        if self.problems.push(p).is_err() {
            self.more += 1;
        }
    }

    /// The problems found (the first [`MAX_PROBLEMS`]).
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }

    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("invalid configuration: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        if self.more > 0 {
            write!(f, "; and {} more", self.more)?;
        }
        Ok(())
    }
}

impl core::error::Error for ConfigError {}

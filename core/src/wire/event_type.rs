//! How each event's type is chosen: a fixed name, a field of the event, or a
//! function of the event. A missing field or a function that returns `None`
//! falls back to the input label, as the seed SDK did.

use crate::wire::json::{JsonStr, JsonView};

/// The longest event type name accepted (escaped JSON bytes); a longer name
/// from a field or function falls back to the input label.
pub const MAX_TYPE_BYTES: usize = 256;

/// A resolver function: reads the encoded event, returns its type.
pub type TypeFn = dyn Fn(JsonView<'_>) -> Option<TypeName<'_>> + Send + Sync;

/// Where an event's type comes from.
#[derive(Clone, Copy, Default)]
pub enum EventType<'a> {
    /// The input label (the default, as in the seed SDK).
    #[default]
    InputLabel,
    /// Always this name.
    Fixed(&'a str),
    /// The string at this dotted path of the event (`"type"`, `"meta.kind"`).
    Field(&'a str),
    /// A function of the encoded event.
    With(&'a TypeFn),
}

impl core::fmt::Debug for EventType<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EventType::InputLabel => f.write_str("InputLabel"),
            EventType::Fixed(s) => f.debug_tuple("Fixed").field(s).finish(),
            EventType::Field(s) => f.debug_tuple("Field").field(s).finish(),
            EventType::With(_) => f.write_str("With(fn)"),
        }
    }
}

/// An event type returned by a resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeName<'e> {
    /// Plain text (escaped when written).
    Text(&'e str),
    /// A string read from the event, still escaped.
    Json(JsonStr<'e>),
}

impl<'e> From<&'e str> for TypeName<'e> {
    fn from(s: &'e str) -> Self {
        TypeName::Text(s)
    }
}

impl<'e> From<JsonStr<'e>> for TypeName<'e> {
    fn from(s: JsonStr<'e>) -> Self {
        TypeName::Json(s)
    }
}

impl<'a> EventType<'a> {
    /// Resolves the type of `event` (`None`: use the input label).
    pub fn resolve<'e>(&self, event: JsonView<'e>) -> Option<TypeName<'e>>
    where
        'a: 'e,
    {
        match *self {
            EventType::InputLabel => None,
            EventType::Fixed(s) => Some(TypeName::Text(s)),
            EventType::Field(path) => event.get_str(path).map(TypeName::Json),
            EventType::With(f) => f(event),
        }
    }

    /// True when resolving needs the encoded event.
    pub fn reads_event(&self) -> bool {
        matches!(self, EventType::Field(_) | EventType::With(_))
    }
}

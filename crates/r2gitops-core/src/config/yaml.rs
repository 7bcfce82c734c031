//! YAML text to a generic tree of located nodes, inside fixed budgets.
//!
//! Owns the parser options (limits against huge inputs and alias bombs, strict booleans,
//! duplicate keys rejected) and the translation of parser errors into diagnostics. It knows
//! nothing of the r2gitops format: `shape` checks the tree against the schema, `raw` maps it
//! to typed structs. No I/O.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Options, Spanned, UserMessageFormatter};

/// Files larger than this are refused before parsing: a real desired-state file with
/// thousands of buckets is well under 1 MiB, and reading stays bounded.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// A YAML node with where it starts (1-based; the value's position, not its key's).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: usize,
    pub column: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position (unknown-field errors point at the key).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

impl Value {
    /// How messages name the kind of a value.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar as text, when it is a scalar.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

/// A parse failure: where (0 when unknown), what, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// The parser options every r2gitops read uses (the tree here and the typed `raw` pass).
pub fn options() -> Options {
    serde_saphyr::options! {
        with_snippet: false,
        // `yes`/`on` are strings, not booleans (the "Norway problem").
        strict_booleans: true,
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_FILE_BYTES),
            max_depth: 32,
            max_nodes: 1_000_000,
            max_events: 2_000_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_total_scalar_bytes: MAX_FILE_BYTES,
        },
        // Aliases may be handy for shared recipient lists; expanding one into more than a
        // hundred thousand events is an attack, not a config.
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
        },
    }
}

/// Bytes to text: refuses oversized and non-UTF-8 input with the position of the first bad byte.
pub fn decode(bytes: &[u8]) -> Result<&str, ParseError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ParseError {
            line: 0,
            column: 0,
            message: format!(
                "the file is {} bytes; the limit is {} bytes",
                bytes.len(),
                MAX_FILE_BYTES
            ),
            hint: Some("split unrelated buckets and tokens into separate files".into()),
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').unwrap_or(text)),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            // Column in characters, like the parser's columns.
            let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
            Err(ParseError {
                line,
                column,
                message: format!(
                    "the file is not valid UTF-8 (byte 0x{:02x})",
                    bytes[e.valid_up_to()]
                ),
                hint: Some("save the file as UTF-8".into()),
            })
        }
    }
}

/// Text to a located tree. `Ok(None)` is an empty document (nothing but comments or blanks).
pub fn parse(text: &str) -> Result<Option<Node>, ParseError> {
    serde_saphyr::from_str_with_options::<Option<Node>>(text, options()).map_err(|e| {
        let mut e = from_saphyr(e);
        if e.hint.is_none() {
            e.hint = unclosed_flow(text, e.line);
        }
        e
    })
}

/// A hint for the commonest cause of a confusing parser error: a `[` or `{` opened on an
/// earlier line (or the error's own) and never closed, so the parser reads on into the next
/// keys. Looks only at lines up to `line` (1-based), outside quotes and comments.
pub fn unclosed_flow(text: &str, line: usize) -> Option<String> {
    let mut open: Vec<(usize, usize, char)> = Vec::new();
    for (i, l) in text.lines().enumerate().take(line.max(1)) {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in l.chars().enumerate() {
            let after_space = prev == ' ';
            prev = c;
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if after_space => break,
                (None, '[' | '{') => open.push((i + 1, col + 1, c)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
        }
        // A flow collection left open at the end of a line is legal YAML, but in a file of
        // this shape it is nearly always a missing bracket.
        if let Some(&(at, col, c)) = open.last()
            && at == i + 1
            && i + 1 < line
        {
            let close = if c == '[' { ']' } else { '}' };
            return Some(format!(
                "line {at} opens '{c}' at column {col} and does not close it; add the '{close}' (or write the list one item per line)"
            ));
        }
    }
    None
}

/// The tree with repeated keys kept as separate entries, or `None` if the text does not
/// parse even so: lets a duplicate-key error name the field it is about.
pub fn parse_keeping_duplicates(text: &str) -> Option<Node> {
    let mut options = options();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    serde_saphyr::from_str_with_options::<Option<Node>>(text, options)
        .ok()
        .flatten()
}

/// A parser error as a diagnostic part: messages without the parser's own location suffix.
pub fn from_saphyr(err: serde_saphyr::Error) -> ParseError {
    let location = err.location();
    let mut inner = &err;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    let (message, hint) = match inner {
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => (
            match key {
                Some(k) => format!("duplicate key '{}'", k.escape_debug()),
                None => "duplicate key".to_string(),
            },
            Some("each key may appear once in a mapping; remove or merge the repeated one".into()),
        ),
        serde_saphyr::Error::Budget { breach, .. } => (
            format!("the document exceeds the parser's safety limits ({breach:?})"),
            Some(
                "aliases that expand into huge documents ('billion laughs'), nesting deeper \
                 than 32 levels and over a million nodes are refused"
                    .into(),
            ),
        ),
        serde_saphyr::Error::AliasReplayLimitExceeded { .. }
        | serde_saphyr::Error::AliasExpansionLimitExceeded { .. }
        | serde_saphyr::Error::AliasReplayStackDepthExceeded { .. } => (
            "aliases expand into too much data".to_string(),
            Some(
                "aliases that expand into huge documents ('billion laughs') are refused; \
                 write the values out"
                    .into(),
            ),
        ),
        serde_saphyr::Error::MultipleDocuments { .. } => (
            "the file holds more than one YAML document".to_string(),
            Some("keep one document per file (remove the extra `---`)".into()),
        ),
        other => {
            let text = UserMessageFormatter.format_message(other);
            let message = sanitize(&text);
            let hint = message
                .contains("tab")
                .then(|| "indent with spaces: YAML forbids tabs in indentation".to_string());
            (message, hint)
        }
    };
    let (line, column) = location
        .filter(|l| l.line() > 0)
        .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
    ParseError {
        line,
        column,
        message,
        hint,
    }
}

/// A character that ends a line somewhere (a control character, Unicode's line and paragraph
/// separators) or changes how the text around it reads (bidirectional formatting, a BOM):
/// never shown verbatim on a terminal, in a plan or in a generated file.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{feff}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Control characters from the file must not reach a terminal verbatim.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn at(spanned_line: u64, spanned_col: u64) -> (usize, usize) {
    (spanned_line as usize, spanned_col as usize)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let (line, column) = at(spanned.referenced.line(), spanned.referenced.column());
        Ok(Node {
            line,
            column,
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let (line, column) = at(key.referenced.line(), key.referenced.column());
            let value = map.next_value::<Node>()?;
            entries.push((
                Key {
                    name: key.value,
                    line,
                    column,
                },
                value,
            ));
        }
        Ok(Value::Map(entries))
    }
}

/// A YAML double-quoted scalar.
pub fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_hidden(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;

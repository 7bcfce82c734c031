//! An error and its causes on one line, for the places a multi-line chain does not fit: a
//! step's report, a log field, the daemon's status. Leaf module: imports nothing of the
//! crate.

/// An error and its causes on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

//! How much of Cloudflare's answers the client reads: the size of one answer body, the
//! number of pages of one list, and a cursor handed out twice. An answer past a bound is an
//! error naming the bound, never a partial result (a list cut short would read as deleted
//! buckets or tokens). The bounds sit far above what the live API sends: they exist for an
//! `--api-url` that is not Cloudflare, or a Cloudflare that misbehaves.

use std::collections::BTreeSet;

use crate::cloudflare::error::ApiError;

/// The largest body read for one object or write (a verify answer is ~200 bytes, a bucket's
/// 1,000 lifecycle rules well under 1 MiB).
pub const ANSWER_LIMIT: usize = 4 << 20;

/// The largest body read for one page of a list (1,000 buckets are ~150 KB; 50 tokens
/// naming 500 buckets each ~2.5 MB).
pub const PAGE_LIMIT: usize = 16 << 20;

/// Pages read of one list: 1,000,000 buckets, 50,000 tokens.
pub const MAX_PAGES: u32 = 1000;

/// The error for a body over `limit` (`seen` bytes: what Content-Length announced, or what
/// arrived before reading stopped).
pub fn too_large(operation: &str, limit: usize, seen: u64) -> ApiError {
    let mut e = ApiError::transport(
        operation,
        format!(
            "the answer is larger than {} MiB ({} bytes or more), far more than Cloudflare sends for it; the rest was not read",
            limit >> 20,
            seen
        ),
    );
    e.hint =
        Some("check --api-url (CLOUDFLARE_API_BASE_URL): it must be the Cloudflare API".into());
    e
}

/// The pages of one list, counted, and the cursors it handed out.
pub struct Pages<'a> {
    operation: &'a str,
    read: u32,
    cursors: BTreeSet<String>,
}

impl<'a> Pages<'a> {
    pub fn new(operation: &'a str) -> Self {
        Pages {
            operation,
            read: 0,
            cursors: BTreeSet::new(),
        }
    }

    /// Start the next page: its number (from 1); an error past `MAX_PAGES`.
    pub fn start(&mut self) -> Result<u32, ApiError> {
        if self.read >= MAX_PAGES {
            let mut e = ApiError::transport(
                self.operation,
                format!(
                    "the list goes on past {MAX_PAGES} pages without saying it is done; it was not read further"
                ),
            );
            e.hint = Some(
                "check --api-url (CLOUDFLARE_API_BASE_URL): it must be the Cloudflare API".into(),
            );
            return Err(e);
        }
        self.read += 1;
        Ok(self.read)
    }

    /// The cursor the last page gave for the next one; an error when an earlier page gave
    /// it already (following it would read the same pages forever).
    pub fn cursor(&mut self, cursor: &str) -> Result<(), ApiError> {
        if self.cursors.insert(cursor.to_string()) {
            return Ok(());
        }
        let shown: String = cursor.chars().take(64).collect();
        Err(ApiError::transport(
            self.operation,
            format!(
                "page {} hands out cursor {shown:?} again, which an earlier page gave; the list would never end",
                self.read
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_stops_at_a_repeated_cursor_and_after_max_pages() {
        let mut p = Pages::new("list buckets (default)");
        assert_eq!(p.start().unwrap(), 1);
        p.cursor("a").unwrap();
        assert_eq!(p.start().unwrap(), 2);
        p.cursor("b").unwrap();
        assert_eq!(p.start().unwrap(), 3);
        let e = p.cursor("a").unwrap_err().to_string();
        assert_eq!(
            e,
            "failed to list buckets (default): page 3 hands out cursor \"a\" again, which an earlier page gave; the list would never end"
        );
        // A cursor is shown escaped, on the error's one line.
        p.cursor("x\n- delete").unwrap();
        p.start().unwrap();
        let e = p.cursor("x\n- delete").unwrap_err().to_string();
        assert!(e.contains(r#""x\n- delete""#) && !e.contains('\n'), "{e}");

        let mut p = Pages::new("list account tokens");
        for n in 1..=MAX_PAGES {
            assert_eq!(p.start().unwrap(), n);
        }
        let e = p.start().unwrap_err().to_string();
        assert!(
            e.starts_with("failed to list account tokens: the list goes on past 1000 pages"),
            "{e}"
        );
    }
}

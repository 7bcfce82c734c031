//! What the inventory records of each temporary credential. Cloudflare keeps no record of
//! them, so this is their whole observed state: the access key id, when it was issued and
//! expires, under which parent, for what scope, and what was written. Never the secret
//! access key or the session token.

use time::OffsetDateTime;

use super::OutputRecord;
use crate::config::TemporaryScope;

#[derive(Debug, Clone, PartialEq)]
pub struct TemporaryRecord {
    /// As Cloudflare answered it (not a secret; may equal the parent's id).
    pub access_key_id: String,
    /// The declared parent token, and its id when this credential was issued: a different
    /// id now, or a value rolled since `issued_at`, means this credential is dead.
    pub parent: String,
    pub parent_id: String,
    /// Taken before the request was sent, so `expires_at` is never later than Cloudflare's.
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub scope: TemporaryScope,
    /// `None` when the output could not be written (the credential is then reissued).
    pub output: Option<OutputRecord>,
}

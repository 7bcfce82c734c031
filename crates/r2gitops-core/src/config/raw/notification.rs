//! The serde mirror of `buckets[].notifications`. Shapes only, with positions;
//! "at least one event or action", overlapping rules and the 100-rule limit live in
//! `validate::notification`. No I/O.

use schemars::JsonSchema;
use serde::Deserialize;

use super::Sp;

/// One event notification rule: R2 sends a message to `queue` for each object action it
/// matches. Rules for one queue must not overlap (Cloudflare refuses two rules that could
/// fire for the same object and action).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Notification")]
// For editors: at least one of events and actions, under `allOf` (the shape walk leaves it to
// `validate`, which words it better).
#[schemars(extend("allOf" = [{"anyOf": [{"required": ["events"]}, {"required": ["actions"]}]}]))]
pub struct RawNotification {
    /// The queue that receives the messages: its name (looked up in the account) or its id.
    #[schemars(length(min = 1))]
    pub queue: Sp<String>,
    /// Event types: object-create (PutObject, CopyObject, CompleteMultipartUpload) and
    /// object-delete (DeleteObject, LifecycleDeletion).
    pub events: Option<Sp<Vec<Sp<RawEvent>>>>,
    /// R2 object actions, for finer choices than events (both lists may be given).
    pub actions: Option<Sp<Vec<Sp<RawAction>>>>,
    /// Only objects whose key starts with this ("" or absent: any).
    pub prefix: Option<Sp<String>>,
    /// Only objects whose key ends with this ("" or absent: any).
    pub suffix: Option<Sp<String>>,
    /// A label Cloudflare keeps with the rule. Left out, it is not managed (Cloudflare
    /// makes one up).
    pub description: Option<Sp<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "NotificationEvent")]
pub enum RawEvent {
    ObjectCreate,
    ObjectDelete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(rename = "NotificationAction")]
pub enum RawAction {
    PutObject,
    CopyObject,
    CompleteMultipartUpload,
    DeleteObject,
    LifecycleDeletion,
}

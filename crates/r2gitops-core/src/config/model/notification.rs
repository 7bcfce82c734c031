//! A bucket's validated event notification rules. `BucketConfig::notifications`
//! is `None` when the file does not manage them; `Some(list)` is every rule of the bucket,
//! for every queue. `events` are already expanded to the actions they stand for.

use std::collections::BTreeSet;

/// An R2 object action that can send a notification (the spec's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationAction {
    PutObject,
    CopyObject,
    CompleteMultipartUpload,
    DeleteObject,
    LifecycleDeletion,
}

impl NotificationAction {
    pub const ALL: [NotificationAction; 5] = [
        NotificationAction::PutObject,
        NotificationAction::CopyObject,
        NotificationAction::CompleteMultipartUpload,
        NotificationAction::DeleteObject,
        NotificationAction::LifecycleDeletion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationAction::PutObject => "PutObject",
            NotificationAction::CopyObject => "CopyObject",
            NotificationAction::CompleteMultipartUpload => "CompleteMultipartUpload",
            NotificationAction::DeleteObject => "DeleteObject",
            NotificationAction::LifecycleDeletion => "LifecycleDeletion",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The event types of wrangler and the docs, and the actions each stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotificationEvent {
    ObjectCreate,
    ObjectDelete,
}

impl NotificationEvent {
    pub const ALL: [NotificationEvent; 2] = [
        NotificationEvent::ObjectCreate,
        NotificationEvent::ObjectDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEvent::ObjectCreate => "object-create",
            NotificationEvent::ObjectDelete => "object-delete",
        }
    }

    /// `object-create` = PutObject, CopyObject, CompleteMultipartUpload; `object-delete` =
    /// DeleteObject, LifecycleDeletion (wrangler's `actionsForEventCategories`).
    pub fn actions(self) -> &'static [NotificationAction] {
        match self {
            NotificationEvent::ObjectCreate => &[
                NotificationAction::PutObject,
                NotificationAction::CopyObject,
                NotificationAction::CompleteMultipartUpload,
            ],
            NotificationEvent::ObjectDelete => &[
                NotificationAction::DeleteObject,
                NotificationAction::LifecycleDeletion,
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The queue's name or id, as written.
    pub queue: String,
    /// Never empty: `events` expanded, united with `actions`.
    pub actions: BTreeSet<NotificationAction>,
    /// "" is any key.
    pub prefix: String,
    pub suffix: String,
    /// "" is none.
    pub description: String,
}

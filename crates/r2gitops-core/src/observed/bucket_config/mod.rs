//! A bucket's configuration sub-resources (CORS, lifecycle, lock, r2.dev, custom domains,
//! notifications) as plain, canonical data, one kind per file, each implementing
//! `SubResource` once (the way kube-rs's `Resource` is implemented per type): its key and
//! label, its API path and Cloudflare's JSON of it (both ways), what a new bucket holds,
//! what the file declares, the semantic comparison the diff and the read-back share, its
//! words, and the lines `import` writes. The JSON is here rather than in `cloudflare`
//! because it is the kind's own shape, as the path is; `cloudflare` makes the calls.
//!
//! `kinds!` below is the one table of kinds (as ripgrep lists its flags once): `ConfigKind`,
//! `ConfigValue` and every dispatch over them are generated from it, so a new kind is its
//! file and one line there. Nothing else matches on a kind to learn what it is.
//!
//! Canonical means what Cloudflare may change without changing meaning is gone: lists
//! that are sets are sets, header names are lower case, methods upper case, ages are
//! seconds, dates are instants, a missing prefix is "", absent and empty lists are alike.
//! Rules keep their order (a PUT sends the file's order) but compare as sets keyed by id.
//!
//! Two ways of being written (`Written`): most kinds are one document, replaced whole by
//! one PUT (`Replaced`: the words of a change, and whether emptying it is a DELETE). Custom
//! domains and notification rules are keyed sets with lookups: they share everything above
//! (reading, caching, comparing, importing), but the plan takes them item by item after the
//! zone and queue lookups (`plan::diff::custom_domain`, `plan::diff::notification`), which a
//! whole-document rule cannot express, so they have no `Replaced`.
//!
//! Pure: no I/O, no client types, nothing of `plan`.

#[cfg(test)]
mod tests;

mod cors;
mod custom_domains;
mod json;
mod lifecycle;
mod lock;
mod notifications;
mod public_dev_url;
pub mod rules;

pub use cors::CorsRule;
pub use lifecycle::{Condition, LifecycleRule};
pub use lock::{LockRule, Retention};
pub use public_dev_url::ManagedDomain;
pub use rules::{Keyed, by_id, quote, show_date};

use serde_json::Value;

use crate::config::BucketConfig;

/// One sub-resource of a bucket. Each kind implements it once, in its own file, and has a
/// line in `kinds!`.
pub trait SubResource {
    /// Its whole content, canonical.
    type Value: Clone + PartialEq + std::fmt::Debug;
    /// The key in the file, in plans and in JSON.
    const KEY: &'static str;
    /// How messages name it: "the CORS rules of bucket media".
    const LABEL: &'static str;
    /// Replaced whole, or written item by item.
    const WRITTEN: Written;

    /// The path below `/accounts/{id}/` of the bucket's sub-resource.
    fn api_path(bucket: &str) -> String {
        format!("r2/buckets/{bucket}/{}", Self::KEY)
    }
    /// Cloudflare's JSON of it (the `result` of its GET), canonical; the error says what of
    /// the answer's shape could not be read.
    fn decode(result: &Value) -> Result<Self::Value, String>;
    /// What a bucket holds the moment it is created.
    fn new_bucket() -> Self::Value;
    /// What it holds once cleared: after its DELETE, or an empty write.
    fn cleared() -> Self::Value;
    /// What the file declares, canonical; `None` when it does not manage it (absent means
    /// unmanaged: never read, compared nor written).
    fn declared(config: &BucketConfig) -> Option<Self::Value>;
    /// The semantic comparison: sets keyed by id where there is one, what is Cloudflare's
    /// alone left out.
    fn matches(a: &Self::Value, b: &Self::Value) -> bool;
    /// Whether it holds nothing.
    fn is_empty(v: &Self::Value) -> bool;
    /// In a few words, for a read-back that found something else: `2 rules (web, [*])`.
    fn summary(v: &Self::Value) -> String;
    /// Whether holding `v` makes the bucket public.
    fn makes_public(_v: &Self::Value) -> bool {
        false
    }
    /// The lines `import` writes for `v`, relative to the bucket entry's fields, or why the
    /// file cannot say it (import then checks that the lines load back to `v`).
    fn import_lines(v: &Self::Value) -> Result<Vec<String>, String>;
}

/// A sub-resource written whole: one PUT of its content (or its DELETE), then its GET.
pub trait Replaced: SubResource {
    /// Whether emptying it is its DELETE rather than an empty PUT.
    const CLEARED_BY_DELETE: bool = false;
    /// The body of its PUT: the whole content, rules in the file's order.
    fn body(v: &Self::Value) -> Value;
    /// What changes from `have` to `want`, in words (`declared` gives the units the file
    /// wrote its ages in).
    fn change(have: &Self::Value, want: &Self::Value, declared: &BucketConfig) -> Change;
}

/// How a kind is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// One PUT of the whole content: the plan's shared rules for configuration apply.
    Whole,
    /// One item at a time, after lookups: the kind's own rules in `plan::diff`.
    ItemByItem,
}

/// What a change of a whole sub-resource comes to, in words.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change {
    /// `+web`, `-legacy`, `expire-tmp 7d→3d`, `false→true`.
    pub words: Vec<String>,
    /// Rules whose retention it shortens or removes, in words: deletion-class.
    pub loosens: Vec<String>,
    /// It drops Cloudflare's "Default Multipart Abort Rule".
    pub removes_default_rule: bool,
    /// The address the bucket becomes public at, when it is known.
    pub public_url: Option<String>,
}

impl Change {
    pub fn words(words: Vec<String>) -> Self {
        Change {
            words,
            ..Change::default()
        }
    }
}

/// The table of kinds, in the order a plan shows them: `Variant => implementation`, whole
/// kinds first, then those written item by item.
macro_rules! kinds {
    (
        whole { $($w:ident => $wimp:ty,)* }
        item_by_item { $($i:ident => $iimp:ty,)* }
    ) => {
        /// The sub-resources r2gitops manages, in the order a plan shows them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ConfigKind {
            $($w,)*
            $($i,)*
        }

        /// One sub-resource's whole content.
        #[derive(Debug, Clone, PartialEq)]
        pub enum ConfigValue {
            $($w(<$wimp as SubResource>::Value),)*
            $($i(<$iimp as SubResource>::Value),)*
        }

        impl ConfigKind {
            pub const ALL: [ConfigKind; [$(stringify!($w),)* $(stringify!($i),)*].len()] =
                [$(ConfigKind::$w,)* $(ConfigKind::$i,)*];

            /// The key in the file, in plans and in JSON.
            pub fn key(self) -> &'static str {
                match self {
                    $(ConfigKind::$w => <$wimp>::KEY,)*
                    $(ConfigKind::$i => <$iimp>::KEY,)*
                }
            }

            /// How messages name it: "the CORS rules of bucket media".
            pub fn label(self) -> &'static str {
                match self {
                    $(ConfigKind::$w => <$wimp>::LABEL,)*
                    $(ConfigKind::$i => <$iimp>::LABEL,)*
                }
            }

            pub fn written(self) -> Written {
                match self {
                    $(ConfigKind::$w => <$wimp>::WRITTEN,)*
                    $(ConfigKind::$i => <$iimp>::WRITTEN,)*
                }
            }

            /// The path below `/accounts/{id}/` of the bucket's sub-resource.
            pub fn api_path(self, bucket: &str) -> String {
                match self {
                    $(ConfigKind::$w => <$wimp>::api_path(bucket),)*
                    $(ConfigKind::$i => <$iimp>::api_path(bucket),)*
                }
            }

            /// What a bucket holds the moment it is created.
            pub fn new_bucket(self) -> ConfigValue {
                match self {
                    $(ConfigKind::$w => ConfigValue::$w(<$wimp>::new_bucket()),)*
                    $(ConfigKind::$i => ConfigValue::$i(<$iimp>::new_bucket()),)*
                }
            }

            /// What it holds once cleared: after its DELETE, or an empty write.
            pub fn cleared(self) -> ConfigValue {
                match self {
                    $(ConfigKind::$w => ConfigValue::$w(<$wimp>::cleared()),)*
                    $(ConfigKind::$i => ConfigValue::$i(<$iimp>::cleared()),)*
                }
            }

            /// Whether emptying it is its DELETE rather than an empty PUT.
            pub fn cleared_by_delete(self) -> bool {
                match self {
                    $(ConfigKind::$w => <$wimp as Replaced>::CLEARED_BY_DELETE,)*
                    $(ConfigKind::$i => false,)*
                }
            }
        }

        impl ConfigValue {
            pub fn kind(&self) -> ConfigKind {
                match self {
                    $(ConfigValue::$w(_) => ConfigKind::$w,)*
                    $(ConfigValue::$i(_) => ConfigKind::$i,)*
                }
            }

            /// Cloudflare's JSON of `kind` (the `result` of its GET), canonical.
            pub fn decode(kind: ConfigKind, result: &Value) -> Result<ConfigValue, String> {
                Ok(match kind {
                    $(ConfigKind::$w => ConfigValue::$w(<$wimp>::decode(result)?),)*
                    $(ConfigKind::$i => ConfigValue::$i(<$iimp>::decode(result)?),)*
                })
            }

            /// The body of its PUT; `None` for a kind written item by item.
            pub fn body(&self) -> Option<Value> {
                match self {
                    $(ConfigValue::$w(v) => Some(<$wimp as Replaced>::body(v)),)*
                    $(ConfigValue::$i(_) => None,)*
                }
            }

            /// What the file declares for `kind`, canonical; `None` when it does not
            /// manage it.
            pub fn declared(config: &BucketConfig, kind: ConfigKind) -> Option<ConfigValue> {
                match kind {
                    $(ConfigKind::$w => <$wimp>::declared(config).map(ConfigValue::$w),)*
                    $(ConfigKind::$i => <$iimp>::declared(config).map(ConfigValue::$i),)*
                }
            }

            /// The semantic comparison (`SubResource::matches`); values of two kinds
            /// never match.
            pub fn matches(&self, other: &ConfigValue) -> bool {
                match (self, other) {
                    $((ConfigValue::$w(a), ConfigValue::$w(b)) => <$wimp>::matches(a, b),)*
                    $((ConfigValue::$i(a), ConfigValue::$i(b)) => <$iimp>::matches(a, b),)*
                    _ => false,
                }
            }

            /// Whether it holds nothing (no rule; r2.dev off).
            pub fn is_empty(&self) -> bool {
                match self {
                    $(ConfigValue::$w(v) => <$wimp>::is_empty(v),)*
                    $(ConfigValue::$i(v) => <$iimp>::is_empty(v),)*
                }
            }

            /// In a few words, for a read-back that found something else.
            pub fn summary(&self) -> String {
                match self {
                    $(ConfigValue::$w(v) => <$wimp>::summary(v),)*
                    $(ConfigValue::$i(v) => <$iimp>::summary(v),)*
                }
            }

            /// Whether holding it makes the bucket public.
            pub fn makes_public(&self) -> bool {
                match self {
                    $(ConfigValue::$w(v) => <$wimp>::makes_public(v),)*
                    $(ConfigValue::$i(v) => <$iimp>::makes_public(v),)*
                }
            }

            /// The lines `import` writes for it, or why the file cannot say it.
            pub fn import_lines(&self) -> Result<Vec<String>, String> {
                match self {
                    $(ConfigValue::$w(v) => <$wimp>::import_lines(v),)*
                    $(ConfigValue::$i(v) => <$iimp>::import_lines(v),)*
                }
            }

            /// What changes from `self` to `want` for a kind replaced whole; `None` for a
            /// kind written item by item, or for values of two kinds.
            pub fn change(&self, want: &ConfigValue, declared: &BucketConfig) -> Option<Change> {
                match (self, want) {
                    $((ConfigValue::$w(h), ConfigValue::$w(w)) => {
                        Some(<$wimp as Replaced>::change(h, w, declared))
                    })*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    whole {
        Cors => cors::Cors,
        Lifecycle => lifecycle::Lifecycle,
        Lock => lock::Lock,
        PublicDevUrl => public_dev_url::PublicDevUrl,
    }
    item_by_item {
        CustomDomains => custom_domains::CustomDomains,
        Notifications => notifications::Notifications,
    }
}

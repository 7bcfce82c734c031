//! Configuration blocks as `import` writes them (pure). One file per kind renders an
//! observed value the way the file declares it; `block` then loads the rendering back
//! through the real validator and compares it with `ConfigValue::matches`, the plan's own
//! comparison: a block is written only when it is exact, else a comment says why not (the
//! key then stays absent, so r2gitops does not manage that block and plans nothing for it).

mod cors;
mod custom_domains;
mod lifecycle;
mod lock;
mod notifications;
mod public_dev_url;

use std::path::Path;

use crate::config::validate::Facts;
use crate::config::yaml::is_hidden;
use crate::observed::bucket_config::{ConfigKind, ConfigValue};

/// What import writes for one observed sub-resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// The bucket holds what every new bucket holds: nothing to declare.
    Default,
    /// YAML lines, relative to the bucket entry's fields.
    Lines(Vec<String>),
    /// Why the file cannot declare it.
    NotExpressible(String),
}

pub fn block(value: &ConfigValue) -> Block {
    if value.matches(&value.kind().new_bucket()) {
        return Block::Default;
    }
    let lines = match value {
        ConfigValue::Cors(rules) => cors::lines(rules),
        ConfigValue::Lifecycle(rules) => lifecycle::lines(rules),
        ConfigValue::Lock(rules) => lock::lines(rules),
        ConfigValue::PublicDevUrl(d) => Ok(public_dev_url::lines(d)),
        ConfigValue::CustomDomains(d) => custom_domains::lines(d),
        ConfigValue::Notifications(q) => notifications::lines(q),
    };
    match lines.and_then(|l| check(value, &l).map(|()| l)) {
        Ok(l) => Block::Lines(l),
        Err(why) => Block::NotExpressible(why),
    }
}

/// Load `lines` under a bucket and compare what the file would then declare with `value`.
fn check(value: &ConfigValue, lines: &[String]) -> Result<(), String> {
    let mut doc = String::from("version: 1\nbuckets:\n  - name: import-check\n");
    for l in lines {
        doc.push_str("    ");
        doc.push_str(l);
        doc.push('\n');
    }
    let desired =
        crate::config::load::load_bytes(doc.as_bytes(), "import", Path::new("import"), &|_| {
            Facts::default()
        })
        .map_err(|d| {
            d.0.first()
                .map_or_else(|| "refused by validation".into(), |d| d.message.clone())
        })?;
    let declared = ConfigValue::declared(&desired.buckets[0].config, value.kind());
    match declared {
        Some(d) if d.matches(value) => Ok(()),
        _ => Err(format!(
            "its {} hold something the file cannot say exactly",
            value.kind().label()
        )),
    }
}

/// An age as the file writes it: in the largest unit that divides it.
fn age(secs: u64) -> String {
    crate::config::Age::show(secs, 'd')
}

/// A YAML flow list of double-quoted strings.
fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| quoted(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The kinds `--with` names, by their file keys.
pub fn parse_kind(s: &str) -> Option<ConfigKind> {
    ConfigKind::ALL.into_iter().find(|k| k.key() == s)
}

#[cfg(test)]
mod tests;

/// A YAML double-quoted scalar.
pub(crate) fn quoted(s: &str) -> String {
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

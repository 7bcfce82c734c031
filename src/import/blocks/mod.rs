//! Configuration blocks as `import` writes them (pure). Each kind renders an observed value
//! the way the file declares it (`SubResource::import_lines`, in the kind's own file);
//! `block` then loads the rendering back through the real validator and compares it with
//! `ConfigValue::matches`, the plan's own comparison: a block is written only when it is
//! exact, else a comment says why not (the key then stays absent, so r2gitops does not
//! manage that block and plans nothing for it).

use std::path::Path;

use crate::config::validate::Facts;
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
    match value
        .import_lines()
        .and_then(|l| check(value, &l).map(|()| l))
    {
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

/// The kinds `--with` names, by their file keys.
pub fn parse_kind(s: &str) -> Option<ConfigKind> {
    ConfigKind::ALL.into_iter().find(|k| k.key() == s)
}

#[cfg(test)]
mod tests;

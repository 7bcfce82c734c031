//! `tokens:`: access, bucket scope and its jurisdiction, validity window, IP rules,
//! rotation (and each token's `output`, in `output`).

use super::*;

pub(super) fn tokens(
    c: &mut Collector,
    raw: &[Sp<RawToken>],
    buckets: &[BucketSpec],
    settings: &Settings,
    default_recipients: &[String],
    facts: &Facts,
) -> Vec<TokenSpec> {
    let by_name: HashMap<&str, &BucketSpec> =
        buckets.iter().map(|b| (b.name.as_str(), b)).collect();
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut files: HashMap<PathBuf, (usize, usize)> = HashMap::new();
    let mut adopted: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::with_capacity(raw.len());

    for (i, t) in raw.iter().enumerate() {
        let here = format!("tokens[{i}]");
        let t = &t.value;
        let name = &t.name;
        check_name(c, name, &format!("{here}.name"), settings, &mut names);

        let access: Access = t.access.value.into();
        let (scope, bucket_jurisdiction) = scope(c, t, access, &by_name, &here);
        let jurisdiction = jurisdiction(c, t, &scope, bucket_jurisdiction, &here);
        let (not_before, expires_on) = validity(c, t, facts, &here);
        let ip = ip_rules(c, t.ip.as_ref(), &here);
        let rotate_every = t
            .rotate_every
            .as_ref()
            .and_then(|r| rotation(c, r, &format!("{here}.rotate_every")));
        let rotation_overlap = super::rotation::token_overlap(c, t, rotate_every, settings, &here);
        let output = output(
            c,
            &t.output,
            &here,
            &name.value,
            settings,
            default_recipients,
            facts,
            &mut files,
        );
        let adopt = adopt(c, t, &here, i, &mut adopted);

        out.push(TokenSpec {
            name: name.value.clone(),
            owner: t.owner.as_ref().map_or(Owner::Account, |o| o.value.into()),
            access,
            scope,
            jurisdiction,
            not_before,
            expires_on,
            ip,
            rotate_every,
            rotation_overlap,
            adopt,
            output,
        });
    }
    out
}

/// Non-empty, unique (`names`: each first line), and the prefixed name fits Cloudflare's
/// limit without being r2gitops' own.
fn check_name<'a>(
    c: &mut Collector,
    name: &'a Sp<String>,
    name_path: &str,
    settings: &Settings,
    names: &mut HashMap<&'a str, usize>,
) {
    if name.value.trim().is_empty() {
        c.at(name, name_path, "token name must not be empty");
    } else if name.value.chars().any(char::is_control) {
        c.at(
            name,
            name_path,
            "token name must not contain control characters",
        );
    }
    let full = settings.token_name_prefix.chars().count() + name.value.chars().count();
    if full > MAX_TOKEN_NAME {
        c.hint(
            name,
            name_path,
            format!(
                "token name is too long: '{}' + '{}' is {full} characters; Cloudflare allows {MAX_TOKEN_NAME}",
                sanitize(&clip(&settings.token_name_prefix)),
                sanitize(&clip(&name.value))
            ),
            "shorten the name or settings.token_name_prefix",
        );
    }
    if format!("{}{}", settings.token_name_prefix, name.value) == STATE_PARENT_NAME {
        c.hint(
            name,
            name_path,
            format!(
                "token name '{STATE_PARENT_NAME}' (prefix and name) is r2gitops' own: the parent of the state's temporary credentials (--state-credentials temporary)"
            ),
            "choose another name; no file may declare, adopt or prune that token",
        );
    }
    if let Some(first) = names.get(name.value.as_str()) {
        c.hint(
            name,
            name_path,
            format!("token '{}' is declared twice", sanitize(&clip(&name.value))),
            format!("first declared on line {first}"),
        );
    } else {
        names.insert(&name.value, name.line);
    }
}

/// A token's own jurisdiction only makes sense where no bucket decides it.
fn jurisdiction(
    c: &mut Collector,
    t: &RawToken,
    scope: &TokenScope,
    bucket_jurisdiction: Option<Jurisdiction>,
    here: &str,
) -> Jurisdiction {
    match (&t.jurisdiction, scope) {
        (Some(j), TokenScope::Buckets(_)) => {
            c.hint(
                j,
                format!("{here}.jurisdiction"),
                "jurisdiction is only allowed on admin-* tokens and on buckets: [\"*\"]",
                "a token for named buckets takes its jurisdiction from them; remove this line",
            );
            bucket_jurisdiction.unwrap_or(Jurisdiction::Default)
        }
        (Some(j), _) => j.value.into(),
        (None, _) => bucket_jurisdiction.unwrap_or(Jurisdiction::Default),
    }
}

/// `not_before` and `expires_on`: in order, and a warning when the expiry has passed.
fn validity(
    c: &mut Collector,
    t: &RawToken,
    facts: &Facts,
    here: &str,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let not_before = timestamp(c, t.not_before.as_ref(), &format!("{here}.not_before"));
    let expires_on = timestamp(c, t.expires_on.as_ref(), &format!("{here}.expires_on"));
    if let (Some(nb), Some(exp), Some(exp_sp)) = (not_before, expires_on, &t.expires_on)
        && nb >= exp
    {
        c.at(
            exp_sp,
            format!("{here}.expires_on"),
            "expires_on must be later than not_before",
        );
    }
    if let (Some(now), Some(exp), Some(exp_sp)) = (facts.now, expires_on, &t.expires_on)
        && exp <= now
    {
        c.warn(
            exp_sp,
            format!("{here}.expires_on"),
            format!(
                "the declared expiry has passed ({}): the token is blocked and nothing is sent for it",
                exp.format(&Rfc3339).unwrap_or_default()
            ),
            "declare a later expires_on, or remove the token",
        );
    }
    (not_before, expires_on)
}

/// `adopt:`: a token id, adopted by one declaration only (`adopted`: id to its index).
fn adopt(
    c: &mut Collector,
    t: &RawToken,
    here: &str,
    i: usize,
    adopted: &mut HashMap<String, usize>,
) -> Option<Adopt> {
    t.adopt.as_ref().and_then(|a| {
        let path = format!("{here}.adopt");
        let id = a.value.trim();
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            c.hint(
                a,
                &path,
                format!("'{}' is not a token id", sanitize(&clip(id))),
                "a token id is 32 lowercase hex characters: `r2gitops import` lists them, or the dashboard's token page shows it",
            );
            return None;
        }
        if let Some(first) = adopted.insert(id.to_string(), i) {
            c.at(
                a,
                &path,
                format!("token {id} is adopted twice (also by tokens[{first}])"),
            );
            return None;
        }
        Some(Adopt {
            id: id.to_string(),
            line: a.line,
            column: a.column,
        })
    })
}

/// The token's scope and, for named buckets, their common jurisdiction.
pub(super) fn scope(
    c: &mut Collector,
    t: &RawToken,
    access: Access,
    by_name: &HashMap<&str, &BucketSpec>,
    here: &str,
) -> (TokenScope, Option<Jurisdiction>) {
    let path = format!("{here}.buckets");
    if access.is_admin() {
        if let Some(b) = &t.buckets {
            c.hint(
                b,
                &path,
                format!(
                    "{} tokens cover the whole account and take no buckets",
                    access.as_str()
                ),
                "remove buckets, or use object-read / object-read-write for named buckets",
            );
        }
        return (TokenScope::Account, None);
    }
    let Some(list) = &t.buckets else {
        c.hint(
            &t.access,
            &path,
            format!("{} tokens need buckets", access.as_str()),
            "add buckets: [name, ...] (declared buckets) or buckets: [\"*\"] for every bucket",
        );
        return (TokenScope::Buckets(Vec::new()), None);
    };
    if list.value.is_empty() {
        c.hint(
            list,
            &path,
            "buckets is empty",
            "list at least one declared bucket, or \"*\" for every bucket",
        );
        return (TokenScope::Buckets(Vec::new()), None);
    }
    if list.value.iter().any(|b| b.value.0 == "*") {
        if list.value.len() > 1 {
            c.hint(
                list,
                &path,
                "\"*\" must be the only entry",
                "\"*\" already covers every bucket; remove the other names",
            );
        }
        return (TokenScope::AllBuckets, None);
    }

    let mut names = Vec::new();
    let mut seen = BTreeSet::new();
    let mut by_jurisdiction: BTreeMap<Jurisdiction, Vec<&str>> = BTreeMap::new();
    for (j, entry) in list.value.iter().enumerate() {
        let name = entry.value.0.as_str();
        let entry_path = format!("{path}[{j}]");
        if !seen.insert(name) {
            c.at(
                entry,
                &entry_path,
                format!("bucket '{}' is listed twice", sanitize(&clip(name))),
            );
            continue;
        }
        match by_name.get(name) {
            Some(b) => {
                by_jurisdiction
                    .entry(b.jurisdiction)
                    .or_default()
                    .push(name);
                names.push(name.to_string());
            }
            None => {
                // Only names that are themselves valid are worth suggesting; an invalid
                // declared name whose fix is this reference is named as such.
                let valid = by_name
                    .keys()
                    .copied()
                    .filter(|n| bucket_name_problem(n).is_none());
                let fixed_by = by_name
                    .keys()
                    .find(|n| suggest_bucket_name(n).as_deref() == Some(name));
                let hint = match (fixed_by, did_you_mean(name, valid)) {
                    (Some(declared), _) => format!(
                        "the bucket declared as '{}' has an invalid name; renaming it to '{name}' makes this reference valid",
                        sanitize(&clip(declared))
                    ),
                    (None, Some(s)) => format!(
                        "did you mean '{s}'? a token may only name buckets declared under buckets:"
                    ),
                    (None, None) => {
                        "a token may only name buckets declared under buckets:".to_string()
                    }
                };
                c.hint(
                    entry,
                    &entry_path,
                    format!("unknown bucket '{}'", sanitize(&clip(name))),
                    hint,
                );
            }
        }
    }
    if by_jurisdiction.len() > 1 {
        let groups: Vec<String> = by_jurisdiction
            .iter()
            .map(|(j, names)| format!("{} ({})", j.as_str(), names.join(", ")))
            .collect();
        c.hint(
            list,
            &path,
            format!("buckets span several jurisdictions: {}", groups.join(", ")),
            "S3 credentials reach one jurisdiction's endpoint; declare one token per jurisdiction",
        );
    }
    names.sort();
    let jurisdiction = by_jurisdiction.keys().next().copied();
    (TokenScope::Buckets(names), jurisdiction)
}

pub(super) fn ip_rules(c: &mut Collector, raw: Option<&Sp<RawIp>>, here: &str) -> IpRules {
    let Some(raw) = raw else {
        return IpRules::default();
    };
    let mut parse_list = |list: &Option<Vec<Sp<String>>>, field: &str| -> Vec<IpNet> {
        let mut nets = Vec::new();
        for (i, entry) in list.iter().flatten().enumerate() {
            let path = format!("{here}.ip.{field}[{i}]");
            let text = entry.value.trim();
            let parsed = IpNet::from_str(text).or_else(|_| IpAddr::from_str(text).map(IpNet::from));
            match parsed {
                Ok(net) if net.trunc() != net => c.hint(
                    entry,
                    &path,
                    format!("'{text}' has host bits set"),
                    format!("did you mean '{}'?", net.trunc()),
                ),
                Ok(net) => nets.push(net),
                Err(_) => c.hint(
                    entry,
                    &path,
                    format!("'{}' is not a CIDR", sanitize(&clip(text))),
                    "write an IPv4 or IPv6 network such as 203.0.113.0/24 or 2001:db8::/32",
                ),
            }
        }
        nets.sort();
        nets.dedup();
        nets
    };
    let allow = parse_list(&raw.value.allow, "allow");
    let deny = parse_list(&raw.value.deny, "deny");
    IpRules { allow, deny }
}

pub(super) fn rotation(c: &mut Collector, raw: &Sp<String>, path: &str) -> Option<Duration> {
    match parse_duration(raw.value.trim()) {
        Some(d) if d < MIN_ROTATION => {
            c.hint(
                raw,
                path,
                format!(
                    "rotate_every '{}' is shorter than 1h",
                    sanitize(&clip(&raw.value))
                ),
                "rotating more often than hourly only churns credentials; use 1h or more",
            );
            None
        }
        Some(d) => Some(d),
        None => {
            c.hint(
                raw,
                path,
                format!("'{}' is not a duration", sanitize(&clip(&raw.value))),
                "a whole number and a unit: s, m, h or d (e.g. 12h, 90d)",
            );
            None
        }
    }
}

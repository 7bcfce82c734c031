//! The API token routes, of both owner families (`/accounts/{id}/tokens…` and
//! `/user/tokens…`): create, list, get, update, roll and delete, the permission groups, and
//! the checks Cloudflare makes of a token body (policies, resources, conditions).

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use ipnet::IpNet;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::state::*;
use crate::{Inner, World};

use super::{Principal, Reply, bad_request, err, forbidden, not_found_route, ok};

fn token_permission(
    inner: &Inner,
    who: &Principal,
    family: Family,
    write: bool,
) -> Result<(), Reply> {
    let Principal::Token(id) = who else {
        return Ok(());
    };
    let world = inner.world.lock().unwrap();
    let t = &world.tokens[id];
    let ok = match family {
        Family::Account => {
            let groups: &[&str] = if write {
                &[ACCOUNT_TOKENS_WRITE]
            } else {
                &[ACCOUNT_TOKENS_WRITE, ACCOUNT_TOKENS_READ]
            };
            t.has_account_group(&inner.account_id, groups)
        }
        Family::User => {
            let groups: &[&str] = if write {
                &[USER_TOKENS_WRITE]
            } else {
                &[USER_TOKENS_WRITE, USER_TOKENS_READ]
            };
            t.family == Family::User
                && t.policies.iter().any(|p| {
                    p.effect == "allow" && p.groups.iter().any(|g| groups.contains(&g.as_str()))
                })
        }
    };
    if ok { Ok(()) } else { Err(forbidden()) }
}

/// What every token handler reads of the request.
struct Call<'a> {
    inner: &'a Inner,
    who: &'a Principal,
    family: Family,
    query: &'a BTreeMap<String, String>,
    body: &'a Bytes,
    now: OffsetDateTime,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn route(
    inner: &Inner,
    who: &Principal,
    family: Family,
    method: &Method,
    tail: &[&str],
    query: &BTreeMap<String, String>,
    body: &Bytes,
) -> Reply {
    let c = Call {
        inner,
        who,
        family,
        query,
        body,
        now: OffsetDateTime::now_utc(),
    };
    match (method.clone(), tail) {
        (Method::GET, ["verify"]) => verify(&c),
        (Method::GET, ["permission_groups"]) => permission_groups(&c),
        (Method::GET, []) => list(&c),
        (Method::POST, []) => create(&c),
        (m, [id, rest @ ..]) => one_token(&c, m, id, rest),
        _ => method_not_allowed(),
    }
}

fn method_not_allowed() -> Reply {
    err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed")
}

/// `GET …/tokens/verify`: the calling token itself, whatever its permissions.
fn verify(c: &Call) -> Reply {
    let world = c.inner.world.lock().unwrap();
    let (id, status, expires_on, not_before) = match c.who {
        Principal::Admin => (
            c.inner.admin_token_id.clone(),
            "active".to_string(),
            None,
            None,
        ),
        Principal::Token(id) => {
            let t = &world.tokens[id];
            if t.family != c.family {
                return err(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token");
            }
            (
                t.id.clone(),
                t.status(c.now).to_string(),
                t.expires_on,
                t.not_before,
            )
        }
    };
    let mut result = json!({"id": id, "status": status});
    if let Some(e) = expires_on {
        result["expires_on"] = json!(rfc3339(e));
    }
    if let Some(nb) = not_before {
        result["not_before"] = json!(rfc3339(nb));
    }
    let mut r = ok(result);
    r.1["messages"] =
        json!([{"code": 10000, "message": "This API Token is valid and active", "type": null}]);
    r
}

/// `GET …/tokens/permission_groups`, filtered by `name` and `scope`.
fn permission_groups(c: &Call) -> Reply {
    if let Err(r) = token_permission(c.inner, c.who, c.family, false) {
        return r;
    }
    let name = c.query.get("name");
    let scope = c.query.get("scope");
    let groups: Vec<Value> = GROUPS
        .iter()
        .filter(|g| name.is_none_or(|n| n == g.name))
        .filter(|g| scope.is_none_or(|s| s == g.scope))
        .map(|g| json!({"id": g.id, "name": g.name, "scopes": [g.scope]}))
        .collect();
    ok(json!(groups))
}

/// `GET …/tokens`, paged by `page` and `per_page`.
fn list(c: &Call) -> Reply {
    if let Err(r) = token_permission(c.inner, c.who, c.family, false) {
        return r;
    }
    let page: usize = match c.query.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(n)) if n >= 1 => n,
        _ => return bad_request("page must be a positive integer"),
    };
    let per_page: usize = match c.query.get("per_page").map(|p| p.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (5..=50).contains(&n) => n,
        _ => return bad_request("per_page must be between 5 and 50"),
    };
    let world = c.inner.world.lock().unwrap();
    // Expired tokens are listed only on request (cloudflare-typescript, 2026-08).
    let include_expired = c.query.get("include_expired").is_some_and(|v| v == "true");
    let mut all: Vec<&Token> = world
        .tokens
        .values()
        .filter(|t| t.family == c.family)
        .filter(|t| include_expired || t.status(c.now) != "expired")
        .collect();
    all.sort_by_key(|t| t.seq);
    if c.query.get("direction").is_some_and(|d| d == "desc") {
        all.reverse();
    }
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|t| t.to_json(c.now))
        .collect();
    let mut r = ok(json!(items));
    r.1["result_info"] = json!({
        "page": page, "per_page": per_page, "count": items.len(), "total_count": all.len()
    });
    r
}

/// `POST …/tokens`: the only answer that carries the new value.
fn create(c: &Call) -> Reply {
    if let Err(r) = token_permission(c.inner, c.who, c.family, true) {
        return r;
    }
    let key = c.inner.behaviour.lock().unwrap().condition_key;
    let req = match parse_token_body(c.body, false, key) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut world = c.inner.world.lock().unwrap();
    let quota = match c.family {
        Family::Account => ACCOUNT_TOKEN_QUOTA,
        Family::User => USER_TOKEN_QUOTA,
    };
    if world
        .tokens
        .values()
        .filter(|t| t.family == c.family)
        .count()
        >= quota
    {
        return err(
            StatusCode::BAD_REQUEST,
            1005,
            &format!("token quota reached: at most {quota} tokens"),
        );
    }
    let mut rng = c.inner.rng.lock().unwrap();
    world.seq += 1;
    let token = Token {
        id: random_hex(&mut *rng, 16),
        family: c.family,
        name: req.name,
        value: new_token_value(&mut *rng, c.family),
        disabled: false,
        issued_on: c.now,
        modified_on: c.now,
        value_issued: c.now,
        last_used_on: None,
        not_before: req.not_before,
        expires_on: req.expires_on,
        policies: store_policies(&mut *rng, req.policies),
        allow_ips: req
            .condition
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default(),
        deny_ips: req.condition.map(|c| c.1).unwrap_or_default(),
        revoked: false,
        seq: world.seq,
    };
    let mut v = token.to_json(c.now);
    v["value"] = json!(token.value);
    world.issued.push(token.value.clone());
    world.tokens.insert(token.id.clone(), token);
    ok(v)
}

/// `…/tokens/{id}` and `…/tokens/{id}/value`: the permission check, then the token must exist
/// in this family, then the method picks the handler.
fn one_token(c: &Call, m: Method, id: &str, rest: &[&str]) -> Reply {
    let write = m != Method::GET;
    if let Err(r) = token_permission(c.inner, c.who, c.family, write) {
        return r;
    }
    let mut world = c.inner.world.lock().unwrap();
    let exists = world.tokens.get(id).is_some_and(|t| t.family == c.family);
    if !exists {
        return not_found_route(&format!("/tokens/{id}"));
    }
    match (m, rest) {
        (Method::GET, []) => ok(world.tokens[id].to_json(c.now)),
        (Method::PUT, []) => update(c, &mut world, id),
        (Method::DELETE, []) => {
            world.tokens.remove(id);
            ok(json!({"id": id}))
        }
        (Method::PUT, ["value"]) => roll(c, &mut world, id),
        _ => method_not_allowed(),
    }
}

/// `PUT …/tokens/{id}`: replaces the token, except where `--sticky-token-fields` keeps a field
/// the body leaves out.
fn update(c: &Call, world: &mut World, id: &str) -> Reply {
    let behaviour = c.inner.behaviour.lock().unwrap().clone();
    let req = match parse_token_body(c.body, true, behaviour.condition_key) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut rng = c.inner.rng.lock().unwrap();
    let t = world.tokens.get_mut(id).unwrap();
    t.name = req.name;
    t.policies = store_policies(&mut *rng, req.policies);
    // Sticky: a field the body leaves out keeps its stored value.
    let sticky = behaviour.sticky_token_fields;
    if req.not_before.is_some() || !sticky {
        t.not_before = req.not_before;
    }
    if req.expires_on.is_some() || !sticky {
        t.expires_on = req.expires_on;
    }
    match req.condition {
        Some((allow, deny)) => {
            t.allow_ips = allow;
            t.deny_ips = deny;
        }
        None if !sticky => {
            t.allow_ips.clear();
            t.deny_ips.clear();
        }
        None => {}
    }
    // A revoked token stays revoked whatever the body says.
    if let Some(disabled) = req.disabled {
        t.disabled = disabled;
    }
    t.modified_on = c.now;
    ok(t.to_json(c.now))
}

/// `PUT …/tokens/{id}/value`: a new value under the same id; the old one stops at once.
fn roll(c: &Call, world: &mut World, id: &str) -> Reply {
    let mut rng = c.inner.rng.lock().unwrap();
    let t = world.tokens.get_mut(id).unwrap();
    t.value = new_token_value(&mut *rng, c.family);
    t.modified_on = c.now;
    t.value_issued = c.now;
    let value = t.value.clone();
    world.issued.push(value.clone());
    ok(json!(value))
}

struct TokenBody {
    name: String,
    policies: Vec<(String, Map<String, Value>, Vec<String>)>,
    not_before: Option<OffsetDateTime>,
    expires_on: Option<OffsetDateTime>,
    /// (allow, deny) under a key this server understands; `None` when the body carries
    /// none (or only under a key it ignores).
    condition: Option<(Vec<IpNet>, Vec<IpNet>)>,
    disabled: Option<bool>,
}

fn parse_token_body(
    body: &Bytes,
    update: bool,
    condition_key: crate::behaviour::ConditionKey,
) -> Result<TokenBody, Reply> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| bad_request("Malformed JSON in request body"))?;
    let name = v.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || name.chars().count() > 120 {
        return Err(bad_request("name: must be between 1 and 120 characters"));
    }
    let Some(policies) = v
        .get("policies")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
    else {
        return Err(bad_request("policies: at least one policy is required"));
    };
    let mut out = Vec::new();
    for p in policies {
        let effect = p.get("effect").and_then(Value::as_str).unwrap_or("");
        if effect != "allow" && effect != "deny" {
            return Err(bad_request("policies.effect: must be allow or deny"));
        }
        let Some(resources) = p
            .get("resources")
            .and_then(Value::as_object)
            .filter(|r| !r.is_empty())
        else {
            return Err(bad_request("policies.resources: required"));
        };
        for value in resources.values() {
            let valid = value == "*"
                || value
                    .as_object()
                    .is_some_and(|m| m.values().all(|x| x.is_string()));
            if !valid {
                return Err(bad_request(
                    "policies.resources: values must be \"*\" or a map",
                ));
            }
        }
        let Some(groups) = p
            .get("permission_groups")
            .and_then(Value::as_array)
            .filter(|g| !g.is_empty())
        else {
            return Err(bad_request("policies.permission_groups: required"));
        };
        let mut ids = Vec::new();
        for g in groups {
            let id = g.get("id").and_then(Value::as_str).unwrap_or("");
            if !GROUPS.iter().any(|x| x.id == id) {
                return Err(bad_request(&format!(
                    "policies.permission_groups: unknown permission group '{id}'"
                )));
            }
            ids.push(id.to_string());
        }
        out.push((effect.to_string(), resources.clone(), ids));
    }
    let time_field = |k: &str| -> Result<Option<OffsetDateTime>, Reply> {
        match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339)
                .map(Some)
                .map_err(|_| bad_request(&format!("{k}: not an RFC 3339 timestamp"))),
            Some(_) => Err(bad_request(&format!("{k}: not an RFC 3339 timestamp"))),
        }
    };
    let not_before = time_field("not_before")?;
    let expires_on = time_field("expires_on")?;
    let mut condition = None;
    if let Some(cond) = v.get("condition").filter(|c| !c.is_null()) {
        // Only the keys this server understands; any other is silently dropped.
        let ip = condition_key
            .accepted()
            .iter()
            .find_map(|k| cond.get(*k).map(|ip| (*k, ip)));
        if let Some((name, ip)) = ip {
            let (mut allow, mut deny) = (Vec::new(), Vec::new());
            for (key, into) in [("in", &mut allow), ("not_in", &mut deny)] {
                for c in ip.get(key).and_then(Value::as_array).into_iter().flatten() {
                    let s = c.as_str().unwrap_or("");
                    let net = s
                        .parse::<IpNet>()
                        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            bad_request(&format!("condition.{name}.{key}: invalid CIDR '{s}'"))
                        })?;
                    into.push(net);
                }
            }
            condition = Some((allow, deny));
        }
    }
    let disabled = if update {
        match v.get("status").and_then(Value::as_str) {
            None => None,
            Some("active") => Some(false),
            Some("disabled") => Some(true),
            Some(_) => return Err(bad_request("status: must be active or disabled")),
        }
    } else {
        None
    };
    Ok(TokenBody {
        name: name.to_string(),
        policies: out,
        not_before,
        expires_on,
        condition,
        disabled,
    })
}

/// Cloudflare assigns policy ids and does not keep the order it was sent: store policies and
/// their groups reversed, so clients that compare by position see "drift" and must not.
fn store_policies(
    rng: &mut impl rand::Rng,
    policies: Vec<(String, Map<String, Value>, Vec<String>)>,
) -> Vec<StoredPolicy> {
    policies
        .into_iter()
        .rev()
        .map(|(effect, resources, mut groups)| {
            groups.reverse();
            StoredPolicy {
                id: random_hex(rng, 16),
                effect,
                resources,
                groups,
            }
        })
        .collect()
}

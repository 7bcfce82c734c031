//! The R2 bucket routes (`/accounts/{id}/r2/buckets…`): create, list with its paging and
//! filters, get, delete and the storage class, per jurisdiction; the bucket's
//! configuration sub-resources route on to `crate::bucket_config` and
//! `crate::custom_domain`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use base64::Engine;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::state::*;
use crate::{Inner, World};

use super::{Principal, Reply, bad_request, err, forbidden, no_bucket, ok};

pub(super) fn jurisdiction(headers: &HeaderMap) -> Result<String, Reply> {
    match headers
        .get("cf-r2-jurisdiction")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Ok("default".into()),
        Some(j) if JURISDICTIONS.contains(&j) => Ok(j.into()),
        Some(j) => Err(err(
            StatusCode::BAD_REQUEST,
            10040,
            &format!("Invalid jurisdiction '{j}'"),
        )),
    }
}

/// Bucket management needs Workers R2 Storage Write (reads: Read too) on the account.
pub(super) fn r2_allowed(inner: &Inner, who: &Principal, write: bool) -> Result<(), Reply> {
    if let Principal::Token(id) = who {
        let world = inner.world.lock().unwrap();
        let t = &world.tokens[id];
        let groups: &[&str] = if write {
            &[R2_ADMIN_WRITE]
        } else {
            &[R2_ADMIN_WRITE, R2_ADMIN_READ]
        };
        if !t.has_account_group(&inner.account_id, groups) {
            return Err(forbidden());
        }
    }
    Ok(())
}

pub(super) fn route(
    inner: &Inner,
    who: &Principal,
    method: &Method,
    tail: &[&str],
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Reply {
    if let Err(r) = r2_allowed(inner, who, *method != Method::GET) {
        return r;
    }
    let j = match jurisdiction(headers) {
        Ok(j) => j,
        Err(r) => return r,
    };
    let mut world = inner.world.lock().unwrap();
    match (method.clone(), tail) {
        (Method::GET, []) => list_buckets(&world, &j, query),
        (Method::POST, []) => create_bucket(inner, &mut world, &j, body),
        (Method::GET, [name]) => match world.buckets.get(&(j, name.to_string())) {
            Some(b) => ok(b.to_json()),
            None => no_bucket(),
        },
        (Method::PATCH, [name]) => patch_storage_class(inner, &mut world, &j, name, headers),
        (Method::DELETE, [name]) => delete_bucket(inner, &mut world, &j, name),
        (m, [name, sub @ ..]) if !sub.is_empty() => {
            sub_resource(inner, &mut world, &j, &m, name, sub, body)
        }
        _ => err(StatusCode::METHOD_NOT_ALLOWED, 7001, "Method not allowed"),
    }
}

/// `POST …/r2/buckets`: a new bucket in jurisdiction `j`.
fn create_bucket(inner: &Inner, world: &mut World, j: &str, body: &Bytes) -> Reply {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return bad_request("Malformed JSON in request body");
    };
    let name = req.get("name").and_then(Value::as_str).unwrap_or("");
    if !valid_bucket_name(name) {
        return err(
            StatusCode::BAD_REQUEST,
            10005,
            "The specified bucket name is not valid.",
        );
    }
    let location = match req.get("locationHint").and_then(Value::as_str) {
        None => automatic_location(j).to_string(),
        Some(l)
            if ["apac", "eeur", "enam", "weur", "wnam", "oc"]
                .contains(&l.to_ascii_lowercase().as_str()) =>
        {
            l.to_ascii_lowercase()
        }
        Some(_) => return err(StatusCode::BAD_REQUEST, 10041, "Invalid location hint"),
    };
    let storage_class = match req.get("storageClass").and_then(Value::as_str) {
        None | Some("Standard") => "Standard",
        Some("InfrequentAccess") => "InfrequentAccess",
        Some(_) => return err(StatusCode::BAD_REQUEST, 10042, "Invalid storage class"),
    };
    let key = (j.to_string(), name.to_string());
    if world.buckets.contains_key(&key) {
        return err(
            StatusCode::CONFLICT,
            10004,
            "The bucket you tried to create already exists, and you own it.",
        );
    }
    if inner.behaviour.lock().unwrap().global_bucket_names
        && world.buckets.keys().any(|(_, n)| n == name)
    {
        return err(
            StatusCode::CONFLICT,
            10073,
            "The bucket name is already taken. Bucket names must be unique within your account.",
        );
    }
    let b = Bucket {
        name: name.into(),
        jurisdiction: j.to_string(),
        location,
        storage_class: storage_class.into(),
        creation_date: OffsetDateTime::now_utc(),
        objects: BTreeMap::new(),
        config: Default::default(),
    };
    let v = b.to_json();
    world.buckets.insert(key, b);
    ok(v)
}

/// `PATCH …/r2/buckets/{name}`: the storage class, from the `cf-r2-storage-class` header
/// (unless `--storage-class-patch` refuses the method).
fn patch_storage_class(
    inner: &Inner,
    world: &mut World,
    j: &str,
    name: &str,
    headers: &HeaderMap,
) -> Reply {
    if let Some(status) = inner.behaviour.lock().unwrap().storage_class_patch {
        return err(
            StatusCode::from_u16(status).unwrap_or(StatusCode::METHOD_NOT_ALLOWED),
            7001,
            "Method not allowed",
        );
    }
    let class = match headers
        .get("cf-r2-storage-class")
        .and_then(|v| v.to_str().ok())
    {
        Some(c @ ("Standard" | "InfrequentAccess")) => c.to_string(),
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                10042,
                "The cf-r2-storage-class header must be Standard or InfrequentAccess",
            );
        }
    };
    match world.buckets.get_mut(&(j.to_string(), name.to_string())) {
        Some(b) => {
            b.storage_class = class;
            ok(b.to_json())
        }
        None => no_bucket(),
    }
}

/// `DELETE …/r2/buckets/{name}`: only an empty bucket.
fn delete_bucket(inner: &Inner, world: &mut World, j: &str, name: &str) -> Reply {
    let key = (j.to_string(), name.to_string());
    match world.buckets.get(&key) {
        None => no_bucket(),
        Some(b) if !b.objects.is_empty() => err(
            StatusCode::CONFLICT,
            10008,
            &format!(
                "The bucket you tried to delete ({name}) is not empty (account {}).",
                inner.account_id
            ),
        ),
        Some(_) => {
            world.buckets.remove(&key);
            ok(json!({}))
        }
    }
}

/// `…/r2/buckets/{name}/{sub…}` (`sub` not empty): a bucket's configuration.
fn sub_resource(
    inner: &Inner,
    world: &mut World,
    j: &str,
    m: &Method,
    name: &str,
    sub: &[&str],
    body: &Bytes,
) -> Reply {
    let key = (j.to_string(), name.to_string());
    // A new bucket's sub-resources may not know it yet (`lag`).
    if let Some(lagging) = world.buckets.get(&key).and_then(|b| {
        let behaviour = inner.behaviour.lock().unwrap();
        crate::lag::new_bucket(&behaviour, b, crate::lag::Routes::Config)
    }) {
        return lagging;
    }
    match sub {
        // Custom domains: `custom_domain`, which also sees the zones and the
        // other buckets (a hostname serves one bucket).
        ["domains", "custom", rest @ ..] => {
            let behaviour = inner.behaviour.lock().unwrap().clone();
            crate::custom_domain::route(&inner.account_id, &behaviour, world, key, m, rest, body)
        }
        // CORS, lifecycle, lock, r2.dev: `bucket_config`.
        _ => crate::bucket_config::route(
            &inner.account_id,
            world.buckets.get_mut(&key),
            m,
            sub,
            body,
        ),
    }
}

/// Where a bucket created without a hint is put. R2's "Automatic" picks the region closest
/// to the caller (docs `r2/reference/data-location.mdx`), and a jurisdiction keeps the data
/// inside it, so an EU bucket is in Europe: `weur`. The US jurisdictions (and the default)
/// get `enam`, the emulator's caller's region as before.
fn automatic_location(jurisdiction: &str) -> &'static str {
    match jurisdiction {
        "eu" => "weur",
        _ => "enam",
    }
}

fn list_buckets(world: &World, j: &str, query: &BTreeMap<String, String>) -> Reply {
    let per_page: usize = match query.get("per_page").map(|p| p.parse::<usize>()) {
        None => 20,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return bad_request("per_page must be between 1 and 1000"),
    };
    let desc = query.get("direction").is_some_and(|d| d == "desc");
    let contains = query.get("name_contains").cloned().unwrap_or_default();
    let after_cursor = match query.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => match base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
        {
            Some(name) => Some(name),
            None => return bad_request("invalid cursor"),
        },
        None => None,
    };
    let start_after = query.get("start_after").cloned();
    let mut names: Vec<&Bucket> = world
        .buckets
        .values()
        .filter(|b| b.jurisdiction == j && b.name.contains(&contains))
        .filter(|b| {
            start_after
                .as_ref()
                .is_none_or(|s| b.name.as_str() > s.as_str())
        })
        .collect();
    names.sort_by(|a, b| a.name.cmp(&b.name));
    if desc {
        names.reverse();
    }
    if let Some(c) = &after_cursor {
        names.retain(|b| if desc { b.name < *c } else { b.name > *c });
    }
    let page: Vec<&Bucket> = names.iter().take(per_page).copied().collect();
    let more = names.len() > page.len();
    let mut info = json!({"per_page": per_page});
    if more && let Some(last) = page.last() {
        info["cursor"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&last.name));
    }
    let mut r = ok(json!({"buckets": page.iter().map(|b| b.to_json()).collect::<Vec<_>>()}));
    r.1["result_info"] = info;
    r
}

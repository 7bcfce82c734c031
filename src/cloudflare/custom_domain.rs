//! Custom domains over HTTP (https://developers.cloudflare.com/r2/buckets/public-buckets/; shapes as in cloudflare-python
//! 5.9 `r2.buckets.domains.custom` and `zones.list`): the zone lookup, one domain's GET, and
//! its POST, PUT (a patch: an absent `minTLS` keeps the stored one) and DELETE. Every R2 call
//! carries `cf-r2-jurisdiction`. The calls are inherent methods; the `ReadApi` / `WriteApi`
//! impls in `client` delegate to them. A refused zone lookup becomes one error naming Zone
//! Read.

use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::cloudflare::client::{Call, Client, WriteClient, bucket_label, jurisdiction_header};
use crate::cloudflare::error::ApiError;
use crate::config::{Jurisdiction, ZoneRef};
use crate::observed::custom_domain::{CustomDomain, Zone, ZoneKind, ZoneLookup};
use crate::plan::DomainWrite;

/// What a refused zone lookup names.
pub const ZONE_READ: &str = "Zone Read";

/// A domain the bucket does not have: 404 with DomainNotFound (distilled's code).
pub const DOMAIN_NOT_FOUND: i64 = 10053;

impl Client {
    fn domain_path(&self, bucket: &str, domain: &str) -> String {
        format!(
            "/accounts/{}/r2/buckets/{bucket}/domains/custom/{domain}",
            self.account_id()
        )
    }

    /// Look a declared zone up: by name in the account (`GET /zones?name=…&account.id=…`),
    /// then, if absent, by name anywhere the token sees (a zone of another account); by id
    /// with `GET /zones/{id}`.
    pub async fn find_zone(&self, zone: &ZoneRef) -> Result<ZoneLookup, ApiError> {
        let op = format!("look up zone '{}'", zone.as_str());
        let lacking = |e: ApiError| e.lacking(ZONE_READ, "custom_domains");
        match zone {
            ZoneRef::Id(id) => {
                let call = Call::new(op.clone(), Method::GET, format!("/zones/{id}"));
                match self.send(call).await {
                    Ok(env) => decode_zone(&env.result)
                        .map(ZoneLookup::Found)
                        .map_err(|why| shape(&op, why)),
                    Err(e) if gone(&e) => Ok(ZoneLookup::NotFound),
                    Err(e) => Err(lacking(e)),
                }
            }
            ZoneRef::Name(name) => {
                for account in [Some(self.account_id().to_string()), None] {
                    let mut call = Call::new(op.clone(), Method::GET, "/zones".to_string());
                    call.query.push(("name", name.clone()));
                    if let Some(a) = account {
                        call.query.push(("account.id", a));
                    }
                    call.query.push(("per_page", "5".into()));
                    let env = self.send(call).await.map_err(lacking)?;
                    let zones = env.result.as_array().cloned().unwrap_or_default();
                    for z in &zones {
                        let zone = decode_zone(z).map_err(|why| shape(&op, why))?;
                        if zone.name == *name {
                            return Ok(ZoneLookup::Found(zone));
                        }
                    }
                }
                Ok(ZoneLookup::NotFound)
            }
        }
    }

    /// One custom domain of a bucket (`GET …/domains/custom/{domain}`); `None` when it is not
    /// attached to this bucket.
    pub async fn custom_domain(
        &self,
        jurisdiction: Jurisdiction,
        bucket: &str,
        domain: &str,
    ) -> Result<Option<CustomDomain>, ApiError> {
        let op = format!(
            "read custom domain {domain} of {}",
            bucket_label(bucket, jurisdiction)
        );
        let mut call = Call::new(op.clone(), Method::GET, self.domain_path(bucket, domain));
        call.headers.push(jurisdiction_header(jurisdiction));
        match self.send(call).await {
            Ok(env) => CustomDomain::decode(&env.result)
                .map(Some)
                .map_err(|why| shape(&op, why)),
            // The bucket unknown (gone, or new and not yet known here) is not "not attached".
            Err(e) if e.is_bucket_missing() => Err(e),
            Err(e) if e.is_code(DOMAIN_NOT_FOUND) || e.status == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl WriteClient {
    /// One POST, PUT or DELETE of one domain. The caller reads it back with `custom_domain`.
    pub async fn put_custom_domain(
        &self,
        jurisdiction: Jurisdiction,
        bucket: &str,
        write: &DomainWrite,
    ) -> Result<(), ApiError> {
        let reader = self.reader();
        let label = bucket_label(bucket, jurisdiction);
        let mut call = match write {
            DomainWrite::Add {
                domain,
                zone_id,
                enabled,
                min_tls,
            } => {
                let path = format!(
                    "/accounts/{}/r2/buckets/{bucket}/domains/custom",
                    reader.account_id()
                );
                let mut call = Call::new(
                    format!("add custom domain {domain} to {label}"),
                    Method::POST,
                    path,
                );
                let mut body = Map::new();
                body.insert("domain".into(), json!(domain));
                body.insert("zoneId".into(), json!(zone_id));
                body.insert("enabled".into(), json!(enabled));
                if let Some(t) = min_tls {
                    body.insert("minTLS".into(), json!(t.as_str()));
                }
                call.body = Some(Value::Object(body));
                call
            }
            DomainWrite::Update {
                domain,
                enabled,
                min_tls,
            } => {
                let mut call = Call::new(
                    format!("update custom domain {domain} of {label}"),
                    Method::PUT,
                    reader.domain_path(bucket, domain),
                );
                let mut body = Map::new();
                body.insert("enabled".into(), json!(enabled));
                if let Some(t) = min_tls {
                    body.insert("minTLS".into(), json!(t.as_str()));
                }
                call.body = Some(Value::Object(body));
                call
            }
            DomainWrite::Remove { domain } => Call::new(
                format!("remove custom domain {domain} from {label}"),
                Method::DELETE,
                reader.domain_path(bucket, domain),
            ),
        };
        call.headers.push(jurisdiction_header(jurisdiction));
        reader.send(call).await.map(|_| ())
    }
}

/// A zone id or a route that is not there (`GET /zones/{id}`): nothing to find.
fn gone(e: &ApiError) -> bool {
    e.status == Some(404) || e.is_code(7003) || e.is_code(1001)
}

fn shape(op: &str, why: String) -> ApiError {
    ApiError::transport(op, format!("unexpected answer shape: {why}"))
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A zone of `GET /zones`: `{id, name, type, account: {id, name}}`.
pub fn decode_zone(v: &Value) -> Result<Zone, String> {
    Ok(Zone {
        id: text(v, "id").ok_or("a zone without 'id'")?.to_string(),
        name: text(v, "name")
            .ok_or("a zone without 'name'")?
            .trim_end_matches('.')
            .to_ascii_lowercase(),
        account_id: v
            .get("account")
            .and_then(|a| text(a, "id"))
            .unwrap_or_default()
            .to_string(),
        kind: ZoneKind::parse(text(v, "type")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_decodes_with_its_account_and_type() {
        let z = decode_zone(&json!({"id": "z1", "name": "Example.com", "type": "partial", "account": {"id": "a1", "name": "Ops"}, "status": "active"})).unwrap();
        assert_eq!(
            z,
            Zone {
                id: "z1".into(),
                name: "example.com".into(),
                account_id: "a1".into(),
                kind: ZoneKind::Partial
            }
        );
        assert_eq!(
            decode_zone(&json!({"id": "z", "name": "x.org"}))
                .unwrap()
                .kind,
            ZoneKind::Full
        );
    }
}

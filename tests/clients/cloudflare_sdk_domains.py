"""Round-trips custom domains and event notifications through Cloudflare's official Python
SDK (package `cloudflare`): client.zones.list and client.queues.list (the lookups r2gitops
makes), client.r2.buckets.domains.custom.create/list/get/update/delete (with the 409 of a
hostname attached elsewhere) and client.r2.buckets.event_notifications.update/get/list/delete
(with the 409 of an overlapping rule, and `ruleIds`), on a default and an EU bucket.

argv: API_URL ACCOUNT_ID (the admin token comes in CLOUDFLARE_API_TOKEN). The emulator must
hold the zone example.com and the queue uploads.
Prints one JSON object of what the SDK's typed answers held; exits non-zero on any
unexpected SDK error.
"""
import json
import os
import sys

import cloudflare
from cloudflare import Cloudflare

api_url, account = sys.argv[1], sys.argv[2]
cf = Cloudflare(api_token=os.environ["CLOUDFLARE_API_TOKEN"], base_url=api_url, max_retries=0)
seen = {}

cf.r2.buckets.create(account_id=account, name="sdk-domains")
cf.r2.buckets.create(account_id=account, name="sdk-domains-eu", cf_r2_jurisdiction="eu")

zones = list(cf.zones.list(name="example.com", account={"id": account}))
seen["zones"] = [{"name": z.name, "type": z.type, "account": z.account.id == account} for z in zones]
zone_id = zones[0].id
queues = list(cf.queues.list(account_id=account))
seen["queues"] = [q.queue_name for q in queues]
queue_id = next(q.queue_id for q in queues if q.queue_name == "uploads")

# Custom domains.
created = cf.r2.buckets.domains.custom.create(
    "sdk-domains-eu", account_id=account, domain="assets.example.com", zone_id=zone_id,
    enabled=True, min_tls="1.2", cf_r2_jurisdiction="eu",
)
seen["created"] = {"domain": created.domain, "enabled": created.enabled, "zone": created.zone_id == zone_id, "min_tls": created.min_tls}
listed = cf.r2.buckets.domains.custom.list("sdk-domains-eu", account_id=account, cf_r2_jurisdiction="eu")
seen["listed"] = [
    {"domain": d.domain, "zone_name": d.zone_name, "min_tls": d.min_tls, "ownership": d.status.ownership, "ssl": d.status.ssl}
    for d in listed.domains
]
updated = cf.r2.buckets.domains.custom.update(
    "assets.example.com", account_id=account, bucket_name="sdk-domains-eu", enabled=False, cf_r2_jurisdiction="eu",
)
one = cf.r2.buckets.domains.custom.get("assets.example.com", account_id=account, bucket_name="sdk-domains-eu", cf_r2_jurisdiction="eu")
seen["updated"] = {"answer": updated.enabled, "read": one.enabled, "min_tls_kept": one.min_tls}
try:
    cf.r2.buckets.domains.custom.create(
        "sdk-domains", account_id=account, domain="assets.example.com", zone_id=zone_id, enabled=True,
    )
    seen["duplicate"] = "accepted"
except cloudflare.ConflictError as e:
    seen["duplicate"] = [type(e).__name__, e.status_code]
deleted = cf.r2.buckets.domains.custom.delete("assets.example.com", account_id=account, bucket_name="sdk-domains-eu", cf_r2_jurisdiction="eu")
seen["deleted"] = deleted.domain
seen["after_delete"] = [d.domain for d in cf.r2.buckets.domains.custom.list("sdk-domains-eu", account_id=account, cf_r2_jurisdiction="eu").domains]

# Event notifications.
cf.r2.buckets.event_notifications.update(
    queue_id, account_id=account, bucket_name="sdk-domains",
    rules=[
        {"actions": ["PutObject", "CopyObject", "CompleteMultipartUpload"], "prefix": "images/", "suffix": ".jpg", "description": "thumbnails"},
        {"actions": ["DeleteObject"], "prefix": "logs/"},
    ],
)
got = cf.r2.buckets.event_notifications.get(queue_id, account_id=account, bucket_name="sdk-domains")
seen["rules"] = sorted(
    [{"actions": sorted(r.actions), "prefix": r.prefix, "suffix": r.suffix, "description": r.description, "has_id": bool(r.rule_id)} for r in got.rules],
    key=lambda r: r["prefix"],
)
seen["queue_name"] = got.queue_name
try:
    cf.r2.buckets.event_notifications.update(
        queue_id, account_id=account, bucket_name="sdk-domains", rules=[{"actions": ["PutObject"], "prefix": "images/"}],
    )
    seen["overlap"] = "accepted"
except cloudflare.ConflictError as e:
    seen["overlap"] = [type(e).__name__, e.status_code]
config = cf.r2.buckets.event_notifications.list("sdk-domains", account_id=account)
seen["config"] = {"bucket": config.bucket_name, "queues": [(q.queue_name, len(q.rules)) for q in config.queues]}
first = next(r.rule_id for r in got.rules if r.prefix == "logs/")
cf.r2.buckets.event_notifications.delete(queue_id, account_id=account, bucket_name="sdk-domains", extra_body={"ruleIds": [first]})
seen["after_rule_delete"] = [r.prefix for r in cf.r2.buckets.event_notifications.get(queue_id, account_id=account, bucket_name="sdk-domains").rules]
cf.r2.buckets.event_notifications.delete(queue_id, account_id=account, bucket_name="sdk-domains")
seen["after_delete_all"] = [q.queue_name for q in (cf.r2.buckets.event_notifications.list("sdk-domains", account_id=account).queues or [])]

print(json.dumps(seen))

"""Round-trips a bucket's configuration through Cloudflare's official Python SDK (package
`cloudflare`): client.r2.buckets.cors.update/get, .lifecycle.update/get, .locks.update/get
and .domains.managed.update/list, on a default and an EU bucket.

argv: API_URL ACCOUNT_ID (the admin token comes in CLOUDFLARE_API_TOKEN).
Prints one JSON object of what the SDK's typed answers held; exits non-zero on any SDK error.
"""
import json
import os
import sys

from cloudflare import Cloudflare

api_url, account = sys.argv[1], sys.argv[2]
cf = Cloudflare(api_token=os.environ["CLOUDFLARE_API_TOKEN"], base_url=api_url, max_retries=0)
seen = {}

cf.r2.buckets.create(account_id=account, name="sdk-config")
cf.r2.buckets.create(account_id=account, name="sdk-config-eu", cf_r2_jurisdiction="eu")

# The default lifecycle rule as the typed model reads it (conditions: {} without prefix).
default = cf.r2.buckets.lifecycle.get("sdk-config", account_id=account)
seen["default_rule"] = [
    {"id": r.id, "enabled": r.enabled, "abort": r.abort_multipart_uploads_transition.condition.max_age}
    for r in default.rules
]

cf.r2.buckets.cors.update(
    "sdk-config",
    account_id=account,
    rules=[{
        "id": "web",
        "allowed": {"origins": ["https://app.example.com"], "methods": ["GET", "PUT"], "headers": ["content-type"]},
        "expose_headers": ["etag"],
        "max_age_seconds": 3600,
    }],
)
cors = cf.r2.buckets.cors.get("sdk-config", account_id=account)
seen["cors"] = [
    {
        "id": r.id,
        "origins": r.allowed.origins,
        "methods": r.allowed.methods,
        "headers": r.allowed.headers,
        "expose": r.expose_headers,
        "max_age": r.max_age_seconds,
    }
    for r in cors.rules
]

cf.r2.buckets.lifecycle.update(
    "sdk-config",
    account_id=account,
    rules=[{
        "id": "expire-tmp",
        "enabled": True,
        "conditions": {"prefix": "tmp/"},
        "delete_objects_transition": {"condition": {"type": "Age", "max_age": 604800}},
        "storage_class_transitions": [
            {"condition": {"type": "Age", "max_age": 86400}, "storage_class": "InfrequentAccess"}
        ],
        "abort_multipart_uploads_transition": {"condition": {"type": "Age", "max_age": 86400}},
    }],
)
lc = cf.r2.buckets.lifecycle.get("sdk-config", account_id=account)
seen["lifecycle"] = [
    {
        "id": r.id,
        "prefix": r.conditions.prefix,
        "expire": r.delete_objects_transition.condition.max_age,
        "transition": [t.condition.max_age for t in r.storage_class_transitions],
        "abort": r.abort_multipart_uploads_transition.condition.max_age,
    }
    for r in lc.rules
]

cf.r2.buckets.locks.update(
    "sdk-config-eu",
    account_id=account,
    cf_r2_jurisdiction="eu",
    rules=[
        {"id": "contracts", "enabled": True, "prefix": "contracts/", "condition": {"type": "Age", "max_age_seconds": 31536000}},
        {"id": "legal", "enabled": True, "condition": {"type": "Indefinite"}},
    ],
)
locks = cf.r2.buckets.locks.get("sdk-config-eu", account_id=account, cf_r2_jurisdiction="eu")
seen["locks"] = [
    {"id": r.id, "prefix": r.prefix, "type": r.condition.type, "max_age": getattr(r.condition, "max_age_seconds", None)}
    for r in locks.rules
]

updated = cf.r2.buckets.domains.managed.update("sdk-config", account_id=account, enabled=True)
listed = cf.r2.buckets.domains.managed.list("sdk-config", account_id=account)
seen["managed"] = {"updated": updated.enabled, "listed": listed.enabled, "domain": listed.domain, "same": updated.domain == listed.domain}

cf.r2.buckets.cors.delete("sdk-config", account_id=account)
try:
    cf.r2.buckets.cors.get("sdk-config", account_id=account)
    seen["cors_after_delete"] = "still there"
except Exception as e:  # the SDK raises its NotFoundError for 404
    seen["cors_after_delete"] = [type(e).__name__, getattr(e, "status_code", None)]

print(json.dumps(seen))

"""Seeds an account with Cloudflare's official Python SDK (package `cloudflare`), as a team
would have made it by hand before r2gitops: the state `r2gitops import` must bring over.

argv: API_URL ACCOUNT_ID (the admin token comes in CLOUDFLARE_API_TOKEN).
Prints one JSON object: token name -> id, the hand-made token's value and the managed
tokens' values (for the tests that hand them over with `r2gitops adopt`).
"""
import json
import os
import sys

from cloudflare import Cloudflare

api_url, account = sys.argv[1], sys.argv[2]
cf = Cloudflare(api_token=os.environ["CLOUDFLARE_API_TOKEN"], base_url=api_url, max_retries=0)

cf.r2.buckets.create(account_id=account, name="media", location_hint="weur")
cf.r2.buckets.create(account_id=account, name="logs", storage_class="InfrequentAccess")
cf.r2.buckets.create(account_id=account, name="archive-eu", cf_r2_jurisdiction="eu")

# Configuration made in the dashboard: CORS and r2.dev on media, a lifecycle rule beside
# Cloudflare's default on logs, retention on the EU archive.
cf.r2.buckets.cors.update(
    "media",
    account_id=account,
    rules=[{
        "id": "web",
        "allowed": {"origins": ["https://app.example.com"], "methods": ["GET", "HEAD"], "headers": ["Content-Type"]},
        "max_age_seconds": 3600,
    }],
)
cf.r2.buckets.domains.managed.update("media", account_id=account, enabled=True)
default_rule = cf.r2.buckets.lifecycle.get("logs", account_id=account).rules[0]
cf.r2.buckets.lifecycle.update(
    "logs",
    account_id=account,
    rules=[
        {
            "id": default_rule.id,
            "enabled": True,
            "conditions": {"prefix": ""},
            "abort_multipart_uploads_transition": {"condition": {"type": "Age", "max_age": 604800}},
        },
        {
            "id": "expire-debug",
            "enabled": True,
            "conditions": {"prefix": "debug/"},
            "delete_objects_transition": {"condition": {"type": "Age", "max_age": 2592000}},
        },
    ],
)
cf.r2.buckets.locks.update(
    "archive-eu",
    account_id=account,
    cf_r2_jurisdiction="eu",
    rules=[{"id": "keep-1y", "enabled": True, "prefix": "contracts/", "condition": {"type": "Age", "max_age_seconds": 31536000}}],
)

# A custom domain on media and an upload pipeline on logs (issue 15's blocks).
zone_id = list(cf.zones.list(name="example.com", account={"id": account}))[0].id
cf.r2.buckets.domains.custom.create(
    "media", account_id=account, domain="assets.example.com", zone_id=zone_id, enabled=True, min_tls="1.2",
)
queue_id = next(q.queue_id for q in cf.queues.list(account_id=account) if q.queue_name == "uploads")
cf.r2.buckets.event_notifications.update(
    queue_id, account_id=account, bucket_name="logs",
    rules=[
        {"actions": ["PutObject", "CopyObject", "CompleteMultipartUpload"], "prefix": "incoming/", "suffix": ".gz", "description": "ingest"},
        {"actions": ["DeleteObject"], "prefix": "incoming/"},
    ],
)

OBJECT_READ = "6a018a9f2fc74eb6b293b0c548f38b39"
OBJECT_WRITE = "2efd5506f9c8494dacb1fa10a3e7d5b6"
ADMIN_READ = "b4992e1108244f5d8bfbd5744320c2e1"


def on_buckets(group, jurisdiction, *names):
    return [{
        "effect": "allow",
        "resources": {f"com.cloudflare.edge.r2.bucket.{account}_{jurisdiction}_{n}": "*" for n in names},
        "permission_groups": [{"id": group}],
    }]


def on_account(group):
    return [{
        "effect": "allow",
        "resources": {f"com.cloudflare.api.account.{account}": "*"},
        "permission_groups": [{"id": group}],
    }]


ids = {}
values = {}
created = cf.accounts.tokens.create(
    account_id=account,
    name="r2gitops:uploader",
    policies=on_buckets(OBJECT_WRITE, "default", "media", "logs"),
    condition={"request_ip": {"in": ["203.0.113.0/24"], "not_in": ["203.0.113.7/32"]}},
    expires_on="2030-01-01T00:00:00Z",
)
ids["r2gitops:uploader"] = created.id
values["r2gitops:uploader"] = created.value
created = cf.accounts.tokens.create(
    account_id=account, name="r2gitops:ops", policies=on_account(ADMIN_READ)
)
ids["r2gitops:ops"] = created.id
values["r2gitops:ops"] = created.value
hand = cf.accounts.tokens.create(
    account_id=account,
    name="Backup reader (dashboard)",
    policies=on_buckets(OBJECT_READ, "eu", "archive-eu"),
)
ids["Backup reader (dashboard)"] = hand.id
mixed = cf.accounts.tokens.create(
    account_id=account,
    name="mixed",
    policies=on_buckets(OBJECT_READ, "default", "media") + on_account(ADMIN_READ),
)
ids["mixed"] = mixed.id
print(json.dumps({"ids": ids, "hand_value": hand.value, "values": values}))

"""Reads the emulator's live notification answers through Cloudflare's official Python SDK
(package `cloudflare`): client.r2.buckets.event_notifications.list/get/update/delete with the
queue named by a dashed UUID in the GETs, a generated description for a rule sent without
one, 404 for a bucket or queue without rules, and 409 for rules whose key ranges overlap
across different actions (the stricter overlap rule).

argv: API_URL ACCOUNT_ID (the admin token comes in CLOUDFLARE_API_TOKEN). The emulator must
run with every notification switch on and hold the queues uploads and audit.
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


def refused(call):
    try:
        call()
        return "accepted"
    except cloudflare.APIStatusError as e:
        return [type(e).__name__, e.status_code]


cf.r2.buckets.create(account_id=account, name="sdk-live")
queues = {q.queue_name: q.queue_id for q in cf.queues.list(account_id=account)}
seen["listed_ids"] = sorted(queues.values())
uploads = queues["uploads"]

seen["empty_list"] = refused(lambda: cf.r2.buckets.event_notifications.list("sdk-live", account_id=account))

cf.r2.buckets.event_notifications.update(
    uploads, account_id=account, bucket_name="sdk-live",
    rules=[
        {"actions": ["PutObject"], "prefix": "images/", "description": "thumbnails"},
        {"actions": ["DeleteObject"], "prefix": "logs/"},
    ],
)
config = cf.r2.buckets.event_notifications.list("sdk-live", account_id=account)
seen["config"] = [
    {"queue_id": q.queue_id, "queue_name": q.queue_name,
     "descriptions": sorted(r.description for r in q.rules)}
    for q in config.queues
]
got = cf.r2.buckets.event_notifications.get(uploads, account_id=account, bucket_name="sdk-live")
seen["get"] = {"queue_id": got.queue_id, "descriptions": sorted(r.description for r in got.rules)}
seen["queue_without_rules"] = refused(
    lambda: cf.r2.buckets.event_notifications.get(queues["audit"], account_id=account, bucket_name="sdk-live")
)
seen["overlap_by_keys"] = refused(
    lambda: cf.r2.buckets.event_notifications.update(
        uploads, account_id=account, bucket_name="sdk-live",
        rules=[{"actions": ["CopyObject"], "prefix": "images/thumbs/"}],
    )
)
cf.r2.buckets.event_notifications.delete(uploads, account_id=account, bucket_name="sdk-live")
seen["after_delete"] = refused(lambda: cf.r2.buckets.event_notifications.list("sdk-live", account_id=account))

print(json.dumps(seen))

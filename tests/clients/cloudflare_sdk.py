"""Drives the emulator with Cloudflare's official Python SDK (package `cloudflare`).

argv: API_URL ACCOUNT_ID (the admin token comes in CLOUDFLARE_API_TOKEN).
Creates, lists and deletes a bucket (default and eu); creates, lists (every page), rolls and
deletes an account token. Prints one JSON object describing what it saw; exits non-zero on
any SDK error.
"""
import json
import os
import sys

from cloudflare import Cloudflare

api_url, account = sys.argv[1], sys.argv[2]
cf = Cloudflare(api_token=os.environ["CLOUDFLARE_API_TOKEN"], base_url=api_url, max_retries=0)
seen = {}

b = cf.r2.buckets.create(account_id=account, name="sdk-bucket", location_hint="weur")
seen["created_bucket"] = {"name": b.name, "location": b.location}
cf.r2.buckets.create(account_id=account, name="sdk-eu", cf_r2_jurisdiction="eu")
listed = cf.r2.buckets.list(account_id=account, per_page=1000)
seen["default_buckets"] = sorted(x.name for x in listed.buckets)
listed_eu = cf.r2.buckets.list(account_id=account, cf_r2_jurisdiction="eu")
seen["eu_buckets"] = sorted(x.name for x in listed_eu.buckets)
cf.r2.buckets.delete("sdk-bucket", account_id=account)
cf.r2.buckets.delete("sdk-eu", account_id=account, cf_r2_jurisdiction="eu")
seen["after_delete"] = sorted(x.name for x in cf.r2.buckets.list(account_id=account).buckets)

policies = [{
    "effect": "allow",
    "resources": {f"com.cloudflare.edge.r2.bucket.{account}_default_sdk-bucket": "*"},
    "permission_groups": [{"id": "6a018a9f2fc74eb6b293b0c548f38b39"}],
}]
created = [cf.accounts.tokens.create(account_id=account, name=f"sdk-{i}", policies=policies) for i in range(7)]
seen["value_prefix"] = created[0].value[:5]
# The SDK's auto-pager walks every page.
seen["listed_tokens"] = sorted(t.name for t in cf.accounts.tokens.list(account_id=account, per_page=5))
new_value = cf.accounts.tokens.value.update(created[0].id, account_id=account)
seen["rolled_changed"] = new_value != created[0].value
seen["rolled_prefix"] = new_value[:5]
for t in created:
    cf.accounts.tokens.delete(t.id, account_id=account)
seen["tokens_after_delete"] = [t.name for t in cf.accounts.tokens.list(account_id=account)]
print(json.dumps(seen))

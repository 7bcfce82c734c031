#!/usr/bin/env bash
# Step 2 of action.yml: `r2gitops validate`, then (command: plan) the plan as Markdown for the
# job summary and the comment, and as JSON at the plan-json output. It always exits 0 and
# hands the exit code on (output exitcode): the comment step runs either way, and the last
# step exits with it. Blocked items become ::warning annotations.
#
# Outputs: exitcode, has-changes, plan-json, and for the comment step plan-markdown and
# plan-id.
set -uo pipefail

file=${R2GITOPS_ACTION_FILE:-r2gitops.yaml}
command=${R2GITOPS_ACTION_COMMAND:-plan}
dir=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/r2gitops-plan.XXXXXX")
json=$dir/plan.json
md=$dir/plan.md
output() { echo "$1=$2" >> "$GITHUB_OUTPUT"; }
finish() { # CODE [JSON MARKDOWN ID]
  output exitcode "$1"
  output has-changes "$([ "$1" -eq 2 ] && echo true || echo false)"
  output plan-json "${2:-}"
  output plan-markdown "${3:-}"
  output plan-id "${4:-}"
  exit 0
}
# A workflow command's message: GitHub's escapes, so that a name from Cloudflare cannot end
# the annotation and start a command of its own.
annotation_jq='gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A")'

case "$command" in
  plan | validate) ;;
  *) echo "::error title=r2gitops::command '$command' is neither plan nor validate"; finish 64 ;;
esac
# The operator's policy, on every command (validate and both plans), so that a file it
# refuses is never planned.
policy=()
if [ -n "${R2GITOPS_ACTION_POLICY:-}" ]; then
  policy=(--policy "$R2GITOPS_ACTION_POLICY")
fi
case "${R2GITOPS_ACTION_POLICY_IN_REPO:-false}" in
  false) ;;
  true)
    if [ ${#policy[@]} -eq 0 ]; then
      echo "::error title=r2gitops::policy-in-repo is true but no policy is given"; finish 64
    fi
    policy+=(--policy-in-repo) ;;
  *) echo "::error title=r2gitops::policy-in-repo must be true or false"; finish 64 ;;
esac

r2gitops validate "${policy[@]}" --file "$file"
code=$?
if [ "$code" -ne 0 ] || [ "$command" = validate ]; then
  finish "$code"
fi

r2gitops reconcile --dry-run --skip-outputs --detailed-exitcode --output json "${policy[@]}" --file "$file" > "$json"
code=$?
if [ "$code" -ne 0 ] && [ "$code" -ne 2 ]; then
  finish "$code"
fi
r2gitops reconcile --dry-run --skip-outputs --detailed-exitcode --output markdown "${policy[@]}" --file "$file" > "$md"
md_code=$?
id=$(jq -r '.plan_id' "$json")
# Two reads of Cloudflare: the same plan, or neither is shown as the plan.
if [ "$md_code" -ne "$code" ] || ! grep -qxF "Plan id: \`$id\`" "$md"; then
  echo "::error title=r2gitops::Cloudflare changed between the two reads of this plan (the JSON and the Markdown plans differ); run the job again"
  finish 1
fi
cat "$md" >> "$GITHUB_STEP_SUMMARY"
jq -r ".blocked[] | \"\(.kind) \(.name): \(.reason)\" | $annotation_jq" "$json" |
  while IFS= read -r line; do
    echo "::warning title=r2gitops blocked::$line"
  done
echo "Plan id: $id (exit code $code)"
finish "$code" "$json" "$md" "$id"

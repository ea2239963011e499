#!/bin/sh
# deploy-console.sh: put the built console (.cache/console/dist) into the stack's ConsoleBucket,
# with the config.json the stack's ConsoleConfig output describes, then invalidate the two files
# that are not content-hashed. Needs the AWS CLI and credentials; STACK (default streamspace) and
# AWS_REGION / AWS_PROFILE as for sam deploy. docs/deploy.md, "The web console".
set -eu

STACK=${STACK:-streamspace}
DIST=${CONSOLE_DIST:-.cache/console/dist}
AWS=${AWS_CLI:-aws}

[ -f "$DIST/index.html" ] || { echo "deploy-console: $DIST/index.html is missing: run make console" >&2; exit 1; }

output() {
	value=$($AWS cloudformation describe-stacks --stack-name "$STACK" \
		--query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text)
	if [ -z "$value" ] || [ "$value" = None ]; then
		echo "deploy-console: stack $STACK has no output $1 (deploy the stack first)" >&2
		exit 1
	fi
	printf '%s' "$value"
}

bucket=$(output ConsoleBucketName)
distribution=$(output DistributionId)
url=$(output ConsoleUrl)
config=$(mktemp)
trap 'rm -f "$config"' EXIT
output ConsoleConfig >"$config"

# Content-hashed files first, cached for a year; earlier builds' files stay, so a page loaded
# before this deploy keeps working until it reloads.
$AWS s3 cp "$DIST/assets" "s3://$bucket/assets" --recursive --only-show-errors \
	--cache-control "public, max-age=31536000, immutable"
# Then what names them: revalidated on every load.
$AWS s3 cp "$config" "s3://$bucket/config.json" --only-show-errors \
	--content-type application/json --cache-control no-cache
$AWS s3 cp "$DIST/index.html" "s3://$bucket/index.html" --only-show-errors \
	--content-type "text/html; charset=utf-8" --cache-control no-cache
$AWS cloudfront create-invalidation --distribution-id "$distribution" \
	--paths /index.html /config.json --query Invalidation.Id --output text >/dev/null

echo "The console is deployed. Open $url"

// Package infratest checks the SAM template (template.yaml at the repository root) offline:
// cfn-lint must pass, aws-sam-translator must transform it, and the transformed CloudFormation
// must agree with the Go sources of truth — the tables of internal/ddb, the routes of
// internal/routes — and with the project's rules (runtime, least-privilege IAM, WebSocket,
// stream and schedule settings cfn-lint does not check).
//
// The tests live in the _test.go files; they need cfn-lint and python3 with the
// aws-sam-translator package on PATH and fail (not skip) without them. checks.go holds the
// template helpers and the least-privilege rules, shared with the CDK app's tests (infra/).
package infratest

package infratest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	// recordingsBucket is the S3 bucket of session recordings (objects under recordingsPrefix;
	// metadata items in MainTable).
	recordingsBucket = "RecordingsBucket"
	recordingsPrefix = "recordings/"
	// recordingsRetentionParam bounds how long any object stays in recordingsBucket.
	recordingsRetentionParam = "RecordingsMaxRetentionDays"
)

// functionSpecificEnv is the environment only some functions need, beyond functionEnv.
var functionSpecificEnv = map[string][]struct{ name, ref string }{
	// Presigns upload / download URLs and deletes objects in the recordings bucket.
	"ActivityFunction": {{"RECORDINGS_BUCKET", recordingsBucket}},
	// Deletes the object of a recording whose item is removed (SEC-16).
	processorFunction: {{"RECORDINGS_BUCKET", recordingsBucket}},
	// Whether idle sessions are asked to hibernate.
	schedulerFunction: {{"AUTO_HIBERNATE", autoHibernateParam}},
}

// functionEnvDiffs checks one function's functionSpecificEnv; nil means it is right.
func functionEnvDiffs(tmpl cfn, fn string) []string {
	var diffs []string
	vars := asMap(get(props(tmpl, fn), "Environment", "Variables"))
	for _, e := range functionSpecificEnv[fn] {
		v, ok := vars[e.name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: environment lacks %s", fn, e.name))
		case !isRef(v, e.ref):
			diffs = append(diffs, fmt.Sprintf("%s: environment %s = %v, want {Ref: %s}", fn, e.name, v, e.ref))
		}
	}
	return diffs
}

// wantS3Access is, per function, exactly the S3 actions its role allows and on which resource,
// as "<action> <resource>" with the resource written the way the template's Fn::Sub does
// ("${Bucket.Arn}/prefix/*"; !GetAtt Bucket.Arn is "${Bucket.Arn}"). The grant summary
// (wantGrants) only knows "the bucket"; this pins the object prefix, so a grant on the whole
// bucket, on bucket-level actions or with an s3 wildcard shows up. Functions not listed have
// no S3 access at all.
var wantS3Access = map[string][]string{
	// Presigned PUT (upload) and GET (download) URLs carry the role's permissions; deleting a
	// recording deletes its object. No ListBucket: the metadata in MainTable lists recordings.
	"ActivityFunction": {
		"s3:DeleteObject ${" + recordingsBucket + ".Arn}/" + recordingsPrefix + "*",
		"s3:GetObject ${" + recordingsBucket + ".Arn}/" + recordingsPrefix + "*",
		"s3:PutObject ${" + recordingsBucket + ".Arn}/" + recordingsPrefix + "*",
	},
	// Stream records given up on, whole, each consumer under its own prefix (SEC-10).
	"NotifierFunction": {"s3:PutObject ${DeadLetterBucket.Arn}/dead-letters/notifier/*"},
	// Auditor step: deletes the object of every recording item removed (its retention's TTL,
	// or DELETE): the content lives as long as its metadata (SEC-16). Runtime step: writes and
	// deletes the sessions' environment files (never reads them back; ECS does, with the
	// session execution role). Each step parks the records it gives up on under its own prefix.
	processorFunction: {
		"s3:DeleteObject ${" + recordingsBucket + ".Arn}/" + recordingsPrefix + "*",
		"s3:DeleteObject ${" + sessionEnvBucket + ".Arn}/session-env/*",
		"s3:PutObject ${" + sessionEnvBucket + ".Arn}/session-env/*",
		"s3:PutObject ${DeadLetterBucket.Arn}/dead-letters/auditor/*",
		"s3:PutObject ${DeadLetterBucket.Arn}/dead-letters/runtime/*",
	},
}

// arnText writes an IAM Resource the way a Fn::Sub would: !GetAtt X.Arn → "${X.Arn}", Ref X →
// "${X}", Fn::Sub "…" → "…"; anything else as JSON.
func arnText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ga := asList(x["Fn::GetAtt"]); len(ga) == 2 {
			return "${" + str(ga[0]) + "." + str(ga[1]) + "}"
		}
		if s, ok := x["Fn::GetAtt"].(string); ok {
			return "${" + s + "}"
		}
		if r, ok := x["Ref"].(string); ok {
			return "${" + r + "}"
		}
		if s, ok := x["Fn::Sub"].(string); ok {
			return s
		}
		if l := asList(x["Fn::Sub"]); len(l) == 1 {
			return str(l[0])
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// resourceList is a statement's Resource as a list.
func resourceList(v any) []any {
	if l := asList(v); l != nil {
		return l
	}
	return []any{v}
}

// s3Access lists, sorted, what a role's statements allow in S3 (actions starting with "s3:",
// and "*"), as "<action> <resource>" (see arnText).
func s3Access(tmpl cfn, role string) []string {
	set := map[string]bool{}
	for _, st := range iamStatements(tmpl) {
		if st.role != role || str(st.stmt["Effect"]) != "Allow" {
			continue
		}
		for _, a := range stringsOf(st.stmt["Action"]) {
			if a != "*" && !strings.HasPrefix(a, "s3:") {
				continue
			}
			for _, r := range resourceList(st.stmt["Resource"]) {
				set[a+" "+arnText(r)] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// s3AccessDiffs compares every function's S3 access with wantS3Access; nil means they agree.
func s3AccessDiffs(tmpl cfn) []string {
	var diffs []string
	for _, fn := range keys(wantS3Access) {
		if !slices.Contains(allFunctions(), fn) {
			diffs = append(diffs, fmt.Sprintf("wantS3Access names %s, which is not a function of the template", fn))
		}
	}
	for _, fn := range allFunctions() {
		role := functionRole(tmpl, fn)
		if role == "" {
			diffs = append(diffs, fmt.Sprintf("%s: no single IAM role", fn))
			continue
		}
		diffs = append(diffs, diffSets(fn+" S3 access", wantS3Access[fn], s3Access(tmpl, role))...)
	}
	return diffs
}

func TestIAMExactS3Access(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "S3", s3AccessDiffs(transformed(t)))
}

// wholeBucketRule: a lifecycle rule without Prefix, tag or size filters applies to every object.
func wholeBucketRule(rule any) bool {
	r := asMap(rule)
	if p, ok := r["Prefix"]; ok && p != "" {
		return false
	}
	for _, f := range []string{"TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan"} {
		if _, ok := r[f]; ok {
			return false
		}
	}
	return true
}

// recordingsBucketDiffs checks the recordings bucket and its policy; nil means all is well:
// retained, encrypted at rest (SSE-S3, or SSE-KMS with the AWS managed key), no public access
// whatsoever, ACLs disabled, every object expiring after RecordingsMaxRetentionDays and
// incomplete multipart uploads aborted after a day (noncurrent versions expiring too if
// versioning is on), CORS for the web app's origins with GET and PUT only (presigned URLs),
// and a bucket policy refusing plain HTTP.
func recordingsBucketDiffs(tmpl cfn) []string {
	id := recordingsBucket
	r := asMap(get(resources(tmpl), id))
	if typ := str(r["Type"]); typ != "AWS::S3::Bucket" {
		return []string{fmt.Sprintf("%s is %q, want an AWS::S3::Bucket", id, typ)}
	}
	var diffs []string
	for _, pol := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
		if got := str(r[pol]); got != "Retain" {
			diffs = append(diffs, fmt.Sprintf("%s: %s = %q, want Retain", id, pol, got))
		}
	}
	p := props(tmpl, id)

	sse := asList(get(p, "BucketEncryption", "ServerSideEncryptionConfiguration"))
	if len(sse) == 0 {
		diffs = append(diffs, fmt.Sprintf("%s: BucketEncryption.ServerSideEncryptionConfiguration must set default encryption", id))
	}
	for _, rule := range sse {
		def := asMap(get(rule, "ServerSideEncryptionByDefault"))
		switch alg := str(def["SSEAlgorithm"]); alg {
		case "AES256":
		case "aws:kms":
			if k, ok := def["KMSMasterKeyID"]; ok && k != "alias/aws/s3" {
				diffs = append(diffs, fmt.Sprintf("%s: KMSMasterKeyID = %v, want none (the AWS managed key aws/s3)", id, k))
			}
		default:
			diffs = append(diffs, fmt.Sprintf("%s: BucketEncryption SSEAlgorithm = %q, want AES256 or aws:kms", id, alg))
		}
	}

	for _, f := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if get(p, "PublicAccessBlockConfiguration", f) != true {
			diffs = append(diffs, fmt.Sprintf("%s: PublicAccessBlockConfiguration.%s must be true", id, f))
		}
	}
	if rules := asList(get(p, "OwnershipControls", "Rules")); len(rules) != 1 || str(get(rules[0], "ObjectOwnership")) != "BucketOwnerEnforced" {
		diffs = append(diffs, fmt.Sprintf("%s: OwnershipControls.Rules = %v, want [{ObjectOwnership: BucketOwnerEnforced}] (ACLs disabled)", id, rules))
	}
	if _, ok := p["AccessControl"]; ok {
		diffs = append(diffs, fmt.Sprintf("%s: AccessControl (a canned ACL) must not be set", id))
	}

	lc := asMap(p["LifecycleConfiguration"])
	if lc == nil {
		diffs = append(diffs, fmt.Sprintf("%s: no LifecycleConfiguration (recordings must expire after %s)", id, recordingsRetentionParam))
	} else {
		var expires, aborts, noncurrent bool
		for _, rule := range asList(lc["Rules"]) {
			if str(get(rule, "Status")) != "Enabled" || !wholeBucketRule(rule) {
				continue
			}
			if isRef(get(rule, "ExpirationInDays"), recordingsRetentionParam) {
				expires = true
			}
			if get(rule, "AbortIncompleteMultipartUpload", "DaysAfterInitiation") == float64(1) {
				aborts = true
			}
			if get(rule, "NoncurrentVersionExpiration") != nil || get(rule, "NoncurrentVersionExpirationInDays") != nil {
				noncurrent = true
			}
		}
		if !expires {
			diffs = append(diffs, fmt.Sprintf("%s: no enabled whole-bucket lifecycle rule with ExpirationInDays {Ref: %s}", id, recordingsRetentionParam))
		}
		if !aborts {
			diffs = append(diffs, fmt.Sprintf("%s: no enabled whole-bucket lifecycle rule with AbortIncompleteMultipartUpload.DaysAfterInitiation 1", id))
		}
		if str(get(p, "VersioningConfiguration", "Status")) == "Enabled" && !noncurrent {
			diffs = append(diffs, fmt.Sprintf("%s: versioned but no lifecycle rule with NoncurrentVersionExpiration (deleted recordings would live on)", id))
		}
	}

	corsRules := asList(get(p, "CorsConfiguration", "CorsRules"))
	if len(corsRules) == 0 {
		diffs = append(diffs, fmt.Sprintf("%s: no CorsConfiguration.CorsRules (browsers PUT and GET presigned URLs)", id))
	}
	var methods []string
	for _, rule := range corsRules {
		if !isRef(get(rule, "AllowedOrigins"), "CorsAllowedOrigins") {
			diffs = append(diffs, fmt.Sprintf("%s: CORS AllowedOrigins = %v, want {Ref: CorsAllowedOrigins}", id, get(rule, "AllowedOrigins")))
		}
		for _, m := range stringsOf(get(rule, "AllowedMethods")) {
			if !slices.Contains(methods, m) {
				methods = append(methods, m)
			}
		}
	}
	diffs = append(diffs, diffSets(id+" CORS AllowedMethods", []string{"GET", "PUT", "POST"}, methods)...)

	if !secureTransportEnforced(tmpl, id) {
		diffs = append(diffs, fmt.Sprintf("%s: no AWS::S3::BucketPolicy denies s3:* on the bucket and its objects to everyone when aws:SecureTransport is false", id))
	}
	return diffs
}

// secureTransportEnforced: a bucket policy of the bucket denies every S3 action, on the bucket
// and on its objects, to any principal over plain HTTP.
func secureTransportEnforced(tmpl cfn, bucket string) bool {
	bucketArn, objectsArn := "${"+bucket+".Arn}", "${"+bucket+".Arn}/*"
	for _, id := range resourcesOfType(tmpl, "AWS::S3::BucketPolicy") {
		p := props(tmpl, id)
		if !slices.Equal(referencedResources(p["Bucket"]), []string{bucket}) {
			continue
		}
		for _, st := range statementsOf(p["PolicyDocument"]) {
			principal := st["Principal"]
			if str(st["Effect"]) != "Deny" || !(principal == "*" || str(get(principal, "AWS")) == "*") {
				continue
			}
			actions := stringsOf(st["Action"])
			if !slices.Contains(actions, "s3:*") && !slices.Contains(actions, "*") {
				continue
			}
			var res []string
			for _, r := range resourceList(st["Resource"]) {
				res = append(res, arnText(r))
			}
			if !slices.Contains(res, bucketArn) || !slices.Contains(res, objectsArn) {
				continue
			}
			if v := get(st, "Condition", "Bool", "aws:SecureTransport"); v == "false" || v == false {
				return true
			}
		}
	}
	return false
}

// TestRecordingsBucket: see recordingsBucketDiffs.
func TestRecordingsBucket(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "recordings bucket", recordingsBucketDiffs(transformed(t)))
}

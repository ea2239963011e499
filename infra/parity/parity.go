// Package parity compares the SAM template (after the AWS::Serverless transform) with the CDK
// app's template and reports every difference that matters to what gets deployed.
//
// Both templates are first brought to one canonical form, then flattened into "path = value"
// facts (one per leaf), and the two fact sets are compared. The canonical form keeps everything
// except what the two tools inevitably write differently. These normalisation rules are the
// whole list; each is as narrow as the difference it absorbs:
//
// Template level
//
//	T1  CDK bookkeeping is dropped: the BootstrapVersion parameter, the CheckBootstrapVersion
//	    rule, AWS::CDK::Metadata resources and the CDKMetadataAvailable condition.
//	T2  Resource Metadata is not compared (SAM copies BuildMethod around, CDK writes
//	    aws:cdk:path and asset entries); the functions' source folder is read from it first (F1).
//	T3  Intrinsics are rendered as text: {"Ref": X} is ${X}, {"Fn::GetAtt": [X, A]} is ${X.A},
//	    Fn::Sub is its string with its own variables substituted, Fn::Join of strings is their
//	    concatenation. So CDK's join of a table ARN and "/index/*" equals SAM's
//	    !Sub ${Table.Arn}/index/*. Other intrinsics (Fn::If, Fn::Equals…) stay as they are, with
//	    rendered arguments.
//	T4  Scalars compare as text (30 and "30", true and "true"): CloudFormation's own coercion,
//	    where YAML and JSON quote differently.
//	T5  Empty objects and lists are absent values (SAM writes DestinationConfig: {}).
//	T6  DependsOn is a set (its order means nothing to CloudFormation).
//	T7  The tags SAM adds to say it made a resource (lambda:createdBy and httpapi:createdBy,
//	    value SAM) are dropped.
//
// Functions (AWS::Lambda::Function)
//
//	F1  Code is replaced by the folder the code is built from: for SAM, the folder the
//	    Makefile's build-<LogicalId> target compiles (BuildMethod: makefile); for CDK, the
//	    resource's StreamSpace::Source metadata, written by the same code that makes the asset.
//
// IAM (AWS::IAM::Role, AWS::IAM::Policy)
//
//	I1  Policies are compared as grants, not as documents: every (effect, action, resource,
//	    condition) of a role's inline policies and of the AWS::IAM::Policy resources attached to
//	    it is one fact; policy names, Sids and the grouping into statements do not matter.
//	I2  A table ARN spelled from its name, arn:${AWS::Partition}:dynamodb:${AWS::Region}:
//	    ${AWS::AccountId}:table/${T} (SAM's policy templates), is ${T.Arn}.
//	I3  AWS managed policies compare by name (SAM resolves the partition, CDK joins it in).
//	I4  In policy documents a single string equals a one-element list (Action, Resource,
//	    principals).
//
// Lambda permissions (AWS::Lambda::Permission)
//
//	P1  Permissions have no comparable logical ids (SAM: <Function><Event>Permission, CDK:
//	    hashes): they compare as a set of (function, action, principal, source) entries.
//	P2  FunctionName ${F} and ${F.Arn} both name F.
//	P3  On the HTTP API's source ARNs the method and the path parameters are "*" (SAM writes
//	    /*/GET/users/*, CDK /*/*/users/{userId}), and authorizers/<id> is authorizers/*.
//
// HTTP API (the AWS::ApiGatewayV2::Api with an OpenAPI Body or ProtocolType HTTP)
//
//	H1  SAM's OpenAPI body and CDK's Route, Integration and Authorizer resources both become the
//	    API's Routes (route key -> function, integration type and payload version, authorizer or
//	    NONE) and Authorizers (by name: function, type, payload version, simple responses, TTL,
//	    identity sources), with the name, description and CORS settings (OpenAPI's camelCase
//	    x-amazon-apigateway-cors is CorsConfiguration). A CORS value that is a Ref to a list
//	    parameter is that parameter's default, split on commas: SAM resolves it at transform
//	    time, with the values CloudFormation passes.
//
// Everything else — tables, queues, buckets, alarms, log groups, the WebSocket API, event
// source mappings, schedules, parameters, conditions, outputs — compares property by property
// under the same logical ids.
package parity

import (
	"fmt"
	"sort"
	"strings"
)

// Template is a CloudFormation template decoded from JSON.
type Template = map[string]any

// CodeSource names the folder a function's code is built from, given its logical id and its
// resource (Type, Properties, Metadata…).
type CodeSource func(logicalID string, resource map[string]any) (string, error)

// Compare reports the differences between the transformed SAM template and the CDK template,
// one line each, sorted; none means the two describe the same stack. samCode says where each
// SAM function's code comes from (MakefileSource).
func Compare(sam, cdk Template, samCode CodeSource) ([]string, error) {
	samFacts, err := Facts(sam, samCode)
	if err != nil {
		return nil, fmt.Errorf("SAM template: %w", err)
	}
	cdkFacts, err := Facts(cdk, MetadataSource)
	if err != nil {
		return nil, fmt.Errorf("CDK template: %w", err)
	}
	return Diff(samFacts, cdkFacts), nil
}

// Facts is a template's canonical form, flattened: path -> value.
func Facts(tmpl Template, code CodeSource) (map[string]string, error) {
	canon, err := Canonical(tmpl, code)
	if err != nil {
		return nil, err
	}
	raw := map[string]string{}
	flatten("", canon, raw)
	facts := make(map[string]string, len(raw))
	for p, v := range raw {
		facts[strings.TrimPrefix(p, ".")] = v
	}
	return facts, nil
}

// Diff compares two fact sets: a path only one side has, or with different values.
func Diff(sam, cdk map[string]string) []string {
	var out []string
	for p, v := range sam {
		w, ok := cdk[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: only in SAM (= %s)", p, v))
		case v != w:
			out = append(out, fmt.Sprintf("%s: SAM %s, CDK %s", p, v, w))
		}
	}
	for p, w := range cdk {
		if _, ok := sam[p]; !ok {
			out = append(out, fmt.Sprintf("%s: only in CDK (= %s)", p, w))
		}
	}
	sort.Strings(out)
	return out
}

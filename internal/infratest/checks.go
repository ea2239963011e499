package infratest

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// This file is the part of the package other code may use: the template navigation helpers and
// the least-privilege rules, which the CDK app's tests (module streamspace/infra, allowed to
// import this internal package because its path is under streamspace/) run on the synthesized
// CDK template too. Everything else stays in the _test.go files.

// LeastPrivilegeFindings applies the least-privilege rules (iamFindings) to any CloudFormation
// template decoded from JSON; nil means it follows them.
func LeastPrivilegeFindings(tmpl map[string]any) []string { return iamFindings(tmpl) }

// cfn is a CloudFormation template (or any JSON object inside one).
type cfn = map[string]any

func asMap(v any) cfn {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// get follows a path of object keys; nil if any step is missing.
func get(v any, path ...string) any {
	for _, k := range path {
		m := asMap(v)
		if m == nil {
			return nil
		}
		v = m[k]
	}
	return v
}

func resources(tmpl cfn) cfn { return asMap(tmpl["Resources"]) }

// resourcesOfType returns the logical ids of all resources of one type, sorted.
func resourcesOfType(tmpl cfn, typ string) []string {
	var ids []string
	for id, r := range resources(tmpl) {
		if str(get(r, "Type")) == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func props(tmpl cfn, id string) cfn { return asMap(get(resources(tmpl), id, "Properties")) }

// stringsOf accepts a string or a list of strings (IAM Action/Resource style).
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

var subVar = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// referencedResources lists the logical ids a value points at through Ref, Fn::GetAtt or
// ${Name} / ${Name.Attr} in Fn::Sub (pseudo parameters excluded), sorted and unique.
func referencedResources(v any) []string {
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["Ref"].(string); ok && !strings.HasPrefix(r, "AWS::") {
				seen[r] = true
			}
			if ga := asList(x["Fn::GetAtt"]); len(ga) > 0 {
				seen[str(ga[0])] = true
			}
			if s, ok := x["Fn::GetAtt"].(string); ok {
				seen[strings.SplitN(s, ".", 2)[0]] = true
			}
			if sub, ok := x["Fn::Sub"]; ok {
				var tmplStr string
				vars := cfn{}
				switch s := sub.(type) {
				case string:
					tmplStr = s
				case []any:
					if len(s) > 0 {
						tmplStr = str(s[0])
					}
					if len(s) > 1 {
						vars = asMap(s[1])
					}
				}
				for _, m := range subVar.FindAllStringSubmatch(tmplStr, -1) {
					if _, local := vars[m[1]]; !local {
						seen[m[1]] = true
					}
				}
				for _, vv := range vars {
					walk(vv)
				}
				return
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unscopableActions are IAM actions that cannot be restricted to a resource, so a statement
// granting only these may say Resource "*". Add an entry only with the reason (X-Ray, which
// cannot be scoped either, comes in through the AWSXrayWriteOnlyAccess managed policy below).
var unscopableActions = map[string]string{
	// The session runtime registers one task definition per template (per template and user for
	// persistent homes) and looks it up before each start; ECS has no resource-level
	// permissions for either action.
	"ecs:DescribeTaskDefinition": "no resource-level permissions (runtime: reuse a registered task definition)",
	"ecs:RegisterTaskDefinition": "no resource-level permissions (runtime: first start of a template)",
	// The session and gateway execution roles sign in to ECR before pulling a private image.
	"ecr:GetAuthorizationToken": "no resource-level permissions (session and gateway image pulls from ECR)",
}

// patternResources are IAM resources, written as the Fn::Sub string, that name no resource of
// the template but a pattern of resources the stack creates at run time; each has its reason.
// runtimeAccessDiffs pins which statements use them.
var patternResources = map[string]string{
	// Task definitions the runtime registers: families <stack>-<template>[-home-<user hash>].
	"arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AWS::StackName}-*:*": "the runtime's task definition families",
	// Template images may live in any ECR repository of the account (templates name them at run
	// time), and so may the gateway's image (GatewayImageUri).
	"arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*": "private template and gateway images in the account's ECR",
}

// awsManagedPolicies are the AWS managed policies SAM attaches on its own, by policy name (the
// part after ":policy/"), with the roles allowed to carry them ("*" = any function role). Their
// documents use Resource "*" and are not in the template, so each one is admitted explicitly.
var awsManagedPolicies = map[string][]string{
	// Every function: logs:CreateLogGroup/CreateLogStream/PutLogEvents.
	"service-role/AWSLambdaBasicExecutionRole": {"*"},
	// Tracing: Active. X-Ray write actions cannot be scoped to resources.
	"AWSXrayWriteOnlyAccess": {"*"},
	// Not AWSLambdaDynamoDBExecutionRole: it reads every stream of the account (SEC-20). The
	// consumers' mappings are declared in the template, and their roles read the Main table's
	// stream only (streamReadDiffs).
}

// iamStatement is one statement of an identity policy in the template.
type iamStatement struct {
	role  string // logical id of the role the policy belongs to
	where string // for messages
	stmt  cfn
}

func statementsOf(doc any) []cfn {
	switch s := get(doc, "Statement").(type) {
	case map[string]any:
		return []cfn{s}
	case []any:
		var out []cfn
		for _, e := range s {
			out = append(out, asMap(e))
		}
		return out
	}
	return nil
}

// iamStatements collects every statement of every role's inline policies and of every
// AWS::IAM::Policy / AWS::IAM::ManagedPolicy.
func iamStatements(tmpl cfn) []iamStatement {
	var out []iamStatement
	for _, role := range resourcesOfType(tmpl, "AWS::IAM::Role") {
		for _, pol := range asList(props(tmpl, role)["Policies"]) {
			for i, s := range statementsOf(get(pol, "PolicyDocument")) {
				out = append(out, iamStatement{role, fmt.Sprintf("%s policy %s statement %d", role, str(get(pol, "PolicyName")), i), s})
			}
		}
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"} {
		for _, id := range resourcesOfType(tmpl, typ) {
			p := props(tmpl, id)
			roles := referencedResources(p["Roles"])
			role := strings.Join(roles, ",")
			for i, s := range statementsOf(p["PolicyDocument"]) {
				out = append(out, iamStatement{role, fmt.Sprintf("%s %s statement %d", typ, id, i), s})
			}
		}
	}
	return out
}

// iamFindings lists every grant that breaks the least-privilege rules; nil means none.
func iamFindings(tmpl cfn) []string {
	var findings []string
	for _, st := range iamStatements(tmpl) {
		if str(st.stmt["Effect"]) != "Allow" {
			continue
		}
		for _, neg := range []string{"NotAction", "NotResource"} {
			if _, ok := st.stmt[neg]; ok {
				findings = append(findings, fmt.Sprintf("%s: Allow with %s grants everything else", st.where, neg))
			}
		}
		actions := stringsOf(st.stmt["Action"])
		for _, a := range actions {
			if a == "*" || strings.HasSuffix(a, ":*") {
				findings = append(findings, fmt.Sprintf("%s: Action %q grants a whole service", st.where, a))
			}
		}
		res := st.stmt["Resource"]
		resList := asList(res)
		if resList == nil {
			resList = []any{res}
		}
		for _, r := range resList {
			s, literal := r.(string)
			switch {
			case literal && s == "*":
				unscopable := len(actions) > 0
				for _, a := range actions {
					if _, ok := unscopableActions[a]; !ok {
						unscopable = false
					}
				}
				if !unscopable {
					findings = append(findings, fmt.Sprintf("%s: Resource \"*\" for %v (not in unscopableActions)", st.where, actions))
				}
			case literal:
				findings = append(findings, fmt.Sprintf("%s: literal Resource %q; name the template's resources instead", st.where, s))
			case len(existingResources(tmpl, r)) == 0 && patternResources[str(get(r, "Fn::Sub"))] == "":
				findings = append(findings, fmt.Sprintf("%s: Resource %v names no resource of the template", st.where, r))
			}
		}
	}
	for _, role := range resourcesOfType(tmpl, "AWS::IAM::Role") {
		for _, arn := range asList(props(tmpl, role)["ManagedPolicyArns"]) {
			name, found := awsManagedPolicyName(arn)
			if !found {
				findings = append(findings, fmt.Sprintf("%s: managed policy %v is not an AWS managed policy ARN", role, arn))
				continue
			}
			allowed, known := awsManagedPolicies[name]
			if !known || !(slices.Contains(allowed, "*") || slices.Contains(allowed, role)) {
				findings = append(findings, fmt.Sprintf("%s: AWS managed policy %s is not allowed for this role (see awsManagedPolicies)", role, name))
			}
		}
	}
	return findings
}

// existingResources keeps the references of v that are resources of the template (not
// parameters or pseudo parameters).
func existingResources(tmpl cfn, v any) []string {
	var out []string
	for _, id := range referencedResources(v) {
		if _, ok := resources(tmpl)[id]; ok {
			out = append(out, id)
		}
	}
	return out
}

// awsManagedPolicyName returns the policy name (the part after ":policy/") of an AWS managed
// policy ARN, written as a literal (SAM resolves the partition at transform time) or as the
// partition-aware join CDK writes: {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
// ":iam::aws:policy/NAME"]]}.
func awsManagedPolicyName(arn any) (string, bool) {
	if s, ok := arn.(string); ok {
		_, name, found := strings.Cut(s, ":iam::aws:policy/")
		return name, found
	}
	join := asList(get(arn, "Fn::Join"))
	if len(join) != 2 || str(join[0]) != "" {
		return "", false
	}
	parts := asList(join[1])
	if len(parts) != 3 || str(parts[0]) != "arn:" || str(get(parts[1], "Ref")) != "AWS::Partition" {
		return "", false
	}
	name, found := strings.CutPrefix(str(parts[2]), ":iam::aws:policy/")
	return name, found && name != ""
}

func isRef(v any, name string) bool { return str(get(v, "Ref")) == name }

// referencedOfType keeps the references that are resources of the given type.
func referencedOfType(tmpl cfn, v any, typ string) []string {
	var out []string
	for _, id := range referencedResources(v) {
		if str(get(resources(tmpl), id, "Type")) == typ {
			out = append(out, id)
		}
	}
	return out
}

// MaxStreamReaders is how many readers the Main table's stream may have: DynamoDB Streams
// documents throttling above two concurrent readers per shard, and every reader then gains
// iterator age (issue 14). Work that a change causes becomes a processor step instead.
const MaxStreamReaders = 2

// StreamReaderFindings fails a template (SAM after its transform, or the CDK app's) in which more
// than MaxStreamReaders event source mappings read the Main table's stream; nil means it is within.
func StreamReaderFindings(tmpl map[string]any) []string { return streamReaderDiffs(tmpl) }

func streamReaderDiffs(tmpl cfn) []string {
	var readers []string
	for _, id := range resourcesOfType(tmpl, "AWS::Lambda::EventSourceMapping") {
		if slices.Contains(referencedResources(props(tmpl, id)["EventSourceArn"]), "MainTable") {
			readers = append(readers, id)
		}
	}
	if len(readers) > MaxStreamReaders {
		return []string{fmt.Sprintf("%d event source mappings read MainTable's stream (%s), at most %d may: make the work a processor step",
			len(readers), strings.Join(readers, ", "), MaxStreamReaders)}
	}
	return nil
}

package parity

import (
	"fmt"
	"regexp"
	"strings"
)

// canonicalIAM applies I1–I4: each role's trust, managed policies and grants become sets; the
// AWS::IAM::Policy resources are folded into the roles they attach to.
func canonicalIAM(res map[string]any) {
	tables := map[string]bool{}
	for id, r := range res {
		if typeOf(r) == "AWS::DynamoDB::Table" {
			tables[id] = true
		}
	}
	grants := map[string]map[string]any{} // role -> grant set
	addGrants := func(role string, doc any) {
		if grants[role] == nil {
			grants[role] = map[string]any{}
		}
		for _, g := range statementFacts(doc, tables) {
			grants[role][g] = true
		}
	}
	for _, id := range sortedKeys(res) {
		r := res[id]
		switch typeOf(r) {
		case "AWS::IAM::Role":
			p := propsOf(r)
			for _, pol := range asList(p["Policies"]) {
				addGrants(id, asMap(pol)["PolicyDocument"])
			}
			delete(p, "Policies")
			if grants[id] == nil {
				grants[id] = map[string]any{}
			}
			if trust, ok := p["AssumeRolePolicyDocument"]; ok {
				set := map[string]any{}
				for _, f := range statementFacts(trust, tables) {
					set[f] = true
				}
				p["AssumeRolePolicyDocument"] = set
			}
			if arns, ok := p["ManagedPolicyArns"]; ok {
				set := map[string]any{}
				for _, a := range stringList(arns) {
					set[managedPolicyName(a)] = true
				}
				p["ManagedPolicyArns"] = set
			}
		case "AWS::IAM::Policy":
			p := propsOf(r)
			for _, role := range stringList(p["Roles"]) {
				if name := refName(role); name != "" {
					addGrants(name, p["PolicyDocument"])
				} else {
					addGrants(role, p["PolicyDocument"])
				}
			}
			delete(res, id)
		}
	}
	for role, set := range grants {
		if r, ok := res[role]; ok && typeOf(r) == "AWS::IAM::Role" {
			propsOf(r)["Grants"] = set
		} else {
			// A policy attached to a role the template does not define: keep it visible.
			res["(policies of "+role+")"] = map[string]any{"Grants": set}
		}
	}
}

// statementFacts turns a policy document into one text per (effect, action, resource,
// principal, condition): "Allow dynamodb:GetItem on ${MainTable.Arn}".
func statementFacts(doc any, tables map[string]bool) []string {
	var out []string
	var statements []any
	switch s := asMap(doc)["Statement"].(type) {
	case []any:
		statements = s
	case map[string]any:
		statements = []any{s}
	}
	for _, st := range statements {
		m := asMap(st)
		effect, _ := m["Effect"].(string)
		actionKey, resourceKey := "Action", "Resource"
		if _, ok := m["NotAction"]; ok {
			actionKey = "NotAction"
		}
		if _, ok := m["NotResource"]; ok {
			resourceKey = "NotResource"
		}
		var who []string
		for _, k := range []string{"Principal", "NotPrincipal"} {
			switch pr := m[k].(type) {
			case string:
				who = append(who, k+" "+pr)
			case map[string]any:
				for _, kind := range sortedKeys(pr) {
					for _, p := range stringList(pr[kind]) {
						who = append(who, fmt.Sprintf("%s %s:%s", k, kind, p))
					}
				}
			}
		}
		suffix := ""
		if len(who) > 0 {
			suffix += " by " + joinSorted(who)
		}
		if c, ok := m["Condition"]; ok {
			suffix += " if " + canonicalJSON(c)
		}
		resources := stringList(m[resourceKey])
		if len(resources) == 0 {
			resources = []string{"(none)"}
		}
		for _, a := range stringList(m[actionKey]) {
			for _, r := range resources {
				out = append(out, fmt.Sprintf("%s %s%s on %s%s", effect, notPrefix(actionKey), a, tableArn(r, tables), suffix))
			}
		}
	}
	return out
}

func notPrefix(key string) string {
	if strings.HasPrefix(key, "Not") {
		return "NOT "
	}
	return ""
}

// tableArn applies I2.
var tableArnFromName = regexp.MustCompile(`^arn:\$\{AWS::Partition\}:dynamodb:\$\{AWS::Region\}:\$\{AWS::AccountId\}:table/\$\{([A-Za-z0-9]+)\}`)

func tableArn(r string, tables map[string]bool) string {
	if m := tableArnFromName.FindStringSubmatchIndex(r); m != nil {
		if name := r[m[2]:m[3]]; tables[name] {
			return "${" + name + ".Arn}" + r[m[1]:]
		}
	}
	return r
}

// managedPolicyName applies I3: the name of an AWS managed policy ARN (literal or with the
// partition joined in), or the ARN itself.
func managedPolicyName(arn string) string {
	for _, prefix := range []string{"arn:aws:iam::aws:policy/", "arn:${AWS::Partition}:iam::aws:policy/"} {
		if name, ok := strings.CutPrefix(arn, prefix); ok {
			return "aws managed " + name
		}
	}
	return arn
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

package infratest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
)

// tableShape is a table reduced to what must agree between Go and the template, every list
// sorted so that ordering never matters.
type tableShape struct {
	BillingMode    string
	Attributes     []string // "PK:S"
	KeySchema      []string // "PK:HASH"
	GSIs           []string // "GSI1 GSI1PK:HASH GSI1SK:RANGE projection=ALL"
	LSIs           []string
	StreamViewType string // "" when there is no stream
	TTLAttribute   string // "" when TTL is off
}

// expectedTable is what the Go definition produces: CreateInput, plus the TTL that
// ddb.EnsureTable switches on for every table.
func expectedTable(d ddb.TableDef) tableShape {
	in := d.CreateInput("parity-check")
	s := tableShape{BillingMode: string(in.BillingMode), TTLAttribute: ddb.TTLAttribute}
	for _, a := range in.AttributeDefinitions {
		s.Attributes = append(s.Attributes, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	s.KeySchema = goKeys(in.KeySchema)
	for _, g := range in.GlobalSecondaryIndexes {
		proj := ""
		if g.Projection != nil {
			proj = string(g.Projection.ProjectionType)
		}
		s.GSIs = append(s.GSIs, index(aws.ToString(g.IndexName), goKeys(g.KeySchema), proj))
	}
	for _, l := range in.LocalSecondaryIndexes {
		s.LSIs = append(s.LSIs, aws.ToString(l.IndexName))
	}
	if in.StreamSpecification != nil && aws.ToBool(in.StreamSpecification.StreamEnabled) {
		s.StreamViewType = string(in.StreamSpecification.StreamViewType)
	}
	s.sort()
	return s
}

func goKeys(ks []types.KeySchemaElement) []string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	sort.Strings(out)
	return out
}

func index(name string, keys []string, projection string) string {
	return fmt.Sprintf("%s %s projection=%s", name, strings.Join(keys, " "), projection)
}

// templateTable reads the same shape from an AWS::DynamoDB::Table's properties.
func templateTable(p cfn) tableShape {
	s := tableShape{BillingMode: str(p["BillingMode"])}
	if reflect.DeepEqual(p["BillingMode"], provisionedIf("PROVISIONED", "PAY_PER_REQUEST")) {
		// On demand unless TableCapacityMode=Provisioned: capacityDiffs checks the rest.
		s.BillingMode = string(types.BillingModePayPerRequest)
	}
	if s.BillingMode == "" {
		s.BillingMode = string(types.BillingModeProvisioned) // CloudFormation's default
	}
	for _, a := range asList(p["AttributeDefinitions"]) {
		s.Attributes = append(s.Attributes, str(get(a, "AttributeName"))+":"+str(get(a, "AttributeType")))
	}
	s.KeySchema = cfnKeys(p["KeySchema"])
	for _, g := range asList(p["GlobalSecondaryIndexes"]) {
		s.GSIs = append(s.GSIs, index(str(get(g, "IndexName")), cfnKeys(get(g, "KeySchema")), str(get(g, "Projection", "ProjectionType"))))
	}
	for _, l := range asList(p["LocalSecondaryIndexes"]) {
		s.LSIs = append(s.LSIs, str(get(l, "IndexName")))
	}
	s.StreamViewType = str(get(p, "StreamSpecification", "StreamViewType"))
	if get(p, "TimeToLiveSpecification", "Enabled") == true {
		s.TTLAttribute = str(get(p, "TimeToLiveSpecification", "AttributeName"))
	}
	s.sort()
	return s
}

func cfnKeys(v any) []string {
	var out []string
	for _, k := range asList(v) {
		out = append(out, str(get(k, "AttributeName"))+":"+str(get(k, "KeyType")))
	}
	sort.Strings(out)
	return out
}

func (s *tableShape) sort() {
	for _, l := range [][]string{s.Attributes, s.KeySchema, s.GSIs, s.LSIs} {
		sort.Strings(l)
	}
}

// tableDiffs compares one Go table definition with the template's resource of the same
// logical id; nil means they agree.
func tableDiffs(tmpl cfn, d ddb.TableDef) []string {
	r := asMap(get(resources(tmpl), d.LogicalID))
	if r == nil {
		return []string{fmt.Sprintf("no resource %s in the template", d.LogicalID)}
	}
	if typ := str(r["Type"]); typ != "AWS::DynamoDB::Table" {
		return []string{fmt.Sprintf("%s is a %s, not an AWS::DynamoDB::Table", d.LogicalID, typ)}
	}
	want, got := expectedTable(d), templateTable(asMap(r["Properties"]))
	var diffs []string
	if want.BillingMode != got.BillingMode {
		diffs = append(diffs, fmt.Sprintf("BillingMode: Go %q, template %q", want.BillingMode, got.BillingMode))
	}
	diffs = append(diffs, diffSets("AttributeDefinitions", want.Attributes, got.Attributes)...)
	diffs = append(diffs, diffSets("KeySchema", want.KeySchema, got.KeySchema)...)
	diffs = append(diffs, diffSets("GlobalSecondaryIndexes", want.GSIs, got.GSIs)...)
	diffs = append(diffs, diffSets("LocalSecondaryIndexes", want.LSIs, got.LSIs)...)
	if want.StreamViewType != got.StreamViewType {
		diffs = append(diffs, fmt.Sprintf("StreamSpecification.StreamViewType: Go %q, template %q (\"\" = no stream)", want.StreamViewType, got.StreamViewType))
	}
	if want.TTLAttribute != got.TTLAttribute {
		diffs = append(diffs, fmt.Sprintf("TimeToLiveSpecification (enabled attribute): Go %q, template %q", want.TTLAttribute, got.TTLAttribute))
	}
	return diffs
}

func TestTablesMatchGoDefinitions(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)

	var ids []string
	for _, d := range ddb.AllTables {
		ids = append(ids, d.LogicalID)
	}
	reportDiffs(t, "DynamoDB tables (template vs ddb.AllTables)", diffSets("tables", ids, resourcesOfType(tmpl, "AWS::DynamoDB::Table")))

	for _, d := range ddb.AllTables {
		t.Run(d.LogicalID, func(t *testing.T) {
			reportDiffs(t, d.LogicalID+" differs from ddb."+d.LogicalID, tableDiffs(tmpl, d))
		})
	}
}

// retainedTables hold records that must outlive the stack (sessions, users, API keys; the
// audit trail of API-key usage and session activity): CloudFormation must keep them on stack deletion and on
// replacement. ConnectionsTable is deliberately not here (its items expire within hours).
var retainedTables = []string{ddb.MainLogicalID, ddb.AuditLogicalID}

// tableProtectionDiffs checks encryption at rest and point-in-time recovery on every table,
// the retention of retainedTables, and that the main table's stream is the one the notifier
// needs; nil means all is well.
func tableProtectionDiffs(tmpl cfn) []string {
	var diffs []string
	for _, d := range ddb.AllTables {
		p := props(tmpl, d.LogicalID)
		if get(p, "SSESpecification", "SSEEnabled") != true {
			diffs = append(diffs, fmt.Sprintf("%s: SSESpecification.SSEEnabled must be true", d.LogicalID))
		}
		if get(p, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") != true {
			diffs = append(diffs, fmt.Sprintf("%s: PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled must be true", d.LogicalID))
		}
	}
	for _, id := range retainedTables {
		r := asMap(get(resources(tmpl), id))
		for _, pol := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if got := str(r[pol]); got != "Retain" {
				diffs = append(diffs, fmt.Sprintf("%s: %s = %q, want Retain", id, pol, got))
			}
		}
	}
	// cfn-lint accepts any string here; DynamoDB would reject a typo only at deploy time. The
	// notifier needs both images (it diffs old and new), whatever ddb says.
	const wantView = "NEW_AND_OLD_IMAGES"
	if got := str(get(props(tmpl, ddb.MainLogicalID), "StreamSpecification", "StreamViewType")); got != wantView {
		diffs = append(diffs, fmt.Sprintf("%s StreamViewType = %q, want %q", ddb.MainLogicalID, got, wantView))
	}
	return diffs
}

// TestTablesProtected: see tableProtectionDiffs.
func TestTablesProtected(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "DynamoDB table protection", tableProtectionDiffs(transformed(t)))
}

// provisionedTables are the tables TableCapacityMode=Provisioned puts on provisioned capacity
// (the Connections table stays on demand: it is small and bursts on reconnect storms).
var provisionedTables = []ddb.TableDef{ddb.Main, ddb.Audit}

func provisionedIf(yes, no any) cfn { return cfn{"Fn::If": []any{"ProvisionedTables", yes, no}} }

// capacityDiffs: with TableCapacityMode=Provisioned each of those tables and every index of
// theirs has provisioned throughput and a read and a write target kept at 70% by auto scaling
// (docs/cost.md counts on it); on demand otherwise, with none of that.
func capacityDiffs(tmpl cfn) []string {
	var diffs []string
	throughput := provisionedIf(cfn{"ReadCapacityUnits": cfn{"Ref": "ProvisionedCapacityMin"}, "WriteCapacityUnits": cfn{"Ref": "ProvisionedCapacityMin"}},
		cfn{"Ref": "AWS::NoValue"})
	targets := map[string]cfn{}
	for _, id := range resourcesOfType(tmpl, "AWS::ApplicationAutoScaling::ScalableTarget") {
		if str(props(tmpl, id)["ServiceNamespace"]) == "dynamodb" {
			targets[id] = asMap(resources(tmpl)[id])
		}
	}
	policies := map[string]cfn{} // by the target they scale
	for _, id := range resourcesOfType(tmpl, "AWS::ApplicationAutoScaling::ScalingPolicy") {
		pp := props(tmpl, id)
		for _, t := range referencedResources(pp["ScalingTargetId"]) {
			policies[t] = asMap(resources(tmpl)[id])
		}
	}
	seen := 0
	for _, d := range provisionedTables {
		p := props(tmpl, d.LogicalID)
		if !reflect.DeepEqual(p["BillingMode"], provisionedIf("PROVISIONED", "PAY_PER_REQUEST")) {
			diffs = append(diffs, fmt.Sprintf("%s: BillingMode = %v, want PROVISIONED if ProvisionedTables, else PAY_PER_REQUEST", d.LogicalID, p["BillingMode"]))
		}
		if !reflect.DeepEqual(p["ProvisionedThroughput"], throughput) {
			diffs = append(diffs, fmt.Sprintf("%s: ProvisionedThroughput = %v, want ProvisionedCapacityMin if ProvisionedTables", d.LogicalID, p["ProvisionedThroughput"]))
		}
		for _, g := range asList(p["GlobalSecondaryIndexes"]) {
			if !reflect.DeepEqual(get(g, "ProvisionedThroughput"), throughput) {
				diffs = append(diffs, fmt.Sprintf("%s %s: ProvisionedThroughput = %v, want ProvisionedCapacityMin if ProvisionedTables", d.LogicalID, str(get(g, "IndexName")), get(g, "ProvisionedThroughput")))
			}
		}
		for _, idx := range append([]string{""}, d.GSIs...) {
			resourceID, kind := "table/${"+d.LogicalID+"}", "table"
			if idx != "" {
				resourceID, kind = resourceID+"/index/"+idx, "index"
			}
			for _, dim := range []string{"Read", "Write"} {
				name := d.LogicalID + idx + dim + "Capacity"
				t, ok := targets[name]
				if !ok {
					diffs = append(diffs, fmt.Sprintf("no scalable target %s (%s %s capacity)", name, resourceID, dim))
					continue
				}
				seen++
				tp := asMap(t["Properties"])
				if str(t["Condition"]) != "ProvisionedTables" || str(tp["ServiceNamespace"]) != "dynamodb" ||
					str(get(tp, "ResourceId", "Fn::Sub")) != resourceID || str(tp["ScalableDimension"]) != "dynamodb:"+kind+":"+dim+"CapacityUnits" ||
					!isRef(tp["MinCapacity"], "ProvisionedCapacityMin") || !isRef(tp["MaxCapacity"], "ProvisionedCapacityMax") {
					diffs = append(diffs, fmt.Sprintf("%s: want Condition ProvisionedTables, dynamodb %s of %s, ProvisionedCapacityMin..Max; got %v", name, dim, resourceID, t))
				}
				pol := policies[name]
				pc := asMap(get(pol, "Properties", "TargetTrackingScalingPolicyConfiguration"))
				if str(pol["Condition"]) != "ProvisionedTables" || pc["TargetValue"] != float64(70) ||
					str(get(pc, "PredefinedMetricSpecification", "PredefinedMetricType")) != "DynamoDB"+dim+"CapacityUtilization" {
					diffs = append(diffs, fmt.Sprintf("%s: want a target-tracking policy at 70%% DynamoDB%sCapacityUtilization under ProvisionedTables; got %v", name, dim, pol))
				}
			}
		}
	}
	if seen != len(targets) {
		diffs = append(diffs, fmt.Sprintf("%d DynamoDB scalable targets, %d of them for the provisioned tables' capacity", len(targets), seen))
	}
	return diffs
}

func TestProvisionedCapacityOption(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "capacity", capacityDiffs(transformed(t)))
}

package infratest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"streamspace/internal/ddb"
	"streamspace/internal/routes"
)

// dynamoWriteActions are the DynamoDB actions that change data. The grant summary names each
// of them (a role that may only PutItem must not quietly gain DeleteItem); every other DynamoDB
// action reads and is summarised as dynamodb:read. TransactWriteItems needs no action of its
// own: IAM authorises each item of a transaction as its PutItem / UpdateItem / DeleteItem /
// ConditionCheckItem.
var dynamoWriteActions = []string{
	"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
}

// dynamoRead is the grant summary of a table read statement (SAM's DynamoDBReadPolicy minus Scan).
func dynamoRead(table string) []string { return []string{"dynamodb:read " + table} }

// dynamoCrud is the grant summary of a table CRUD statement (SAM's DynamoDBCrudPolicy minus Scan): reads plus the four
// item writes (no PartiQL).
func dynamoCrud(table string) []string {
	return append(dynamoRead(table), "dynamodb:PutItem "+table, "dynamodb:UpdateItem "+table,
		"dynamodb:DeleteItem "+table, "dynamodb:BatchWriteItem "+table)
}

func grantList(parts ...[]string) []string { return slices.Concat(parts...) }

// mainStream is the grant summary of reading the Main table's stream: only its consumers have
// it, and no role reads any other stream (SEC-20: not AWSLambdaDynamoDBExecutionRole).
var mainStream = "dynamodb:stream " + ddb.MainLogicalID + "/stream"

// wantGrants is, per function, exactly what its role may do, as "<action> <resource>" where
// DynamoDB reads are summarised as dynamodb:read and writes keep their action. Least privilege
// means no function reaches a table, an action or an API it does not use.
var wantGrants = map[string][]string{
	"MetaFunction": nil, // health and version touch nothing (and no auth, so no API-key usage)
	// The PreSignUp trigger reads its event only.
	presignupFunction: nil,
	// Every authenticated HTTP function keeps the API-key rate counters (UpdateItem) and the
	// usage log and counters (TransactWriteItems / PutItem / UpdateItem) in AuditTable.
	"UsersFunction": grantList(dynamoCrud(ddb.MainLogicalID), dynamoCrud(ddb.AuditLogicalID)),
	// Connect signs stream tickets with the keyring's signing key (TicketKeysSecret).
	"SessionsFunction": grantList(dynamoCrud(ddb.MainLogicalID), dynamoCrud(ddb.AuditLogicalID),
		[]string{"secretsmanager:GetSecretValue " + ticketKeysSecret}),
	// Keys live in MainTable; their usage statistics are read from AuditTable (GetItem / Query /
	// BatchGetItem) besides its own request accounting.
	"ApikeysFunction": grantList(dynamoCrud(ddb.MainLogicalID), dynamoCrud(ddb.AuditLogicalID)),
	// Teams, memberships, roles and team quotas; team sessions through GSI3 (GetItem, Query,
	// BatchGetItem, PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem).
	"TeamsFunction": grantList(dynamoCrud(ddb.MainLogicalID), dynamoCrud(ddb.AuditLogicalID)),
	// Session shares, invitations and collaborators, same operations as teams.
	"SharingFunction": grantList(dynamoCrud(ddb.MainLogicalID), dynamoCrud(ddb.AuditLogicalID)),
	// Reads users and API keys; records users on first sight with one conditional PutItem.
	// Nothing on AuditTable.
	"AuthorizerFunction": grantList(dynamoRead(ddb.MainLogicalID), []string{"dynamodb:PutItem " + ddb.MainLogicalID}),
	// Connections and subscriptions; reads sessions, shares and team members for access checks
	// (never writes MainTable).
	"WebsocketFunction": grantList(dynamoCrud(ddb.ConnLogicalID), dynamoRead(ddb.MainLogicalID)),
	// Finds and prunes connections, reads access data (sessions, shares, team members; never
	// writes MainTable), posts to clients, parks failed batches.
	"NotifierFunction": grantList(dynamoRead(ddb.ConnLogicalID), []string{"dynamodb:BatchWriteItem " + ddb.ConnLogicalID}, dynamoRead(ddb.MainLogicalID),
		[]string{"execute-api:ManageConnections WebSocketApi", "sqs:SendMessage NotifierDeadLetterQueue",
			"dynamodb:UpdateItem " + ddb.AuditLogicalID, "s3:PutObject DeadLetterBucket", mainStream}),
	// Session access decisions read MainTable (see wantDynamoActions for the exact actions);
	// recording metadata items are put, updated and deleted there one by one (no
	// BatchWriteItem); activity items and counters, and its own API-key metering, in
	// AuditTable; recording objects in RecordingsBucket (under recordings/ only, see
	// wantS3Access).
	"ActivityFunction": grantList(dynamoRead(ddb.MainLogicalID),
		[]string{"dynamodb:PutItem " + ddb.MainLogicalID, "dynamodb:UpdateItem " + ddb.MainLogicalID,
			"dynamodb:DeleteItem " + ddb.MainLogicalID},
		dynamoCrud(ddb.AuditLogicalID),
		[]string{"s3:PutObject " + recordingsBucket, "s3:GetObject " + recordingsBucket, "s3:DeleteObject " + recordingsBucket}),
	// Finds due sessions through GSI4 (Query), reads them (GetItem / BatchGetItem) and rewrites
	// them (PutItem, TransactWriteItems with UpdateItem on the quota counters). Nothing on the
	// other tables: no routes (no API-key metering), no connections, no activity records (the
	// processor's auditor step derives those from the stream its writes feed).
	schedulerFunction: dynamoCrud(ddb.MainLogicalID),
	// The processor, the Main table stream's second reader, has the union of its steps' needs.
	// Auditor step: activity records in AuditTable (PutItem / UpdateItem, reads of its own;
	// never deletes; the steps' failure counts and progress are items there too), the content
	// of removed recordings. Runtime step: reads sessions and templates and records the
	// runtime's bookkeeping and observations (TransactWriteItems when a failure releases
	// quota); stops this cluster's tasks; tags what it creates; passes exactly the two session
	// roles to ECS; creates home access points on the homes' file system; writes and deletes
	// the sessions' environment files (encrypting them with the stack's key). Both park failed
	// records (whole, in DeadLetterBucket under the step's prefix; batch metadata in its
	// queue). RunTask is on the task definition pattern (patternResources) with an ecs:cluster
	// condition: runtimeAccessDiffs pins it.
	processorFunction: grantList(dynamoCrud(ddb.MainLogicalID), dynamoRead(ddb.AuditLogicalID), []string{
		"dynamodb:PutItem " + ddb.AuditLogicalID, "dynamodb:UpdateItem " + ddb.AuditLogicalID, "s3:DeleteObject " + recordingsBucket,
		"ecs:StopTask " + sessionCluster, "ecs:TagResource " + sessionCluster,
		"iam:PassRole " + sessionExecutionRole, "iam:PassRole " + sessionTaskRole,
		"elasticfilesystem:CreateAccessPoint " + sessionFileSystem, "sqs:SendMessage " + processorDLQ,
		"s3:PutObject " + sessionEnvBucket, "s3:DeleteObject " + sessionEnvBucket, "kms:GenerateDataKey " + sessionEnvKey,
		"s3:PutObject DeadLetterBucket", mainStream}),
	// Finds the session of a task event and records what it says (a failure releases quota:
	// TransactWriteItems); the event carries the task's private address, so nothing else is
	// looked up; events it failed on three times are parked.
	taskEventsFunction: grantList(dynamoCrud(ddb.MainLogicalID), []string{"sqs:SendMessage " + taskEventsDLQ}),
}

// wantDynamoActions pins, where the grant summary (which folds every read into dynamodb:read)
// is too coarse, the exact DynamoDB actions a function's role has on one table, as "<action>
// <table>" for the table itself and "<action> <table>/index" for its indexes.
var wantDynamoActions = map[string]map[string][]string{
	"ActivityFunction": {
		// Access decisions are key lookups; the API-key guard queries GSI1 and updates one key
		// item when a key first hits its hourly limit; recording metadata is put, updated,
		// deleted and listed (Query on the session's partition of the table itself). No Scan, no
		// BatchWriteItem, no PartiQL.
		ddb.MainLogicalID: {"dynamodb:BatchGetItem MainTable", "dynamodb:DeleteItem MainTable", "dynamodb:GetItem MainTable",
			"dynamodb:PutItem MainTable", "dynamodb:Query MainTable", "dynamodb:Query MainTable/index",
			"dynamodb:UpdateItem MainTable"},
	},
	// Deploy finding 14: listeners through GSI1, pruning by a Query on the connection's partition
	// and batched deletes; no put, update, get or delete of single connection items.
	"NotifierFunction": {
		ddb.ConnLogicalID: {"dynamodb:BatchWriteItem ConnectionsTable", "dynamodb:Query ConnectionsTable", "dynamodb:Query ConnectionsTable/index"},
	},
	// Its steps' records, counters and progress: no Scan, Query, delete or batch on AuditTable.
	processorFunction: {
		ddb.AuditLogicalID: {"dynamodb:GetItem AuditTable", "dynamodb:PutItem AuditTable", "dynamodb:UpdateItem AuditTable"},
	},
}

// dynamoActions lists, sorted, the DynamoDB actions a role's statements allow on one table
// ("<action> <table>") or its indexes ("<action> <table>/index").
func dynamoActions(tmpl cfn, role, table string) []string {
	set := map[string]bool{}
	for _, st := range iamStatements(tmpl) {
		if st.role != role || str(st.stmt["Effect"]) != "Allow" {
			continue
		}
		res := st.stmt["Resource"]
		resList := asList(res)
		if resList == nil {
			resList = []any{res}
		}
		for _, r := range resList {
			if !slices.Contains(existingResources(tmpl, r), table) {
				continue
			}
			target := table + subResourceOf(r)
			for _, a := range stringsOf(st.stmt["Action"]) {
				if strings.HasPrefix(a, "dynamodb:") {
					set[a+" "+target] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// dynamoActionDiffs compares one function's DynamoDB actions with wantDynamoActions.
func dynamoActionDiffs(tmpl cfn, fn string) []string {
	role := functionRole(tmpl, fn)
	if role == "" {
		return []string{fmt.Sprintf("%s: no single IAM role", fn)}
	}
	var diffs []string
	for _, table := range keys(wantDynamoActions[fn]) {
		diffs = append(diffs, diffSets(fn+" actions on "+table, wantDynamoActions[fn][table], dynamoActions(tmpl, role, table))...)
	}
	return diffs
}

func TestIAMExactDynamoActions(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	for _, fn := range keys(wantDynamoActions) {
		reportDiffs(t, "DynamoDB actions", dynamoActionDiffs(tmpl, fn))
	}
}

// subResourceOf is "/index" or "/stream" when an IAM resource names a table's indexes or its
// streams (a Fn::Sub of "<table ARN>/index/…" or "…/stream/…"), "" otherwise.
func subResourceOf(r any) string {
	sub := str(get(r, "Fn::Sub"))
	if l := asList(get(r, "Fn::Sub")); len(l) > 0 {
		sub = str(l[0])
	}
	for _, part := range []string{"/index/", "/stream/"} {
		if strings.Contains(sub, part) {
			return strings.TrimSuffix(part, "/")
		}
	}
	return ""
}

// streamReadActions are what reading a DynamoDB stream takes; grants summarises them as
// dynamodb:stream.
var streamReadActions = []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

// grants summarises what a role's own statements allow, as "<action> <resource>" (a table's
// stream as "<table>/stream").
func grants(tmpl cfn, role string) []string {
	set := map[string]bool{}
	for _, st := range iamStatements(tmpl) {
		if st.role != role || str(st.stmt["Effect"]) != "Allow" {
			continue
		}
		resList := asList(st.stmt["Resource"])
		if resList == nil {
			resList = []any{st.stmt["Resource"]}
		}
		for _, a := range stringsOf(st.stmt["Action"]) {
			switch {
			case slices.Contains(streamReadActions, a):
				a = "dynamodb:stream"
			case strings.HasPrefix(a, "dynamodb:") && !slices.Contains(dynamoWriteActions, a):
				a = "dynamodb:read"
			}
			for _, r := range resList {
				suffix := subResourceOf(r)
				if suffix == "/index" {
					suffix = "" // a table's read grant covers its indexes
				}
				for _, t := range existingResources(tmpl, r) {
					set[a+" "+t+suffix] = true
				}
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

// functionRole is the logical id of the one AWS::IAM::Role a function runs as ("" if not one).
func functionRole(tmpl cfn, fn string) string {
	roles := referencedOfType(tmpl, props(tmpl, fn)["Role"], "AWS::IAM::Role")
	if len(roles) != 1 {
		return ""
	}
	return roles[0]
}

// auditWriters are the functions besides the metered HTTP functions that must read and write
// AuditTable, with the reason.
var auditWriters = map[string]string{
	processorFunction: "activity records derived from the MainTable stream (its auditor step)",
}

// streamFailureCounters are the stream consumers that count failed records in AuditTable
// without otherwise writing it (the processor writes it anyway).
var streamFailureCounters = map[string]bool{"NotifierFunction": true}

// auditAccessDiffs derives AuditTable access from routes.All rather than from wantGrants: every
// HTTP function that serves an authenticated route meters API-key callers (rate counters with
// UpdateItem, usage log with PutItem) and reads those records back, the auditWriters need the
// same, and no other function (public-only HTTP functions, the authorizer, the WebSocket
// handler, the notifier) may reach the table at all. nil means the template follows the rule.
func auditAccessDiffs(tmpl cfn) []string {
	metered := map[string]bool{}
	for _, r := range routes.All {
		if !r.Public {
			metered[functionLogicalID(r.Function)] = true
		}
	}
	for fn := range auditWriters {
		metered[fn] = true
	}
	audit := ddb.AuditLogicalID
	var diffs []string
	for _, fn := range allFunctions() {
		role := functionRole(tmpl, fn)
		if role == "" {
			diffs = append(diffs, fmt.Sprintf("%s: no single IAM role", fn))
			continue
		}
		var onAudit []string
		for _, g := range grants(tmpl, role) {
			if strings.HasSuffix(g, " "+audit) {
				onAudit = append(onAudit, g)
			}
		}
		if !metered[fn] {
			// The other stream consumers count their failed records there (SEC-10): UpdateItem
			// only (its LeadingKeys condition, STREAMRETRY#<consumer>, is in the template).
			if streamFailureCounters[fn] && slices.Equal(onAudit, []string{"dynamodb:UpdateItem " + audit}) {
				continue
			}
			if len(onAudit) > 0 {
				diffs = append(diffs, fmt.Sprintf("%s serves no authenticated route but may %v", fn, onAudit))
			}
			continue
		}
		why := "serves authenticated routes (API-key metering)"
		if reason, ok := auditWriters[fn]; ok {
			why = "writes " + reason
		}
		for _, need := range []string{"dynamodb:read", "dynamodb:PutItem", "dynamodb:UpdateItem"} {
			if !slices.Contains(onAudit, need+" "+audit) {
				diffs = append(diffs, fmt.Sprintf("%s %s but lacks %s %s", fn, why, need, audit))
			}
		}
	}
	return diffs
}

func TestIAMAuditTableAccess(t *testing.T) {
	t.Parallel()
	reportDiffs(t, "AuditTable access", auditAccessDiffs(transformed(t)))
}

func TestIAMLeastPrivilege(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	reportDiffs(t, "IAM", iamFindings(tmpl))
}

func TestIAMGrantsPerFunction(t *testing.T) {
	t.Parallel()
	tmpl := transformed(t)
	reportDiffs(t, "functions with a grant list", diffSets("wantGrants", allFunctions(), keys(wantGrants)))
	for _, fn := range allFunctions() {
		t.Run(fn, func(t *testing.T) {
			role := functionRole(tmpl, fn)
			if role == "" {
				t.Fatalf("%s: Role must reference one AWS::IAM::Role of the template, got %v", fn,
					referencedOfType(tmpl, props(tmpl, fn)["Role"], "AWS::IAM::Role"))
			}
			reportDiffs(t, fn+" ("+role+") grants", diffSets("grants", wantGrants[fn], grants(tmpl, role)))
		})
	}
	// Sanity: the grant summary knows the tables by their Go logical ids.
	for _, id := range []string{ddb.MainLogicalID, ddb.AuditLogicalID} {
		if !slices.Contains(wantGrants["SessionsFunction"], "dynamodb:PutItem "+id) {
			t.Errorf("wantGrants must use ddb logical ids (%s)", id)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

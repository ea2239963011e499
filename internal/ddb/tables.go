// Package ddb holds the DynamoDB plumbing shared by every store: the table definitions (the
// single source the local stack, the tests and the infrastructure checks use), key builders,
// cursors, client construction and stream-image conversion.
package ddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names. Generic names (PK/SK/GSI1…) because one table holds several
// entity types; docs/data-model.md maps every access pattern onto them.
const (
	PK, SK         = "PK", "SK"
	GSI1, GSI1PK   = "GSI1", "GSI1PK"
	GSI1SK         = "GSI1SK"
	GSI2, GSI2PK   = "GSI2", "GSI2PK"
	GSI2SK         = "GSI2SK"
	GSI3, GSI3PK   = "GSI3", "GSI3PK"
	GSI3SK         = "GSI3SK"
	GSI4, GSI4PK   = "GSI4", "GSI4PK"
	GSI4SK         = "GSI4SK"
	TTLAttribute   = "expiresAt"
	MainLogicalID  = "MainTable"
	ConnLogicalID  = "ConnectionsTable"
	AuditLogicalID = "AuditTable"
	DefaultAudit   = "streamspace-audit"
	DefaultMain    = "streamspace-main"
	DefaultConns   = "streamspace-connections"
	StreamViewType = types.StreamViewTypeNewAndOldImages
)

// TableDef is a table as the product needs it, independent of its deployed name.
type TableDef struct {
	LogicalID string
	Stream    bool
	GSIs      []string // each GSI<n> has GSI<n>PK hash and GSI<n>SK range, projecting ALL
}

// Main holds sessions, templates, users, quotas, API keys and idempotency records; its stream
// drives the notifier. Connections holds WebSocket connections and their subscriptions, and
// Audit holds high-volume records (API-key usage logs and counters): both are kept apart so
// their churn never flows through the notifier's stream.
var (
	Main        = TableDef{LogicalID: MainLogicalID, Stream: true, GSIs: []string{GSI1, GSI2, GSI3, GSI4}}
	Connections = TableDef{LogicalID: ConnLogicalID, Stream: false, GSIs: []string{GSI1}}
	Audit       = TableDef{LogicalID: AuditLogicalID, Stream: false, GSIs: []string{GSI1}}
	AllTables   = []TableDef{Main, Connections, Audit}
)

// CreateInput renders the definition as a CreateTable request.
func (d TableDef) CreateInput(name string) *dynamodb.CreateTableInput {
	attr := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(pk, sk string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		}
	}
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{attr(PK), attr(SK)},
		KeySchema:            keys(PK, SK),
	}
	for _, g := range d.GSIs {
		in.AttributeDefinitions = append(in.AttributeDefinitions, attr(g+"PK"), attr(g+"SK"))
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName:  aws.String(g),
			KeySchema:  keys(g+"PK", g+"SK"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	if d.Stream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: StreamViewType}
	}
	return in
}

// EnsureTable creates the table if it does not exist, waits until it is active and turns on TTL.
func EnsureTable(ctx context.Context, c *dynamodb.Client, d TableDef, name string) error {
	_, err := c.CreateTable(ctx, d.CreateInput(name))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	if err := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err == nil && ttl.TimeToLiveDescription != nil && ttl.TimeToLiveDescription.TimeToLiveStatus == types.TimeToLiveStatusEnabled {
		return nil
	}
	_, err = c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(TTLAttribute), Enabled: aws.Bool(true)}})
	if err != nil {
		return fmt.Errorf("enable ttl on %s: %w", name, err)
	}
	return nil
}

// TableNames are the deployed names of the tables.
type TableNames struct {
	Main        string
	Connections string
	Audit       string
}

// WithPrefix names both tables with a prefix (tests isolate themselves this way).
func WithPrefix(prefix string) TableNames {
	return TableNames{Main: prefix + DefaultMain, Connections: prefix + DefaultConns, Audit: prefix + DefaultAudit}
}

// EnsureAll creates every table.
func EnsureAll(ctx context.Context, c *dynamodb.Client, n TableNames) error {
	for _, t := range []struct {
		def  TableDef
		name string
	}{{Main, n.Main}, {Connections, n.Connections}, {Audit, n.Audit}} {
		if err := EnsureTable(ctx, c, t.def, t.name); err != nil {
			return err
		}
	}
	return nil
}

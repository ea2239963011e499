// Package templates is the catalog of what sessions can run: model, store, seed and routes.
package templates

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/ddb"
	"streamspace/internal/idempotency"
	"streamspace/internal/problem"
	"streamspace/internal/resources"
)

// Template describes an application sessions can run.
type Template struct {
	Name             string              `json:"name" dynamodbav:"name"`
	DisplayName      string              `json:"displayName" dynamodbav:"displayName"`
	Description      string              `json:"description" dynamodbav:"description"`
	Category         string              `json:"category" dynamodbav:"category"`
	Tags             []string            `json:"tags" dynamodbav:"tags"`
	Image            string              `json:"image" dynamodbav:"image"`
	Icon             string              `json:"icon,omitempty" dynamodbav:"icon,omitempty"`
	DefaultResources resources.Resources `json:"defaultResources" dynamodbav:"defaultResources"`
	// LocalCommand is what the local runtime starts on the session's display.
	LocalCommand string `json:"localCommand,omitempty" dynamodbav:"localCommand,omitempty"`
	// RecordSessions makes the streaming gateway record every session of this template each time
	// it starts running, out of reach of the session's users (only operators and admins manage
	// templates, and stop or delete those recordings).
	RecordSessions bool      `json:"recordSessions" dynamodbav:"recordSessions,omitempty"`
	CreatedAt      time.Time `json:"createdAt" dynamodbav:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt" dynamodbav:"updatedAt"`
	// Version counts replacements (optimistic lock; ETag). Ignored in request bodies.
	Version int `json:"version" dynamodbav:"version,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName reports whether s can name a template (DNS-label style, as the original's catalog).
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Validate checks a template for create or replace; errors name the field.
func (t *Template) Validate() error {
	check := func(field, v string, max int, required bool) error {
		if required && strings.TrimSpace(v) == "" {
			return problem.Invalid(field, "is required")
		}
		if len(v) > max {
			return problem.Invalid(field, fmt.Sprintf("must be at most %d characters", max))
		}
		return nil
	}
	if !ValidName(t.Name) {
		return problem.Invalid("name", "must be 1-63 lower-case letters, digits or dashes")
	}
	for _, c := range []error{
		check("displayName", t.DisplayName, 128, true), check("description", t.Description, 2048, false),
		check("category", t.Category, 64, true), check("image", t.Image, 512, true),
		check("icon", t.Icon, 1024, false), check("localCommand", t.LocalCommand, 512, false),
	} {
		if c != nil {
			return c
		}
	}
	if len(t.Tags) > 50 {
		return problem.Invalid("tags", "at most 50 tags")
	}
	for _, tag := range t.Tags {
		if tag == "" || len(tag) > 128 {
			return problem.Invalid("tags", "each tag must be 1-128 characters")
		}
	}
	if _, field, err := t.DefaultResources.Parse(); err != nil {
		return problem.Invalid("defaultResources."+strings.TrimPrefix(field, "resources."), err.Error())
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	return nil
}

// Store keeps templates in the main table under TEMPLATE#<name>, listed through GSI2.
type Store struct {
	DB    *dynamodb.Client
	Table string
}

var typeTemplate = ddb.TypePK(ddb.KindTemplate)

type item struct {
	Template
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`
	Entity string `dynamodbav:"entity"`
}

func key(name string) map[string]types.AttributeValue {
	return ddb.TemplateKey(name)
}

// ErrNotFound is returned for unknown templates.
var ErrNotFound = problem.NotFound("template")

func (s *Store) Get(ctx context.Context, name string) (Template, error) {
	if !ValidName(name) {
		return Template{}, ErrNotFound
	}
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.Table, Key: key(name)})
	if err != nil {
		return Template{}, fmt.Errorf("get template: %w", err)
	}
	if out.Item == nil {
		return Template{}, ErrNotFound
	}
	var t Template
	if err := attributevalue.UnmarshalMap(out.Item, &t); err != nil {
		return Template{}, fmt.Errorf("decode template: %w", err)
	}
	t.Version = ddb.Version(t.Version)
	return t, nil
}

func (s *Store) marshal(t Template) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(item{Template: t, PK: ddb.TemplatePK(t.Name), SK: ddb.MetaSK,
		GSI2PK: typeTemplate, GSI2SK: t.Name, Entity: "template"})
}

// Put writes t; onlyNew refuses to overwrite (409), replace refuses to create (404).
func (s *Store) Put(ctx context.Context, t Template, mode PutMode) error {
	av, err := s.marshal(t)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{TableName: &s.Table, Item: av}
	switch mode {
	case CreateOnly:
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	case ReplaceOnly:
		in.ConditionExpression = aws.String("attribute_exists(PK)")
	}
	_, err = s.DB.PutItem(ctx, in)
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		if mode == CreateOnly {
			return problem.Conflict("a template named " + t.Name + " already exists")
		}
		return ErrNotFound
	}
	return err
}

// Replace writes t over the template read at version (t.Version must be version+1), conditional
// on that version: a concurrent replace makes it ddb.ErrVersionConflict, and the caller reads again.
func (s *Store) Replace(ctx context.Context, t Template, version int) error {
	av, err := s.marshal(t)
	if err != nil {
		return err
	}
	cond, names, vals := ddb.VersionCondition(version)
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Table, Item: av,
		ConditionExpression: aws.String("attribute_exists(PK) AND " + cond), ExpressionAttributeNames: names, ExpressionAttributeValues: vals})
	if ddb.ConditionFailed(err) {
		return ddb.ErrVersionConflict // or deleted: the next read says 404
	}
	return err
}

// Create writes a new template (409 when the name is taken) with its idempotency claim when idem
// is not nil, in one transaction. A record back is a replay of an earlier create.
func (s *Store) Create(ctx context.Context, t Template, idem *idempotency.Claim) (*idempotency.Record, error) {
	av, err := attributevalue.MarshalMap(item{Template: t, PK: ddb.TemplatePK(t.Name), SK: ddb.MetaSK,
		GSI2PK: typeTemplate, GSI2SK: t.Name, Entity: "template"})
	if err != nil {
		return nil, err
	}
	rec, err := idempotency.PutOne(ctx, s.DB, s.Table, idem, &types.Put{TableName: &s.Table, Item: av,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return nil, problem.Conflict("a template named " + t.Name + " already exists")
	}
	return rec, err
}

// PutMode says whether Put may create, replace, or both.
type PutMode int

const (
	Upsert PutMode = iota
	CreateOnly
	ReplaceOnly
)

func (s *Store) Delete(ctx context.Context, name string) error {
	if !ValidName(name) {
		return ErrNotFound
	}
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.Table, Key: key(name),
		ConditionExpression: aws.String("attribute_exists(PK)")})
	var cfe *types.ConditionalCheckFailedException
	if errors.As(err, &cfe) {
		return ErrNotFound
	}
	return err
}

// All reads the whole catalog through GSI2 (a catalog is small: hundreds of entries, one page).
func (s *Store) All(ctx context.Context) ([]Template, error) {
	var out []Template
	err := ddb.QueryAll(ctx, s.DB, &dynamodb.QueryInput{TableName: &s.Table, IndexName: aws.String(ddb.GSI2),
		KeyConditionExpression:    aws.String("GSI2PK = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: typeTemplate}}}, &out)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Version = ddb.Version(out[i].Version)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Filter applies the catalog search: q matches name, display name, description or tags.
func Filter(all []Template, q, category, tag string) []Template {
	q = strings.ToLower(q)
	var out []Template
	for _, t := range all {
		if category != "" && !strings.EqualFold(t.Category, category) {
			continue
		}
		if tag != "" && !slices.ContainsFunc(t.Tags, func(x string) bool { return strings.EqualFold(x, tag) }) {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(t.Name+" "+t.DisplayName+" "+t.Description+" "+strings.Join(t.Tags, " ")), q) {
			continue
		}
		out = append(out, t)
	}
	return out
}

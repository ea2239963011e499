package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"streamspace/internal/access"
	"streamspace/internal/auth"
	"streamspace/internal/ddb"
)

// Scheduler marks running sessions idle past their idleTimeout (and, with AutoHibernate, asks
// them to hibernate) and terminates sessions past their maxSessionDuration. It reads only the
// sessions due, through GSI4 — never a scan.
type Scheduler struct {
	Service       *Service
	AutoHibernate bool
	Log           *slog.Logger
}

// Scheduled calls fn with every live session due for a look by upTo (the zero time: every live
// session), from the GSI4 "next check" index — one query per shard, never a scan.
func (st *Store) Scheduled(ctx context.Context, upTo time.Time, fn func(id string)) error {
	bound := "~"
	if !upTo.IsZero() {
		bound = ddb.DueBound(upTo)
	}
	seen := map[string]bool{} // a session rewritten during the read can show in two partitions
	for _, pk := range ddb.SchedulePKs() {
		p := dynamodb.NewQueryPaginator(st.DB, &dynamodb.QueryInput{TableName: &st.Table, IndexName: aws.String(ddb.GSI4),
			KeyConditionExpression:    aws.String("GSI4PK = :p AND GSI4SK <= :upTo"),
			ProjectionExpression:      aws.String("id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": s(pk), ":upTo": s(bound)}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("scheduled sessions: %w", err)
			}
			for _, item := range page.Items {
				var x struct {
					ID string `dynamodbav:"id"`
				}
				if attributevalue.UnmarshalMap(item, &x) == nil && x.ID != "" && !seen[x.ID] {
					seen[x.ID] = true
					fn(x.ID)
				}
			}
		}
	}
	return nil
}

// SchedulerActor is who the activity log names for the scheduler's changes.
var schedulerCaller = auth.Caller{UserID: "system:scheduler", Role: auth.RoleAdmin}

// Summary says what one run did.
type Summary struct {
	Checked, Idled, Hibernated, Terminated, Failed int
	// Recounted: sessions whose activeConnections the recount corrected.
	Recounted int
}

// Run handles every session due by now.
func (sc *Scheduler) Run(ctx context.Context, now time.Time) (Summary, error) {
	var sum Summary
	ctx = auth.WithActor(ctx, auth.Actor{UserID: schedulerCaller.UserID})
	err := sc.Service.Store.Scheduled(ctx, now, func(id string) {
		sum.Checked++
		if err := sc.check(ctx, id, now, &sum); err != nil {
			// One session's trouble must not stop the others; the next run sees it again.
			sc.Log.ErrorContext(ctx, "scheduler", slog.String("sessionId", id), slog.String("error", err.Error()))
		}
	})
	if err != nil {
		return sum, err
	}
	return sum, nil
}

func (sc *Scheduler) check(ctx context.Context, id string, now time.Time, sum *Summary) error {
	sv := sc.Service
	_, err := sv.apply(ctx, schedulerCaller, id, change{required: access.View, what: "scheduling",
		mutate: func(old Session, next *Session, _ access.Grant) ([]types.TransactWriteItem, []types.TransactWriteItem, error) {
			if r, ok := old.RecountAt(); ok && old.Live() && !now.Before(r) {
				// Every change of the open connections goes through the session's version but
				// their TTL expiry: a recount under that version is exact.
				conns, err := sv.Store.Connections(ctx, old.ID, now)
				if err != nil {
					return nil, nil, err
				}
				open := 0
				for _, c := range conns {
					if c.Open() {
						open++
					}
				}
				if open != old.ActiveConnections {
					sum.Recounted++
				}
				at := now
				next.ActiveConnections, next.ConnectionsCheckedAt = open, &at
			}
			switch {
			case !old.Live():
				return nil, nil, nil
			case !now.Before(old.EndsAt()):
				sum.Terminated++
				next.Error = "terminated: the maximum session duration was reached"
				return sv.terminate(old, next)
			case old.State == StatePending && !now.Before(old.StartDeadline()):
				sum.Failed++
				return sv.observe(ctx, old, next, StatusReport{State: StateFailed,
					Error: fmt.Sprintf("the session did not start within %s: no runtime reported it running", StartTimeout)})
			case old.State == StateRunning && !old.Idle && !now.Before(old.IdleAt()):
				next.Idle = true
				sum.Idled++
				if sc.AutoHibernate && old.DesiredState == StateRunning {
					next.DesiredState = StateHibernated
					sum.Hibernated++
				}
			}
			return nil, nil, nil
		}})
	return err
}

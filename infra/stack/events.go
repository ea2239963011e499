package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// streamConsumers are the functions on MainTable's stream, in template order.
var streamConsumers = []string{"notifier", "auditor", "runtime"}

// newStreamConsumers maps the MainTable stream to its consumers. All of them: a failing batch
// bisected and retried 5 times within an hour, partial batch failures reported, the rest parked
// in the consumer's dead-letter queue. The notifier and the auditor take batches of 100; the
// runtime small ones (each record may start a task), 5 at once per shard, session items only.
// L1 mappings: the L2 event source would add grants to the role and a queue policy of its own,
// where the role already says exactly what SAM's does.
func newStreamConsumers(s awscdk.Stack, r *refs) {
	for _, c := range []struct {
		name        string
		dlq         awssqs.CfnQueue
		batch       float64
		parallel    *float64
		onlySession bool
	}{
		{"notifier", r.notifierDLQ, 100, nil, false},
		{"auditor", r.auditorDLQ, 100, nil, false},
		{"runtime", r.runtime.runtimeDLQ, 10, jsii.Number(5), true},
	} {
		props := &awslambda.CfnEventSourceMappingProps{
			FunctionName:                   r.fn(c.name).FunctionName(),
			EventSourceArn:                 r.main.TableStreamArn(),
			StartingPosition:               jsii.String("LATEST"),
			BatchSize:                      jsii.Number(c.batch),
			MaximumBatchingWindowInSeconds: jsii.Number(0),
			ParallelizationFactor:          c.parallel,
			BisectBatchOnFunctionError:     jsii.Bool(true),
			MaximumRetryAttempts:           jsii.Number(5),
			MaximumRecordAgeInSeconds:      jsii.Number(3600),
			FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
			DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
				OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: c.dlq.AttrArn()},
			},
		}
		if c.onlySession {
			// Session items only: PK SESSION#<id>, SK META.
			props.FilterCriteria = &awslambda.CfnEventSourceMapping_FilterCriteriaProperty{
				Filters: []any{&awslambda.CfnEventSourceMapping_FilterProperty{
					Pattern: jsii.String(`{"dynamodb":{"Keys":{"PK":{"S":[{"prefix":"SESSION#"}]},"SK":{"S":["META"]}}}}`),
				}},
			}
		}
		awslambda.NewCfnEventSourceMapping(s, jsii.String(logicalID(c.name)+"MainTableStream"), props)
	}
}

// newScheduler runs the scheduler once a minute (the rule and permission SAM derives from the
// function's Schedule event, under SAM's logical ids).
func newScheduler(s awscdk.Stack, r *refs) {
	fn := r.fn("scheduler")
	id := logicalID("scheduler") + "EveryMinute"
	rule := awsevents.NewCfnRule(s, jsii.String(id), &awsevents.CfnRuleProps{
		Description:        jsii.String("Runs the session scheduler"),
		ScheduleExpression: jsii.String("rate(1 minute)"),
		State:              jsii.String("ENABLED"),
		Targets: []any{&awsevents.CfnRule_TargetProperty{
			Arn: fn.FunctionArn(),
			Id:  jsii.String(id + "LambdaTarget"),
		}},
	})
	awslambda.NewCfnPermission(s, jsii.String(id+"Permission"), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: fn.FunctionName(),
		Principal:    jsii.String("events.amazonaws.com"),
		SourceArn:    rule.AttrArn(),
	})
}

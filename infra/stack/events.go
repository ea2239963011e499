package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// newStreamConsumers maps the MainTable stream to the notifier and the auditor (its only two
// readers: DynamoDB Streams serves two per shard without throttling), with the same settings:
// batches of 100 without waiting, a failing batch bisected and retried 5 times within an hour,
// partial batch failures reported, the rest parked in the consumer's dead-letter queue.
// L1 mappings: the L2 event source would add grants to the role and a queue policy of its own,
// where the role already says exactly what SAM's does.
func newStreamConsumers(s awscdk.Stack, r *refs) {
	for _, c := range []struct {
		name string
		dlq  awssqs.CfnQueue
	}{{"notifier", r.notifierDLQ}, {"auditor", r.auditorDLQ}} {
		awslambda.NewCfnEventSourceMapping(s, jsii.String(logicalID(c.name)+"MainTableStream"), &awslambda.CfnEventSourceMappingProps{
			FunctionName:                   r.fn(c.name).FunctionName(),
			EventSourceArn:                 r.main.TableStreamArn(),
			StartingPosition:               jsii.String("LATEST"),
			BatchSize:                      jsii.Number(100),
			MaximumBatchingWindowInSeconds: jsii.Number(0),
			BisectBatchOnFunctionError:     jsii.Bool(true),
			MaximumRetryAttempts:           jsii.Number(5),
			MaximumRecordAgeInSeconds:      jsii.Number(3600),
			FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
			DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
				OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: c.dlq.AttrArn()},
			},
		})
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

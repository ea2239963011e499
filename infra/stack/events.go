package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// streamConsumers are the functions on MainTable's stream, in template order.
var streamConsumers = []string{"notifier", "processor"}

// newStreamConsumers maps the MainTable stream to its two readers (DynamoDB Streams throttles
// above two per shard; new work is a processor step). Both: a failing batch bisected and retried
// 5 times within an hour, partial batch failures reported, the rest parked in the reader's
// dead-letter queue. The notifier takes batches of 100 at once; the processor smaller ones (a
// record may start a task) gathered for up to a second (its auditor step's counters are shared
// by a batch), 2 at once per shard, every record (its auditor step reads them all).
// L1 mappings: the L2 event source would add grants to the role and a queue policy of its own,
// where the role already says exactly what SAM's does.
func newStreamConsumers(s awscdk.Stack, r *refs) {
	for _, c := range []struct {
		name     string
		dlq      awssqs.CfnQueue
		batch    float64
		window   float64
		parallel *float64
	}{
		{"notifier", r.notifierDLQ, 100, 0, nil},
		{"processor", r.processorDLQ, 25, 1, jsii.Number(2)},
	} {
		props := &awslambda.CfnEventSourceMappingProps{
			FunctionName:                   r.fn(c.name).FunctionName(),
			EventSourceArn:                 r.main.TableStreamArn(),
			StartingPosition:               jsii.String("LATEST"),
			BatchSize:                      jsii.Number(c.batch),
			MaximumBatchingWindowInSeconds: jsii.Number(c.window),
			ParallelizationFactor:          c.parallel,
			BisectBatchOnFunctionError:     jsii.Bool(true),
			MaximumRetryAttempts:           jsii.Number(5),
			MaximumRecordAgeInSeconds:      jsii.Number(3600),
			FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
			DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
				OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: c.dlq.AttrArn()},
			},
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

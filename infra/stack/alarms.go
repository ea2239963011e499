package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
)

// expectedErrors are the functions whose Errors include routine outcomes (deploy finding 10):
// their errors alarm is Errors minus those, counted by a metric filter on the function's log.
var expectedErrors = map[string]struct{ description, metric, filter, pattern string }{
	"authorizer": {"AuthorizerFunction failed (Errors >= 1 in 5 minutes, not counting refused WebSocket credentials)",
		"WebSocketConnectRefusals", "AuthorizerRefusalsMetricFilter", `{ $.msg = "credentials refused" && $.route = "$connect" }`},
	"presignup": {"PresignupFunction failed (Errors >= 1 in 5 minutes, not counting refused e-mail domains)",
		"SelfSignUpRefusals", "PresignupRefusalsMetricFilter", `{ $.msg = "sign-up refused: e-mail domain not allowed" }`},
	"taskevents": {"TaskEventsFunction failed (Errors >= 1 in 5 minutes, not counting expected retries of tasks not recorded yet)",
		"TaskEventsExpectedRetries", "TaskEventsRetriesMetricFilter", `{ $.msg = "task event retried: not recorded yet" }`},
}

// expectedErrorsAlarm is template.yaml's metric-math errors alarm and its metric filter.
func expectedErrorsAlarm(s awscdk.Stack, id, logGroup string, fn *string, x struct{ description, metric, filter, pattern string }, topic *string) {
	namespace := awscdk.Fn_Sub(jsii.String("StreamSpace/${AWS::StackName}"), nil)
	awslogs.NewCfnMetricFilter(s, jsii.String(x.filter), &awslogs.CfnMetricFilterProps{
		LogGroupName:  awscdk.Fn_Ref(jsii.String(logGroup)),
		FilterPattern: jsii.String(x.pattern),
		MetricTransformations: []any{&awslogs.CfnMetricFilter_MetricTransformationProperty{
			MetricNamespace: namespace, MetricName: jsii.String(x.metric), MetricValue: jsii.String("1"), Unit: jsii.String("Count"),
		}},
	})
	stat := func(metricID, ns, metric string, dims []any) *awscloudwatch.CfnAlarm_MetricDataQueryProperty {
		m := &awscloudwatch.CfnAlarm_MetricProperty{Namespace: jsii.String(ns), MetricName: jsii.String(metric)}
		if dims != nil {
			m.Dimensions = dims
		}
		return &awscloudwatch.CfnAlarm_MetricDataQueryProperty{Id: jsii.String(metricID), ReturnData: jsii.Bool(false),
			MetricStat: &awscloudwatch.CfnAlarm_MetricStatProperty{Metric: m, Period: jsii.Number(300), Stat: jsii.String("Sum")}}
	}
	awscloudwatch.NewCfnAlarm(s, jsii.String(id+"ErrorsAlarm"), &awscloudwatch.CfnAlarmProps{
		AlarmDescription: jsii.String(x.description),
		Metrics: []any{
			stat("errors", "AWS/Lambda", "Errors", []any{&awscloudwatch.CfnAlarm_DimensionProperty{Name: jsii.String("FunctionName"), Value: fn}}),
			stat("expected", *namespace, x.metric, nil),
			&awscloudwatch.CfnAlarm_MetricDataQueryProperty{Id: jsii.String("faults"), Expression: jsii.String("errors - FILL(expected, 0)"),
				Label: jsii.String(id + " faults"), ReturnData: jsii.Bool(true)},
		},
		EvaluationPeriods:  jsii.Number(1),
		Threshold:          jsii.Number(1),
		ComparisonOperator: jsii.String("GreaterThanOrEqualToThreshold"),
		TreatMissingData:   jsii.String("notBreaching"),
		AlarmActions:       &[]any{topic},
	})
}

// newAlarms: errors and throttles of every function, stream iterator age of the consumers and
// dead-letter queue depth, all to AlarmTopic (and through it AlarmEmail, if set). L1 alarms:
// the L2 metric helpers name dimensions and periods their own way, and these must match
// template.yaml's alarm for alarm.
func newAlarms(s awscdk.Stack, r *refs) {
	// A customer managed key: the AWS managed alias/aws/sns cannot grant CloudWatch the use it
	// needs to publish alarms to an encrypted topic.
	key := awskms.NewCfnKey(s, jsii.String("AlarmTopicKey"), &awskms.CfnKeyProps{
		Description:       jsii.String("Encrypts the alarm topic; CloudWatch alarms may publish to it."),
		EnableKeyRotation: jsii.Bool(true),
		KeyPolicy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("AccountAdministersTheKey"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"), nil))},
				Actions:    jsii.Strings("kms:*"),
				Resources:  jsii.Strings("*"),
			}),
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("CloudWatchPublishesAlarms"),
				Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
				Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey*"),
				Resources:  jsii.Strings("*"),
			}),
		}}),
	})
	topic := awssns.NewCfnTopic(s, jsii.String("AlarmTopic"), &awssns.CfnTopicProps{
		DisplayName:    jsii.String(*awscdk.Aws_STACK_NAME() + " alarms"),
		KmsMasterKeyId: key.Ref(),
	})
	r.alarmTopic = topic
	sub := awssns.NewCfnSubscription(s, jsii.String("AlarmEmailSubscription"), &awssns.CfnSubscriptionProps{
		TopicArn: topic.Ref(), Protocol: jsii.String("email"), Endpoint: r.params.AlarmEmail.ValueAsString(),
	})
	sub.CfnOptions().SetCondition(r.params.HasAlarmEmail)

	alarm := func(id, description, namespace, metric, dimension string, value *string, statistic string, threshold float64, comparison string) {
		awscloudwatch.NewCfnAlarm(s, jsii.String(id), &awscloudwatch.CfnAlarmProps{
			AlarmDescription: jsii.String(description),
			Namespace:        jsii.String(namespace),
			MetricName:       jsii.String(metric),
			Dimensions: []any{&awscloudwatch.CfnAlarm_DimensionProperty{
				Name: jsii.String(dimension), Value: value,
			}},
			Statistic:          jsii.String(statistic),
			Period:             jsii.Number(300),
			EvaluationPeriods:  jsii.Number(1),
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: jsii.String(comparison),
			TreatMissingData:   jsii.String("notBreaching"),
			AlarmActions:       &[]any{topic.Ref()},
		})
	}
	const atLeast = "GreaterThanOrEqualToThreshold"
	for _, name := range r.fnOrder {
		id, fn := logicalID(name), r.fn(name).FunctionName()
		if x, ok := expectedErrors[name]; ok {
			expectedErrorsAlarm(s, id, stem(name)+"LogGroup", fn, x, topic.Ref())
			alarm(id+"ThrottlesAlarm", id+" invocations were throttled (Throttles >= 1 in 5 minutes)", "AWS/Lambda", "Throttles", "FunctionName", fn, "Sum", 1, atLeast)
			// A conditional function's alarms and metric filter share its condition.
			if cond := r.fnCondition[name]; cond != nil {
				for _, child := range []string{id + "ErrorsAlarm", id + "ThrottlesAlarm", x.filter} {
					s.Node().FindChild(jsii.String(child)).(awscdk.CfnResource).CfnOptions().SetCondition(cond)
				}
			}
			continue
		}
		alarm(id+"ErrorsAlarm", id+" invocations failed (Errors >= 1 in 5 minutes)", "AWS/Lambda", "Errors", "FunctionName", fn, "Sum", 1, atLeast)
		alarm(id+"ThrottlesAlarm", id+" invocations were throttled (Throttles >= 1 in 5 minutes)", "AWS/Lambda", "Throttles", "FunctionName", fn, "Sum", 1, atLeast)
	}
	for _, name := range streamConsumers {
		id := logicalID(name)
		alarm(id+"IteratorAgeAlarm", id+" lags behind the MainTable stream (IteratorAge above 60 s)", "AWS/Lambda", "IteratorAge",
			"FunctionName", r.fn(name).FunctionName(), "Maximum", 60000, "GreaterThanThreshold")
	}
	// A record a consumer gave up on is in DeadLetterBucket, whole (SEC-10): one metric from each
	// consumer's log, one alarm.
	namespace := awscdk.Fn_Sub(jsii.String("StreamSpace/${AWS::StackName}"), nil)
	for _, name := range streamConsumers {
		awslogs.NewCfnMetricFilter(s, jsii.String(stem(name)+"ParkedRecordsMetricFilter"), &awslogs.CfnMetricFilterProps{
			LogGroupName:  awscdk.Fn_Ref(jsii.String(stem(name) + "LogGroup")),
			FilterPattern: jsii.String(`{ $.msg = "stream record parked in the dead letters" }`),
			MetricTransformations: []any{&awslogs.CfnMetricFilter_MetricTransformationProperty{
				MetricNamespace: namespace, MetricName: jsii.String("StreamRecordsParked"), MetricValue: jsii.String("1"), Unit: jsii.String("Count"),
			}},
		})
	}
	awscloudwatch.NewCfnAlarm(s, jsii.String("StreamRecordsParkedAlarm"), &awscloudwatch.CfnAlarmProps{
		AlarmDescription:   jsii.String("A stream consumer parked a record in DeadLetterBucket (StreamRecordsParked >= 1 in 5 minutes)"),
		Namespace:          namespace,
		MetricName:         jsii.String("StreamRecordsParked"),
		Statistic:          jsii.String("Sum"),
		Period:             jsii.Number(300),
		EvaluationPeriods:  jsii.Number(1),
		Threshold:          jsii.Number(1),
		ComparisonOperator: jsii.String(atLeast),
		TreatMissingData:   jsii.String("notBreaching"),
		AlarmActions:       &[]any{topic.Ref()},
	})
	for _, q := range []struct {
		id, holds string
		name      *string
	}{
		{"NotifierDeadLetterQueue", "stream records the notifier could not process", r.notifierDLQ.AttrQueueName()},
		{"ProcessorDeadLetterQueue", "stream records the processor could not process", r.processorDLQ.AttrQueueName()},
		{"TaskEventsDeadLetterQueue", "ECS task state events that were not recorded", r.runtime.taskEventsDLQ.AttrQueueName()},
	} {
		alarm(q.id+"Alarm", q.id+" holds "+q.holds, "AWS/SQS",
			"ApproximateNumberOfMessagesVisible", "QueueName", q.name, "Maximum", 1, atLeast)
	}
	gatewayAlarms(s, r, topic.Ref())
}

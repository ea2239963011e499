package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/jsii-runtime-go"

	"streamspace/internal/ddb"
)

// provisionable lets a table and its indexes run on provisioned capacity with auto scaling when
// TableCapacityMode=Provisioned (template.yaml's tables and their *Capacity resources): the
// billing mode and every throughput choose on the ProvisionedTables condition, and each table and
// index gets a read and a write target kept at 70% utilisation. L1 overrides and resources: the
// L2 table's billing mode and autoscaling cannot take a condition.
func provisionable(s awscdk.Stack, p *parameters, t awsdynamodb.Table, def ddb.TableDef) {
	cfn := t.Node().DefaultChild().(awsdynamodb.CfnTable)
	ifProvisioned := func(yes any, no any) any {
		return awscdk.Fn_ConditionIf(jsii.String("ProvisionedTables"), yes, no)
	}
	throughput := ifProvisioned(map[string]any{
		"ReadCapacityUnits": p.ProvisionedCapacityMin.ValueAsNumber(), "WriteCapacityUnits": p.ProvisionedCapacityMin.ValueAsNumber(),
	}, awscdk.Aws_NO_VALUE())
	cfn.AddPropertyOverride(jsii.String("BillingMode"), ifProvisioned("PROVISIONED", "PAY_PER_REQUEST"))
	cfn.AddPropertyOverride(jsii.String("ProvisionedThroughput"), throughput)
	for i := range def.GSIs {
		cfn.AddPropertyOverride(jsii.String(fmt.Sprintf("GlobalSecondaryIndexes.%d.ProvisionedThroughput", i)), throughput)
	}
	for _, idx := range append([]string{""}, def.GSIs...) {
		resourceID, kind := "table/${"+def.LogicalID+"}", "table"
		if idx != "" {
			resourceID, kind = resourceID+"/index/"+idx, "index"
		}
		for _, dim := range []string{"Read", "Write"} {
			name := def.LogicalID + idx + dim + "Capacity"
			target := awsapplicationautoscaling.NewCfnScalableTarget(s, jsii.String(name), &awsapplicationautoscaling.CfnScalableTargetProps{
				ServiceNamespace:  jsii.String("dynamodb"),
				ResourceId:        awscdk.Fn_Sub(jsii.String(resourceID), nil),
				ScalableDimension: jsii.String("dynamodb:" + kind + ":" + dim + "CapacityUnits"),
				MinCapacity:       p.ProvisionedCapacityMin.ValueAsNumber(),
				MaxCapacity:       p.ProvisionedCapacityMax.ValueAsNumber(),
			})
			target.CfnOptions().SetCondition(p.ProvisionedTables)
			policy := awsapplicationautoscaling.NewCfnScalingPolicy(s, jsii.String(name+"Scaling"), &awsapplicationautoscaling.CfnScalingPolicyProps{
				PolicyName:      awscdk.Fn_Sub(jsii.String("${AWS::StackName}-"+def.LogicalID+idx+"-"+map[string]string{"Read": "read", "Write": "write"}[dim]), nil),
				PolicyType:      jsii.String("TargetTrackingScaling"),
				ScalingTargetId: target.Ref(),
				TargetTrackingScalingPolicyConfiguration: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingScalingPolicyConfigurationProperty{
					TargetValue: jsii.Number(70),
					PredefinedMetricSpecification: &awsapplicationautoscaling.CfnScalingPolicy_PredefinedMetricSpecificationProperty{
						PredefinedMetricType: jsii.String("DynamoDB" + dim + "CapacityUtilization"),
					},
				},
			})
			policy.CfnOptions().SetCondition(p.ProvisionedTables)
		}
	}
}

package ecs

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// EC2API is the part of the EC2 API the task event handler calls.
type EC2API interface {
	DescribeNetworkInterfaces(context.Context, *ec2.DescribeNetworkInterfacesInput, ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
}

// EC2Addresses reads a task's public IP from its network interface: the task state event only
// carries the private one.
type EC2Addresses struct{ EC2 EC2API }

// PublicIP implements Addresses.
func (a EC2Addresses) PublicIP(ctx context.Context, eni string) (string, error) {
	out, err := a.EC2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
	if err != nil {
		return "", err
	}
	for _, n := range out.NetworkInterfaces {
		if n.Association != nil {
			return aws.ToString(n.Association.PublicIp), nil
		}
	}
	return "", nil
}

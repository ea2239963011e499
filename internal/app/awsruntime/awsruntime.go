// Package awsruntime composes the AWS session runtime (ECS Fargate) from an App: the driver the
// runtime function's reconciler uses and the task state event handler. It lives beside package
// app, not in it, so only those two functions link the ECS, EFS and EC2 clients.
package awsruntime

import (
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/efs"

	"streamspace/internal/app"
	"streamspace/internal/runtime/ecs"
)

// Driver is the ECS Fargate driver configured from the environment (ecs.ConfigFromEnv).
func Driver(a *app.App) (*ecs.Driver, error) {
	cfg, err := ecs.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &ecs.Driver{Cfg: cfg, ECS: awsecs.NewFromConfig(a.AWS), EFS: efs.NewFromConfig(a.AWS), Log: a.Log}, nil
}

// TaskEvents is the handler of the session cluster's task state changes.
func TaskEvents(a *app.App) (*ecs.TaskEvents, error) {
	cfg, err := ecs.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	h := &ecs.TaskEvents{Sessions: a.Sessions(), Cluster: cfg.Cluster, Port: cfg.Port, Log: a.Log}
	if cfg.AssignPublicIP {
		h.PublicIPs = ecs.EC2Addresses{EC2: ec2.NewFromConfig(a.AWS)}
	}
	return h, nil
}

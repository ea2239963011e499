// Package awsruntime composes the AWS session runtime (ECS Fargate) from an App: the driver the
// runtime function's reconciler uses and the task state event handler. It lives beside package
// app, not in it, so only those two functions link the ECS, EFS and S3 clients.
package awsruntime

import (
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
	return &ecs.Driver{Cfg: cfg, ECS: awsecs.NewFromConfig(a.AWS), EFS: efs.NewFromConfig(a.AWS), S3: s3.NewFromConfig(a.AWS),
		Log: a.Log}, nil
}

// TaskEvents is the handler of the session cluster's task state changes. The event carries the
// task's private address, which is all the gateway needs: no EC2 lookup.
func TaskEvents(a *app.App) (*ecs.TaskEvents, error) {
	cfg, err := ecs.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return &ecs.TaskEvents{Sessions: a.Sessions(), Cluster: cfg.Cluster, Port: cfg.Port, Log: a.Log}, nil
}

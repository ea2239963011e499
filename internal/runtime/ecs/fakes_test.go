package ecs

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
)

// recordingECS passes every call to the emulator, keeps what RunTask was asked (moto ignores
// clientToken and does not return networkConfiguration), and lets a test replace one call
// (fault injection, or ECS behaviour moto lacks).
type recordingECS struct {
	ECSAPI
	mu       sync.Mutex
	runs     []*awsecs.RunTaskInput
	runTask  func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error)
	stopTask func(context.Context, *awsecs.StopTaskInput) (*awsecs.StopTaskOutput, error)
}

func (r *recordingECS) RunTask(ctx context.Context, in *awsecs.RunTaskInput, o ...func(*awsecs.Options)) (*awsecs.RunTaskOutput, error) {
	r.mu.Lock()
	r.runs = append(r.runs, in)
	r.mu.Unlock()
	if r.runTask != nil {
		return r.runTask(ctx, in)
	}
	return r.ECSAPI.RunTask(ctx, in, o...)
}

func (r *recordingECS) StopTask(ctx context.Context, in *awsecs.StopTaskInput, o ...func(*awsecs.Options)) (*awsecs.StopTaskOutput, error) {
	if r.stopTask != nil {
		return r.stopTask(ctx, in)
	}
	return r.ECSAPI.StopTask(ctx, in, o...)
}

func (r *recordingECS) lastRun() *awsecs.RunTaskInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.runs) == 0 {
		return nil
	}
	return r.runs[len(r.runs)-1]
}

// idempotentRunTask gives RunTask the clientToken behaviour of ECS, which moto lacks: a repeat
// of a token returns the task the first call started.
func idempotentRunTask(next ECSAPI) func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error) {
	var mu sync.Mutex
	seen := map[string]*awsecs.RunTaskOutput{}
	return func(ctx context.Context, in *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		if out, ok := seen[aws.ToString(in.ClientToken)]; ok {
			return out, nil
		}
		out, err := next.RunTask(ctx, in)
		if err == nil {
			seen[aws.ToString(in.ClientToken)] = out
		}
		return out, err
	}
}

// idempotentEFS gives CreateAccessPoint the ClientToken behaviour of EFS, which moto lacks: a
// repeat of a token fails with AccessPointAlreadyExists naming the first access point.
type idempotentEFS struct {
	EFSAPI
	mu      sync.Mutex
	byToken map[string]string
	creates int
}

func (f *idempotentEFS) CreateAccessPoint(ctx context.Context, in *efs.CreateAccessPointInput, o ...func(*efs.Options)) (*efs.CreateAccessPointOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	if id, ok := f.byToken[aws.ToString(in.ClientToken)]; ok {
		return nil, &efstypes.AccessPointAlreadyExists{Message: aws.String("Access point already exists"), AccessPointId: aws.String(id)}
	}
	out, err := f.EFSAPI.CreateAccessPoint(ctx, in, o...)
	if err == nil {
		if f.byToken == nil {
			f.byToken = map[string]string{}
		}
		f.byToken[aws.ToString(in.ClientToken)] = aws.ToString(out.AccessPointId)
	}
	return out, err
}

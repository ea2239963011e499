package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/smithy-go"

	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

// ECSAPI is the part of the ECS API the driver calls.
type ECSAPI interface {
	DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
	RegisterTaskDefinition(context.Context, *ecs.RegisterTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error)
	RunTask(context.Context, *ecs.RunTaskInput, ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
	StopTask(context.Context, *ecs.StopTaskInput, ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
}

// EFSAPI is the part of the EFS API the driver calls.
type EFSAPI interface {
	CreateAccessPoint(context.Context, *efs.CreateAccessPointInput, ...func(*efs.Options)) (*efs.CreateAccessPointOutput, error)
}

// Driver runs each session as one ECS Fargate task (runtime.Driver).
type Driver struct {
	Cfg Config
	ECS ECSAPI
	EFS EFSAPI
	Log *slog.Logger
}

var _ runtime.Driver = (*Driver)(nil)

// Reasons given to StopTask (they become the task's stoppedReason).
const (
	reasonHibernate = "StreamSpace: session hibernated"
	reasonTerminate = "StreamSpace: session terminated"
)

// Start runs one task for the session (first start or wake) and returns its ARN as the handle;
// the task state events report it running (or why it stopped).
func (d *Driver) Start(ctx context.Context, spec runtime.Spec) (runtime.Observation, error) {
	if spec.Image == "" {
		return runtime.Observation{}, runtime.Failed(fmt.Sprintf("the template %q has no container image", spec.TemplateName))
	}
	cpu, mem, err := FargateSize(spec.Resources)
	if err != nil {
		return runtime.Observation{}, err
	}
	var home func(context.Context) (string, error)
	if spec.PersistentHome {
		if d.Cfg.FileSystemID == "" {
			return runtime.Observation{}, runtime.Failed("this installation has no file system for persistent homes")
		}
		home = func(ctx context.Context) (string, error) { return d.homeAccessPoint(ctx, spec.OwnerID) }
	}
	family := d.family(spec.TemplateName, spec.OwnerID, spec.PersistentHome)
	taskDef, err := d.ensureTaskDefinition(ctx, family, spec.Image, spec.TemplateName, home)
	if err != nil {
		return runtime.Observation{}, err
	}
	assign := types.AssignPublicIpDisabled
	if d.Cfg.AssignPublicIP {
		assign = types.AssignPublicIpEnabled
	}
	out, err := d.ECS.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(d.Cfg.Cluster), TaskDefinition: aws.String(taskDef), LaunchType: types.LaunchTypeFargate,
		Count: aws.Int32(1), StartedBy: aws.String(spec.SessionID), ClientToken: aws.String(clientToken(spec)),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: d.Cfg.Subnets, SecurityGroups: []string{d.Cfg.SecurityGroup}, AssignPublicIp: assign}},
		Overrides: &types.TaskOverride{Cpu: aws.String(strconv.Itoa(cpu)), Memory: aws.String(strconv.Itoa(mem)),
			ContainerOverrides: []types.ContainerOverride{{Name: aws.String(containerName), Environment: secretEnv(spec)}}},
		Tags: []types.Tag{tag(TagSessionID, spec.SessionID), tag(TagOwnerID, spec.OwnerID), tag(TagTemplate, spec.TemplateName)},
	})
	if err != nil {
		return runtime.Observation{}, runTaskError(err)
	}
	if len(out.Failures) > 0 || len(out.Tasks) == 0 {
		return runtime.Observation{}, runtime.Failed(placementFailure(out.Failures))
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	d.log().InfoContext(ctx, "session task started", slog.String("sessionId", spec.SessionID), slog.String("task", arn),
		slog.String("taskDefinition", taskDef), slog.Int("cpu", cpu), slog.Int("memory", mem))
	return runtime.Observation{Handle: arn}, nil
}

// clientToken makes a retried start return the task the first attempt started (ECS RunTask
// idempotency). It is derived from the session and the handle of the start before this one, not
// from the session's version: a start recorded nowhere yet (its write failed) may be retried
// after unrelated writes (a viewer connecting) changed the version, and must still not start a
// second task; the next start (a wake) comes after a recorded handle and gets a new token.
func clientToken(spec runtime.Spec) string {
	h := sha256.Sum256([]byte(spec.SessionID + "\x00" + spec.Handle))
	return "ss-" + hex.EncodeToString(h[:20])
}

// secretEnv is the per-start part of the image contract: the streaming passwords (docs/runtime.md).
func secretEnv(spec runtime.Spec) []types.KeyValuePair {
	return []types.KeyValuePair{
		kv("STREAMSPACE_SESSION_ID", spec.SessionID),
		kv("STREAMSPACE_VNC_PASSWORD", spec.Secret),
	}
}

// runTaskError sorts RunTask's errors: what will not work on a retry becomes a Failure for the
// person who asked; throttling, server faults and permission problems are retried.
func runTaskError(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.ErrorCode() {
	case "InvalidParameterException", "PlatformUnknownException", "PlatformTaskDefinitionIncompatibilityException",
		"UnsupportedFeatureException", "BlockedException":
		return runtime.Failed("ECS cannot start the session: " + ae.ErrorMessage())
	}
	return fmt.Errorf("run task: %w", err)
}

// placementFailure words RunTask's failures (capacity, RESOURCE:*) for the person waiting.
func placementFailure(fs []types.Failure) string {
	if len(fs) == 0 {
		return "ECS started no task for the session"
	}
	f := fs[0]
	reason, detail := aws.ToString(f.Reason), aws.ToString(f.Detail)
	switch {
	case strings.HasPrefix(reason, "RESOURCE:"):
		reason = "not enough " + strings.ToLower(strings.TrimPrefix(reason, "RESOURCE:")) + " is available for the session right now; try again later"
	case strings.Contains(strings.ToLower(reason), "capacity"):
		reason = "AWS has no capacity for a task of this size right now (" + reason + "); try again later or with fewer resources"
	}
	if detail != "" {
		reason += " (" + detail + ")"
	}
	return "the session could not be placed: " + reason
}

// Hibernate stops the session's task; its home (on EFS) stays. The task's STOPPED event
// reports the session hibernated, unless nothing runs any more: then it is hibernated now.
func (d *Driver) Hibernate(ctx context.Context, spec runtime.Spec) (runtime.Observation, error) {
	stopped, err := d.stop(ctx, spec.Handle, reasonHibernate)
	if err != nil {
		return runtime.Observation{}, err
	}
	if stopped {
		return runtime.Observation{State: sessions.StateHibernated}, nil
	}
	return runtime.Observation{}, nil
}

// Terminate stops the session's task. A persistent home stays (it is the user's, not the
// session's); a session without one has nothing else to remove.
func (d *Driver) Terminate(ctx context.Context, spec runtime.Spec) error {
	_, err := d.stop(ctx, spec.Handle, reasonTerminate)
	return err
}

// stop asks ECS to stop a task; true means it is already stopped or unknown (nothing runs, so
// no STOPPED event will come).
func (d *Driver) stop(ctx context.Context, task, reason string) (bool, error) {
	if task == "" {
		return true, nil
	}
	out, err := d.ECS.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(d.Cfg.Cluster), Task: aws.String(task), Reason: aws.String(reason)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "InvalidParameterException" && strings.Contains(strings.ToLower(ae.ErrorMessage()), "not found") {
		return true, nil // ECS forgets stopped tasks after about an hour
	}
	if err != nil {
		return false, fmt.Errorf("stop task %s: %w", task, err)
	}
	return out.Task != nil && aws.ToString(out.Task.LastStatus) == "STOPPED", nil
}

// homeAccessPoint returns the user's home access point on the file system, creating it the
// first time: a deterministic ClientToken makes a repeat return AccessPointAlreadyExists with the
// id of the first. Its POSIX user owns every file (the app runs as that user too).
func (d *Driver) homeAccessPoint(ctx context.Context, ownerID string) (string, error) {
	hash := userHash(ownerID)
	tok := sha256.Sum256([]byte(d.Cfg.FileSystemID + "\x00" + ownerID))
	uid, gid := d.Cfg.HomeUID, d.Cfg.HomeGID
	out, err := d.EFS.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{
		ClientToken: aws.String("home-" + hex.EncodeToString(tok[:20])), FileSystemId: aws.String(d.Cfg.FileSystemID),
		PosixUser: &efstypes.PosixUser{Uid: aws.Int64(uid), Gid: aws.Int64(gid)},
		RootDirectory: &efstypes.RootDirectory{Path: aws.String("/homes/" + hash),
			CreationInfo: &efstypes.CreationInfo{OwnerUid: aws.Int64(uid), OwnerGid: aws.Int64(gid), Permissions: aws.String("750")}},
	})
	var exists *efstypes.AccessPointAlreadyExists
	if errors.As(err, &exists) && aws.ToString(exists.AccessPointId) != "" {
		return aws.ToString(exists.AccessPointId), nil
	}
	var limit *efstypes.AccessPointLimitExceeded
	if errors.As(err, &limit) {
		return "", runtime.Failed("the file system of persistent homes holds no more homes (access point limit); start the session without a persistent home")
	}
	if err != nil {
		return "", fmt.Errorf("create home access point: %w", err)
	}
	return aws.ToString(out.AccessPointId), nil
}

func (d *Driver) log() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

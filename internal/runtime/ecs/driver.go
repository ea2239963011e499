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

	"streamspace/internal/imageref"
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
	S3  S3API
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
		home = func(ctx context.Context) (string, error) {
			return d.homeAccessPoint(ctx, spec.OwnerID, spec.TemplateName)
		}
	}
	family := d.family(spec.TemplateName, spec.OwnerID, spec.PersistentHome)
	taskDef, err := d.ensureTaskDefinition(ctx, family, imageref.Resolve(spec.Image, d.Cfg.ImageRegistry), spec.TemplateName, home)
	if err != nil {
		return runtime.Observation{}, err
	}
	env, err := d.writeEnvFile(ctx, spec)
	if err != nil {
		return runtime.Observation{}, err
	}
	assign := types.AssignPublicIpDisabled
	if d.Cfg.AssignPublicIP {
		assign = types.AssignPublicIpEnabled
	}
	// Nothing secret in the request: it is kept by CloudTrail, returned by DescribeTasks and
	// copied into every task state event. The task reads its secrets from the file instead.
	out, err := d.ECS.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(d.Cfg.Cluster), TaskDefinition: aws.String(taskDef), LaunchType: types.LaunchTypeFargate,
		Count: aws.Int32(1), StartedBy: aws.String(spec.SessionID), ClientToken: aws.String(clientToken(spec)),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: d.Cfg.Subnets, SecurityGroups: []string{d.Cfg.SecurityGroup}, AssignPublicIp: assign}},
		Overrides: &types.TaskOverride{Cpu: aws.String(strconv.Itoa(cpu)), Memory: aws.String(strconv.Itoa(mem)),
			ContainerOverrides: []types.ContainerOverride{{Name: aws.String(containerName), EnvironmentFiles: []types.EnvironmentFile{env}}}},
		Tags: []types.Tag{tag(TagSessionID, spec.SessionID), tag(TagOwnerID, spec.OwnerID), tag(TagTemplate, spec.TemplateName)},
	})
	if err == nil && (len(out.Failures) > 0 || len(out.Tasks) == 0) {
		err = runtime.FailedDetail(placementFailure(out.Failures), placementDetail(out.Failures))
	} else if err != nil {
		err = runTaskError(err)
	}
	if _, failed := runtime.AsFailure(err); failed {
		// No task will read the file; the lifecycle rule would only remove it a day later.
		if derr := d.deleteEnvFile(ctx, spec.SessionID); derr != nil {
			d.log().WarnContext(ctx, "environment file kept", slog.String("sessionId", spec.SessionID), slog.String("error", derr.Error()))
		}
	}
	if err != nil {
		return runtime.Observation{}, err
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
		return runtime.FailedDetail("ECS cannot start the session with these settings; the operators' log has the details",
			ae.ErrorCode()+": "+ae.ErrorMessage())
	}
	return fmt.Errorf("run task: %w", err)
}

// placementFailure words RunTask's failures (capacity, RESOURCE:*) for the person waiting.
func placementFailure(fs []types.Failure) string {
	if len(fs) == 0 {
		return "ECS started no task for the session"
	}
	reason := aws.ToString(fs[0].Reason)
	switch {
	case strings.HasPrefix(reason, "RESOURCE:"):
		reason = "not enough " + strings.ToLower(strings.TrimPrefix(reason, "RESOURCE:")) + " is available for the session right now; try again later"
	case strings.Contains(strings.ToLower(reason), "capacity"):
		reason = "AWS has no capacity for a task of this size right now; try again later or with fewer resources"
	default:
		reason = "ECS gave no room for it; the operators' log has the details"
	}
	return "the session could not be placed: " + reason
}

// placementDetail is ECS's own words for a placement failure (the log's, not the user's: it
// names ARNs).
func placementDetail(fs []types.Failure) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, strings.TrimSpace(aws.ToString(f.Reason)+" "+aws.ToString(f.Detail)+" "+aws.ToString(f.Arn)))
	}
	return strings.Join(parts, "; ")
}

// Hibernate stops the session's task and deletes its environment file (the task read it when
// it started; a wake writes a new one); its home (on EFS) stays. The task's STOPPED event
// reports the session hibernated, unless nothing runs any more: then it is hibernated now.
func (d *Driver) Hibernate(ctx context.Context, spec runtime.Spec) (runtime.Observation, error) {
	stopped, err := d.stop(ctx, spec.Handle, reasonHibernate)
	if err != nil {
		return runtime.Observation{}, err
	}
	if err := d.deleteEnvFile(ctx, spec.SessionID); err != nil {
		return runtime.Observation{}, err
	}
	if stopped {
		return runtime.Observation{State: sessions.StateHibernated}, nil
	}
	return runtime.Observation{}, nil
}

// Terminate stops the session's task and deletes its environment file. A persistent home stays
// (it belongs to the owner and template, not to the session).
func (d *Driver) Terminate(ctx context.Context, spec runtime.Spec) error {
	if _, err := d.stop(ctx, spec.Handle, reasonTerminate); err != nil {
		return err
	}
	return d.deleteEnvFile(ctx, spec.SessionID)
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

// homeAccessPoint returns the access point of one owner's home for one template, creating it
// the first time: a deterministic ClientToken makes a repeat return AccessPointAlreadyExists with
// the id of the first. Its POSIX identity is the home's own (homeID): every file operation through
// it is done as that uid and gid, whatever the container claims, and it owns the directory.
func (d *Driver) homeAccessPoint(ctx context.Context, ownerID, template string) (string, error) {
	hash := homeHash(ownerID, template)
	tok := sha256.Sum256([]byte(d.Cfg.FileSystemID + "\x00" + ownerID + "\x00" + template))
	id := homeID(ownerID, template)
	out, err := d.EFS.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{
		ClientToken: aws.String("home-" + hex.EncodeToString(tok[:20])), FileSystemId: aws.String(d.Cfg.FileSystemID),
		PosixUser: &efstypes.PosixUser{Uid: aws.Int64(id), Gid: aws.Int64(id)},
		RootDirectory: &efstypes.RootDirectory{Path: aws.String("/homes/" + hash),
			CreationInfo: &efstypes.CreationInfo{OwnerUid: aws.Int64(id), OwnerGid: aws.Int64(id), Permissions: aws.String("700")}},
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

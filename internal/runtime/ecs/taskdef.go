package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"streamspace/internal/runtime"
)

// containerName is the one container of a session task.
const containerName = "session"

// Tags on what the driver creates (tasks and task definitions).
const (
	TagSessionID = "streamspace:session-id"
	TagOwnerID   = "streamspace:owner-id"
	TagTemplate  = "streamspace:template"
	// TagSpec fingerprints a task definition's content: a family's latest revision is reused
	// while its fingerprint matches, so starts do not pile up revisions.
	TagSpec = "streamspace:spec"
)

// baseCPU and baseMemory size a task definition; every RunTask overrides them with the
// session's own size (task-level overrides), so one definition serves every size.
const (
	baseCPU    = "256"
	baseMemory = "512"
)

// homeVolume is the task definition volume of a persistent home.
const homeVolume = "home"

// homeHash names a persistent home, one per owner and template, without putting the user id
// (an e-mail, perhaps) in resource names: 16 hex digits of SHA-256. It names the home's task
// definition family and its directory on the file system.
func homeHash(ownerID, template string) string {
	h := sha256.Sum256([]byte("home\x00" + ownerID + "\x00" + template))
	return hex.EncodeToString(h[:8])
}

// Home identities are uids/gids in [homeIDBase, homeIDBase+homeIDSpan): above the ids images
// and distributions hand out, below 2^31 (tools that read ids as signed 32-bit numbers).
const (
	homeIDBase = 100000
	homeIDSpan = 1<<31 - homeIDBase
)

// homeID is the POSIX uid and gid of one home, derived from the same hash as its name, so two
// homes share an identity only by a hash collision (about 1 in 2 billion per pair). Isolation
// does not rest on it alone: each home is reachable only through its own access point, which
// fixes the root directory and the identity (docs/runtime.md, threat model).
func homeID(ownerID, template string) int64 {
	h := sha256.Sum256([]byte("home\x00" + ownerID + "\x00" + template))
	return homeIDBase + int64(binary.BigEndian.Uint32(h[:4])%homeIDSpan)
}

// family is the task definition family of a template: <prefix>-<template>, and
// <prefix>-<template>-home-<home hash> for persistent homes (the access point is part of the
// task definition, so each home has a family of its own).
func (d *Driver) family(template, ownerID string, home bool) string {
	name := d.Cfg.FamilyPrefix + "-" + familySafe(template)
	suffix := ""
	if home {
		suffix = "-home-" + homeHash(ownerID, template)
	}
	if max := 255 - len(suffix); len(name) > max {
		name = name[:max]
	}
	return name + suffix
}

// familySafe keeps what a family name allows (letters, digits, hyphens, underscores).
func familySafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}

// taskDefinition is the definition a session of this template (and home) runs, without tags.
// It holds nothing secret: the session id and VNC password come with each start, in a file.
func (d *Driver) taskDefinition(family, image, accessPoint string) *ecs.RegisterTaskDefinitionInput {
	c := d.Cfg
	ctr := types.ContainerDefinition{
		Name: aws.String(containerName), Image: aws.String(image), Essential: aws.Bool(true),
		// The desktop's entrypoint is PID 1 and reaps nothing: an init process does, so the
		// application's orphans do not pile up as zombies.
		LinuxParameters: &types.LinuxParameters{InitProcessEnabled: aws.Bool(true)},
		// A soft reservation as large as the smallest task: it limits nothing on Fargate (the
		// container may use all the task's memory), and the ECS emulator the tests use needs a
		// container-level memory value to place a task.
		MemoryReservation: aws.Int32(512),
		// The VNC server (image contract); only the gateway's security group may reach it.
		PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(int32(c.Port)), Protocol: types.TransportProtocolTcp}},
		LogConfiguration: &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{
			"awslogs-group": c.LogGroup, "awslogs-region": c.Region, "awslogs-stream-prefix": "session"}},
	}
	in := &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), NetworkMode: types.NetworkModeAwsvpc,
		RequiresCompatibilities: []types.Compatibility{types.CompatibilityFargate},
		Cpu:                     aws.String(baseCPU), Memory: aws.String(baseMemory),
		ExecutionRoleArn: aws.String(c.ExecutionRoleARN), TaskRoleArn: aws.String(c.TaskRoleARN),
		RuntimePlatform: &types.RuntimePlatform{OperatingSystemFamily: types.OSFamilyLinux,
			CpuArchitecture: types.CPUArchitecture(c.CPUArchitecture)},
	}
	if accessPoint != "" {
		ctr.MountPoints = []types.MountPoint{{SourceVolume: aws.String(homeVolume), ContainerPath: aws.String(c.HomePath)}}
		// Encryption in transit and IAM authorization: the file system policy refuses any other
		// mount (no TLS, no access point, no IAM identity), and the task role may mount only
		// through access points.
		in.Volumes = []types.Volume{{Name: aws.String(homeVolume), EfsVolumeConfiguration: &types.EFSVolumeConfiguration{
			FileSystemId: aws.String(c.FileSystemID), TransitEncryption: types.EFSTransitEncryptionEnabled,
			AuthorizationConfig: &types.EFSAuthorizationConfig{AccessPointId: aws.String(accessPoint),
				Iam: types.EFSAuthorizationConfigIAMEnabled}}}}
	}
	in.ContainerDefinitions = []types.ContainerDefinition{ctr}
	return in
}

// fingerprint identifies a definition's content (the input without tags).
func fingerprint(in *ecs.RegisterTaskDefinitionInput) string {
	b, _ := json.Marshal(in)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

// ensureTaskDefinition returns the ARN of a definition of family for image: the latest
// revision when its fingerprint matches, else a new revision. home is nil without a persistent
// home; otherwise it is asked for the access point only if the family does not have one yet
// (so it runs once per user and template, not once per start).
func (d *Driver) ensureTaskDefinition(ctx context.Context, family, image, template string, home func(context.Context) (string, error)) (string, error) {
	cur, err := d.ECS.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(family),
		Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	var curSpec, accessPoint string
	switch {
	case err == nil && cur.TaskDefinition != nil:
		for _, t := range cur.Tags {
			if aws.ToString(t.Key) == TagSpec {
				curSpec = aws.ToString(t.Value)
			}
		}
		for _, v := range cur.TaskDefinition.Volumes {
			// The home the family already has, if it is on this file system.
			if v.EfsVolumeConfiguration != nil && v.EfsVolumeConfiguration.AuthorizationConfig != nil &&
				aws.ToString(v.EfsVolumeConfiguration.FileSystemId) == d.Cfg.FileSystemID {
				accessPoint = aws.ToString(v.EfsVolumeConfiguration.AuthorizationConfig.AccessPointId)
			}
		}
	case isNoSuchFamily(err):
	default:
		return "", fmt.Errorf("describe task definition %s: %w", family, err)
	}
	if home != nil && accessPoint == "" {
		if accessPoint, err = home(ctx); err != nil {
			return "", err
		}
	}
	in := d.taskDefinition(family, image, accessPoint)
	spec := fingerprint(in)
	if curSpec == spec {
		return aws.ToString(cur.TaskDefinition.TaskDefinitionArn), nil
	}
	in.Tags = []types.Tag{tag(TagSpec, spec), tag(TagTemplate, template)}
	out, err := d.ECS.RegisterTaskDefinition(ctx, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && (ae.ErrorCode() == "ClientException" || ae.ErrorCode() == "InvalidParameterException") {
			return "", runtime.FailedDetail("ECS refused the task definition of the session's template; the operators' log has the details",
				fmt.Sprintf("image %q: %s: %s", image, ae.ErrorCode(), ae.ErrorMessage()))
		}
		return "", fmt.Errorf("register task definition %s: %w", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// isNoSuchFamily recognises DescribeTaskDefinition's answer for a family never registered
// (ECS answers ClientException "Unable to describe task definition.").
func isNoSuchFamily(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	msg := strings.ToLower(ae.ErrorMessage())
	return ae.ErrorCode() == "ClientException" && (strings.Contains(msg, "unable to describe task definition") ||
		strings.Contains(msg, "not found") || strings.Contains(msg, "does not exist"))
}

// Package ecs runs sessions as ECS Fargate tasks (docs/runtime.md, "AWS (ECS Fargate)"): one
// task per running session from its template's image, sized to the smallest Fargate size that
// holds the session's resources, with a home of its owner and template on EFS when the session
// keeps it. The session's secrets reach the task in an environment file in S3, never in the
// RunTask request. Task state changes come back through EventBridge (TaskEvents).
package ecs

import (
	"fmt"
	"os"
	"strings"
)

// Config is what the driver and the task event handler read from their environment (the
// template's RuntimeFunction and TaskEventsFunction set it).
type Config struct {
	Cluster          string   // ECS_CLUSTER: cluster ARN (or name)
	Subnets          []string // ECS_SUBNETS: comma separated
	SecurityGroup    string   // ECS_SECURITY_GROUP
	AssignPublicIP   bool     // ECS_ASSIGN_PUBLIC_IP: ENABLED (default) or DISABLED
	ExecutionRoleARN string   // ECS_EXECUTION_ROLE_ARN: pulls the image, writes the logs
	TaskRoleARN      string   // ECS_TASK_ROLE_ARN: the containers' identity (no permissions)
	LogGroup         string   // ECS_LOG_GROUP
	Region           string   // the awslogs region (the Lambda's AWS_REGION)
	// FamilyPrefix starts every task definition family (ECS_FAMILY_PREFIX, the stack name): IAM
	// allows RunTask on <prefix>-* only.
	FamilyPrefix    string
	CPUArchitecture string // ECS_CPU_ARCHITECTURE: X86_64 (default) or ARM64
	FileSystemID    string // EFS_FILE_SYSTEM_ID: persistent homes; "" = sessions cannot keep one
	// EnvBucketARN is the bucket of the per-session environment files (SESSION_ENV_BUCKET_ARN):
	// the runtime writes one before each start and deletes it when the session stops.
	EnvBucketARN string
	// Port is where the desktop's VNC server listens (the image contract: RFB on 5900).
	Port int
	// HomePath is where a persistent home is mounted in the container, the desktop user's HOME
	// in the image contract (SESSION_HOME_PATH overrides it).
	HomePath string
	// ImageRegistry is where our own images live (ECS_IMAGE_REGISTRY, the account's ECR):
	// templates name them streamspace/<name>, resolved against it (imageref.Resolve).
	ImageRegistry string
}

// Defaults.
const (
	DefaultPort     = 5900
	DefaultHomePath = "/home/streamspace"
)

// ConfigFromEnv reads the Lambda environment. It fails on a missing or malformed value instead
// of starting tasks that cannot work.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Cluster: os.Getenv("ECS_CLUSTER"), SecurityGroup: os.Getenv("ECS_SECURITY_GROUP"),
		ExecutionRoleARN: os.Getenv("ECS_EXECUTION_ROLE_ARN"), TaskRoleARN: os.Getenv("ECS_TASK_ROLE_ARN"),
		LogGroup: os.Getenv("ECS_LOG_GROUP"), Region: os.Getenv("AWS_REGION"),
		FamilyPrefix: envOr("ECS_FAMILY_PREFIX", "streamspace"), CPUArchitecture: envOr("ECS_CPU_ARCHITECTURE", "X86_64"),
		FileSystemID: os.Getenv("EFS_FILE_SYSTEM_ID"), EnvBucketARN: os.Getenv("SESSION_ENV_BUCKET_ARN"),
		Port: DefaultPort, HomePath: envOr("SESSION_HOME_PATH", DefaultHomePath), ImageRegistry: os.Getenv("ECS_IMAGE_REGISTRY"),
	}
	for _, s := range strings.Split(os.Getenv("ECS_SUBNETS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Subnets = append(c.Subnets, s)
		}
	}
	var err error
	if c.AssignPublicIP, err = publicIP(envOr("ECS_ASSIGN_PUBLIC_IP", "ENABLED")); err != nil {
		return c, err
	}
	return c, nil
}

// Validate reports what the driver lacks to start tasks (the task event handler needs less).
func (c Config) Validate() error {
	var missing []string
	for name, v := range map[string]string{"ECS_CLUSTER": c.Cluster, "ECS_SECURITY_GROUP": c.SecurityGroup,
		"ECS_EXECUTION_ROLE_ARN": c.ExecutionRoleARN, "ECS_TASK_ROLE_ARN": c.TaskRoleARN, "ECS_LOG_GROUP": c.LogGroup,
		"AWS_REGION": c.Region, "SESSION_ENV_BUCKET_ARN": c.EnvBucketARN} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(c.Subnets) == 0 {
		missing = append(missing, "ECS_SUBNETS")
	}
	if len(missing) > 0 {
		return fmt.Errorf("ecs runtime: missing configuration %v", missing)
	}
	if c.CPUArchitecture != "X86_64" && c.CPUArchitecture != "ARM64" {
		return fmt.Errorf("ecs runtime: ECS_CPU_ARCHITECTURE %q is not X86_64 or ARM64", c.CPUArchitecture)
	}
	if _, err := c.envBucket(); err != nil {
		return err
	}
	return nil
}

// envBucket is the name of the environment files' bucket (its ARN is arn:<partition>:s3:::<name>).
func (c Config) envBucket() (string, error) {
	_, name, ok := strings.Cut(c.EnvBucketARN, ":::")
	if !ok || !strings.HasPrefix(c.EnvBucketARN, "arn:") || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("ecs runtime: SESSION_ENV_BUCKET_ARN %q is not an S3 bucket ARN", c.EnvBucketARN)
	}
	return name, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func publicIP(v string) (bool, error) {
	switch strings.ToUpper(v) {
	case "ENABLED":
		return true, nil
	case "DISABLED":
		return false, nil
	}
	return false, fmt.Errorf("ecs runtime: ECS_ASSIGN_PUBLIC_IP %q is not ENABLED or DISABLED", v)
}

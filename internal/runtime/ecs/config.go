// Package ecs runs sessions as ECS Fargate tasks (docs/runtime.md, "AWS (ECS Fargate)"): one
// task per running session from its template's image, sized to the smallest Fargate size that
// holds the session's resources, with the user's home on EFS when the session keeps it. Task
// state changes come back through EventBridge (TaskEvents).
package ecs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
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
	Port            int    // STREAMING_PORT: where the image serves its web client (default 3000)
	// HomePath is where a persistent home is mounted in the container: /config, the
	// LinuxServer.io images' home (SESSION_HOME_PATH overrides it).
	HomePath string
	// HomeUID and HomeGID own the files of a persistent home (the access point's POSIX user);
	// the task also gets them as PUID/PGID, which LinuxServer.io images run the app as.
	HomeUID, HomeGID int64
}

// Defaults.
const (
	DefaultPort     = 3000
	DefaultHomePath = "/config"
	DefaultHomeID   = 1000
)

// ConfigFromEnv reads the Lambda environment. It fails on a missing or malformed value instead
// of starting tasks that cannot work.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Cluster: os.Getenv("ECS_CLUSTER"), SecurityGroup: os.Getenv("ECS_SECURITY_GROUP"),
		ExecutionRoleARN: os.Getenv("ECS_EXECUTION_ROLE_ARN"), TaskRoleARN: os.Getenv("ECS_TASK_ROLE_ARN"),
		LogGroup: os.Getenv("ECS_LOG_GROUP"), Region: os.Getenv("AWS_REGION"),
		FamilyPrefix: envOr("ECS_FAMILY_PREFIX", "streamspace"), CPUArchitecture: envOr("ECS_CPU_ARCHITECTURE", "X86_64"),
		FileSystemID: os.Getenv("EFS_FILE_SYSTEM_ID"), HomePath: envOr("SESSION_HOME_PATH", DefaultHomePath),
		HomeUID: DefaultHomeID, HomeGID: DefaultHomeID,
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
	if c.Port, err = port(os.Getenv("STREAMING_PORT")); err != nil {
		return c, err
	}
	return c, nil
}

// Validate reports what the driver lacks to start tasks (the task event handler needs less).
func (c Config) Validate() error {
	var missing []string
	for name, v := range map[string]string{"ECS_CLUSTER": c.Cluster, "ECS_SECURITY_GROUP": c.SecurityGroup,
		"ECS_EXECUTION_ROLE_ARN": c.ExecutionRoleARN, "ECS_TASK_ROLE_ARN": c.TaskRoleARN, "ECS_LOG_GROUP": c.LogGroup,
		"AWS_REGION": c.Region} {
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
	return nil
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

func port(v string) (int, error) {
	if v == "" {
		return DefaultPort, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return 0, errors.New("ecs runtime: STREAMING_PORT must be a TCP port number")
	}
	return n, nil
}

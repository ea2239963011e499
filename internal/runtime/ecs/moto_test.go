package ecs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"streamspace/internal/testenv/tier"
)

// One moto server (an emulator of the AWS APIs, moto 5) serves every test of the package: it
// listens on loopback only, is started on first use and killed when the test binary ends.
var (
	motoOnce sync.Once
	motoURL  string
	motoErr  error
	motoCmd  *exec.Cmd
	motoLog  string
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil))) // the driver's info logs
	code := m.Run()
	if motoCmd != nil && motoCmd.Process != nil {
		motoCmd.Process.Kill()
		motoCmd.Wait()
	}
	os.Exit(code)
}

// moto returns the emulator's endpoint, starting it if needed (fails the test without it).
func moto(t testing.TB) string {
	t.Helper()
	tier.Integration(t, "the moto server")
	motoOnce.Do(func() { motoURL, motoErr = startMoto() })
	if motoErr != nil {
		t.Fatalf("moto server: %v (install it with: python3 -m pip install 'moto[server]')", motoErr)
	}
	return motoURL
}

func startMoto() (string, error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	motoCmd = exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if f, err := os.CreateTemp("", "moto-*.log"); err == nil {
		motoCmd.Stdout, motoCmd.Stderr = f, f // read it when the emulator answers 500
		motoLog = f.Name()
	}
	// Dies with the test binary even if TestMain never gets to kill it.
	motoCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := motoCmd.Start(); err != nil {
		return "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("not ready on %s after 60 s", url)
}

// clients are SDK clients pointed at the emulator.
type clients struct {
	ECS *awsecs.Client
	EFS *efs.Client
	EC2 *ec2.Client
	S3  *s3.Client
}

func motoClients(t testing.TB) clients {
	url := moto(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	return clients{
		ECS: awsecs.NewFromConfig(cfg, func(o *awsecs.Options) { o.BaseEndpoint = aws.String(url) }, stringNumbers),
		EFS: efs.NewFromConfig(cfg, func(o *efs.Options) { o.BaseEndpoint = aws.String(url) }),
		EC2: ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(url) }),
		// Path-style: the emulator's endpoint is an address, not a name buckets can prefix.
		S3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(url), true }),
	}
}

// world is what a deployed stack provides, created in the emulator for one test: a cluster, a
// subnet and security group, an EFS file system, the environment files' bucket. Names are unique
// per test (the emulator is shared).
type world struct {
	clients
	Cfg Config
}

func newWorld(t *testing.T) world {
	t.Helper()
	c := motoClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := fmt.Sprintf("sessions-%d", time.Now().UnixNano())
	cl, err := c.ECS.CreateCluster(ctx, &awsecs.CreateClusterInput{ClusterName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	vpc, err := c.EC2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.80.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	// As in the template (EFS mount targets are found by name); the emulator also needs it to
	// give a task's network interface its private DNS name.
	if _, err := c.EC2.ModifyVpcAttribute(ctx, &ec2.ModifyVpcAttributeInput{VpcId: vpc.Vpc.VpcId,
		EnableDnsHostnames: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	sub, err := c.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.80.0.0/20"),
		AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := c.EC2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("sessions"),
		VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c.EFS.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String(name), Encrypted: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return world{clients: c, Cfg: Config{
		Cluster: aws.ToString(cl.Cluster.ClusterArn), Subnets: []string{aws.ToString(sub.Subnet.SubnetId)},
		SecurityGroup: aws.ToString(sg.GroupId), AssignPublicIP: true,
		ExecutionRoleARN: "arn:aws:iam::123456789012:role/session-execution", TaskRoleARN: "arn:aws:iam::123456789012:role/session-task",
		LogGroup: "/ecs/" + name + "/sessions", Region: "us-east-1", FamilyPrefix: name, CPUArchitecture: "X86_64",
		FileSystemID: aws.ToString(fs.FileSystemId), EnvBucketARN: "arn:aws:s3:::" + name, Port: DefaultPort, HomePath: DefaultHomePath,
	}}
}

func (w world) driver() *Driver { return &Driver{Cfg: w.Cfg, ECS: w.ECS, EFS: w.EFS, S3: w.S3} }

// envFileBody reads a session's environment file from the emulator; false when there is none.
func (w world) envFileBody(t *testing.T, sessionID string) (string, bool) {
	t.Helper()
	bucket, _ := w.Cfg.envBucket()
	out, err := w.S3.GetObject(testCtx(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(envFileKey(sessionID))})
	var missing *s3types.NoSuchKey
	if errors.As(err, &missing) {
		return "", false
	}
	if err != nil {
		t.Fatalf("read the environment file of %s: %v", sessionID, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

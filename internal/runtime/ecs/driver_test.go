package ecs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"streamspace/internal/ids"
	"streamspace/internal/resources"
	"streamspace/internal/runtime"
	"streamspace/internal/sessions"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func firefoxSpec(owner string) runtime.Spec {
	return runtime.Spec{SessionID: ids.New("sess"), OwnerID: owner, TemplateName: "firefox-browser",
		Image: "lscr.io/linuxserver/firefox:latest", Resources: resources.Resources{CPU: "1", Memory: "2Gi"},
		Secret: "k3Jx9aQe", Generation: 3}
}

func (w world) describeTask(t *testing.T, arn string) types.Task {
	t.Helper()
	out, err := w.ECS.DescribeTasks(testCtx(t), &awsecs.DescribeTasksInput{Cluster: aws.String(w.Cfg.Cluster), Tasks: []string{arn},
		Include: []types.TaskField{types.TaskFieldTags}})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("describe task %s: %v %+v", arn, err, out)
	}
	return out.Tasks[0]
}

func (w world) describeDefinition(t *testing.T, arn string) (*types.TaskDefinition, map[string]string) {
	t.Helper()
	out, err := w.ECS.DescribeTaskDefinition(testCtx(t), &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn),
		Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	return out.TaskDefinition, tagMap(out.Tags)
}

// revisions lists the registered revisions of one family (the emulator matches familyPrefix
// as a whole family name).
func (w world) revisions(t *testing.T, family string) []string {
	t.Helper()
	out, err := w.ECS.ListTaskDefinitions(testCtx(t), &awsecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String(family)})
	if err != nil {
		t.Fatal(err)
	}
	return out.TaskDefinitionArns
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func envMap(kvs []types.KeyValuePair) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	return m
}

// A start registers the template's task definition and runs one Fargate task for the session:
// what the emulator holds afterwards is checked field by field.
func TestStartRunsOneTaskPerSession(t *testing.T) {
	w := newWorld(t)
	rec := &recordingECS{ECSAPI: w.ECS}
	d := &Driver{Cfg: w.Cfg, ECS: rec, EFS: w.EFS, S3: w.S3}
	spec := firefoxSpec("alice@example.com")
	obs, err := d.Start(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if obs.State != "" || !strings.Contains(obs.Handle, ":task/") {
		t.Fatalf("observation %+v: want no state yet (the task event reports it) and the task ARN as handle", obs)
	}

	task := w.describeTask(t, obs.Handle)
	if aws.ToString(task.StartedBy) != spec.SessionID || task.LaunchType != types.LaunchTypeFargate ||
		aws.ToString(task.ClusterArn) != w.Cfg.Cluster {
		t.Errorf("task startedBy %q launch %q cluster %q", aws.ToString(task.StartedBy), task.LaunchType, aws.ToString(task.ClusterArn))
	}
	wantTags := map[string]string{TagSessionID: spec.SessionID, TagOwnerID: spec.OwnerID, TagTemplate: "firefox-browser"}
	if got := tagMap(task.Tags); !mapsEqual(got, wantTags) {
		t.Errorf("task tags %v, want %v", got, wantTags)
	}
	ov := task.Overrides
	if ov == nil || aws.ToString(ov.Cpu) != "1024" || aws.ToString(ov.Memory) != "2048" || len(ov.ContainerOverrides) != 1 {
		t.Fatalf("overrides %+v: want the session's size 1024/2048 and one container override", ov)
	}
	// The secrets travel in a file the execution role reads, not in the request.
	co := rec.lastRun().Overrides.ContainerOverrides
	wantFile := w.Cfg.EnvBucketARN + "/session-env/" + spec.SessionID + ".env"
	if len(co) != 1 || aws.ToString(co[0].Name) != containerName || len(co[0].Environment) != 0 || len(co[0].EnvironmentFiles) != 1 ||
		co[0].EnvironmentFiles[0].Type != types.EnvironmentFileTypeS3 || aws.ToString(co[0].EnvironmentFiles[0].Value) != wantFile {
		t.Errorf("container overrides %+v: want no environment, only the file %s", co, wantFile)
	}
	if body, ok := w.envFileBody(t, spec.SessionID); !ok ||
		body != "STREAMSPACE_SESSION_ID="+spec.SessionID+"\nSTREAMSPACE_VNC_PASSWORD="+spec.Secret+"\n" {
		t.Errorf("environment file %q (present %v): want the session id and the VNC password", body, ok)
	}
	// The network: the task's interface is in the configured subnet with the session security
	// group (the emulator creates it); assignPublicIp only shows in the request.
	var eni, subnet string
	for _, a := range task.Attachments {
		for _, kv := range a.Details {
			switch aws.ToString(kv.Name) {
			case "networkInterfaceId":
				eni = aws.ToString(kv.Value)
			case "subnetId":
				subnet = aws.ToString(kv.Value)
			}
		}
	}
	if subnet != w.Cfg.Subnets[0] || eni == "" {
		t.Errorf("task attachments %+v: want an interface in %s", task.Attachments, w.Cfg.Subnets[0])
	} else {
		nis, err := w.EC2.DescribeNetworkInterfaces(testCtx(t), &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{eni}})
		if err != nil || len(nis.NetworkInterfaces) != 1 || len(nis.NetworkInterfaces[0].Groups) != 1 ||
			aws.ToString(nis.NetworkInterfaces[0].Groups[0].GroupId) != w.Cfg.SecurityGroup {
			t.Errorf("interface %s: %v %+v, want the session security group", eni, err, nis)
		}
	}
	run := rec.lastRun()
	vpc := run.NetworkConfiguration.AwsvpcConfiguration
	if vpc.AssignPublicIp != types.AssignPublicIpEnabled || !slices.Equal(vpc.SecurityGroups, []string{w.Cfg.SecurityGroup}) ||
		!slices.Equal(vpc.Subnets, w.Cfg.Subnets) || aws.ToInt32(run.Count) != 1 || !strings.HasPrefix(aws.ToString(run.ClientToken), "ss-") {
		t.Errorf("RunTask request network %+v count %d token %q", vpc, aws.ToInt32(run.Count), aws.ToString(run.ClientToken))
	}

	def, defTags := w.describeDefinition(t, aws.ToString(task.TaskDefinitionArn))
	if aws.ToString(def.Family) != w.Cfg.FamilyPrefix+"-firefox-browser" || def.NetworkMode != types.NetworkModeAwsvpc ||
		!slices.Contains(def.RequiresCompatibilities, types.CompatibilityFargate) || aws.ToString(def.Cpu) != baseCPU ||
		aws.ToString(def.Memory) != baseMemory || aws.ToString(def.ExecutionRoleArn) != w.Cfg.ExecutionRoleARN ||
		aws.ToString(def.TaskRoleArn) != w.Cfg.TaskRoleARN || len(def.Volumes) != 0 {
		t.Errorf("task definition %s: network %s compat %v cpu/mem %s/%s roles %s %s volumes %v", aws.ToString(def.Family), def.NetworkMode,
			def.RequiresCompatibilities, aws.ToString(def.Cpu), aws.ToString(def.Memory), aws.ToString(def.ExecutionRoleArn),
			aws.ToString(def.TaskRoleArn), def.Volumes)
	}
	if def.RuntimePlatform == nil || def.RuntimePlatform.CpuArchitecture != types.CPUArchitectureX8664 {
		t.Errorf("runtime platform %+v, want X86_64", def.RuntimePlatform)
	}
	if len(def.ContainerDefinitions) != 1 {
		t.Fatalf("%d containers, want 1", len(def.ContainerDefinitions))
	}
	ctr := def.ContainerDefinitions[0]
	if aws.ToString(ctr.Name) != containerName || aws.ToString(ctr.Image) != spec.Image || !aws.ToBool(ctr.Essential) ||
		len(ctr.PortMappings) != 1 || aws.ToInt32(ctr.PortMappings[0].ContainerPort) != 5900 || len(ctr.MountPoints) != 0 {
		t.Errorf("container %s image %s ports %+v mounts %+v", aws.ToString(ctr.Name), aws.ToString(ctr.Image), ctr.PortMappings, ctr.MountPoints)
	}
	lc := ctr.LogConfiguration
	if lc == nil || lc.LogDriver != types.LogDriverAwslogs || lc.Options["awslogs-group"] != w.Cfg.LogGroup ||
		lc.Options["awslogs-region"] != "us-east-1" || lc.Options["awslogs-stream-prefix"] != "session" {
		t.Errorf("log configuration %+v", lc)
	}
	if len(ctr.Environment) != 0 || len(ctr.EnvironmentFiles) != 0 || len(ctr.Secrets) != 0 {
		t.Errorf("definition environment %v files %v secrets %v: want none (the secrets come with each start)", envMap(ctr.Environment),
			ctr.EnvironmentFiles, ctr.Secrets)
	}
	if defTags[TagTemplate] != "firefox-browser" || len(defTags[TagSpec]) != 24 {
		t.Errorf("definition tags %v", defTags)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Starts of one template share its task definition; a changed image registers one new revision.
func TestTaskDefinitionIsReusedUntilTheTemplateChanges(t *testing.T) {
	w := newWorld(t)
	d := w.driver()
	var defs []string
	for _, owner := range []string{"alice", "bob", "carol"} {
		spec := firefoxSpec(owner)
		spec.Resources = resources.Resources{CPU: "2", Memory: "4Gi"} // sizes are overrides, not revisions
		obs, err := d.Start(testCtx(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, aws.ToString(w.describeTask(t, obs.Handle).TaskDefinitionArn))
	}
	if defs[0] != defs[1] || defs[1] != defs[2] || !strings.HasSuffix(defs[0], ":1") {
		t.Fatalf("task definitions %v: want revision 1 three times", defs)
	}
	spec := firefoxSpec("dave")
	spec.Image = "lscr.io/linuxserver/firefox:1.2.3"
	obs, err := d.Start(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(w.describeTask(t, obs.Handle).TaskDefinitionArn); !strings.HasSuffix(got, ":2") {
		t.Errorf("after an image change: %s, want revision 2", got)
	}
	if n := len(w.revisions(t, w.Cfg.FamilyPrefix+"-firefox-browser")); n != 2 {
		t.Errorf("%d revisions registered, want 2", n)
	}
	// Our own images are named streamspace/<name> in templates and pulled from the stack's ECR.
	d.Cfg.ImageRegistry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	spec = firefoxSpec("erin")
	spec.Image = "streamspace/firefox-browser:latest"
	if obs, err = d.Start(testCtx(t), spec); err != nil {
		t.Fatal(err)
	}
	td, _ := w.describeDefinition(t, aws.ToString(w.describeTask(t, obs.Handle).TaskDefinitionArn))
	if got := aws.ToString(td.ContainerDefinitions[0].Image); got != d.Cfg.ImageRegistry+"/streamspace/firefox-browser:latest" {
		t.Errorf("image %q, want ours from the stack's registry", got)
	}
}

// A persistent home is an EFS access point per owner and template (root /homes/<hash>, a POSIX
// identity of its own that owns the directory, mode 700), mounted with TLS and IAM at the
// desktop user's HOME; a wake runs on the same home, another template or user gets another.
func TestPersistentHomeIsAnAccessPointPerOwnerAndTemplate(t *testing.T) {
	w := newWorld(t)
	fsAPI := &idempotentEFS{EFSAPI: w.EFS}
	d := &Driver{Cfg: w.Cfg, ECS: w.ECS, EFS: fsAPI, S3: w.S3}
	spec := firefoxSpec("alice@example.com")
	spec.PersistentHome = true
	first, err := d.Start(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	task := w.describeTask(t, first.Handle)
	def, _ := w.describeDefinition(t, aws.ToString(task.TaskDefinitionArn))
	hash := homeHash("alice@example.com", "firefox-browser")
	if want := w.Cfg.FamilyPrefix + "-firefox-browser-home-" + hash; aws.ToString(def.Family) != want {
		t.Errorf("family %s, want %s", aws.ToString(def.Family), want)
	}
	if len(def.Volumes) != 1 || def.Volumes[0].EfsVolumeConfiguration == nil {
		t.Fatalf("volumes %+v: want one EFS volume", def.Volumes)
	}
	vol := def.Volumes[0].EfsVolumeConfiguration
	ap := aws.ToString(vol.AuthorizationConfig.AccessPointId)
	if aws.ToString(vol.FileSystemId) != w.Cfg.FileSystemID || vol.TransitEncryption != types.EFSTransitEncryptionEnabled || ap == "" ||
		vol.AuthorizationConfig.Iam != types.EFSAuthorizationConfigIAMEnabled {
		t.Errorf("EFS volume %+v: want TLS, IAM and an access point", vol)
	}
	mounts := def.ContainerDefinitions[0].MountPoints
	if len(mounts) != 1 || aws.ToString(mounts[0].ContainerPath) != "/home/streamspace" || aws.ToString(mounts[0].SourceVolume) != aws.ToString(def.Volumes[0].Name) {
		t.Errorf("mount points %+v: want the home at /home/streamspace", mounts)
	}
	aps, err := w.EFS.DescribeAccessPoints(testCtx(t), &efs.DescribeAccessPointsInput{FileSystemId: aws.String(w.Cfg.FileSystemID)})
	if err != nil || len(aps.AccessPoints) != 1 {
		t.Fatalf("access points %v %+v: want one", err, aps)
	}
	got := aps.AccessPoints[0]
	id := homeID("alice@example.com", "firefox-browser")
	ci := got.RootDirectory.CreationInfo
	if aws.ToString(got.AccessPointId) != ap || aws.ToString(got.RootDirectory.Path) != "/homes/"+hash ||
		aws.ToInt64(got.PosixUser.Uid) != id || aws.ToInt64(got.PosixUser.Gid) != id || ci == nil ||
		aws.ToInt64(ci.OwnerUid) != id || aws.ToInt64(ci.OwnerGid) != id || aws.ToString(ci.Permissions) != "700" {
		t.Errorf("access point %s root %s user %+v creation %+v: want /homes/%s owned by %d, mode 700", aws.ToString(got.AccessPointId),
			aws.ToString(got.RootDirectory.Path), got.PosixUser, ci, hash, id)
	}
	if id < homeIDBase || id >= 1<<31 {
		t.Errorf("home identity %d: want one above the images' users and below 2^31", id)
	}

	// Hibernate, then wake: a new task on the same definition, so the same home.
	hib := spec
	hib.Handle = first.Handle
	if _, err := d.Hibernate(testCtx(t), hib); err != nil {
		t.Fatal(err)
	}
	wake := hib
	wake.Generation++
	second, err := d.Start(testCtx(t), wake)
	if err != nil {
		t.Fatal(err)
	}
	if second.Handle == first.Handle || aws.ToString(w.describeTask(t, second.Handle).TaskDefinitionArn) != aws.ToString(task.TaskDefinitionArn) {
		t.Errorf("wake: task %s on %s, want a new task on %s", second.Handle,
			aws.ToString(w.describeTask(t, second.Handle).TaskDefinitionArn), aws.ToString(task.TaskDefinitionArn))
	}
	if fsAPI.creates != 1 {
		t.Errorf("%d CreateAccessPoint calls for one home, want 1 (the family remembers its home)", fsAPI.creates)
	}

	// Another template of the same owner: another home (sharing one session exposes that
	// session's files only) with another identity.
	other := firefoxSpec("alice@example.com")
	other.PersistentHome, other.TemplateName, other.Image = true, "chromium", "lscr.io/linuxserver/chromium:latest"
	obs, err := d.Start(testCtx(t), other)
	if err != nil {
		t.Fatal(err)
	}
	odef, _ := w.describeDefinition(t, aws.ToString(w.describeTask(t, obs.Handle).TaskDefinitionArn))
	if got := aws.ToString(odef.Volumes[0].EfsVolumeConfiguration.AuthorizationConfig.AccessPointId); got == ap {
		t.Errorf("alice's chromium home is her firefox home %s", got)
	}
	if homeID("alice@example.com", "chromium") == id {
		t.Error("alice's chromium home has the identity of her firefox home")
	}
	// Another user: another home.
	bob := firefoxSpec("bob")
	bob.PersistentHome = true
	obs, err = d.Start(testCtx(t), bob)
	if err != nil {
		t.Fatal(err)
	}
	bdef, _ := w.describeDefinition(t, aws.ToString(w.describeTask(t, obs.Handle).TaskDefinitionArn))
	if got := aws.ToString(bdef.Volumes[0].EfsVolumeConfiguration.AuthorizationConfig.AccessPointId); got == ap {
		t.Errorf("bob got alice's home %s", got)
	}
	if fsAPI.creates != 3 {
		t.Errorf("%d CreateAccessPoint calls for three homes, want 3", fsAPI.creates)
	}
}

// Hibernate and terminate stop the task with a reason; nothing left to stop is success.
func TestHibernateAndTerminateStopTheTask(t *testing.T) {
	w := newWorld(t)
	d := w.driver()
	for _, c := range []struct {
		name   string
		act    func(runtime.Spec) error
		reason string
	}{
		{"hibernate", func(s runtime.Spec) error { _, err := d.Hibernate(testCtx(t), s); return err }, reasonHibernate},
		{"terminate", func(s runtime.Spec) error { return d.Terminate(testCtx(t), s) }, reasonTerminate},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := firefoxSpec("alice")
			obs, err := d.Start(testCtx(t), spec)
			if err != nil {
				t.Fatal(err)
			}
			spec.Handle = obs.Handle
			if err := c.act(spec); err != nil {
				t.Fatal(err)
			}
			task := w.describeTask(t, obs.Handle)
			if aws.ToString(task.DesiredStatus) != "STOPPED" || aws.ToString(task.StoppedReason) != c.reason {
				t.Errorf("task desired %s reason %q, want STOPPED with %q", aws.ToString(task.DesiredStatus), aws.ToString(task.StoppedReason), c.reason)
			}
			if _, ok := w.envFileBody(t, spec.SessionID); ok {
				t.Errorf("the environment file outlives the %s", c.name)
			}
			if err := c.act(spec); err != nil { // redelivered: stopping a stopped task is fine
				t.Errorf("again: %v", err)
			}
		})
	}

	// The emulator stops at once, so Hibernate already knows the outcome; ECS answers StopTask
	// while the task is still running, and then the STOPPED event finishes the job.
	stillRunning := &recordingECS{ECSAPI: w.ECS, stopTask: func(ctx context.Context, in *awsecs.StopTaskInput) (*awsecs.StopTaskOutput, error) {
		return &awsecs.StopTaskOutput{Task: &types.Task{TaskArn: in.Task, LastStatus: aws.String("RUNNING"), DesiredStatus: aws.String("STOPPED")}}, nil
	}}
	spec := firefoxSpec("alice")
	spec.Handle = "arn:aws:ecs:us-east-1:123456789012:task/sessions/0f4e5c0ab8d94f1c9b2a7d3e6c1f8a90"
	obs, err := (&Driver{Cfg: w.Cfg, ECS: stillRunning, S3: w.S3}).Hibernate(testCtx(t), spec)
	if err != nil || obs.State != "" {
		t.Errorf("hibernate while the task still runs: %+v %v, want no state yet", obs, err)
	}
	obs, err = d.Hibernate(testCtx(t), runtime.Spec{SessionID: spec.SessionID})
	if err != nil || obs.State != sessions.StateHibernated {
		t.Errorf("hibernate with no task: %+v %v, want hibernated", obs, err)
	}
	// ECS forgets stopped tasks after about an hour (the emulator answers a 500 instead).
	gone := &recordingECS{ECSAPI: w.ECS, stopTask: func(context.Context, *awsecs.StopTaskInput) (*awsecs.StopTaskOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: "The referenced task was not found."}
	}}
	if err := (&Driver{Cfg: w.Cfg, ECS: gone, S3: w.S3}).Terminate(testCtx(t), spec); err != nil {
		t.Errorf("terminate a forgotten task: %v, want success", err)
	}
	throttled := &recordingECS{ECSAPI: w.ECS, stopTask: func(context.Context, *awsecs.StopTaskInput) (*awsecs.StopTaskOutput, error) {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}}
	if err := (&Driver{Cfg: w.Cfg, ECS: throttled, S3: w.S3}).Terminate(testCtx(t), spec); err == nil {
		t.Error("terminate while throttled: no error, want one (the stream retries)")
	}
}

// A retried start (same session, same previous task) sends the same client token, so ECS
// returns the task of the first attempt; a wake after a recorded task gets a new token.
func TestRetriedStartIsIdempotent(t *testing.T) {
	w := newWorld(t)
	rec := &recordingECS{ECSAPI: w.ECS}
	rec.runTask = idempotentRunTask(w.ECS)
	d := &Driver{Cfg: w.Cfg, ECS: rec, EFS: w.EFS, S3: w.S3}
	spec := firefoxSpec("alice")
	first, err := d.Start(testCtx(t), spec)
	if err != nil {
		t.Fatal(err)
	}
	tok := aws.ToString(rec.lastRun().ClientToken)
	retry := spec
	retry.Generation += 2 // a viewer connected meanwhile: the version moved, the start did not
	again, err := d.Start(testCtx(t), retry)
	if err != nil {
		t.Fatal(err)
	}
	if again.Handle != first.Handle || aws.ToString(rec.lastRun().ClientToken) != tok {
		t.Errorf("retry: task %s token %s, want %s with token %s", again.Handle, aws.ToString(rec.lastRun().ClientToken), first.Handle, tok)
	}
	wake := spec
	wake.Handle = first.Handle
	woken, err := d.Start(testCtx(t), wake)
	if err != nil {
		t.Fatal(err)
	}
	if woken.Handle == first.Handle || aws.ToString(rec.lastRun().ClientToken) == tok {
		t.Errorf("wake reused the first start's task or token")
	}
	if len(aws.ToString(rec.lastRun().ClientToken)) > 64 {
		t.Errorf("client token %q longer than ECS allows", aws.ToString(rec.lastRun().ClientToken))
	}
	out, err := w.ECS.ListTasks(testCtx(t), &awsecs.ListTasksInput{Cluster: aws.String(w.Cfg.Cluster), StartedBy: aws.String(spec.SessionID)})
	if err != nil || len(out.TaskArns) != 2 {
		t.Errorf("tasks of the session: %v %v, want 2 (first start, wake)", out, err)
	}
}

// What cannot work on a retry fails the session with a reason a person understands; what may
// pass later is an ordinary error (the stream retries it).
func TestStartFailures(t *testing.T) {
	w := newWorld(t)
	apiErr := func(code, msg string) func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error) {
		return func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error) {
			return nil, &smithy.GenericAPIError{Code: code, Message: msg}
		}
	}
	failures := func(fs ...types.Failure) func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error) {
		return func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error) {
			return &awsecs.RunTaskOutput{Failures: fs}, nil
		}
	}
	cases := []struct {
		name    string
		spec    func(*runtime.Spec)
		cfg     func(*Config)
		runTask func(context.Context, *awsecs.RunTaskInput) (*awsecs.RunTaskOutput, error)
		s3      S3API
		reason  string // "" = a retryable error, not a Failure
	}{
		{name: "no image", spec: func(s *runtime.Spec) { s.Image = "" }, reason: `the template "firefox-browser" has no container image`},
		{name: "invalid resources", spec: func(s *runtime.Spec) { s.Resources.Memory = "2GB" }, reason: "the session's resources.memory is invalid"},
		{name: "home without a file system", spec: func(s *runtime.Spec) { s.PersistentHome = true }, cfg: func(c *Config) { c.FileSystemID = "" },
			reason: "no file system for persistent homes"},
		{name: "no memory left", runTask: failures(types.Failure{Reason: aws.String("RESOURCE:MEMORY")}),
			reason: "the session could not be placed: not enough memory is available"},
		{name: "no Fargate capacity", runTask: failures(types.Failure{Reason: aws.String("Capacity is unavailable at this time. Please try again later or in a different availability zone")}),
			reason: "AWS has no capacity for a task of this size right now"},
		{name: "refused parameters", runTask: apiErr("InvalidParameterException", "No Fargate configuration exists for given values."),
			reason: "ECS cannot start the session with these settings; the operators' log has the details"},
		{name: "throttled", runTask: apiErr("ThrottlingException", "Rate exceeded")},
		{name: "server fault", runTask: apiErr("ServerException", "Service Unavailable")},
		{name: "permissions", runTask: apiErr("AccessDeniedException", "not authorized to perform: ecs:RunTask")},
		// The file must exist before the task starts: a start that cannot write it does not run.
		{name: "environment file not written", s3: failingS3{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := w.Cfg
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			spec := firefoxSpec("alice")
			if c.spec != nil {
				c.spec(&spec)
			}
			d := &Driver{Cfg: cfg, ECS: &recordingECS{ECSAPI: w.ECS, runTask: c.runTask}, EFS: w.EFS, S3: w.S3}
			if c.s3 != nil {
				d.S3 = c.s3
			}
			_, err := d.Start(testCtx(t), spec)
			f, isFailure := runtime.AsFailure(err)
			switch {
			case err == nil:
				t.Fatal("started; want an error")
			case c.reason == "" && isFailure:
				t.Errorf("%v is a Failure; want a retryable error", err)
			case c.reason != "" && (!isFailure || !strings.Contains(f.Reason, c.reason)):
				t.Errorf("error %v, want a Failure containing %q", err, c.reason)
			}
			// SEC-20: AWS's own message goes to the log (Detail), never into the user's reason.
			if isFailure && c.runTask != nil && (strings.Contains(f.Reason, "Fargate configuration") || strings.Contains(f.Reason, "Please try again")) {
				t.Errorf("the user's reason quotes AWS: %q", f.Reason)
			}
			// A start that cannot succeed leaves no file with the session's secret behind.
			if _, ok := w.envFileBody(t, spec.SessionID); ok && isFailure {
				t.Errorf("failed start left the environment file of %s", spec.SessionID)
			}
		})
	}
	// A cluster that does not exist (misconfiguration) is retried, not blamed on the session.
	cfg := w.Cfg
	cfg.Cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/no-such-cluster"
	_, err := (&Driver{Cfg: cfg, ECS: w.ECS, EFS: w.EFS, S3: w.S3}).Start(testCtx(t), firefoxSpec("alice"))
	if _, isFailure := runtime.AsFailure(err); err == nil || isFailure {
		t.Errorf("unknown cluster: %v, want a retryable error", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("unknown cluster: %v, want the API error wrapped", err)
	}
}

// failingS3 refuses every write, as S3 does without permission on the bucket or its key.
type failingS3 struct{}

func (failingS3) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
}

func (failingS3) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
}

// The configuration names the environment files' bucket by ARN; anything else is refused
// before a session could start without its secrets.
func TestConfigNeedsTheEnvironmentBucket(t *testing.T) {
	base := Config{Cluster: "c", Subnets: []string{"subnet-1"}, SecurityGroup: "sg-1", ExecutionRoleARN: "x", TaskRoleARN: "t",
		LogGroup: "l", Region: "us-east-1", CPUArchitecture: "X86_64"}
	for arn, ok := range map[string]bool{"": false, "streamspace-env": false, "arn:aws:s3:::bucket/prefix": false,
		"arn:aws:s3:::streamspace-sessionenvbucket-1a2b": true, "arn:aws-cn:s3:::b": true} {
		c := base
		c.EnvBucketARN = arn
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("SESSION_ENV_BUCKET_ARN %q: %v, want valid %v", arn, err, ok)
		}
	}
}

// Package dynamodblocal runs the official DynamoDB Local emulator (a Java program) as a child
// process, for the local stack and the tests.
package dynamodblocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"streamspace/internal/ddb"
)

// Options for one emulator process.
type Options struct {
	Dir    string // folder holding DynamoDBLocal.jar and DynamoDBLocal_lib/
	Port   int    // 0 picks a free port
	DBPath string // persistent data folder; empty = in memory
	Log    *os.File
}

// Process is a running emulator.
type Process struct {
	Endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
}

// DefaultDir is where `make` caches the emulator.
func DefaultDir(repoRoot string) string { return filepath.Join(repoRoot, ".cache", "dynamodb-local") }

// Start launches the emulator and waits until it answers.
func Start(ctx context.Context, o Options) (*Process, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	o.Dir = dir
	jar := filepath.Join(o.Dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("DynamoDB Local not found at %s (run `make dynamodb-local`): %w", jar, err)
	}
	port := o.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	args := []string{"-Xms64m", "-Xmx512m", "-Djava.library.path=" + filepath.Join(o.Dir, "DynamoDBLocal_lib"),
		"-jar", jar, "-port", strconv.Itoa(port), "-disableTelemetry"}
	if o.DBPath == "" {
		args = append(args, "-inMemory")
	} else {
		dbPath, err := filepath.Abs(o.DBPath)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dbPath, 0o700); err != nil {
			return nil, err
		}
		args = append(args, "-dbPath", dbPath)
	}
	cmd := exec.Command("java", args...)
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	// Own process group, so an interrupted parent does not leave the JVM behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	p := &Process{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

func (p *Process) waitReady(ctx context.Context) error {
	client := ddb.NewClient(ddb.LocalConfig(), p.Endpoint)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return errors.New("DynamoDB Local exited during start-up (is Java 17 installed? is the port free?)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := client.ListTables(cctx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
	}
	return errors.New("DynamoDB Local did not become ready within 60 s")
}

// Stop ends the emulator and waits for it (its data folder is then consistent).
func (p *Process) Stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

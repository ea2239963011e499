package images

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ECRRegion is the region of an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com),
// "" for any other registry.
func ECRRegion(registry string) string {
	m := ecrHost.FindStringSubmatch(registry)
	if m == nil {
		return ""
	}
	return m[1]
}

var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)

// ECR is the part of the ECR API a push uses.
type ECR interface {
	GetAuthorizationToken(context.Context, *ecr.GetAuthorizationTokenInput, ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
	CreateRepository(context.Context, *ecr.CreateRepositoryInput, ...func(*ecr.Options)) (*ecr.CreateRepositoryOutput, error)
}

// ECRAuth turns ECR's authorization token (base64 of "AWS:<password>", valid 12 hours) into
// registry credentials.
func ECRAuth(ctx context.Context, api ECR) (authn.Authenticator, error) {
	out, err := api.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return nil, fmt.Errorf("ECR GetAuthorizationToken: %w", err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return nil, errors.New("ECR GetAuthorizationToken returned no token")
	}
	raw, err := base64.StdEncoding.DecodeString(*out.AuthorizationData[0].AuthorizationToken)
	if err != nil {
		return nil, fmt.Errorf("ECR authorization token: %w", err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, errors.New("ECR authorization token is not user:password")
	}
	return &authn.Basic{Username: user, Password: pass}, nil
}

// Pusher pushes built images to a registry as <Registry>/streamspace/<name>:<tag>.
type Pusher struct {
	Registry string
	Tags     []string // default: latest
	// ECR, when set, provides the credentials and creates missing repositories (scan on push,
	// immutable digests are still the way to pin); nil pushes anonymously (a local registry).
	ECR ECR
	Log func(format string, a ...any)
	// Options are added to every registry call (tests: a transport).
	Options []remote.Option
}

// Push pushes one image under each tag and returns its digest.
func (p Pusher) Push(ctx context.Context, imageName string, img v1.Image) (v1.Hash, error) {
	repo := RepositoryPrefix + "/" + imageName
	opts := append([]remote.Option{remote.WithContext(ctx)}, p.Options...)
	if p.ECR != nil {
		auth, err := ECRAuth(ctx, p.ECR)
		if err != nil {
			return v1.Hash{}, err
		}
		opts = append(opts, remote.WithAuth(auth))
		_, err = p.ECR.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo),
			ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true}})
		var exists *ecrtypes.RepositoryAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return v1.Hash{}, fmt.Errorf("ECR repository %s: %w", repo, err)
		}
	}
	tags := p.Tags
	if len(tags) == 0 {
		tags = []string{"latest"}
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, tag := range tags {
		ref, err := name.NewTag(strings.TrimSuffix(p.Registry, "/") + "/" + repo + ":" + tag)
		if err != nil {
			return v1.Hash{}, err
		}
		if err := remote.Write(ref, img, opts...); err != nil {
			return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
		}
		if p.Log != nil {
			p.Log("pushed %s (%s)", ref, digest)
		}
	}
	return digest, nil
}

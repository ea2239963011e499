// Package imageref names the images this repository builds, apart from the heavy image-building
// code, so the ECS runtime can resolve them without linking it.
package imageref

import "strings"

// RepositoryPrefix names our images' repositories: streamspace/terminal, streamspace/gateway, ...
const RepositoryPrefix = "streamspace"

// Resolve turns a template's image into the reference ECS pulls: images we own are named
// "streamspace/<name>[:tag]" in templates and live in the stack's registry (the account's ECR,
// where make push-images puts them); any other reference is used as it is.
func Resolve(image, registry string) string {
	if registry == "" || !strings.HasPrefix(image, RepositoryPrefix+"/") {
		return image
	}
	return strings.TrimSuffix(registry, "/") + "/" + image
}

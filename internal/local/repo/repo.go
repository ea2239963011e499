// Package repo finds the repository a local program or test runs in, for what the Makefile
// fetched or built into its git-ignored .cache.
package repo

import (
	"os"
	"path/filepath"
)

// Root is the module root (the folder holding go.mod) above the working directory, from any
// folder inside it (tests run in their package's folder); "" outside a checkout.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Cache is a path under the repository's .cache, or env's value when it is set; "" outside a
// checkout.
func Cache(env string, elem ...string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	root := Root()
	if root == "" {
		return ""
	}
	return filepath.Join(append([]string{root, ".cache"}, elem...)...)
}

package container

import (
	"fmt"
	"maps"
	"slices"

	"github.com/mrsk-go/mrsk/shellwords"
)

// Build is one image build on this machine.
type Build struct {
	Image      string // the reference to tag (and, with Buildx, push)
	Service    string // labels the image, so prune finds it
	Dockerfile string
	Context    string
	// Buildx builds for several platforms with the buildx plugin, on a
	// builder of its own, pushing as it builds; otherwise plain docker
	// build for this machine's architecture.
	Buildx bool
	Arch   string         // buildx: one architecture instead of amd64 and arm64
	Cache  map[string]any // buildx: builder.cache
	// Repository is the image without tag: the default cache image's base.
	Repository string
	Args       map[string]string
	Secrets    []string // names BuildKit reads from the build's environment
}

// Line is the build command.
func (b Build) Line() string {
	words := []string{"docker", "build"}
	prelude := ""
	if b.Buildx {
		platforms := "linux/amd64,linux/arm64"
		if b.Arch != "" {
			platforms = "linux/" + b.Arch
		}
		builder := "mrsk-" + b.Service
		q := shellwords.Quote
		prelude = fmt.Sprintf("{ docker buildx inspect %s >/dev/null 2>&1 || docker buildx create --name %s --driver docker-container >/dev/null; } && ", q(builder), q(builder))
		words = []string{"docker", "buildx", "build", "--builder", builder, "--push", "--platform", platforms}
	}
	words = append(words, "-t", b.Image, "--label", "service="+b.Service, "-f", b.Dockerfile)
	if b.Buildx {
		words = append(words, CacheArgs(b.Cache, b.Repository)...)
	}
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		words = append(words, "--build-arg", k+"="+b.Args[k])
	}
	for _, name := range b.Secrets {
		// BuildKit reads the value from the build's environment: never argv.
		words = append(words, "--secret", "id="+name+",env="+name)
	}
	words = append(words, b.Context)
	return prelude + shellwords.Join(words...)
}

// CacheArgs are buildx's --cache-from/--cache-to for builder.cache
// ({type: registry|gha, image, options}), as Kamal 1 passes them.
func CacheArgs(cache map[string]any, repo string) []string {
	typ, _ := cache["type"].(string)
	if typ == "" {
		return nil
	}
	opts, _ := cache["options"].(string)
	from, to := "type="+typ, "type="+typ
	if typ == "registry" {
		image, _ := cache["image"].(string)
		if image == "" {
			image = repo + "-build-cache"
		}
		from += ",ref=" + image
		to += ",ref=" + image
	}
	if opts != "" {
		to += "," + opts
	}
	return []string{"--cache-from", from, "--cache-to", to}
}

package container

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mrsk-go/mrsk/shellwords"
)

// Build is one image build on this machine.
type Build struct {
	Runtime    Runtime // this machine's: docker, or podman (no Buildx)
	Image      string  // the reference to tag (and, with Buildx, push)
	Service    string  // labels the image, so prune finds it
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
	Target     string   // --target: the Dockerfile stage
	SSH        string   // --ssh: what the build may use of the SSH agent or keys
	// Nodes, with Buildx, build on those engines (builder.local and
	// builder.remote), each its own arch, on one builder: Kamal 1's
	// multiarch remote builder.
	Nodes []BuildNode
}

// BuildNode is one engine of a multi-engine buildx builder.
type BuildNode struct {
	Arch string
	Host string // Docker host URL; "" is this machine's engine
}

// Line is the build command.
func (b Build) Line() string {
	words := []string{b.Runtime.Bin(), "build"}
	prelude := ""
	if b.Buildx {
		platforms := "linux/amd64,linux/arm64"
		if b.Arch != "" {
			platforms = "linux/" + b.Arch
		}
		builder := "mrsk-" + b.Service
		q := shellwords.Quote
		prelude = fmt.Sprintf("{ docker buildx inspect %s >/dev/null 2>&1 || docker buildx create --name %s --driver docker-container >/dev/null; } && ", q(builder), q(builder))
		if len(b.Nodes) > 0 {
			builder += "-remote"
			var create, plats []string
			for i, n := range b.Nodes {
				ctxName := builder + "-" + n.Arch
				node := "default"
				if n.Host != "" {
					node = ctxName
					create = append(create, shellwords.Join("docker", "context", "create", ctxName, "--description", builder+" "+n.Arch+" native host", "--docker", "host="+n.Host))
				}
				words := []string{"docker", "buildx", "create"}
				if i > 0 {
					words = append(words, "--append")
				}
				create = append(create, shellwords.Join(append(words, "--name", builder, node, "--platform", "linux/"+n.Arch)...))
				plats = append(plats, "linux/"+n.Arch)
			}
			platforms = strings.Join(plats, ",")
			prelude = fmt.Sprintf("{ docker buildx inspect %s >/dev/null 2>&1 || { %s; } >/dev/null; } && ", q(builder), strings.Join(create, " && "))
		}
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
	if b.Target != "" {
		words = append(words, "--target", b.Target)
	}
	if b.SSH != "" {
		words = append(words, "--ssh", b.SSH)
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

package builtins

// Asset bridging (asset_path, top-level or per role), as Kamal 1 does it:
// the new container starts with a host directory mounted on asset_path
// that holds its own assets and the assets of the version serving now,
// and the serving container's directory gets the new version's assets
// too. So during and after the switch, a page of either version finds
// every fingerprinted asset it names, whichever container answers.
//
// On the host, under the SSH user's home:
//   .mrsk/assets/extracted/<container>  the image's own assets
//   .mrsk/assets/volumes/<container>    what the container mounts
// Prune removes the directories of containers that no longer exist.
//
// Unlike Kamal, the assets are copied out of a created (never started)
// container, so an image without a shell or sleep (FROM scratch) works;
// and when the serving container has no asset directory yet (the first
// deploy with asset_path), its assets are copied out of it.

import (
	"fmt"
	"path"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/config"
	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
	"github.com/mrsk-go/mrsk/shellwords"
)

const (
	assetsExtracted = stateDir + "/assets/extracted"
	assetsVolumes   = stateDir + "/assets/volumes"
)

// prepareAssets fills the asset directory of container name (role's new
// version) on host and returns the --volume value that mounts it. One
// round trip; it prints the home directory the paths are under.
func (rt *Runtime) prepareAssets(t *starlark.Thread, host string, role *config.Role, name, assetPath string) (string, error) {
	q := shellwords.Quote
	ex, vol := path.Join(assetsExtracted, name), path.Join(assetsVolumes, name)
	tmp := rt.roleKey(role.Name) + "-assets"
	e := rt.engine(host)
	b := e.Bin()
	image := e.Qualify(rt.ImageRef(rt.Opts.Version))
	f := rt.filter(role.Name, "")
	running := e.Words(append(append([]string{"ps", "--quiet"}, f.Args()...), "--filter", "status=running")...)
	// docker cp -L follows a symlink at asset_path; podman cp has no -L
	// (it resolves the source path itself).
	cp := []string{"cp", "-L"}
	if e == container.Podman {
		cp = []string{"cp"}
	}
	mountOf := q(`{{range .Mounts}}{{if eq .Destination "` + assetPath + `"}}{{.Source}}{{end}}{{end}}`)
	script := []string{
		"set -e",
		shellwords.Join("mkdir", "-p", assetsExtracted, vol),
		e.Words("rm", "-f", tmp) + " >/dev/null 2>&1 || true",
		shellwords.Join("rm", "-rf", ex+".tmp"),
		shellwords.Join("mkdir", "-p", ex+".tmp"),
		e.Words("create", "--name", tmp, image) + " >/dev/null",
		e.Words(append(cp, tmp+":"+assetPath+"/.", ex+".tmp")...) + " || { " + e.Words("rm", "-f", tmp) + " >/dev/null; exit 1; }",
		e.Words("rm", "-f", tmp) + " >/dev/null",
		shellwords.Join("rm", "-rf", ex),
		shellwords.Join("mv", ex+".tmp", ex),
		shellwords.Join("cp", "-rnT", ex, vol),
		// The serving container(s): its directory gets the new assets, the
		// new one gets its (extracted) assets, or, before it had a
		// directory, what it holds at asset_path.
		fmt.Sprintf(`for c in $(%s); do src=$(%s inspect -f %s "$c" || true); `+
			`if [ -z "$src" ]; then rm -rf %s; mkdir -p %s; %s "$c":%s %s && cp -rnT %s %s || true; rm -rf %s; `+
			`elif [ "$src" != "$PWD/"%s ]; then cp -rnT %s "$src" || true; old=%s/$(basename "$src"); [ ! -d "$old" ] || cp -rnT "$old" %s || true; fi; done`,
			running, b, mountOf,
			q(ex+".old"), q(ex+".old"), e.Words(cp...), q(assetPath+"/."), q(ex+".old"), q(ex+".old"), q(vol), q(ex+".old"),
			q(vol), q(ex), q(assetsExtracted), q(vol)),
		"pwd",
	}
	res, err := rt.run(t, executor.Command{Host: host, Line: strings.Join(script, "\n")})
	if err != nil {
		return "", fmt.Errorf("copy the assets of %s out of %s: %w", assetPath, image, err)
	}
	home := "$HOME"
	if lines := strings.Fields(res.Stdout); !res.Planned && len(lines) > 0 {
		home = lines[len(lines)-1]
	}
	return path.Join(home, vol) + ":" + assetPath, nil
}

// withVolume adds --volume v to docker run flags that end with the image.
func withVolume(args []string, v string) []string {
	n := len(args)
	out := append([]string{}, args[:n-1]...)
	return append(out, "--volume", v, args[n-1])
}

// assetsCleanup removes the asset directories of this service's
// containers that no longer exist (any destination's containers count,
// since their names share the prefix).
func (rt *Runtime) assetsCleanup(e container.Runtime) string {
	var globs []string
	for _, r := range rt.Config.Roles {
		if rt.Config.RoleAssetPath(r) == "" {
			continue
		}
		p := shellwords.Quote(rt.roleKey(r.Name)+"-") + "*" // the * unquoted: a glob
		globs = append(globs, shellwords.Quote(assetsVolumes)+"/"+p, shellwords.Quote(assetsExtracted)+"/"+p)
	}
	if len(globs) == 0 {
		return ""
	}
	all := e.Words("ps", "--all", "--quiet", "--filter", "label=service="+rt.Config.Service)
	return fmt.Sprintf(`keep=$(ids=$(%s); [ -z "$ids" ] || `+e.Bin()+` inspect -f %s $ids); `+
		`for d in %s; do [ -e "$d" ] || continue; case " $keep " in *"/$(basename "$d") "*) ;; *) rm -rf "$d" ;; esac; done`,
		all, shellwords.Quote(`{{range .Mounts}}{{.Source}} {{end}}`), strings.Join(globs, " "))
}

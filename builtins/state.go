package builtins

import (
	"fmt"
	"path"
	"strings"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/container"
	"github.com/mrsk-go/mrsk/executor"
)

// stateFiles are the files mrsk keeps on a host for this service (and
// destination): per role its route, route backups and env file, and the
// audit log. With traefik, Traefik's own files too (its secret env file,
// API route and TLS files), which only make sense while it runs.
func (rt *Runtime) stateFiles(traefik bool) []string {
	var files []string
	for _, r := range rt.Config.Roles {
		key := rt.roleKey(r.Name)
		p := rt.routePaths(key)
		files = append(files, quote(p.route), quote(p.mark), p.all, quote(p.lock), quote(rt.envFile(r.Name)), quote(path.Join(runDir, key))+"-*")
	}
	files = append(files, quote(rt.auditFile()))
	if traefik {
		// The TLS store, the challenge forward and acme.json go too: a
		// removal leaves nothing (traefik reboot and remove keep them).
		files = append(files, quote(path.Dir(traefikEnvFile)), quote(apiRouteFile), quote(tlsFile), quote(acmeRouteFile), quote(acmeStateDir), quote(stageDir))
	}
	return files
}

// remove_state(host, traefik=False) deletes what mrsk keeps on host for
// this service (see stateFiles), then the directories under .mrsk left
// empty: after `mrsk remove` no file of the service stays behind. The
// deploy lock is not touched; its release removes it.
func bRemoveState(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var host string
	traefik := false
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "host", &host, "traefik?", &traefik); err != nil {
		return nil, err
	}
	line := "rm -rf " + strings.Join(rt.stateFiles(traefik), " ")
	// mrsk's unit goes with the last container it would start (Podman,
	// where Traefik goes last) or the last route it would mend (Docker,
	// where preflight installs it on every host).
	if e := rt.engine(host); traefik || e != container.Podman {
		line += "; " + e.BootCleanup()
	}
	line += "; find " + stateDir + " -mindepth 1 -depth -type d -empty -delete 2>/dev/null; true"
	if _, err := rt.run(t, executor.Command{Host: host, Line: line}); err != nil {
		return nil, fmt.Errorf("remove mrsk's files on %s: %w", host, err)
	}
	return starlark.None, nil
}

package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/mrsk-go/mrsk/engine"
)

// builtinFunc is a builtin with its Runtime already found: the lookup on
// the thread happens once, in bind, not at the top of every builtin.
type builtinFunc func(rt *Runtime, t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error)

type entry struct {
	engine.Doc
	fn builtinFunc
}

// entries is the builtin surface, in the order of the reference. A function
// rather than a package variable: nothing here is mutable state.
func entries() []entry {
	return []entry{
		// output and control
		{doc("log", `log(*msgs, host="")`, "Prints a line, prefixed by host when given.", "output and control"), bLog},
		{doc("step", `step(title)`, "Announces the next step of a flow (`== title`).", "output and control"), bStep},
		{doc("status", `status(text, host="")`, "On a terminal, shows text as the live status of the step (or of host) until the next line for it; prints nothing elsewhere.", "output and control"), bStatus},
		{doc("sleep", `sleep(seconds)`, "Waits (a number of seconds or a duration such as \"2s\"); wakes early when the flow is cancelled.", "output and control"), bSleep},
		{doc("hook", `hook(name, *args)`, "Calls the project's hook function `name` if deploy.star defines it, then the executable .mrsk/hooks/<name> if present.", "output and control"), bHook},
		{doc("split_words", `split_words(s)`, "Splits a command line into words as a POSIX shell does (quotes, escapes).", "output and control"), bSplitWords},
		// commands and files
		{doc("connect", `connect(hosts, runtime=True)`, "Opens the SSH connection of every host at once, then checks each host's container runtime (docker or podman) answers; fails naming every host it cannot reach or use, before any change.", "hosts"), bConnect},
		{doc("ssh_run", `ssh_run(host, cmd, stdin=None, stream=True, check=True)`, "Runs a command on host: a list of words (each quoted) or a string of shell syntax; returns struct(stdout, stderr, code).", "hosts"), bSSHRun},
		{doc("local_run", `local_run(cmd, stdin=None, stream=True, check=True, env={})`, "Runs a command on this machine, in the project directory.", "hosts"), bLocalRun},
		{doc("upload", `upload(host, path, content, mode="0644")`, "Writes a file on host atomically; the content travels on stdin.", "hosts"), bUpload},
		{doc("ssh_interactive", `ssh_interactive(host, cmd)`, "Runs cmd (shell syntax) on host with this machine's terminal, through the system's ssh client; returns its exit code.", "hosts"), bSSHInteractive},
		{doc("runtime_install", `runtime_install(host)`, "Installs host's runtime from its package manager unless it is there: Docker (apt: docker.io, dnf on Fedora: moby-engine; as root or through sudo), or Podman with runtime: podman (apt or dnf: podman; as root); returns \"present\" or \"installed\". Refuses, naming the OS, where it cannot.", "hosts"), bRuntimeInstall},
		// registry and images
		{doc("docker_login", `docker_login(host="")`, "Logs in to the registry on host, or on this machine; the password goes on stdin.", "registry and images"), bDockerLogin},
		{doc("docker_logout", `docker_logout(host="")`, "Logs out of the registry on host, or on this machine.", "registry and images"), bDockerLogout},
		{doc("build_check", `build_check()`, "Fails when the build could not start (no Dockerfile, a build secret not set), before any host is touched.", "registry and images"), bBuildCheck},
		{doc("docker_build", `docker_build()`, "Builds the image of ctx.version (buildx and multi-arch where it exists); returns whether it was pushed too.", "registry and images"), bDockerBuild},
		{doc("docker_push", `docker_push()`, "Pushes the image of ctx.version from this machine.", "registry and images"), bDockerPush},
		{doc("docker_pull", `docker_pull(host, image="", if_absent=False)`, "Logs in and pulls the deployed image (or image) on host, in one round trip; with if_absent, not where the host has it (no command when the lock's reads found it).", "registry and images"), bDockerPull},
		// containers
		{doc("docker_run", `docker_run(host, role)`, "Starts role's container of ctx.version on host; `.previous` lists the service's containers that ran before. Until the switch puts it in service, a failed flow takes it out again.", "containers"), bDockerRun},
		{doc("docker_start", `docker_start(host, container)`, "Starts a stopped container (the target of a rollback) and returns it with its address.", "containers"), bDockerStart},
		{doc("docker_stop", `docker_stop(host, containers, timeout=stop_wait_time, wait=True)`, "SIGTERM, then SIGKILL after timeout; the containers stay for rollback. wait=False stops in the background: the lock's release, audit(unlock=True) and the flow's end wait for it and fail if it failed.", "containers"), bDockerStop},
		{doc("docker_rm", `docker_rm(host, containers)`, "Removes containers, running or not.", "containers"), bDockerRm},
		{doc("docker_ps", `docker_ps(host, role="", all=False, version="")`, "The service's containers on host, newest first: struct(id, name, role, version, running, ip, ...); no command when the lock read them and nothing ran there since.", "containers"), bDockerPs},
		{doc("docker_run_once", `docker_run_once(host, role, cmd)`, "Runs cmd (a list of words) in a new, removed-after container of role's image, env and volumes (migrations).", "containers"), bDockerRunOnce},
		{doc("docker_prune", `docker_prune(host, containers=True, images=True, retain=retain_containers, older_than=0)`, "Removes the service's stopped containers beyond the newest `retain` (stopped over older_than ago), and images no container uses.", "containers"), bDockerPrune},
		{doc("docker", `docker(host, *args, stream=True, check=True)`, "Runs `docker args...` on host, `podman args...` on a Podman host (ps templates translated), for info, logs, images, exec; returns struct(stdout, stderr, code).", "containers"), bDocker},
		{doc("abandon_new", `abandon_new()`, "Takes every container this run started and did not put in service back out now (routes restored first).", "containers"), bAbandonNew},
		// the switch
		{doc("wait_healthy", `wait_healthy(host, container, http=True)`, "Waits until container answers its health check, probed through the SSH connection; on failure prints its last logs and removes it.", "the switch"), bWaitHealthy},
		{doc("traefik_ensure", `traefik_ensure(host, reboot=False)`, "Makes sure Traefik runs on host with this configuration; returns started, running, changed or rebooted.", "the switch"), bTraefikEnsure},
		{doc("traefik_route", `traefik_route(host, role, container, old=None, weight=0)`, "Points role's route at container and waits until Traefik's API confirms it routes there only; a failed flow puts the previous route back. With old and weight (1-99), a canary: container gets weight percent, old the rest, each its own service; a failed flow routes to old alone again.", "the switch"), bTraefikRoute},
		{doc("tls_sync", `tls_sync(hosts, wait=0, required=False)`, "Installs traefik.tls's certificate on hosts: the project's own, or with ACME the one the TLS primary's Traefik obtained (waiting up to wait for it; a warning without it, an error when required). Returns the hosts it changed.", "the switch"), bTLSSync},
		{doc("traefik_unroute", `traefik_unroute(host, role)`, "Removes role's route on host.", "the switch"), bTraefikUnroute},
		// canary
		{doc("traefik_metrics", `traefik_metrics(host, label="")`, "Reads Traefik's Prometheus metrics on host: per service (e.g. \"hey-web--v2\"), {\"requests\": N, \"errors\": N (5xx), \"duration_sum\": seconds, \"duration_count\": N} since Traefik counts them. In a plan the reading is the command `(read Traefik's metrics LABEL)`.", "canary"), bTraefikMetrics},
		{doc("canary_state", `canary_state(host, role)`, "The canary running on host for role, read from the host (route file, containers): None, or struct(weight, old, new, old_service, new_service).", "canary"), bCanaryState},
		{doc("canary_remove", `canary_remove(host, role, container)`, "Prints the last log lines of an aborted canary, stops and removes it; refuses while role's route names it.", "canary"), bCanaryRemove},
		{doc("canary_aborted", `canary_aborted(reason)`, "Fails the flow as an aborted canary (its own exit code, 7).", "canary"), bCanaryAborted},
		{doc("canary_keep", `canary_keep(note, containers)`, "Leaves a canary running after the flow: the containers are not undone, and the deploy lock stays held with note in its details.", "canary"), bCanaryKeep},
		// accessories
		{doc("accessory_run", `accessory_run(name, host)`, "Starts accessory name on host (its files, directories and secret env first); a running one is left alone.", "accessories"), bAccessoryBoot},
		{doc("accessory_rm", `accessory_rm(name, host, data=True)`, "Removes the accessory's container on host and, with data=True, its image, files and directories.", "accessories"), bAccessoryRemove},
		// lock, audit, state
		{doc("locked", `locked(message, fn, reads=[])`, "Runs fn() holding the deploy lock; released when fn returns, or at the flow's end after unfinished switches are undone. reads as lock's.", "lock, audit and state"), bLocked},
		{doc("lock", `lock(action, message="", hold=False, reads=[])`, "The deploy lock on the primary host: acquire (held until the flow ends unless hold=True), release, or status. reads (\"image\", \"containers\", \"traefik\") are read there in acquire's round trip, for docker_pull(if_absent=True), docker_ps and the route's confirmation.", "lock, audit and state"), bLock},
		{doc("audit", `audit(message, hosts=ctx.hosts, unlock=False)`, "Appends `time [performer] message` to the audit log of each host; unlock=True also releases the deploy lock in the primary host's same command (after background stops; even when the append fails).", "lock, audit and state"), bAudit},
		{doc("audit_show", `audit_show(host, lines=50)`, "Returns the last lines of host's audit log.", "lock, audit and state"), bAuditShow},
		{doc("host_runtime", `host_runtime(host)`, "The container runtime of host, \"docker\" or \"podman\" (config runtime keys): the docker_* builtins already run it; for a project's own steps.", "hosts"), bHostRuntime},
		{doc("remove_state", `remove_state(host, traefik=False)`, "Deletes every file mrsk keeps on host for this service (and Traefik's, with traefik=True).", "lock, audit and state"), bRemoveState},
	}
}

// doc is an engine.Doc: a function keeps the table's lines short and keyed.
func doc(name, call, summary, group string) engine.Doc {
	return engine.Doc{Name: name, Call: call, Summary: summary, Group: group}
}

// Module returns every builtin, to be predeclared in Starlark modules.
func Module() starlark.StringDict {
	d := starlark.StringDict{}
	for _, e := range entries() {
		d[e.Name] = starlark.NewBuiltin(e.Name, bind(e.fn))
	}
	return d
}

// Reference documents Module's builtins, in order.
func Reference() []engine.Doc {
	var docs []engine.Doc
	for _, e := range entries() {
		docs = append(docs, e.Doc)
	}
	return docs
}

// bind finds the thread's Runtime for fn.
func bind(fn builtinFunc) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(t *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		rt, ok := t.Local(LocalRuntime).(*Runtime)
		if !ok {
			return nil, fmt.Errorf("%s: mrsk builtins need a runtime on the thread", b.Name())
		}
		if phase, hosts := rt.phaseOf(b.Name(), args, kwargs); phase != "" {
			defer rt.span(phase, hosts)()
		}
		return fn(rt, t, b, args, kwargs)
	}
}

package builtins

import (
	"fmt"
	"strconv"
	"strings"
)

// buildSecretEnv returns NAME=VALUE for each builder secret, to add to the
// environment of the local build process only: docker reads each one
// through --secret id=NAME,env=NAME, so a value is never in argv, in a plan
// or in output. The values are the ones config resolved (the environment,
// then .env.DESTINATION, then .env): passing them explicitly is what makes
// a secret defined only in .env reach the build, since mrsk's own
// environment does not hold it. An unset secret is an error here, which
// build_check reports before the deploy connects anywhere.
func (rt *Runtime) buildSecretEnv() ([]string, error) {
	bc := rt.Config.Builder
	var env, missing []string
	for _, name := range bc.Secrets {
		v, ok := bc.SecretValues[name]
		if !ok {
			missing = append(missing, strconv.Quote(name))
			continue
		}
		env = append(env, name+"="+v.Reveal())
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("build: builder.secrets in %s: %s not set (in the environment or .env)",
			rt.Config.File, strings.Join(missing, ", "))
	}
	if len(env) > 0 {
		// --secret needs BuildKit.
		env = append(env, "DOCKER_BUILDKIT=1")
	}
	return env, nil
}

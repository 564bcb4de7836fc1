package config

import (
	"reflect"
	"testing"
)

// TestEnvForTags: env.tags go on the tagged hosts only, over the role's
// env, in the order the host lists its tags; clear and secret names move
// between the two as in a role's env.
func TestEnvForTags(t *testing.T) {
	c, err := loadKamalFragment(t, `
servers:
  web:
    - 10.0.0.1
    - 10.0.0.2: replica
  workers:
    hosts:
      - 10.0.0.3: [monitoring, replica]
env:
  clear: {MYSQL_USER: app, PLAIN: x}
  tags:
    monitoring:
      MYSQL_USER: monitoring
    replica:
      clear: {MYSQL_USER: readonly}
      secret: [PLAIN]
`)
	if err != nil {
		t.Fatal(err)
	}
	web, workers := c.Role("web"), c.Role("workers")
	for _, tc := range []struct {
		role   *Role
		host   string
		clear  map[string]string
		secret map[string]Secret
	}{
		{web, "10.0.0.1", map[string]string{"MYSQL_USER": "app", "PLAIN": "x"}, nil},
		{web, "10.0.0.2", map[string]string{"MYSQL_USER": "readonly"}, map[string]Secret{"PLAIN": NewSecret("secret-value-of-PLAIN")}},
		{workers, "10.0.0.3", map[string]string{"MYSQL_USER": "readonly"}, map[string]Secret{"PLAIN": NewSecret("secret-value-of-PLAIN")}},
	} {
		e := c.EnvFor(tc.role, tc.host)
		if !reflect.DeepEqual(e.Clear, tc.clear) || !reflect.DeepEqual(e.Secret, tc.secret) {
			t.Errorf("%s on %s: got %v %v, want %v %v", tc.role.Name, tc.host, e.Clear, e.Secret, tc.clear, tc.secret)
		}
	}
	if got := web.Tags; !reflect.DeepEqual(got, map[string][]string{"10.0.0.2": {"replica"}}) {
		t.Errorf("web tags %v", got)
	}
	// The role's own env is untouched.
	if web.Env.Secret != nil {
		t.Errorf("web env changed: %v", web.Env)
	}
}

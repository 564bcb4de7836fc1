package builtins

import (
	"errors"
	"testing"
)

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
		errs  []error
		total int
		want  string
	}{
		{"all answered", []string{"h1", "h2"}, []error{nil, nil}, 2, ""},
		{"every failure named, in order", []string{"h1", "h2", "h3"},
			[]error{errors.New(`on h1: "true": ssh root@h1:22: dial: connection refused`), nil, errors.New("ssh h3: handshake:\n  timed out")}, 4,
			"cannot reach 2 of 4 hosts, so nothing was changed:\n  h1: ssh root@h1:22: dial: connection refused\n  h3: ssh h3: handshake: timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unreachable(tc.hosts, tc.errs, tc.total); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUniqueHosts(t *testing.T) {
	got := uniqueHosts([]string{"a", "b", "a", "", "c", "b"})
	if want := []string{"a", "b", "c"}; len(got) != len(want) || got[0] != "a" || got[1] != "b" || got[2] != "c" {
		t.Errorf("got %v, want %v", got, want)
	}
}

package container

import (
	"os/exec"
	"reflect"
	"testing"
)

func TestParseReads(t *testing.T) {
	tests := []struct {
		name, out string
		want      map[string]string
	}{
		{"none", "", map[string]string{}},
		{"ok and failed", "sha256:abc\n--mrsk-read-- image 0\nerr line\n--mrsk-read-- ps 1\n",
			map[string]string{"image": "sha256:abc\n"}},
		{"empty answer", "--mrsk-read-- ps 0\n", map[string]string{"ps": ""}},
		{"garbled marker", "x\n--mrsk-read-- ps\n--mrsk-read-- traefik 0\n", map[string]string{"traefik": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseReads(tt.out); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReads = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReadShell runs Read in sh: the status is the command's own.
func TestReadShell(t *testing.T) {
	out, err := exec.Command("/bin/sh", "-c", Read("a", "echo yes")+"; "+Read("b", "echo no; false")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := ParseReads(string(out)); !reflect.DeepEqual(got, map[string]string{"a": "yes\n"}) {
		t.Errorf("got %q from %q", got, out)
	}
}

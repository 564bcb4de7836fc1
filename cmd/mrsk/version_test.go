package main

import "testing"

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.2.10", "1.2.9", 1},
		{"0.1.0-dev", "0.1.0", 0},
		{"0.1.0", "0.2", -1},
		{"v1.0", "1", 0},
		{"2", "10", -1},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

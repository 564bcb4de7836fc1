package main

import (
	"testing"
	"time"

	"github.com/mrsk-go/mrsk/executor"
)

func TestCommandTimeoutPrecedence(t *testing.T) {
	d := func(v time.Duration) *time.Duration { return &v }
	for _, tt := range []struct {
		flag, key *time.Duration
		want      time.Duration
		err       bool
	}{
		{nil, nil, 0, false}, // the executor's default
		{nil, d(5 * time.Minute), 5 * time.Minute, false},
		{d(time.Hour), d(5 * time.Minute), time.Hour, false},
		{d(0), d(5 * time.Minute), executor.NoTimeout, false},
		{nil, d(0), executor.NoTimeout, false},
		{d(3 * time.Second), nil, 3 * time.Second, false},
		{d(-time.Second), nil, 0, true},
	} {
		got, err := commandTimeout(tt.flag, tt.key)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("commandTimeout(%v, %v) = %v, %v; want %v, err=%v", tt.flag, tt.key, got, err, tt.want, tt.err)
		}
	}
}

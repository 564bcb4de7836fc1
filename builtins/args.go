package builtins

import (
	"fmt"
	"time"

	"go.starlark.net/starlark"
)

// Argument types with their own unpackers: a builtin names the type in
// starlark.UnpackArgs and gets checked Go values, with one error wording.

// duration is a number of seconds (int or float) or a duration string
// ("1m30s"); never negative.
type duration time.Duration

func (d *duration) Unpack(v starlark.Value) error {
	var x time.Duration
	switch v := v.(type) {
	case starlark.NoneType:
		return nil // keep the default
	case starlark.String:
		p, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("want seconds or a duration such as \"2s\", got %q", string(v))
		}
		x = p
	default:
		f, ok := starlark.AsFloat(v)
		if !ok {
			return fmt.Errorf("want seconds or a duration such as \"2s\", got %s", v.Type())
		}
		x = time.Duration(f * float64(time.Second))
	}
	if x < 0 {
		return fmt.Errorf("want a duration >= 0, got %s", x)
	}
	*d = duration(x)
	return nil
}

// containerList is one container or several: values from docker_run,
// docker_ps or docker_start (by id), or names and ids as strings.
type containerList struct {
	refs  []string // what docker commands take: ids, else names
	names []string // for messages: names where known
}

func (c *containerList) Unpack(v starlark.Value) error {
	refs, err := containerRefs(v)
	if err != nil {
		return err
	}
	c.refs, c.names = refs, names(v, refs)
	return nil
}

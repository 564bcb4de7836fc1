package config

import (
	"strconv"
	"strings"
	"time"
)

// Canary is the canary: section: every `mrsk deploy` first sends Weight
// percent of each web host's traffic to the new version, judges it for
// Duration from Traefik's metrics, and promotes it through Steps to 100%
// or aborts. `deploy --canary`, `--canary-for` and `--canary-hosts` win
// over it; `--canary 0` deploys without one.
type Canary struct {
	Weight       int           `yaml:"weight"`         // percent of requests, 1..99
	Duration     time.Duration `yaml:"duration"`       // the window of each step; 0: left running for `mrsk canary`
	MaxErrorRate float64       `yaml:"max_error_rate"` // the new version's 5xx share that aborts, a fraction
	MinRequests  int           `yaml:"min_requests"`   // fewer in the window: extended once, then aborted
	Steps        []int         `yaml:"steps,omitempty"`
	Hosts        int           `yaml:"hosts,omitempty"` // only the first N web hosts run it; 0: all
}

// DefaultCanary is what a canary: section (or --canary alone) starts from.
func DefaultCanary() Canary {
	return Canary{Weight: 10, Duration: 60 * time.Second, MaxErrorRate: 0.01, MinRequests: 100}
}

func (l *loader) canary(v *node, p string, dst **Canary) {
	c := DefaultCanary()
	if !l.object(v, p, "a map with weight, duration, max_error_rate, min_requests, steps and hosts", handlers{
		"weight": func(v *node, p string) {
			if w, ok := l.integer(v, p); ok {
				if w < 1 || w > 99 {
					l.failf(v, p, "must be a percentage of requests between 1 and 99")
					return
				}
				c.Weight = w
			}
		},
		"duration":     func(v *node, p string) { l.duration(v, p, &c.Duration) },
		"min_requests": func(v *node, p string) { l.atLeastOne(v, p, &c.MinRequests) },
		"max_error_rate": func(v *node, p string) {
			s, ok := l.scalar(v, p, "a rate")
			if !ok {
				return
			}
			r, err := ParseRate(s)
			if err != nil {
				l.failf(v, p, "%s", err.Error())
				return
			}
			c.MaxErrorRate = r
		},
		"steps": func(v *node, p string) {
			if v.kind != seqKind {
				l.failf(v, p, "must be a list of percentages, like [10, 50]")
				return
			}
			c.Steps = nil
			prev := 0
			for i, it := range v.items {
				ip := indexPath(p, i)
				w, ok := l.integer(it, ip)
				if !ok {
					return
				}
				if w < 1 || w > 99 || w <= prev {
					l.failf(it, ip, "must be rising percentages between 1 and 99 (100 is the promotion)")
					return
				}
				prev = w
				c.Steps = append(c.Steps, w)
			}
		},
		"hosts": func(v *node, p string) { l.atLeastOne(v, p, &c.Hosts) },
	}) {
		return
	}
	*dst = &c
}

// ParseRate reads a rate: a percentage ("1%", "0.5%") or a fraction
// between 0 and 1 (0.01).
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || f != f {
		return 0, errRate
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 {
		return 0, errRate
	}
	return f, nil
}

type rateError struct{}

func (rateError) Error() string {
	return `must be a rate: a percentage like "1%" or a fraction between 0 and 1 like 0.01`
}

var errRate = rateError{}

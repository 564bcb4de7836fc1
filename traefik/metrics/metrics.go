// Package metrics reads Traefik's Prometheus metrics (the text exposition
// format, version 0.0.4) as far as a canary's judgement needs them: the
// requests each service answered, by status code. It parses the format
// itself: the few lines of it that matter do not justify a dependency.
package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sample is one line of the exposition: a metric, its labels, its value.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Parse reads the text exposition format. Comments (# HELP, # TYPE) and
// blank lines are skipped; a line that is not a sample is an error naming
// its line number.
func Parse(text []byte) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return out, nil
}

func parseLine(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return s, fmt.Errorf("no value in %q", line)
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return s, err
		}
		line = rest
	}
	fields := strings.Fields(line) // the value, then maybe a timestamp
	if len(fields) == 0 || len(fields) > 2 {
		return s, fmt.Errorf("want a value (and a timestamp) after %s, got %q", s.Name, line)
	}
	v, err := parseValue(fields[0])
	if err != nil {
		return s, fmt.Errorf("value of %s: %w", s.Name, err)
	}
	s.Value = v
	return s, nil
}

// parseLabels reads name="value",... up to the closing brace into into,
// and returns what follows it. Values may hold \\, \" and \n escapes.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return "", fmt.Errorf("unclosed labels")
		}
		if s[0] == '}' {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return "", fmt.Errorf("bad label at %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		var val strings.Builder
		j := eq + 2
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
				switch s[j] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[j])
				}
				continue
			}
			val.WriteByte(s[j])
		}
		if j >= len(s) {
			return "", fmt.Errorf("unterminated value of label %s", name)
		}
		into[name] = val.String()
		s = s[j+1:]
	}
}

func parseValue(s string) (float64, error) {
	switch s {
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// Counts are what a service answered: every request, and those with a
// 5xx status (the server's fault; a 4xx is the client's).
type Counts struct {
	Requests float64
	Errors   float64
	// The request duration histogram's sum (seconds) and count: their
	// changes give the mean latency over a window.
	DurationSum, DurationCount float64
}

// Sub is c minus an earlier reading of the same counters. A counter that
// went down was reset (Traefik restarted, or dropped the service's
// metrics when the service left its configuration and came back): then
// c counted from zero, and c itself is the change.
func (c Counts) Sub(before Counts) Counts {
	if c.Requests < before.Requests || c.Errors < before.Errors || c.DurationCount < before.DurationCount {
		return c
	}
	return Counts{Requests: c.Requests - before.Requests, Errors: c.Errors - before.Errors,
		DurationSum: c.DurationSum - before.DurationSum, DurationCount: c.DurationCount - before.DurationCount}
}

// Add sums two readings (of two hosts).
func (c Counts) Add(o Counts) Counts {
	return Counts{Requests: c.Requests + o.Requests, Errors: c.Errors + o.Errors,
		DurationSum: c.DurationSum + o.DurationSum, DurationCount: c.DurationCount + o.DurationCount}
}

// MeanLatency is DurationSum / DurationCount in seconds, 0 with none.
func (c Counts) MeanLatency() float64 {
	if c.DurationCount == 0 {
		return 0
	}
	return c.DurationSum / c.DurationCount
}

// ErrorRate is Errors / Requests, 0 with no request.
func (c Counts) ErrorRate() float64 {
	if c.Requests == 0 {
		return 0
	}
	return c.Errors / c.Requests
}

// Traefik's per-service request counter and duration histogram.
const (
	RequestsMetric = "traefik_service_requests_total"
	DurationMetric = "traefik_service_request_duration_seconds"
)

// Services sums traefik_service_requests_total per service (method,
// protocol and code summed; codes 500-599 also counted as errors), and
// the duration histogram's _sum and _count. The service names are
// Traefik's, with the provider: "hey-web--v2@file".
func Services(samples []Sample) map[string]Counts {
	out := map[string]Counts{}
	for _, s := range samples {
		svc := s.Labels["service"]
		if svc == "" {
			continue
		}
		c := out[svc]
		switch s.Name {
		case RequestsMetric:
			c.Requests += s.Value
			if code, err := strconv.Atoi(s.Labels["code"]); err == nil && code >= 500 && code <= 599 {
				c.Errors += s.Value
			}
		case DurationMetric + "_sum":
			c.DurationSum += s.Value
		case DurationMetric + "_count":
			c.DurationCount += s.Value
		default:
			continue
		}
		out[svc] = c
	}
	return out
}

// Command robfig-conformance prints the next occurrences that robfig/cron v3
// computes for schedule cases read from standard input, one JSON object a line.
//
// An input line and its output line:
//
//	{"expression": "0 9 * * 1-5", "time_zone": "Europe/Berlin", "start": "2026-03-29T00:30:00Z", "count": 2}
//	{"times": ["2026-03-30T07:00:00Z", "2026-03-31T07:00:00Z"]}
//
// A parse error gives {"error": "..."}. Each expression is parsed the way
// Kubernetes CronJob does with spec.timeZone set: "TZ=<zone> <expression>" through
// the standard parser (five fields plus descriptors), the parser behind
// cron.ParseStandard. An empty time_zone parses the expression alone, so probes can
// show how robfig/cron reads a TZ= prefix itself.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/robfig/cron/v3"
)

type request struct {
	Expression string `json:"expression"`
	TimeZone   string `json:"time_zone"`
	Start      string `json:"start"`
	Count      int    `json:"count"`
}

type response struct {
	Times []string `json:"times,omitempty"`
	Error string   `json:"error,omitempty"`
}

var parser = cron.NewParser(
	cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor,
)

func evaluate(req request) response {
	start, err := time.Parse(time.RFC3339Nano, req.Start)
	if err != nil {
		return response{Error: fmt.Sprintf("invalid start %q: %v", req.Start, err)}
	}
	spec := req.Expression
	if req.TimeZone != "" {
		spec = fmt.Sprintf("TZ=%s %s", req.TimeZone, req.Expression)
	}
	schedule, err := parser.Parse(spec)
	if err != nil {
		return response{Error: err.Error()}
	}
	times := make([]string, 0, req.Count)
	next := start
	for len(times) < req.Count {
		next = schedule.Next(next)
		if next.IsZero() {
			// robfig/cron returns the zero time when nothing matches within five years.
			break
		}
		times = append(times, next.UTC().Format(time.RFC3339Nano))
	}
	return response{Times: times}
}

func main() {
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	writer := bufio.NewWriter(os.Stdout)
	defer writer.Flush()
	encoder := json.NewEncoder(writer)
	for scanner.Scan() {
		var req request
		if err := json.Unmarshal(scanner.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "robfig-conformance: invalid input line: %v\n", err)
			os.Exit(2)
		}
		if err := encoder.Encode(evaluate(req)); err != nil {
			fmt.Fprintf(os.Stderr, "robfig-conformance: writing output failed: %v\n", err)
			os.Exit(1)
		}
	}
	if err := scanner.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "robfig-conformance: reading input failed: %v\n", err)
		os.Exit(1)
	}
}

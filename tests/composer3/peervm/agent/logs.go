package main

import (
	"bufio"
	"io"
	"sort"
	"sync"
	"time"
)

// LogStore keeps one container's output as CRI-style lines "<ts> <stream> <F|P> <text>",
// with timestamps strictly increasing (a later line never shares or precedes an earlier
// line's timestamp, so "after the last timestamp I saw" never skips or repeats a line).

const maxLogLineBytes = 16 * 1024 // longer lines are split into P(artial) entries, as CRI does

type logEntry struct {
	ts   int64 // Unix ns, UTC
	line string
}

type LogStore struct {
	mu      sync.Mutex
	entries []logEntry
	last    int64
	now     func() time.Time
	echo    func(string) // optional mirror of every line (the agent's own stdout)
}

func NewLogStore() *LogStore { return &LogStore{now: time.Now} }

func formatTS(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

func (s *LogStore) Add(stream string, partial bool, text string) {
	tag := "F"
	if partial {
		tag = "P"
	}
	s.mu.Lock()
	ts := s.now().UnixNano()
	if ts <= s.last {
		ts = s.last + 1
	}
	s.last = ts
	line := formatTS(ts) + " " + stream + " " + tag + " " + text
	s.entries = append(s.entries, logEntry{ts, line})
	s.mu.Unlock()
	if s.echo != nil {
		s.echo(stream + " " + text)
	}
}

// After returns the lines with a timestamp strictly after `after` (Unix ns), oldest first,
// at most max of them.
func (s *LogStore) After(after int64, max int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].ts > after })
	out := []string{}
	for ; i < len(s.entries) && len(out) < max; i++ {
		out = append(out, s.entries[i].line)
	}
	return out
}

// Capture reads r until EOF, one entry per line (without its newline).
func (s *LogStore) Capture(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, maxLogLineBytes)
	for {
		chunk, isPrefix, err := br.ReadLine()
		if len(chunk) > 0 || (err == nil) {
			s.Add(stream, isPrefix, string(chunk))
		}
		if err != nil {
			return
		}
	}
}

// ParseAfterTimestamp accepts RFC 3339 with or without fractional seconds (Google's client
// starts from the pod's creation time as "2006-01-02T15:04:05.0Z", then passes back the
// last timestamp it saw).
func ParseAfterTimestamp(s string) (int64, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, err
	}
	return t.UnixNano(), nil
}

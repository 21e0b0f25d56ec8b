package main

import (
	"strings"
	"testing"
	"time"
)

func TestLogStoreTimestampsAndFilter(t *testing.T) {
	s := NewLogStore()
	frozen := time.Date(2024, 5, 2, 10, 11, 12, 0, time.UTC)
	s.now = func() time.Time { return frozen } // same clock reading for every line
	s.Add("stdout", false, "one")
	s.Add("stderr", false, "two")
	s.Add("stdout", false, "three four")
	s.now = func() time.Time { return frozen.Add(-time.Second) } // clock went backwards
	s.Add("stdout", false, "")
	all := s.After(-1<<63, 1000)
	want := []string{
		"2024-05-02T10:11:12Z stdout F one",
		"2024-05-02T10:11:12.000000001Z stderr F two",
		"2024-05-02T10:11:12.000000002Z stdout F three four",
		"2024-05-02T10:11:12.000000003Z stdout F ",
	}
	if strings.Join(all, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
	}
	// Google's client: ts, _, _, msg = line.split(" ", 3), then asks for lines after ts.
	for i, line := range all {
		parts := strings.SplitN(line, " ", 4)
		if len(parts) != 4 {
			t.Fatalf("line %q", line)
		}
		ts, err := ParseAfterTimestamp(parts[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := s.After(ts, 1000); len(got) != len(all)-i-1 {
			t.Errorf("after %s: %d lines, want %d", parts[0], len(got), len(all)-i-1)
		}
	}
	if got := s.After(-1<<63, 2); len(got) != 2 || got[0] != want[0] {
		t.Errorf("max 2: %q", got)
	}
	// The client's first request: the pod's creation time, "%Y-%m-%dT%H:%M:%S.0Z".
	for start, n := range map[string]int{
		"2024-05-02T10:11:11.0Z":    4,
		"2024-05-02T10:11:12.0Z":    3, // strictly after: not the line at exactly 10:11:12
		"2024-05-02T10:11:12Z":      3,
		"2024-05-02T12:11:12+02:00": 3,
		"2024-05-02T10:11:13.0Z":    0,
	} {
		ts, err := ParseAfterTimestamp(start)
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		if got := s.After(ts, 1000); len(got) != n {
			t.Errorf("after %s: %d lines, want %d", start, len(got), n)
		}
	}
	for _, bad := range []string{"", "yesterday", "2024-05-02 10:11:12"} {
		if _, err := ParseAfterTimestamp(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLogStoreCapture(t *testing.T) {
	s := NewLogStore()
	long := strings.Repeat("x", maxLogLineBytes+10)
	s.Capture("stdout", strings.NewReader("a\n\nb c\r\n"+long+"\nno newline"))
	var got []string
	last := ""
	for _, l := range s.After(-1<<63, 1000) {
		p := strings.SplitN(l, " ", 4)
		if p[0] <= last && len(p[0]) == len(last) {
			t.Errorf("timestamps not increasing: %s after %s", p[0], last)
		}
		last = p[0]
		got = append(got, p[1]+" "+p[2]+" "+p[3])
	}
	want := []string{"stdout F a", "stdout F ", "stdout F b c", "stdout P " + long[:maxLogLineBytes], "stdout F xxxxxxxxxx", "stdout F no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
}

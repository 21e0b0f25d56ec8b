package main

import "testing"

func TestExpandVars(t *testing.T) {
	env := map[string]string{"FOO": "bar", "EMPTY": "", "X": "$(FOO)"}
	for in, want := range map[string]string{
		"plain":             "plain",
		"$(FOO)":            "bar",
		"a$(FOO)b$(FOO)":    "abarbbar",
		"$(EMPTY)x":         "x",
		"$(X)":              "$(FOO)", // no recursion
		"$(MISSING)":        "$(MISSING)",
		"$$(FOO)":           "$(FOO)",
		"$$":                "$",
		"$$$":               "$$",
		"echo $HOME $1 $":   "echo $HOME $1 $",
		"$(FOO":             "$(FOO",
		"$()":               "$()",
		"kill -2 1; $(FOO)": "kill -2 1; bar",
	} {
		if got := expandVars(in, env); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

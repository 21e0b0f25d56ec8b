package main

import "strings"

// expandVars applies Kubernetes' $(VAR) rule for command and args: $(NAME) becomes the
// variable's value when the container's env defines NAME and stays as written otherwise;
// $$ is an escaped $. (PEERVM_SPEC is itself an env value of the placeholder, so Kubernetes
// already expanded it once against the placeholder's env, where the original names do not
// exist: $(NAME) survives that pass, and reaches this one.)
func expandVars(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func expandArgv(argv, env []string) []string {
	m := envMap(env)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = expandVars(a, m)
	}
	return out
}

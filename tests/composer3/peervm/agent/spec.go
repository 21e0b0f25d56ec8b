package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ContainerSpec is one entry of PEERVM_SPEC (the original pod's containers, in order).
type ContainerSpec struct {
	Name       string   `json:"name"`
	Image      string   `json:"image"`
	Command    []string `json:"command"`
	Args       []string `json:"args"`
	WorkingDir string   `json:"workingDir"`
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func ParseSpec(s string) ([]ContainerSpec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("PEERVM_SPEC is empty")
	}
	var specs []ContainerSpec
	if err := json.Unmarshal([]byte(s), &specs); err != nil {
		return nil, fmt.Errorf("PEERVM_SPEC is not a JSON list of containers: %v", err)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("PEERVM_SPEC has no containers")
	}
	seen := map[string]bool{}
	for i, c := range specs {
		if c.Name == "" {
			return nil, fmt.Errorf("PEERVM_SPEC container %d has no name", i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("PEERVM_SPEC has two containers named %q", c.Name)
		}
		seen[c.Name] = true
	}
	return specs, nil
}

// ContainerEnv rebuilds container index's environment from the placeholder's: every
// PEERVM_<index>_NAME=value becomes NAME=value (later duplicates win, as in a pod spec),
// plus PATH, HOME and HOSTNAME defaults as a container runtime would set them. The result is
// sorted by name.
func ContainerEnv(environ []string, index int) []string {
	prefix := "PEERVM_" + strconv.Itoa(index) + "_"
	vals := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, prefix) || len(k) == len(prefix) {
			continue
		}
		vals[k[len(prefix):]] = v
	}
	if _, ok := vals["PATH"]; !ok {
		vals["PATH"] = defaultPath
	}
	if _, ok := vals["HOME"]; !ok {
		vals["HOME"] = "/root"
	}
	if _, ok := vals["HOSTNAME"]; !ok {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "HOSTNAME="); ok {
				vals["HOSTNAME"] = v
			}
		}
	}
	env := make([]string, 0, len(vals))
	for k, v := range vals {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// Default commands (image CMD) of the images the local cluster has; none of them has an
// ENTRYPOINT, so `args` alone replace the CMD.
var imageDefaultCmd = map[string][]string{
	"busybox": {"sh"},
	"debian":  {"bash"},
	"ubuntu":  {"bash"},
	"alpine":  {"/bin/sh"},
	"perl":    {"perl", "-de0"},
	"python":  {"python3"},
}

func imageRepoName(image string) string {
	name := image
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// Argv applies Kubernetes' command/args rules. The simulated VM pulls no image, so an
// image's CMD is only known for a few common images.
func (c ContainerSpec) Argv() ([]string, error) {
	switch {
	case len(c.Command) > 0:
		return append(append([]string{}, c.Command...), c.Args...), nil
	case len(c.Args) > 0:
		return append([]string{}, c.Args...), nil
	}
	if cmd, ok := imageDefaultCmd[imageRepoName(c.Image)]; ok {
		return cmd, nil
	}
	return nil, fmt.Errorf("container %q: no command and image %q has no default command known to the simulation (give the operator cmds)", c.Name, c.Image)
}

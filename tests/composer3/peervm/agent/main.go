// placeholder-pod: the agent of the local Cloud Composer 3 simulation. It runs as PID 1 of a
// KubernetesPodOperator pod's placeholder container and plays the "peer VM" that runs the
// pod's real containers. See ../CONTRACT.md and ../README.md.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

const usage = `usage:
  placeholder-pod agent                          run the simulated peer VM (PID 1)
  placeholder-pod container-statuses             print [{"container": NAME, "state": STATE}, ...]
  placeholder-pod exec CONTAINER '<json argv>'   run argv in CONTAINER; stdout: base64 frames`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "agent":
		os.Exit(runAgent())
	case "container-statuses":
		os.Exit(runContainerStatuses())
	case "exec":
		os.Exit(runExec(os.Args[2:]))
	case initSubcommand:
		os.Exit(containerInit(os.Args[2:]))
	case "-h", "--help", "help":
		fmt.Println(usage)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}

func runContainerStatuses() int {
	st, err := readState()
	if err != nil {
		st = nil
	}
	var specs []ContainerSpec
	if st == nil {
		specs, _ = ParseSpec(os.Getenv("PEERVM_SPEC"))
	}
	b, _ := json.Marshal(Statuses(st, specs))
	os.Stdout.Write(append(b, '\n'))
	return 0
}

func findContainer(name string) (*ContainerState, bool) {
	if st, err := readState(); err == nil {
		for i := range st.Containers {
			if st.Containers[i].Name == name {
				return &st.Containers[i], true
			}
		}
		return nil, false
	}
	specs, _ := ParseSpec(os.Getenv("PEERVM_SPEC"))
	for _, s := range specs {
		if s.Name == name {
			return &ContainerState{Name: name, State: StateWaiting}, true
		}
	}
	return nil, false
}

func runExec(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	name := args[0]
	var argv []string
	if err := json.Unmarshal([]byte(args[1]), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "invalid command: expected a non-empty JSON list of strings")
		return 2
	}
	c, ok := findContainer(name)
	if !ok {
		fmt.Fprintln(os.Stderr, "container not found")
		return 1
	}
	if c.State != StateRunning || c.PID == 0 {
		fmt.Fprintln(os.Stderr, "container not running")
		return 1
	}
	// nsenter: setns(2) into a mount namespace needs a single-threaded process, which a Go
	// program is not. -w without a directory: the container's current directory.
	cmd := exec.Command("nsenter", append([]string{"-t", strconv.Itoa(c.PID), "-p", "-m", "--wd", "--"}, argv...)...)
	cmd.Env = c.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(os.Stderr, "exec:", err)
			return 1
		}
		ws := ee.Sys().(syscall.WaitStatus)
		code = exitCodeOf(ws)
		if c2, ok := findContainer(name); !ok || c2.State != StateRunning || c2.PID != c.PID {
			fmt.Fprintln(os.Stderr, "container not running")
			return 1
		}
	}
	if stderr.Len() > 0 {
		// The client treats any stderr as an API error, so the command's own stderr only
		// goes to a file in the state directory, for debugging.
		if f, err := os.OpenFile(filepath.Join(stateDir(), "exec-stderr.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "== %s %q (exit %d)\n%s\n", name, argv, code, stderr.Bytes())
			f.Close()
		}
	}
	os.Stdout.WriteString(base64.StdEncoding.EncodeToString(EncodeExecFrames(stdout.Bytes())))
	return 0
}
